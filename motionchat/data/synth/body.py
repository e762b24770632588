"""The synthetic performer: a pose track (what the actions write) and the joints it gives.

Actions describe a body with a handful of intuitive channels instead of 21 joint rotations:
pelvis position and heading, pelvis/spine/head rotations, wrist targets in the chest frame and
ankle targets on the floor. `pose_to_joints` turns them into the 22 HumanML3D joints with
standard parent-relative forward kinematics for the trunk and analytic two-bone inverse
kinematics for the limbs, so every bone has exactly its HumanML3D target length and a planted
ankle target stays where it was put.

Frames: x points to the performer's left, y up, z forward (SMPL's layout; +z is the heading of
yaw 0). Per-side arrays index 0 = left, 1 = right.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from motionchat.motion.rotations import quat_from_axis_angle, quat_to_matrix
from motionchat.motion.skeleton import HUMANML3D

LEFT, RIGHT = 0, 1
SIDE_SIGN = np.array([1.0, -1.0])  # x sign of each side
SIDE_INDEX = {"left": LEFT, "right": RIGHT}

HIP, KNEE, ANKLE, TOE = (1, 2), (4, 5), (7, 8), (10, 11)
COLLAR, SHOULDER, ELBOW, WRIST = (13, 14), (16, 17), (18, 19), (20, 21)
PELVIS, SPINE1, SPINE2, SPINE3, NECK, HEAD = 0, 3, 6, 9, 12, 15

_LENGTHS_M = HUMANML3D.bone_lengths_m

# Rest directions of the trunk bones (left side; the right mirrors x), read off a standing
# HumanML3D frame and symmetrised. Limbs have no rest direction: inverse kinematics places them.
_TRUNK_DIRECTIONS = {
    HIP[LEFT]: (0.58, -0.80, -0.10),
    SPINE1: (0.0, 0.95, -0.30),
    SPINE2: (0.0, 0.98, 0.20),
    SPINE3: (0.0, 0.99, 0.15),
    NECK: (0.0, 0.99, -0.10),
    HEAD: (0.0, 0.90, 0.44),
    COLLAR[LEFT]: (0.52, 0.85, -0.10),
    SHOULDER[LEFT]: (0.88, -0.45, -0.16),
}


def _rest_offsets() -> np.ndarray:
    offsets = np.zeros((HUMANML3D.n_joints, 3))
    for joint, direction in _TRUNK_DIRECTIONS.items():
        direction = np.array(direction) / np.linalg.norm(direction)
        offsets[joint] = direction * _LENGTHS_M[joint]
        mirror = {HIP[LEFT]: HIP[RIGHT], COLLAR[LEFT]: COLLAR[RIGHT], SHOULDER[LEFT]: SHOULDER[RIGHT]}.get(joint)
        if mirror is not None:
            offsets[mirror] = direction * [-1.0, 1.0, 1.0] * _LENGTHS_M[mirror]
    return offsets


REST_OFFSETS = _rest_offsets()
TRUNK_SHAPE_ANGLES = 8  # values `trunk_offsets` takes


def _turn(vector: np.ndarray, axis: int, angle: float) -> np.ndarray:
    """`vector` rotated by `angle` about coordinate axis `axis` (0 x, 1 y, 2 z)."""
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out = np.array(vector, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    out[i], out[j] = c * vector[i] - s * vector[j], s * vector[i] + c * vector[j]
    return out


def trunk_offsets(angles) -> np.ndarray:
    """REST_OFFSETS of a performer whose trunk is shaped otherwise (bone lengths kept).

    `angles` (rad, TRUNK_SHAPE_ANGLES of them): the forward pitch of spine1, spine2, spine3, the
    neck and the head bones; the collars' lift and forward turn and the shoulders' droop (both
    sides alike, mirrored). Motion capture retargeted to one skeleton keeps each person's spine
    curve and shoulder set as bone directions, so the corpus's one trunk shape does not cover it.
    The hips are left as they are (the legs are placed from them)."""
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape != (TRUNK_SHAPE_ANGLES,):
        raise ValueError(f"need {TRUNK_SHAPE_ANGLES} trunk angles, got shape {angles.shape}")
    off = REST_OFFSETS.copy()
    for joint, pitch in zip((SPINE1, SPINE2, SPINE3, NECK, HEAD), angles[:5]):
        off[joint] = _turn(off[joint], 0, pitch)
    lift, forward, droop = angles[5:]
    for s in (LEFT, RIGHT):
        sign = SIDE_SIGN[s]
        off[COLLAR[s]] = _turn(_turn(off[COLLAR[s]], 2, sign * lift), 1, -sign * forward)
        off[SHOULDER[s]] = _turn(off[SHOULDER[s]], 2, -sign * droop)
    return off
UPPER_ARM_M = _LENGTHS_M[list(ELBOW)]
FOREARM_M = _LENGTHS_M[list(WRIST)]
ARM_M = UPPER_ARM_M + FOREARM_M
THIGH_M = _LENGTHS_M[list(KNEE)]
SHIN_M = _LENGTHS_M[list(ANKLE)]
LEG_M = THIGH_M + SHIN_M
FOOT_M = _LENGTHS_M[list(TOE)]

# Ankle height with the foot flat on the floor, and the foot's pitch then (toe joint ~1 cm up).
ANKLE_FLAT_Y = 0.055
FOOT_FLAT_PITCH = np.arcsin(-0.045 / FOOT_M)
# Each shoulder relative to spine3, in the chest frame, with the collar at rest.
SHOULDER_IN_CHEST = np.stack([REST_OFFSETS[COLLAR[s]] + REST_OFFSETS[SHOULDER[s]] for s in (LEFT, RIGHT)])
HIP_IN_PELVIS = REST_OFFSETS[list(HIP)]


def rotvec_matrix(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) rotation vectors -> (..., 3, 3)."""
    return quat_to_matrix(quat_from_axis_angle(np.asarray(rotvec, dtype=np.float64)))


def yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    """(...,) headings -> (..., 3, 3) rotations about +y (yaw 0 faces +z, positive turns left)."""
    c, s = np.cos(yaw), np.sin(yaw)
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    return np.stack([c, zero, s, zero, one, zero, -s, zero, c], axis=-1).reshape(np.shape(yaw) + (3, 3))


def heading_vector(yaw: np.ndarray) -> np.ndarray:
    """(...,) -> (..., 3) unit horizontal forward vector."""
    yaw = np.asarray(yaw, dtype=np.float64)
    return np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=-1)


def _apply(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    return np.einsum("...ij,...j->...i", matrices, vectors)


def two_bone_ik(root: np.ndarray, target: np.ndarray, upper_m: float, lower_m: float, pole: np.ndarray):
    """Place a two-bone limb: (T, 3) root and target, pole = where the middle joint should point.

    Returns (middle, end) joint positions; the bones keep their lengths exactly. A target out of
    reach is approached along the straight line (the limb then ends short of it).
    """
    offset = target - root
    dist = np.linalg.norm(offset, axis=-1, keepdims=True)
    direction = offset / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(upper_m - lower_m) + 1e-3, (upper_m + lower_m) * (1 - 1e-6))
    cos_root = (upper_m**2 + dist**2 - lower_m**2) / (2 * upper_m * dist)
    sin_root = np.sqrt(np.maximum(1 - cos_root**2, 0.0))
    bend = pole - (pole * direction).sum(-1, keepdims=True) * direction
    bend_norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    degenerate = bend_norm[..., 0] < 1e-6  # the pole lies along the limb: bend about any normal
    if degenerate.any():
        fallback = np.cross(direction[degenerate], [1.0, 0.0, 0.0])
        bend[degenerate] = fallback
        bend_norm[degenerate] = np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-9)
    bend = bend / bend_norm
    middle = root + upper_m * (cos_root * direction + sin_root * bend)
    end = root + dist * direction
    return middle, end


