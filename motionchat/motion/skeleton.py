"""Skeleton descriptions (data, not code paths) and HumanML3D-convention kinematics.

A `SkeletonSpec` says everything the feature code needs about a rig: kinematic chains, the
rest-pose direction of every bone ("raw offsets"), target bone lengths, which joints define the
facing direction and which are feet. HumanML3D (22 SMPL joints, 20 fps) and KIT-ML (21 joints,
12.5 fps) are two instances of it.

Rotation convention (HumanML3D's, kept for bit-compatibility): the local quaternion stored at
joint j rotates the bone that *ends* at j (parent(j) -> j) from its raw offset direction; every
chain, including the arm chains that start at spine3, accumulates from the root's rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from motionchat.motion.rotations import qbetween, qinv, qmul, qrot


@dataclass(frozen=True)
class SkeletonSpec:
    """A rig: joints, chains, rest directions and target lengths.

    Args:
        name: short identifier ("humanml3d", "kitml").
        joint_names: one name per joint, in data order.
        chains: kinematic chains, each starting at an already-placed joint (the root first).
        raw_offsets: (J, 3) unit rest direction of the bone from each joint's parent.
        bone_lengths_m: (J,) target bone lengths in metres (root 0); None if the format has no
            canonical skeleton.
        face_joints: (right hip, left hip, right shoulder, left shoulder); they define facing.
        feet_left / feet_right: (ankle, toe) joint indices, in the order foot contacts are stored.
        leg_joints: (knee, ankle) whose rest offsets give the leg length used to scale the root
            when retargeting.
        fps: frame rate of the format.
        contact_threshold: squared per-frame displacement below which a foot joint is in contact.
    """

    name: str
    joint_names: tuple[str, ...]
    chains: tuple[tuple[int, ...], ...]
    raw_offsets: np.ndarray = field(repr=False)
    bone_lengths_m: np.ndarray | None = field(repr=False)
    face_joints: tuple[int, int, int, int]
    feet_left: tuple[int, int]
    feet_right: tuple[int, int]
    leg_joints: tuple[int, int]
    fps: float
    contact_threshold: float

    def __post_init__(self):
        n = len(self.joint_names)
        if self.raw_offsets.shape != (n, 3):
            raise ValueError(f"{self.name}: raw_offsets has shape {self.raw_offsets.shape}, expected ({n}, 3)")
        if self.bone_lengths_m is not None and self.bone_lengths_m.shape != (n,):
            raise ValueError(f"{self.name}: bone_lengths_m has shape {self.bone_lengths_m.shape}, expected ({n},)")
        placed = {self.chains[0][0]}
        for chain in self.chains:
            if chain[0] not in placed:
                raise ValueError(f"{self.name}: chain {chain} starts at a joint no earlier chain placed")
            placed.update(chain)
        if placed != set(range(n)):
            raise ValueError(f"{self.name}: chains cover joints {sorted(placed)}, expected 0..{n - 1}")

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    @cached_property
    def parents(self) -> tuple[int, ...]:
        parents = [-1] * self.n_joints
        for chain in self.chains:
            for parent, child in zip(chain[:-1], chain[1:]):
                parents[child] = parent
        return tuple(parents)

    @property
    def feature_dim(self) -> int:
        """Root (4) + positions (J-1)*3 + 6-D rotations (J-1)*6 + velocities J*3 + contacts 4."""
        j = self.n_joints
        return 4 + (j - 1) * 3 + (j - 1) * 6 + j * 3 + 4

    def offsets(self, bone_lengths_m: np.ndarray | None = None) -> np.ndarray:
        """(J, 3) bone vectors of the rest pose: raw direction times length."""
        lengths = self.bone_lengths_m if bone_lengths_m is None else bone_lengths_m
        if lengths is None:
            raise ValueError(f"{self.name} has no canonical bone lengths; pass them explicitly")
        return self.raw_offsets * np.asarray(lengths, dtype=np.float64)[:, None]

    def joint_index(self, name: str) -> int:
        return self.joint_names.index(name)


def bone_lengths(joints: np.ndarray, spec: SkeletonSpec) -> np.ndarray:
    """(..., J, 3) -> (..., J) distance of every joint to its parent (0 for the root)."""
    parents = np.array(spec.parents)
    parents[parents < 0] = 0
    return np.linalg.norm(joints - joints[..., parents, :], axis=-1)


def facing_directions(joints: np.ndarray, spec: SkeletonSpec) -> np.ndarray:
    """(T, J, 3) -> (T, 3) unit horizontal facing: up x (right-to-left across hips and shoulders)."""
    r_hip, l_hip, r_sdr, l_sdr = spec.face_joints
    across = (joints[:, r_hip] - joints[:, l_hip]) + (joints[:, r_sdr] - joints[:, l_sdr])
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    return forward / np.linalg.norm(forward, axis=-1, keepdims=True)


def inverse_kinematics(joints: np.ndarray, spec: SkeletonSpec, smooth_forward: bool = False) -> np.ndarray:
    """(T, J, 3) joint positions -> (T, J, 4) local quaternions (HumanML3D convention).

    The root quaternion turns the body's facing to +Z; with `smooth_forward` the facing is first
    smoothed over time (Gaussian, sigma 20 frames), as HumanML3D does for its rotation features.
    HumanML3D also leaves the first frame's root rotation as identity; we keep that quirk so that
    features match the official files.
    """
    from scipy.ndimage import gaussian_filter1d

    joints = np.asarray(joints, dtype=np.float64)
    forward = facing_directions(joints, spec)
    if smooth_forward:
        forward = gaussian_filter1d(forward, 20, axis=0, mode="nearest")
        forward = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    root_quat = qbetween(forward, np.array([0.0, 0.0, 1.0]))
    root_quat[0] = (1.0, 0.0, 0.0, 0.0)

    quats = np.zeros(joints.shape[:-1] + (4,))
    quats[..., 0] = 1.0
    quats[:, spec.chains[0][0]] = root_quat
    for chain in spec.chains:
        accumulated = root_quat
        for parent, child in zip(chain[:-1], chain[1:]):
            bone = joints[:, child] - joints[:, parent]
            world = qbetween(np.broadcast_to(spec.raw_offsets[child], bone.shape), bone)
            local = qmul(qinv(accumulated), world)
            quats[:, child] = local
            accumulated = qmul(accumulated, local)
    return quats


def forward_kinematics(
    local_quats: np.ndarray,
    root_pos: np.ndarray,
    spec: SkeletonSpec,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """(T, J, 4) local quaternions + (T, 3) root positions -> (T, J, 3) joints.

    `offsets` (J, 3) defaults to the spec's target rest pose.
    """
    offsets = spec.offsets() if offsets is None else offsets
    local_quats = np.asarray(local_quats, dtype=np.float64)
    joints = np.zeros(local_quats.shape[:-1] + (3,))
    joints[:, spec.chains[0][0]] = root_pos
    for chain in spec.chains:
        accumulated = local_quats[:, spec.chains[0][0]]
        for parent, child in zip(chain[:-1], chain[1:]):
            accumulated = qmul(accumulated, local_quats[:, child])
            joints[:, child] = qrot(accumulated, np.broadcast_to(offsets[child], (len(joints), 3))) + joints[:, parent]
    return joints


def retarget(joints: np.ndarray, spec: SkeletonSpec) -> np.ndarray:
    """Put a motion on the spec's target skeleton, keeping its joint rotations.

    Bone lengths become the target's; the root path is scaled by the ratio of leg lengths, as
    HumanML3D's `uniform_skeleton` does (source lengths are measured on the first frame).
    """
    joints = np.asarray(joints, dtype=np.float64)
    source_offsets = spec.raw_offsets * bone_lengths(joints[0], spec)[:, None]
    target_offsets = spec.offsets()
    knee, ankle = spec.leg_joints

    def leg_length(offsets):
        return np.abs(offsets[knee]).max() + np.abs(offsets[ankle]).max()

    scale = leg_length(target_offsets) / leg_length(source_offsets)
    quats = inverse_kinematics(joints, spec)
    return forward_kinematics(quats, joints[:, 0] * scale, spec, target_offsets)


_SMPL22_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)

HUMANML3D = SkeletonSpec(
    name="humanml3d",
    joint_names=_SMPL22_NAMES,
    chains=((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20)),
    raw_offsets=np.array(
        [
            [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0],
            [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0],
            [-1, 0, 0], [0, 0, 1], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
            [0, -1, 0],
        ],
        dtype=np.float64,
    ),
    # Measured on HumanML3D's new_joints (every clip shares them), joints 1..21 from their parents.
    bone_lengths_m=np.array(
        [0.0, 0.1031, 0.1099, 0.1316, 0.3936, 0.3902, 0.1432, 0.4324, 0.4256, 0.0574, 0.1434,
         0.1494, 0.2194, 0.1375, 0.1434, 0.1030, 0.1316, 0.1230, 0.2568, 0.2631, 0.2660, 0.2699]
    ),
    face_joints=(2, 1, 17, 16),
    feet_left=(7, 10),
    feet_right=(8, 11),
    leg_joints=(5, 8),
    fps=20.0,
    contact_threshold=0.002,
)

KITML = SkeletonSpec(
    name="kitml",
    joint_names=(
        "root", "torso", "chest", "neck", "head", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
        "right_heel", "right_toe", "left_hip", "left_knee", "left_ankle", "left_heel", "left_toe",
    ),
    chains=((0, 11, 12, 13, 14, 15), (0, 16, 17, 18, 19, 20), (0, 1, 2, 3, 4), (3, 5, 6, 7), (3, 8, 9, 10)),
    raw_offsets=np.array(
        [
            [0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, -1, 0],
            [0, -1, 0], [-1, 0, 0], [0, -1, 0], [0, -1, 0], [1, 0, 0], [0, -1, 0], [0, -1, 0],
            [0, 0, 1], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, -1, 0], [0, 0, 1], [0, 0, 1],
        ],
        dtype=np.float64,
    ),
    bone_lengths_m=None,
    face_joints=(11, 16, 5, 8),
    feet_left=(19, 20),
    feet_right=(14, 15),
    leg_joints=(17, 18),
    fps=12.5,
    # KIT-ML positions are in millimetres, hence the larger threshold.
    contact_threshold=0.05,
)

SKELETONS = {spec.name: spec for spec in (HUMANML3D, KITML)}


def skeleton_for_feature_dim(dim: int) -> SkeletonSpec:
    for spec in SKELETONS.values():
        if spec.feature_dim == dim:
            return spec
    raise KeyError(dim)
