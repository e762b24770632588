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

    @cached_property
    def _tree_indices(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """(root, children, their parents, the joint whose rotation each child's chain builds on).

        HumanML3D restarts every chain from the root's rotation, so a child whose parent starts its
        chain builds on the root, any other child on its parent.
        """
        root = self.chains[0][0]
        children, parents, chain_base = [], [], []
        for chain in self.chains:
            for position, child in enumerate(chain[1:], start=1):
                children.append(child)
                parents.append(chain[position - 1])
                chain_base.append(root if position == 1 else chain[position - 1])
        return root, np.array(children), np.array(parents), np.array(chain_base)

    @cached_property
    def _depth_levels(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
        """`_tree_indices` children grouped by depth in the tree, shallowest first."""
        _, children, parents, chain_base = self._tree_indices
        depth = {self.chains[0][0]: 0}
        for child, parent in zip(children, parents):  # chains are listed parents-first
            depth[child] = depth[parent] + 1
        child_depth = np.array([depth[c] for c in children])
        return tuple(
            (children[child_depth == d], parents[child_depth == d], chain_base[child_depth == d])
            for d in range(1, child_depth.max() + 1)
        )

    @cached_property
    def _ancestor_matrix(self) -> np.ndarray:
        """(J, J-1): entry [j, k] is 1 if the bone ending at `_tree_indices` child k lies on the
        path from the root to joint j, so joints = root + matrix @ bones."""
        _, children, _, _ = self._tree_indices
        column = {child: k for k, child in enumerate(children)}
        matrix = np.zeros((self.n_joints, len(children)))
        for j in range(self.n_joints):
            node = j
            while self.parents[node] >= 0:
                matrix[j, column[node]] = 1.0
                node = self.parents[node]
        return matrix


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


def _ik_root_forward(joints: np.ndarray, spec: SkeletonSpec, smooth_forward: bool) -> np.ndarray:
    """(T, J, 3) -> (T, 3) the unit direction HumanML3D's IK turns to +Z, quirks included.

    Its IK unpacks the face joints in another order than its facing step, so the hip vector
    enters with the opposite sign: across = (l_hip - r_hip) + (r_shoulder - l_shoulder). The
    direction is smoothed before it is normalised. Both are kept for bit-compatibility.
    """
    from scipy.ndimage import gaussian_filter1d

    r_hip, l_hip, r_sdr, l_sdr = spec.face_joints
    across = (joints[:, l_hip] - joints[:, r_hip]) + (joints[:, r_sdr] - joints[:, l_sdr])
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    if smooth_forward:
        forward = gaussian_filter1d(forward, 20, axis=0, mode="nearest")
    return forward / np.linalg.norm(forward, axis=-1, keepdims=True)


def inverse_kinematics(joints: np.ndarray, spec: SkeletonSpec, smooth_forward: bool = False) -> np.ndarray:
    """(T, J, 3) joint positions -> (T, J, 4) local quaternions (HumanML3D convention).

    The root quaternion turns the body's "forward" (see `_ik_root_forward`) to +Z; with
    `smooth_forward` it is first smoothed over time (Gaussian, sigma 20 frames), as HumanML3D does
    for its rotation features. HumanML3D also leaves the first frame's root rotation as identity;
    we keep that quirk so that features match the official files. Vectorised over joints: each
    bone's world rotation is the shortest arc from its rest direction, and its local rotation is
    relative to the rotation its chain has accumulated (the root's at the start of every chain).
    """
    joints = np.asarray(joints, dtype=np.float64)
    root_quat = qbetween(_ik_root_forward(joints, spec, smooth_forward), np.array([0.0, 0.0, 1.0]))
    root_quat[0] = (1.0, 0.0, 0.0, 0.0)

    root, children, parents, chain_base = spec._tree_indices
    world = np.empty(joints.shape[:-1] + (4,))
    world[:, root] = root_quat
    world[:, children] = qbetween(spec.raw_offsets[children], joints[:, children] - joints[:, parents])
    quats = world.copy()
    quats[:, children] = qmul(qinv(world[:, chain_base]), world[:, children])
    return quats


def forward_kinematics(
    local_quats: np.ndarray,
    root_pos: np.ndarray,
    spec: SkeletonSpec,
    offsets: np.ndarray | None = None,
) -> np.ndarray:
    """(T, J, 4) local quaternions + (T, 3) root positions -> (T, J, 3) joints.

    `offsets` (J, 3) defaults to the spec's target rest pose. One step per tree depth.
    """
    offsets = spec.offsets() if offsets is None else np.asarray(offsets, dtype=np.float64)
    local_quats = np.asarray(local_quats, dtype=np.float64)
    root, *_ = spec._tree_indices
    accumulated = np.empty_like(local_quats)
    accumulated[:, root] = local_quats[:, root]
    joints = np.zeros(local_quats.shape[:-1] + (3,))
    joints[:, root] = root_pos
    for children, parents, chain_base in spec._depth_levels:
        accumulated[:, children] = qmul(accumulated[:, chain_base], local_quats[:, children])
        joints[:, children] = joints[:, parents] + qrot(
            accumulated[:, children], np.broadcast_to(offsets[children], (len(joints), len(children), 3))
        )
    return joints


def retarget(joints: np.ndarray, spec: SkeletonSpec) -> np.ndarray:
    """Put a motion on the spec's target skeleton, keeping its bone directions.

    Bone lengths become the target's; the root path is scaled by the ratio of leg lengths, as
    HumanML3D's `uniform_skeleton` does (source lengths are measured on the first frame). Its
    inverse-then-forward kinematics keeps every bone's direction, so we rescale the bones directly
    and add them up along the tree (same result, no rotations needed).
    """
    joints = np.asarray(joints, dtype=np.float64)
    root = spec.chains[0][0]
    knee, ankle = spec.leg_joints
    source_lengths = bone_lengths(joints[0], spec)
    target_lengths = np.linalg.norm(spec.offsets(), axis=-1)
    scale = (target_lengths[knee] + target_lengths[ankle]) / (source_lengths[knee] + source_lengths[ankle])
    return _rebuild(joints, spec, target_lengths, joints[:, root] * scale)


def with_bone_lengths(joints: np.ndarray, spec: SkeletonSpec, lengths: np.ndarray) -> np.ndarray:
    """(T, J, 3) -> (T, J, 3): every bone keeps its direction and gets `lengths[joint]`; the root stays."""
    joints = np.asarray(joints, dtype=np.float64)
    return _rebuild(joints, spec, np.asarray(lengths, dtype=np.float64), joints[:, spec.chains[0][0]])


def _rebuild(joints: np.ndarray, spec: SkeletonSpec, lengths: np.ndarray, root_positions: np.ndarray) -> np.ndarray:
    """Bone directions of `joints` scaled to `lengths` (J,), added up along the tree from `root_positions` (T, 3)."""
    _, children, parents, _ = spec._tree_indices
    bones = joints[:, children] - joints[:, parents]
    norms = np.linalg.norm(bones, axis=-1, keepdims=True)
    # A zero-length bone has no direction; fall back to its rest direction.
    directions = np.where(norms > 1e-12, bones / np.maximum(norms, 1e-12), spec.raw_offsets[children])
    new_bones = directions * lengths[children, None]
    return root_positions[:, None] + np.einsum("jk,tkc->tjc", spec._ancestor_matrix, new_bones)


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
    # To 1e-7 m: retargeting already-processed clips must leave them unchanged to that precision.
    bone_lengths_m=np.array(
        [0.0, 0.1030740, 0.1098834, 0.1315682, 0.3936232, 0.3901882, 0.1431902, 0.4324330,
         0.4256434, 0.0573647, 0.1433818, 0.1494191, 0.2193600, 0.1374868, 0.1433828, 0.1030392,
         0.1316140, 0.1229844, 0.2568399, 0.2630919, 0.2660118, 0.2698763]
    ),
    face_joints=(2, 1, 17, 16),
    feet_left=(7, 10),
    feet_right=(8, 11),
    leg_joints=(5, 8),
    fps=20.0,
    contact_threshold=0.002,
)

# KIT-ML joints in the MMM reference model's order (root, BP, BT, BLN, BUN, LS, LE, LW, RS, RE, RW,
# LH, LK, LA, LMrot, LF, RH, RK, RA, RMrot, RF); its left side lies along +X in the rest pose, as
# SMPL's does. HumanML3D's KIT processing uses the indices below for facing (11, 16, 5, 8), foot
# contacts (19, 20 stored first, then 14, 15) and leg scale (17, 18), labelling them right/left
# the other way round from the MMM names. We keep its indices (so `feet_left` holds MMM's right
# metatarsal and toe) so that features match its KIT-ML files.
KITML = SkeletonSpec(
    name="kitml",
    joint_names=(
        "root", "torso", "chest", "neck", "head", "left_shoulder", "left_elbow",
        "left_wrist", "right_shoulder", "right_elbow", "right_wrist", "left_hip", "left_knee",
        "left_ankle", "left_metatarsal", "left_toe", "right_hip", "right_knee", "right_ankle",
        "right_metatarsal", "right_toe",
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
