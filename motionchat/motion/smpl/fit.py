"""Fit SMPL parameters (betas, joint rotations, root translation) to 22-joint positions.

Three steps, all on the first 22 SMPL joints (HumanML3D's joints: Y up, metres):

1. Betas, once per clip: the body's rest joints are linear in betas, so a few Gauss-Newton steps
   match the clip's bone lengths (median over frames), with a ridge that keeps betas modest.
2. Analytic inverse kinematics, per frame: each joint's world rotation takes the rest bones to
   its children onto the observed ones. The pelvis (hips + spine) and spine3 (neck + collars)
   have several children, so their full rotation is a small Procrustes fit; joints with one child
   get the shortest rotation, except that hips and shoulders then turn about their bone so that
   knees and elbows bend as hinges. Twists no joint position shows (forearm, shin, neck, spine)
   stay at zero. Per-frame IK lets twists (which the joints barely constrain) jitter from frame
   to frame, so the rotations are then low-passed over time (Gaussian, sigma 1 frame) and every
   bone is aimed at its joints again from the smoothed rotation: positions stay exact, twists
   come out smooth. (The refinement's smoothness term alone would need hundreds of iterations.)
3. Refinement over the whole sequence at once (L-BFGS in torch): a correction rotation per joint
   and frame plus the translation, minimising joint position error, plus temporal smoothness
   (squared acceleration of rotations and translation) and a pull towards step 2 (so twists the
   joints cannot see stay where it put them).

When the clip's skeleton is one the body can take (its shape space reaches the bone lengths and
its rest pose the joint layout around pelvis and chest), step 2 is exact and step 3's smoothness
term costs well under a millimetre on average (a few at most, in the fastest frames); otherwise
step 3 trades bone directions for joint positions, and the error that remains is reported
(`SmplFit.mpjpe_m`, `max_error_m`), not hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from motionchat.errors import MotionchatError
from motionchat.motion.render import validate_joints
from motionchat.motion.rotations import (
    matrix_to_quat,
    qbetween,
    quat_from_axis_angle,
    quat_to_axis_angle,
    quat_to_matrix,
)
from motionchat.motion.skeleton import HUMANML3D
from motionchat.motion.smpl.model import BODY_JOINTS, BodyModel

BETA_LIMIT = 5.0  # betas beyond a few standard deviations give implausible bodies


@dataclass(frozen=True)
class SmplFit:
    """SMPL parameters for a clip, in smplx's axis-angle convention, and how well they fit.

    Args:
        global_orient: (T, 3) root rotation (about the rest pelvis).
        body_pose: (T, 21, 3) rotations of SMPL joints 1..21, each relative to its parent.
        transl: (T, 3) root translation in metres.
        betas: (B,) shape coefficients, one set for the clip.
        joints: (T, 22, 3) the fitted body's joints.
        mpjpe_m: mean distance between fitted and target joints.
        max_error_m: largest such distance over joints and frames.
        fit_time_s: wall time of the fit.
        model_type: the body model fitted ("smpl", "smplh" or "smplx").
        gender: the body model's gender ("neutral", "male" or "female").
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    joints: np.ndarray
    mpjpe_m: float
    max_error_m: float
    fit_time_s: float
    model_type: str
    gender: str

    @property
    def n_frames(self) -> int:
        return len(self.transl)

    def vertices(self, body_model: BodyModel) -> np.ndarray:
        """(T, V, 3) mesh vertices of the fitted body."""
        vertices, _ = body_model.forward(self.global_orient, self.body_pose, self.transl, self.betas)
        return vertices


