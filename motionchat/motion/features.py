"""HumanML3D's motion features: joint positions <-> per-frame feature vectors.

Per frame, for a skeleton of J joints (263 values for J = 22, 251 for KIT-ML's 21):

    [root yaw velocity (1) | root XZ velocity (2) | root height (1) | root-relative positions
     (J-1)*3 | 6-D joint rotations (J-1)*6 | local joint velocities J*3 | foot contacts (4)]

`joints_to_features` follows HumanML3D's processing step by step (retarget to the target
skeleton, floor, XZ centring and +Z facing of the first frame, then features in the per-frame
facing frame) and gives T-1 feature frames for T joint frames. `features_to_joints` recovers
positions from the root-relative positions and the integrated root, as HumanML3D's
`recover_from_ric`, one joint frame per feature frame (or T+1 with `final_frame`, which makes
the two exact inverses on canonical motions).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from motionchat.motion.rotations import qbetween, qinv, qmul, qrot, quat_to_cont6d
from motionchat.motion.skeleton import (
    HUMANML3D,
    SkeletonSpec,
    bone_lengths,
    facing_directions,
    inverse_kinematics,
    retarget,
    skeleton_for_feature_dim,
)


@dataclass(frozen=True)
class FeatureLayout:
    """Named slices of one feature frame; see the module docstring for the order."""

    n_joints: int
    root_yaw_velocity: slice
    root_xz_velocity: slice
    root_height: slice
    positions: slice
    rotations_6d: slice
    velocities: slice
    foot_contacts: slice
    dim: int

    @property
    def root(self) -> slice:
        """The four root values (yaw velocity, XZ velocity, height)."""
        return slice(self.root_yaw_velocity.start, self.root_height.stop)


@lru_cache(maxsize=None)
def _layout_for_joints(n_joints: int) -> FeatureLayout:
    widths = {
        "root_yaw_velocity": 1,
        "root_xz_velocity": 2,
        "root_height": 1,
        "positions": (n_joints - 1) * 3,
        "rotations_6d": (n_joints - 1) * 6,
        "velocities": n_joints * 3,
        "foot_contacts": 4,
    }
    slices, start = {}, 0
    for name, width in widths.items():
        slices[name] = slice(start, start + width)
        start += width
    return FeatureLayout(n_joints=n_joints, dim=start, **slices)


def feature_layout(skeleton: SkeletonSpec = HUMANML3D) -> FeatureLayout:
    if skeleton.chains[0][0] != 0:
        raise ValueError(f"{skeleton.name}: the feature layout needs the root to be joint 0")
    layout = _layout_for_joints(skeleton.n_joints)
    assert layout.dim == skeleton.feature_dim, (layout.dim, skeleton.feature_dim)
    return layout


def _check_joints(joints: np.ndarray, skeleton: SkeletonSpec) -> np.ndarray:
    joints = np.asarray(joints)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.n_joints, 3):
        raise ValueError(f"joints have shape {joints.shape}, expected (T, {skeleton.n_joints}, 3) for {skeleton.name}")
    if len(joints) < 2:
        raise ValueError(f"features need at least 2 joint frames, got {len(joints)}")
    return joints.astype(np.float64)


def canonicalize_joints(joints: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> np.ndarray:
    """(T, J, 3) -> (T, J, 3) float64 in HumanML3D's processed frame.

    On the target skeleton (when the skeleton has canonical bone lengths), lowest joint on the
    floor (y = 0), first-frame root at XZ = 0, and the first frame's (unsmoothed) facing along +Z.
    """
    positions = _check_joints(joints, skeleton)
    # Motions already on the target skeleton (the synthetic corpus, our own outputs) skip the
    # inverse/forward kinematics pass: it would return them unchanged.
    target = skeleton.bone_lengths_m
    if target is not None and np.abs(bone_lengths(positions[0], skeleton) - target).max() > 1e-6:
        positions = retarget(positions, skeleton)
    positions[..., 1] -= positions[..., 1].min()
    positions -= positions[0, 0] * np.array([1.0, 0.0, 1.0])
    forward_first = facing_directions(positions[:1], skeleton)
    turn = qbetween(forward_first, np.array([0.0, 0.0, 1.0]))  # (1, 4)
    return qrot(np.broadcast_to(turn[:, None], positions.shape[:-1] + (4,)), positions)


def _foot_contacts(positions: np.ndarray, skeleton: SkeletonSpec) -> np.ndarray:
    """(T, J, 3) -> (T-1, 4): 1 where a foot joint moves less than the threshold (squared) per frame."""
    feet = list(skeleton.feet_left) + list(skeleton.feet_right)
    step_sq = ((positions[1:, feet] - positions[:-1, feet]) ** 2).sum(-1)
    return (step_sq < skeleton.contact_threshold).astype(np.float64)


def _rotate_all_joints(quats: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rotate (T, J, 3) vectors by one (T, 4) quaternion per frame."""
    return qrot(np.broadcast_to(quats[:, None], vectors.shape[:-1] + (4,)), vectors)