@dataclass
class PoseTrack:
    """Channels of a motion over T frames (see the module docstring for frames and sides).

    Args:
        root: (T, 3) pelvis position, world.
        yaw: (T,) heading, world; the frame in which `pelvis` is expressed.
        pelvis: (T, 3) pelvis rotation vector in the heading frame (x: tilt forward, z: roll).
        spine: (T, 3) total spine rotation vector, shared out over spine1..3 (x: bend forward,
            y: twist left, z: lean right).
        head: (T, 3) rotation vector of the neck (moves the head).
        hand: (T, 2, 3) wrist targets in the chest frame, relative to spine3.
        elbow_pole: (T, 2, 3) where each elbow points, chest frame.
        hand_world: (T, 2, 3) world wrist targets, used with weight `hand_world_w` (T, 2).
        ankle: (T, 2, 3) world ankle targets.
        foot_yaw: (T, 2) world heading of each foot.
        foot_pitch: (T, 2) toe pitch relative to a flat foot (positive: toes up).
        knee_pole: (T, 2, 3) world direction each knee points.
    """

    root: np.ndarray
    yaw: np.ndarray
    pelvis: np.ndarray
    spine: np.ndarray
    head: np.ndarray
    hand: np.ndarray
    elbow_pole: np.ndarray
    hand_world: np.ndarray
    hand_world_w: np.ndarray
    ankle: np.ndarray
    foot_yaw: np.ndarray
    foot_pitch: np.ndarray
    knee_pole: np.ndarray

    def __len__(self) -> int:
        return len(self.root)

    def channels(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def slice(self, start: int, stop: int) -> PoseTrack:
        return PoseTrack(**{k: v[start:stop] for k, v in self.channels().items()})

    def copy(self) -> PoseTrack:
        return PoseTrack(**{k: v.copy() for k, v in self.channels().items()})

    def moved(self, x_m: float, z_m: float, yaw: float) -> PoseTrack:
        """This track turned by `yaw` about the origin, then shifted by (x, z); world channels only."""
        turn = yaw_matrix(np.float64(yaw))
        shift = np.array([x_m, 0.0, z_m])
        out = self.copy()
        out.root = self.root @ turn.T + shift
        out.hand_world = self.hand_world @ turn.T + shift
        out.ankle = self.ankle @ turn.T + shift
        out.knee_pole = self.knee_pole @ turn.T
        out.yaw = self.yaw + yaw
        out.foot_yaw = self.foot_yaw + yaw
        return out


def _collar_shrug(hand: np.ndarray) -> np.ndarray:
    """(T, 2) collar elevation (rad): the shoulder girdle lifts as the arm goes above shoulder height."""
    reach = hand - SHOULDER_IN_CHEST
    elevation = np.arccos(np.clip(-reach[..., 1] / np.maximum(np.linalg.norm(reach, axis=-1), 1e-9), -1, 1))
    return 0.3 * np.clip(elevation - 1.3, 0.0, 1.5)


def pose_to_joints(track: PoseTrack, offsets: np.ndarray | None = None) -> np.ndarray:
    """(T, 22, 3) joint positions of a pose track, on `offsets` (default REST_OFFSETS; see
    `trunk_offsets`)."""
    n = len(track)
    joints = np.zeros((n, HUMANML3D.n_joints, 3))
    off = REST_OFFSETS if offsets is None else offsets

    pelvis_rot = yaw_matrix(track.yaw) @ rotvec_matrix(track.pelvis)  # (T, 3, 3)
    joints[:, PELVIS] = track.root
    for joint in (*HIP, SPINE1):
        joints[:, joint] = track.root + _apply(pelvis_rot, off[joint])
    # The spine bend is shared over its three joints (each rotation moves the next bone).
    spine_step = rotvec_matrix(track.spine / 3.0)
    spine1_rot = pelvis_rot @ spine_step
    joints[:, SPINE2] = joints[:, SPINE1] + _apply(spine1_rot, off[SPINE2])
    spine2_rot = spine1_rot @ spine_step
    joints[:, SPINE3] = joints[:, SPINE2] + _apply(spine2_rot, off[SPINE3])
    chest_rot = spine2_rot @ spine_step
    joints[:, NECK] = joints[:, SPINE3] + _apply(chest_rot, off[NECK])
    joints[:, HEAD] = joints[:, NECK] + _apply(chest_rot @ rotvec_matrix(track.head), off[HEAD])

    shrug = _collar_shrug(track.hand)
    for s in (LEFT, RIGHT):
        joints[:, COLLAR[s]] = joints[:, SPINE3] + _apply(chest_rot, off[COLLAR[s]])
        lift = np.zeros((n, 3))
        lift[:, 2] = SIDE_SIGN[s] * shrug[:, s]
        shoulder_in_chest = off[COLLAR[s]] + _apply(rotvec_matrix(lift), off[SHOULDER[s]])  # (T, 3)
        joints[:, SHOULDER[s]] = joints[:, SPINE3] + _apply(chest_rot, shoulder_in_chest)
        # Hand targets are laid out from the resting shoulder; a shrug carries them along.
        hand = track.hand[:, s] + shoulder_in_chest - SHOULDER_IN_CHEST[s]
        target = joints[:, SPINE3] + _apply(chest_rot, hand)
        weight = track.hand_world_w[:, s, None]
        target = (1 - weight) * target + weight * track.hand_world[:, s]
        pole = _apply(chest_rot, track.elbow_pole[:, s])
        joints[:, ELBOW[s]], joints[:, WRIST[s]] = two_bone_ik(
            joints[:, SHOULDER[s]], target, UPPER_ARM_M[s], FOREARM_M[s], pole
        )
        joints[:, KNEE[s]], joints[:, ANKLE[s]] = two_bone_ik(
            joints[:, HIP[s]], track.ankle[:, s], THIGH_M[s], SHIN_M[s], track.knee_pole[:, s]
        )
        pitch = FOOT_FLAT_PITCH[s] + track.foot_pitch[:, s]
        yaw = track.foot_yaw[:, s]
        toe_direction = np.stack([np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)], axis=-1)
        joints[:, TOE[s]] = joints[:, ANKLE[s]] + FOOT_M[s] * toe_direction
    return joints


