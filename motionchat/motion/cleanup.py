"""Skeleton clean-up for generated motions: rigid bones, planted feet.

A generated motion's joints come from the 263-d features' root-relative positions, which nothing
keeps rigid: bone lengths wander by centimetres within a clip and feet slide while the model says
they are on the floor. `clean_motion` fixes both, in this order:

1. Rigid bones: every bone keeps its direction in every frame and gets its median length over the
   clip (the root path is kept).
2. Planted feet: a foot joint is planted where the model predicts its contact (the features'
   four contact channels: left ankle, left toe, right ankle, right toe) and it is near its lowest
   (within `PLANT_MARGIN_M` of the 5th percentile of its height in the clip): HumanML3D's contact
   rule is a speed threshold only, so it also marks a foot that pauses in the air (a high kick's
   top). During each run of planted frames the joint holds one place: its mean XZ over the run,
   at its contact height (its median height over all its planted frames, not below the floor at
   y = 0). Over `BLEND_FRAMES` frames either side of a run the joint eases between where it was
   and where it is held, so nothing jumps.
3. The legs follow rigidly: a two-bone inverse kinematics from the hip (which stays) bends the
   knee in its own plane to put the ankle where it is held (as close as the leg reaches), and the
   toe is placed at its bone length from the ankle, towards where it is held.

`skeleton_figures` measures what the clean-up is for (bone-length deviation and foot slide during
contacts), the figures `benchmarks/cleanup.py` prints before and after.
"""

from __future__ import annotations

import numpy as np

from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec, bone_lengths, with_bone_lengths

BLEND_FRAMES = 4
CONTACT_THRESHOLD = 0.5  # a decoded contact channel above this counts as contact
PLANT_MARGIN_M = 0.05


def foot_joints(skeleton: SkeletonSpec) -> list[int]:
    """The foot joints in the order of the features' contact channels (left ankle, toe, right ...)."""
    return [*skeleton.feet_left, *skeleton.feet_right]


def contact_mask(contacts: np.ndarray, n_frames: int, skeleton: SkeletonSpec) -> np.ndarray:
    """(T, 4) contact channels (0..1 floats or bools) -> (T, 4) bool, checked against the motion."""
    contacts = np.asarray(contacts)
    if contacts.shape != (n_frames, len(foot_joints(skeleton))):
        raise ValueError(f"contacts have shape {contacts.shape}, expected ({n_frames}, {len(foot_joints(skeleton))})")
    return contacts > CONTACT_THRESHOLD if contacts.dtype != bool else contacts