def joints_to_features(joints: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> np.ndarray:
    """(T, J, 3) joint positions (Y up; metres, or KIT-ML's millimetres) -> (T-1, D) float32 features.

    The input may sit anywhere and face anywhere; it is canonicalised first (see
    `canonicalize_joints`). The rotation features and the per-frame facing come from
    inverse kinematics on a temporally smoothed facing direction, as in HumanML3D; as there, the
    first frame's root rotation is identity, so the first yaw velocity also holds the turn from
    +Z to that smoothed facing.
    """
    feature_layout(skeleton)  # checks the root is joint 0
    positions = canonicalize_joints(joints, skeleton)
    n_frames = len(positions)

    contacts = _foot_contacts(positions, skeleton)
    quats = inverse_kinematics(positions, skeleton, smooth_forward=True)
    root_rot = quats[:, 0]  # (T, 4): turns each frame's smoothed facing to +Z
    rotations_6d = quat_to_cont6d(quats[:, 1:])  # (T, J-1, 6)

    # The root's step is expressed in the facing frame of the frame it arrives at.
    root_step = qrot(root_rot[1:], positions[1:, 0] - positions[:-1, 0])  # (T-1, 3)
    yaw_step = qmul(root_rot[1:], qinv(root_rot[:-1]))  # pure Y rotations
    root_yaw_velocity = np.arcsin(np.clip(yaw_step[:, 2], -1.0, 1.0))  # half-angle, as HumanML3D

    centred = positions - positions[:, :1] * np.array([1.0, 0.0, 1.0])
    local_positions = _rotate_all_joints(root_rot, centred)
    local_velocities = _rotate_all_joints(root_rot[:-1], positions[1:] - positions[:-1])

    features = np.concatenate(
        [
            root_yaw_velocity[:, None],
            root_step[:, [0, 2]],
            local_positions[:-1, 0, 1:2],
            local_positions[:-1, 1:].reshape(n_frames - 1, -1),
            rotations_6d[:-1].reshape(n_frames - 1, -1),
            local_velocities.reshape(n_frames - 1, -1),
            contacts,
        ],
        axis=-1,
    )
    assert features.shape[1] == skeleton.feature_dim
    return features.astype(np.float32)


def _check_features(features, skeleton: SkeletonSpec | None) -> SkeletonSpec:
    dim = features.shape[-1]
    if skeleton is None:
        try:
            return skeleton_for_feature_dim(dim)
        except KeyError:
            raise ValueError(f"features have {dim} values per frame; no known skeleton has that many") from None
    if dim != skeleton.feature_dim:
        raise ValueError(f"features have {dim} values per frame, expected {skeleton.feature_dim} for {skeleton.name}")
    return skeleton


def features_to_joints_torch(features, skeleton: SkeletonSpec | None = None, *, final_frame: bool = False):
    """(..., T, D) torch features -> (..., T, J, 3) joints, in the features' dtype and device.

    The root's yaw is the running sum of its yaw velocities (half-angles) and its XZ path the
    running sum of its velocities turned back to the world frame; the other joints are the
    root-relative positions turned back and shifted by the root's XZ. The skeleton defaults to
    the one matching D.

    HumanML3D's `new_joints` stop there (T frames), dropping the last of the T+1 processed frames
    the features were made from. With `final_frame`, that frame is recovered from the last
    frame's local velocities and appended (T+1 frames); `joints_to_features` then gives the
    features back (HumanML3D's smoothing of the facing looks at every frame, so without it the
    last ~80 frames' features come out slightly different).
    """
    import torch

    skeleton = _check_features(features, skeleton)
    layout = feature_layout(skeleton)

    # Yaw of frame t is the sum of the velocities of the frames before it (frame 0 faces +Z).
    yaw_velocity = features[..., :-1, layout.root_yaw_velocity.start]  # (..., T-1)
    half_yaw = torch.cumsum(torch.cat([torch.zeros_like(features[..., :1, 0]), yaw_velocity], dim=-1), dim=-1)
    # Features were turned by the quaternion (cos h, 0, sin h, 0), i.e. by 2h about Y; undo it.
    cos, sin = torch.cos(2 * half_yaw)[..., None], torch.sin(2 * half_yaw)[..., None]  # (..., T, 1)

    def to_world(x, z, cos, sin):
        return x * cos - z * sin, x * sin + z * cos

    # The root step stored at frame t-1 arrives at frame t, in frame t's facing.
    steps = features[..., :-1, layout.root_xz_velocity]  # (..., T-1, 2)
    step_x, step_z = to_world(steps[..., 0:1], steps[..., 1:2], cos[..., 1:, :], sin[..., 1:, :])
    start = torch.zeros_like(features[..., :1, :1])
    root_x = torch.cumsum(torch.cat([start, step_x], dim=-2), dim=-2)  # (..., T, 1)
    root_z = torch.cumsum(torch.cat([start, step_z], dim=-2), dim=-2)

    local = features[..., layout.positions].unflatten(-1, (skeleton.n_joints - 1, 3))  # (..., T, J-1, 3)
    lx, ly, lz = local[..., 0], local[..., 1], local[..., 2]
    wx, wz = to_world(lx, lz, cos, sin)
    others = torch.stack([wx + root_x, ly, wz + root_z], dim=-1)
    root_pos = torch.cat([root_x, features[..., layout.root_height], root_z], dim=-1)[..., None, :]
    joints = torch.cat([root_pos, others], dim=-2)  # (..., T, J, 3)
    if not final_frame:
        return joints
    step = features[..., -1, layout.velocities].unflatten(-1, (skeleton.n_joints, 3))  # (..., J, 3)
    sx, sz = to_world(step[..., 0], step[..., 2], cos[..., -1, :], sin[..., -1, :])
    last = joints[..., -1, :, :] + torch.stack([sx, step[..., 1], sz], dim=-1)
    return torch.cat([joints, last[..., None, :, :]], dim=-3)


def features_to_joints(
    features: np.ndarray, skeleton: SkeletonSpec | None = None, *, final_frame: bool = False
) -> np.ndarray:
    """(..., T, D) numpy features -> (..., T, J, 3) float32 joints, computed in float64.

    See `features_to_joints_torch` (the one implementation) for `final_frame`.
    """
    import torch

    features = torch.from_numpy(np.asarray(features, dtype=np.float64))
    return features_to_joints_torch(features, skeleton, final_frame=final_frame).numpy().astype(np.float32)