def hip_positions(track: PoseTrack) -> np.ndarray:
    """(T, 2, 3) hip joints, as `pose_to_joints` places them."""
    pelvis_rot = yaw_matrix(track.yaw) @ rotvec_matrix(track.pelvis)
    return track.root[:, None] + np.einsum("tij,sj->tsi", pelvis_rot, HIP_IN_PELVIS)


def fit_pelvis_to_feet(track: PoseTrack, straightness: float = 0.995) -> None:
    """Lower the pelvis wherever an ankle target would be out of the leg's reach (in place).

    Keeps planted feet exactly on their targets: the legs never have to stretch past
    `straightness` of their length. The correction is widened and smoothed a little so the
    pelvis does not kink.
    """
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    hips = hip_positions(track)
    offset = track.ankle - hips
    horizontal_sq = offset[..., 0] ** 2 + offset[..., 2] ** 2
    reach = straightness * LEG_M
    vertical = np.sqrt(np.maximum(reach**2 - horizontal_sq, 0.0))
    deficit = np.maximum(0.0, (hips[..., 1] - track.ankle[..., 1]) - vertical).max(axis=1)  # (T,)
    if not deficit.any():
        return
    smooth = gaussian_filter1d(maximum_filter1d(deficit, 5, mode="nearest"), 1.5, mode="nearest")
    track.root[:, 1] -= np.maximum(smooth, deficit)