def planted_mask(joints: np.ndarray, contacts: np.ndarray, skeleton: SkeletonSpec) -> np.ndarray:
    """(T, J, 3) joints + (T, 4) contacts -> (T, 4) bool: predicted contact and near the joint's lowest."""
    heights = np.asarray(joints)[:, foot_joints(skeleton), 1]
    near_lowest = heights < np.percentile(heights, 5, axis=0) + PLANT_MARGIN_M
    return contact_mask(contacts, len(joints), skeleton) & near_lowest


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True in a 1-D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _held_positions(track: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One joint's (T, 3) track and planted frames -> (target (T, 3), weight (T,)): where it is
    held and how firmly (1 where planted, easing to 0 around)."""
    n = len(track)
    target, weight = track.copy(), np.zeros(n)
    if not mask.any():
        return target, weight
    height = max(float(np.median(track[mask, 1])), 0.0)
    frames = np.arange(n)
    for start, end in _runs(mask):
        anchor = np.array([track[start:end, 0].mean(), height, track[start:end, 2].mean()])
        # 1 inside the run, easing to 0 over BLEND_FRAMES frames either side (smoothstep).
        distance = np.maximum(start - frames, frames - (end - 1)).clip(min=0)
        x = np.clip(1.0 - distance / (BLEND_FRAMES + 1), 0.0, 1.0)
        run_weight = x * x * (3 - 2 * x)
        closer = run_weight > weight  # between two runs, the nearer one wins
        target[closer], weight[closer] = anchor, run_weight[closer]
    return target, weight


def _two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle_target: np.ndarray, upper: float, lower: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) each -> (knee, ankle): the ankle as close to its target as the leg reaches, the knee
    in the plane of hip, target and the original knee, bent the same way."""
    reach = ankle_target - hip
    distance = np.linalg.norm(reach, axis=-1, keepdims=True)
    axis = reach / np.maximum(distance, 1e-9)
    distance = np.clip(distance, abs(upper - lower) + 1e-6, upper + lower - 1e-6)
    pole = (knee - hip) - ((knee - hip) * axis).sum(-1, keepdims=True) * axis
    pole_norm = np.linalg.norm(pole, axis=-1, keepdims=True)
    # A straight leg gives no bend direction: keep the original knee's (zero) offset direction.
    pole = np.where(pole_norm > 1e-9, pole / np.maximum(pole_norm, 1e-9), 0.0)
    along = (upper**2 - lower**2 + distance**2) / (2 * distance)
    across = np.sqrt(np.clip(upper**2 - along**2, 0.0, None))
    new_knee = hip + along * axis + across * pole
    return new_knee, hip + distance * axis


def clean_motion(joints: np.ndarray, contacts: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> np.ndarray:
    """(T, J, 3) joints + (T, 4) predicted foot contacts -> (T, J, 3) float32 cleaned joints.

    See the module docstring. The contact channels are in the features' order (left ankle, left
    toe, right ankle, right toe); a foot's second joint must be the child of its first.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (skeleton.n_joints, 3):
        raise ValueError(f"joints have shape {joints.shape}, expected (T, {skeleton.n_joints}, 3) for {skeleton.name}")
    mask = planted_mask(joints, contacts, skeleton)
    lengths = np.median(bone_lengths(joints, skeleton), axis=0)
    out = with_bone_lengths(joints, skeleton, lengths)
    parents = skeleton.parents
    for k, (ankle, toe) in enumerate((skeleton.feet_left, skeleton.feet_right)):
        if parents[toe] != ankle:
            raise ValueError(f"{skeleton.name}: foot joint {toe} is not the child of {ankle}")
        ankle_target, ankle_weight = _held_positions(out[:, ankle], mask[:, 2 * k])
        toe_target, toe_weight = _held_positions(out[:, toe], mask[:, 2 * k + 1])
        knee, hip = parents[ankle], parents[parents[ankle]]
        wanted_ankle = out[:, ankle] + ankle_weight[:, None] * (ankle_target - out[:, ankle])
        wanted_toe = out[:, toe] + toe_weight[:, None] * (toe_target - out[:, toe])
        out[:, knee], out[:, ankle] = _two_bone_ik(out[:, hip], out[:, knee], wanted_ankle, lengths[knee], lengths[ankle])
        direction = wanted_toe - out[:, ankle]
        norm = np.linalg.norm(direction, axis=-1, keepdims=True)
        fallback = out[:, toe] - out[:, ankle]  # the toe target sits on the ankle: keep the foot's direction
        direction = np.where(norm > 1e-9, direction / np.maximum(norm, 1e-9), fallback / lengths[toe])
        out[:, toe] = out[:, ankle] + lengths[toe] * direction
    return out.astype(np.float32)


def skeleton_figures(joints: np.ndarray, planted: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> dict[str, float]:
    """Per clip: the largest deviation of a bone's length from its clip median (m), and the mean
    horizontal step (m per frame) of foot joints between two frames both `planted` ((T, 4) bool,
    `planted_mask` of the motion before any clean-up, so that raw and cleaned compare on the same
    frames)."""
    joints = np.asarray(joints, dtype=np.float64)
    mask = contact_mask(planted, len(joints), skeleton)
    lengths = bone_lengths(joints, skeleton)[:, 1:]
    feet = foot_joints(skeleton)
    steps = np.linalg.norm(np.diff(joints[:, feet][..., [0, 2]], axis=0), axis=-1)  # (T-1, 4)
    both = mask[1:] & mask[:-1]
    return {
        "bone_deviation_m": float(np.abs(lengths - np.median(lengths, axis=0)).max()),
        "foot_slide_m": float(steps[both].mean()) if both.any() else 0.0,
        "contact_steps": int(both.sum()),
    }


def clean_generated(features: np.ndarray, joints: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> np.ndarray:
    """`clean_motion` of a decoded motion: its joints with the contacts its (T, D) raw features predict."""
    from motionchat.motion.features import feature_layout

    return clean_motion(joints, np.asarray(features)[:, feature_layout(skeleton).foot_contacts], skeleton)