def _bone_lengths(joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """(..., 22, 3) -> (..., 21) lengths of the bones ending at joints 1..21."""
    return np.linalg.norm(joints[..., 1:, :] - joints[..., parents[1:], :], axis=-1)


def fit_betas(joints: np.ndarray, body_model: BodyModel, steps: int = 5, ridge: float = 1e-3) -> np.ndarray:
    """(B,) betas whose rest skeleton has the clip's bone lengths (least squares, ridge-damped).

    `ridge` is relative to the curvature of the length residuals, so it means the same for any
    model; it keeps betas small where the lengths barely constrain them.
    """
    parents = body_model.parents
    target = np.median(_bone_lengths(joints, parents), axis=0)
    j0, basis = body_model.joint_shape_basis()
    bone0 = j0[1:] - j0[parents[1:]]  # (21, 3)
    bone_basis = basis[1:] - basis[parents[1:]]  # (21, 3, B)
    betas = np.zeros(basis.shape[-1])
    for _ in range(steps):
        bones = bone0 + bone_basis @ betas
        lengths = np.linalg.norm(bones, axis=-1)
        jac = np.einsum("bc,bck->bk", bones / lengths[:, None], bone_basis)  # d length / d beta
        normal = jac.T @ jac
        if not np.trace(normal) > 0:  # this model's shape space does not change bone lengths
            break
        damping = ridge * np.trace(normal) / len(betas)
        step = np.linalg.solve(normal + damping * np.eye(len(betas)), -(jac.T @ (lengths - target)) - damping * betas)
        betas = np.clip(betas + step, -BETA_LIMIT, BETA_LIMIT)
    return betas


def _procrustes(rest: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) taking rest directions (K, 3) closest to observed ones (T, K, 3)."""
    rest = rest / np.linalg.norm(rest, axis=-1, keepdims=True)
    observed = observed / np.maximum(np.linalg.norm(observed, axis=-1, keepdims=True), 1e-12)
    cov = np.einsum("kc,tkd->tcd", rest, observed)
    u, _, vt = np.linalg.svd(cov)
    fix = np.ones((len(cov), 3))
    fix[:, 2] = np.where(np.linalg.det(vt.transpose(0, 2, 1) @ u.transpose(0, 2, 1)) < 0, -1.0, 1.0)  # no mirror
    return vt.transpose(0, 2, 1) @ (fix[:, :, None] * u.transpose(0, 2, 1))


# Limbs whose middle joint is a hinge, by their root joint: knees bend backwards, elbows forwards
# (SMPL faces +Z). Values: (middle joint, end joint, bend direction in the rest pose).
_HINGED_LIMBS = {
    HUMANML3D.joint_index(f"{side}_{root}"): (
        HUMANML3D.joint_index(f"{side}_{middle}"), HUMANML3D.joint_index(f"{side}_{end}"), np.array([0.0, 0.0, bend_z])
    )
    for side in ("left", "right")
    for root, middle, end, bend_z in (("hip", "knee", "ankle", -1.0), ("shoulder", "elbow", "wrist", 1.0))
}
_STRAIGHT_RAD, _BENT_RAD = np.radians(10.0), np.radians(25.0)


def _rotation_about(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    return quat_to_matrix(quat_from_axis_angle(axis * angle_rad[..., None]))


def _hinge_twist(world: np.ndarray, upper: np.ndarray, lower: np.ndarray, rest_lower: np.ndarray,
                 bend_dir: np.ndarray) -> np.ndarray:
    """Turn a limb's root (hip, shoulder) about its upper bone so that the middle joint (knee,
    elbow) bends about its hinge axis, and the right way round.

    world: (T, 3, 3) root rotation that already aims the upper bone along `upper` (T, 3);
    lower: (T, 3) observed lower bone; rest_lower: (3,) its rest vector. The hinge axis in the rest
    pose is rest_lower x bend_dir. A nearly straight limb does not show its plane, so the turn
    fades out below 25 degrees of bend and is zero below 10 (the shortest-arc rotation stays).
    """
    a = upper / np.linalg.norm(upper, axis=-1, keepdims=True)
    s = lower / np.maximum(np.linalg.norm(lower, axis=-1, keepdims=True), 1e-12)
    hinge_rest = np.cross(rest_lower, bend_dir)
    hinge_rest /= np.linalg.norm(hinge_rest)
    hinge = world @ hinge_rest
    along = np.einsum("tc,tc->t", hinge, a)[:, None] * a
    across = hinge - along
    # Turned by theta, the hinge is along + cos(theta) across + sin(theta) (a x across); it must be
    # perpendicular to the lower bone: c + p cos(theta) + q sin(theta) = 0, two solutions.
    c = np.einsum("tc,tc->t", along, s)
    p = np.einsum("tc,tc->t", across, s)
    q = np.einsum("tc,tc->t", np.cross(a, across), s)
    phase = np.arctan2(q, p)
    spread = np.arccos(np.clip(-c / np.maximum(np.hypot(p, q), 1e-12), -1.0, 1.0))
    candidates = np.angle(np.exp(1j * np.stack([phase + spread, phase - spread], axis=-1)))  # in (-pi, pi]

    def flexes(theta: np.ndarray) -> np.ndarray:
        """Does the lower bone then turn positively about the hinge (flexion, not hyperextension)?"""
        turned = _rotation_about(a, theta) @ world
        return np.einsum("tc,tc->t", np.cross(turned @ rest_lower, s), turned @ hinge_rest) > 0

    first_ok, second_ok = flexes(candidates[:, 0]), flexes(candidates[:, 1])
    smaller = np.where(np.abs(candidates[:, 0]) <= np.abs(candidates[:, 1]), 0, 1)
    pick = np.where(first_ok & ~second_ok, 0, np.where(second_ok & ~first_ok, 1, smaller))
    theta = np.take_along_axis(candidates, pick[:, None], axis=1)[:, 0]

    bend = np.arccos(np.clip(np.einsum("tc,tc->t", a, s), -1.0, 1.0))
    fade = np.clip((bend - _STRAIGHT_RAD) / (_BENT_RAD - _STRAIGHT_RAD), 0.0, 1.0)
    fade = fade * fade * (3 - 2 * fade)
    return _rotation_about(a, theta * fade) @ world


def analytic_ik(
    joints: np.ndarray, rest: np.ndarray, parents: np.ndarray, twist_reference: np.ndarray | None = None
) -> np.ndarray:
    """(T, 22, 3) target joints and (22, 3) rest joints -> (T, 22, 3, 3) parent-relative rotations.

    Bones are aimed from where the body's joint actually lands (not from the target joint), so a
    misplaced joint (a body whose proportions differ) does not shift everything below it. A joint
    with one child turns by the shortest arc that aims its bone, starting from the identity, or
    from `twist_reference` (T, 22, 3, 3) when given, which then decides the twist about the bone;
    without a reference, hips and shoulders turn about their bone so that knees and elbows bend as
    hinges (`_hinge_twist`). Leaf joints (feet, head, wrists) have no child to aim and keep the
    identity.
    """
    n_frames, n_joints = joints.shape[:2]
    children = [np.flatnonzero(parents == j) for j in range(n_joints)]
    world = np.zeros((n_frames, n_joints, 3, 3))
    local = np.broadcast_to(np.eye(3), world.shape).copy()
    placed = np.zeros_like(joints)
    placed[:, 0] = joints[:, 0]
    for j in range(n_joints):  # SMPL orders parents before children
        parent_world = world[:, parents[j]] if j > 0 else np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        kids = children[j]
        rest_bones = rest[kids] - rest[j]
        if len(kids) == 0:
            world[:, j] = parent_world
        elif len(kids) == 1:
            start = parent_world if twist_reference is None else parent_world @ twist_reference[:, j]
            aimed = np.einsum("tcd,d->tc", start, rest_bones[0])
            upper = joints[:, kids[0]] - placed[:, j]
            world[:, j] = quat_to_matrix(qbetween(aimed, upper)) @ start
            if j in _HINGED_LIMBS and twist_reference is None:
                hinge, end, bend_dir = _HINGED_LIMBS[j]
                world[:, j] = _hinge_twist(world[:, j], upper, joints[:, end] - joints[:, hinge],
                                           rest[end] - rest[hinge], bend_dir)
        else:
            world[:, j] = _procrustes(rest_bones, joints[:, kids] - placed[:, j : j + 1])
        local[:, j] = parent_world.transpose(0, 2, 1) @ world[:, j]
        placed[:, kids] = placed[:, j : j + 1] + np.einsum("tcd,kd->tkc", world[:, j], rest_bones)
    return local


def smooth_rotations(rotations: np.ndarray, sigma_frames: float) -> np.ndarray:
    """(T, ..., 3, 3) rotations low-passed over time: Gaussian on sign-aligned quaternions."""
    from scipy.ndimage import gaussian_filter1d

    if sigma_frames <= 0 or len(rotations) < 2:
        return rotations
    quats = matrix_to_quat(rotations)
    flips = np.cumsum(np.einsum("t...c,t...c->t...", quats[1:], quats[:-1]) < 0, axis=0) % 2
    quats[1:] *= np.where(flips, -1.0, 1.0)[..., None]
    quats = gaussian_filter1d(quats, sigma_frames, axis=0, mode="nearest")
    return quat_to_matrix(quats)


def _pose_joints(
    rotations: torch.Tensor, rest: torch.Tensor, parents: torch.Tensor, transl: torch.Tensor
) -> torch.Tensor:
    """(T, 22, 3, 3) parent-relative rotations -> (T, 22, 3) joints, by smplx's own kinematics."""
    from smplx.lbs import batch_rigid_transform

    posed, _ = batch_rigid_transform(rotations, rest.expand(len(rotations), -1, -1), parents, dtype=rotations.dtype)
    return posed + transl[:, None]


def _second_difference(x: torch.Tensor) -> torch.Tensor:
    return x[2:] - 2 * x[1:-1] + x[:-2]


def _refine(
    target: np.ndarray, rest: np.ndarray, parents: np.ndarray, local: np.ndarray, transl: np.ndarray,
    iters: int, smooth_weight: float, anchor_weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """L-BFGS on a correction rotation per joint and frame, and the translation (see module doc).

    Loss, per frame and joint, in centimetres: squared position error + `smooth_weight` x squared
    acceleration of rotations (matrix entries) and translation + `anchor_weight` x squared
    correction angle.
    """
    from smplx.lbs import batch_rodrigues

    n_frames, n_joints = target.shape[:2]
    target_t = torch.as_tensor(target, dtype=torch.float32)
    local_t = torch.as_tensor(local, dtype=torch.float32)
    rest_t = torch.as_tensor(rest, dtype=torch.float32)
    parents_t = torch.as_tensor(parents, dtype=torch.long)
    correction = torch.zeros(n_frames, n_joints, 3, requires_grad=True)
    transl_t = torch.as_tensor(transl, dtype=torch.float32).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([correction, transl_t], lr=1.0, max_iter=iters, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

    def rotations() -> torch.Tensor:
        return local_t @ batch_rodrigues(correction.reshape(-1, 3)).reshape(n_frames, n_joints, 3, 3)

    def closure():
        optimizer.zero_grad()
        r = rotations()
        error_cm = (_pose_joints(r, rest_t, parents_t, transl_t) - target_t) * 100
        loss = error_cm.square().sum(-1).mean() + anchor_weight * correction.square().sum(-1).mean()
        if n_frames > 2:
            jerk = _second_difference(r).square().sum((-1, -2)).mean()
            jerk = jerk + _second_difference(transl_t * 100).square().sum(-1).mean() / n_joints
            loss = loss + smooth_weight * jerk
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return rotations().double().numpy(), transl_t.double().numpy()


def _axis_angle(rotations: np.ndarray) -> np.ndarray:
    return quat_to_axis_angle(matrix_to_quat(rotations))


def fit_smpl(
    joints: np.ndarray,
    body_model: BodyModel,
    iters: int = 30,
    fit_shape: bool = True,
    smooth_weight: float = 0.5,
    anchor_weight: float = 0.01,
    smooth_sigma_frames: float = 1.0,
) -> SmplFit:
    """Fit `body_model` to HumanML3D-style joints (T, 22, 3), Y up, metres.

    `iters` bounds the L-BFGS iterations (0 stops after step 2); `fit_shape=False` keeps
    betas at zero (the template body); `smooth_sigma_frames=0` skips smoothing twists. Weights are
    relative to the squared joint error in centimetres.
    """
    joints = validate_joints(joints, HUMANML3D, "motion for the SMPL fit")
    start = time.perf_counter()
    parents = body_model.parents
    femur_m = float(np.median(_bone_lengths(joints, parents)[:, 3]))  # left hip -> left knee
    if not 0.1 < femur_m < 1.0:
        raise MotionchatError(
            f"motion for the SMPL fit: its thigh is {femur_m:.3g} long; joints must be in metres "
            "(HumanML3D scale), so rescale the motion first"
        )
    betas = fit_betas(joints, body_model) if fit_shape else np.zeros(body_model.num_betas)
    rest = body_model.rest_joints(betas)
    local = analytic_ik(joints, rest, parents)
    if smooth_sigma_frames > 0:  # smooth twists, then aim every bone at its joints again
        local = analytic_ik(joints, rest, parents, twist_reference=smooth_rotations(local, smooth_sigma_frames))
    transl = joints[:, 0] - rest[0]  # smplx turns the body about its rest pelvis
    if iters > 0:
        local, transl = _refine(joints, rest, parents, local, transl, iters, smooth_weight, anchor_weight)
    with torch.no_grad():
        fitted = _pose_joints(torch.as_tensor(local), torch.as_tensor(rest), torch.as_tensor(parents),
                              torch.as_tensor(transl)).numpy()
    elapsed_s = time.perf_counter() - start

    errors = np.linalg.norm(fitted - joints, axis=-1)
    pose = _axis_angle(local)
    return SmplFit(
        global_orient=pose[:, 0],
        body_pose=pose[:, 1:BODY_JOINTS],
        transl=transl,
        betas=betas,
        joints=fitted,
        mpjpe_m=float(errors.mean()),
        max_error_m=float(errors.max()),
        fit_time_s=elapsed_s,
        model_type=body_model.model_type,
        gender=body_model.gender,
    )
