"""Mocap rigs (BVH, ASF/AMC) to the 22 SMPL joints: 20 fps, metres, Y up, feet on the floor.

Both importers reduce a file to a `RigMotion` (joint names, parents, per-frame positions in the
file's own units and axes, frame rate). `rig_to_smpl22` does everything else, in this order:

1. map rig joints to SMPL joints: an explicit joint map first, then the name heuristics of
   `joint_names` (CMU, 3dsMax, ASF, Mixamo, Biped and SMPL names);
2. find the up axis (head above ankles) and turn it to +Y;
3. find the unit from the leg length (hip-knee-ankle, about 0.8 m for an adult) among common
   units, unless the caller gives metres per unit;
4. place the SMPL joints the rig lacks: spine1/2/3 along the rig's spine at SMPL's proportions,
   collars between spine3, neck and shoulder when the rig's clavicles start on the midline;
5. resample to 20 fps by linear interpolation of joint positions;
6. put the lowest foot joint of the clip at y = 0.

Why positions and not rotations are resampled: the step is shared by formats whose rotation
conventions differ, and sources are mostly 30-120 fps, so interpolated samples lie between frames
at most 1/30 s apart: the chord error stays under about 1 cm even for a hand swinging at 10 rad/s
from 30 fps, and is zero from 120 or 60 fps, where every 6th or 3rd frame is taken (as HumanML3D
does). `ImportedMotion.height_m` reports the rig's standing height as a check on the units.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.motion.joint_names import SMPL_NAMES, SPINE_JOINTS, guess_joint_map, load_joint_map
from motionchat.motion.rotations import qbetween, quat_to_matrix
from motionchat.motion.skeleton import HUMANML3D
from motionchat.motion.timing import HUMANML3D_FPS


@dataclass(frozen=True)
class RigMotion:
    """A mocap file reduced to joint positions in its own units and axes.

    Args:
        names: one name per joint (end sites included, named "<joint>_end").
        parents: parent index per joint, -1 for the root; parents come before children.
        positions: (T, J, 3) world positions per frame.
        fps: frame rate of `positions`.
        source: the file, for messages.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    positions: np.ndarray = field(repr=False)
    fps: float
    source: str


@dataclass(frozen=True)
class ImportedMotion:
    """The 22 SMPL joints of an imported file and how they were obtained.

    Args:
        joints: (T, 22, 3) float32, 20 fps, metres, Y up, lowest foot joint at y = 0.
        source_frames / source_fps: frame count and rate of the file.
        metres_per_unit / unit: the scale applied and its name ("given" when the caller chose it).
        up_axis: the file's up axis before conversion, e.g. "+Y" or "+Z".
        height_m: standing height (stature) of the rig: the top of its head (the highest of the
            head joint and its descendants, e.g. an end site) above the floor, 90th percentile
            over frames with a foot on the floor. A check on the units: adults read 1.4-2.0 m.
        mapping: SMPL joint name -> rig joint it came from, or how it was placed.
    """

    joints: np.ndarray = field(repr=False)
    source_frames: int
    source_fps: float
    metres_per_unit: float
    unit: str
    up_axis: str
    height_m: float
    mapping: dict[str, str]


_COLLARS = (("left_collar", "left_shoulder"), ("right_collar", "right_shoulder"))
_FEET = (("left_foot", "left_ankle"), ("right_foot", "right_ankle"))

# Where SMPL's collar sits: collar - spine3 = a (neck - spine3) + b (shoulder - spine3), a least-squares
# fit on HumanML3D's new_joints fixtures 000000 and 012314 (mean error 2 cm).
_COLLAR_FROM_NECK = 0.376
_COLLAR_FROM_SHOULDER = 0.36
# A rig clavicle whose joint lies this close to the midline (as a fraction of the shoulder's
# distance from it) starts at the sternum, not where SMPL's collar is.
_MIDLINE_FRACTION = 0.2

# Candidate units, metres per unit. "CMU" is the ASF unit of CMU's BVH conversions (inch / 0.45).
_UNITS_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "CMU": 0.0254 / 0.45, "foot": 0.3048}
# A frame whose lowest foot joint is this close to the floor counts as standing, for `height_m`.
_GROUNDED_M = 0.05
# Adult hip-knee-ankle length: HumanML3D's (thigh + shin, 0.83 m).
_TYPICAL_LEG_M = float(HUMANML3D.bone_lengths_m[HUMANML3D.joint_index("left_knee")] + HUMANML3D.bone_lengths_m[HUMANML3D.joint_index("left_ankle")])


# --- Rig positions -> SMPL joints ------------------------------------------------------------------


def rig_to_smpl22(
    motion: RigMotion,
    joint_map: dict[str, str] | str | os.PathLike | None = None,
    metres_per_unit: float | None = None,
) -> ImportedMotion:
    """Map, orient, scale, complete, resample and floor a rig's motion (see the module docstring).

    `joint_map` is a map {SMPL name: rig joint name} or the path of a JSON file holding one.
    """
    if isinstance(joint_map, (str, os.PathLike)):
        joint_map = load_joint_map(joint_map)
    if len(motion.positions) == 0:
        raise MotionchatError(f"{motion.source}: the file has no frames")
    if not np.isfinite(motion.positions).all():
        raise MotionchatError(f"{motion.source}: the motion contains NaN or infinite values")
    index = _resolve_map(motion, joint_map or {})
    mapping = {s: motion.names[i] for s, i in index.items()}
    explicit = set(joint_map or {})

    up_axis, to_y_up = _up_axis(motion.positions, index)
    positions = motion.positions @ to_y_up.T
    leg_units = _leg_length(positions, index)
    if metres_per_unit is None:
        unit, metres_per_unit = _detect_unit(leg_units, motion.source)
    else:
        if not metres_per_unit > 0:
            raise MotionchatError(f"{motion.source}: the scale must be a positive number of metres per unit, got {metres_per_unit}")
        unit = "given"
    positions = positions * metres_per_unit

    joints = np.zeros((len(positions), len(SMPL_NAMES), 3))
    for smpl_name, i in index.items():
        joints[:, SMPL_NAMES.index(smpl_name)] = positions[:, i]
    missing_spine = [s for s in SPINE_JOINTS if s not in index]
    if missing_spine:
        _place_spine(joints, positions, motion.parents, index, missing_spine)
        mapping.update({s: "interpolated along the rig's spine" for s in missing_spine})
    for collar, shoulder in _COLLARS:
        if collar not in index or (collar not in explicit and _on_midline(joints, collar, shoulder)):
            _place_collar(joints, collar, shoulder)
            mapping[collar] = "placed between spine3, neck and shoulder"

    head_top = _head_top(positions, motion.parents, index["head"])
    resampled = _resample(np.concatenate([joints, head_top[:, None]], axis=1), motion.fps, HUMANML3D_FPS)
    joints, head_top_y = resampled[:, :-1], resampled[:, -1, 1]
    feet_y = joints[:, [SMPL_NAMES.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")], 1]
    # The lowest foot joint of the clip on the floor, as HumanML3D does (so its feature code's own
    # floor step changes nothing).
    floor = feet_y.min()
    joints[..., 1] -= floor
    grounded = feet_y.min(axis=1) - floor < _GROUNDED_M
    height_m = float(np.percentile(head_top_y[grounded] - floor, 90))
    return ImportedMotion(
        joints=joints.astype(np.float32),
        source_frames=len(motion.positions),
        source_fps=motion.fps,
        metres_per_unit=float(metres_per_unit),
        unit=unit,
        up_axis=up_axis,
        height_m=height_m,
        mapping=mapping,
    )


def _resolve_map(motion: RigMotion, joint_map: dict[str, str]) -> dict[str, int]:
    """SMPL name -> rig joint index: explicit entries, then heuristics, then feet from the ankle's only child."""
    lookup = {name: i for i, name in enumerate(motion.names)}
    lookup_folded = {name.lower(): i for i, name in enumerate(motion.names)}
    index: dict[str, int] = {}
    absent = []
    for smpl_name, rig_name in joint_map.items():
        i = lookup.get(rig_name, lookup_folded.get(rig_name.lower()))
        if i is None:
            absent.append(rig_name)
        else:
            index[smpl_name] = i
    if absent:
        raise MotionchatError(
            f"{motion.source}: the joint map names rig joint(s) {', '.join(map(repr, absent))} that the file lacks; "
            f"its joints are {_names_preview(motion.names)}"
        )
    taken = set(index.values())
    for smpl_name, rig_name in guess_joint_map(motion.names).items():
        if smpl_name not in index and lookup[rig_name] not in taken:
            index[smpl_name] = lookup[rig_name]
            taken.add(lookup[rig_name])
    for foot, ankle in _FEET:
        if foot not in index and ankle in index:
            children = [j for j, p in enumerate(motion.parents) if p == index[ankle]]
            if len(children) == 1:
                index[foot] = children[0]
    optional = {*SPINE_JOINTS, "left_collar", "right_collar"}
    missing = [s for s in SMPL_NAMES if s not in index and s not in optional]
    if missing:
        raise MotionchatError(
            f"{motion.source}: cannot find rig joints for {', '.join(missing)}; the file's joints are "
            f'{_names_preview(motion.names)}; pass --joint-map FILE with a JSON map like {{"left_hip": "LeftUpLeg"}}'
        )
    return index


def _names_preview(names: tuple[str, ...], limit: int = 40) -> str:
    real = [n for n in names if not n.endswith("_end")]
    shown = ", ".join(real[:limit])
    return shown + (f", ... ({len(real)} in all)" if len(real) > limit else "")


def _up_axis(positions: np.ndarray, index: dict[str, int]) -> tuple[str, np.ndarray]:
    """The axis (with sign) closest to ankles->head over the clip, and the rotation taking it to +Y."""
    ankles = (positions[:, index["left_ankle"]] + positions[:, index["right_ankle"]]) / 2
    up = np.median(positions[:, index["head"]] - ankles, axis=0)
    axis = int(np.argmax(np.abs(up)))
    sign = 1.0 if up[axis] >= 0 else -1.0
    label = ("+" if sign > 0 else "-") + "XYZ"[axis]
    source = np.zeros(3)
    source[axis] = sign
    if label == "-Y":  # half turn about Z (qbetween's choice for opposite vectors is arbitrary)
        return label, np.diag([-1.0, -1.0, 1.0])
    return label, quat_to_matrix(qbetween(source, np.array([0.0, 1.0, 0.0])))


def _head_top(positions: np.ndarray, parents: tuple[int, ...], head: int) -> np.ndarray:
    """(T, 3): per frame, the highest of the head joint and its descendants (Y up)."""
    chain = {head}
    for j, p in enumerate(parents):
        if p in chain:
            chain.add(j)
    chain = sorted(chain)
    top = np.argmax(positions[:, chain, 1], axis=1)
    return positions[np.arange(len(positions)), np.array(chain)[top]]


def _leg_length(positions: np.ndarray, index: dict[str, int]) -> float:
    """Median over frames of hip-knee + knee-ankle, averaged over both legs, in rig units."""
    total = 0.0
    for side in ("left", "right"):
        hip, knee, ankle = (positions[:, index[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
        total += np.median(np.linalg.norm(knee - hip, axis=-1) + np.linalg.norm(ankle - knee, axis=-1))
    return total / 2


def _detect_unit(leg_units: float, source: str) -> tuple[str, float]:
    if not leg_units > 0:
        raise MotionchatError(f"{source}: the legs have zero length; check the joint map")
    unit = min(_UNITS_M, key=lambda u: abs(np.log(leg_units * _UNITS_M[u] / _TYPICAL_LEG_M)))
    return unit, _UNITS_M[unit]


def _place_spine(joints, positions, parents, index, missing) -> None:
    """Put the missing spine joints on the rig's joint chain from pelvis to neck at SMPL's arc-length fractions."""
    pelvis, neck = index["pelvis"], index["neck"]
    path = [neck]
    while path[-1] != pelvis and parents[path[-1]] >= 0:
        path.append(parents[path[-1]])
    path = path[::-1] if path[-1] == pelvis else [pelvis, neck]
    points = positions[:, path]  # (T, P, 3)
    # Bone lengths are constant in a rig, so the arc-length position of each fraction is too.
    arc = np.concatenate([[0.0], np.cumsum(np.median(np.linalg.norm(np.diff(points, axis=1), axis=-1), axis=0))])
    smpl_lengths = HUMANML3D.bone_lengths_m[[SMPL_NAMES.index(n) for n in (*SPINE_JOINTS, "neck")]]
    fractions = np.cumsum(smpl_lengths)[:3] / smpl_lengths.sum()
    for name, fraction in zip(SPINE_JOINTS, fractions):
        if name not in missing:
            continue
        s = fraction * arc[-1]
        k = int(np.clip(np.searchsorted(arc, s, side="right") - 1, 0, len(path) - 2))
        w = (s - arc[k]) / max(arc[k + 1] - arc[k], 1e-12)
        joints[:, SMPL_NAMES.index(name)] = (1 - w) * points[:, k] + w * points[:, k + 1]


def _on_midline(joints: np.ndarray, collar: str, shoulder: str) -> bool:
    spine3, neck = joints[:, SMPL_NAMES.index("spine3")], joints[:, SMPL_NAMES.index("neck")]
    axis = neck - spine3
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)

    def off_axis(p):
        rel = p - spine3
        return np.linalg.norm(rel - (rel * axis).sum(-1, keepdims=True) * axis, axis=-1)

    c, s = joints[:, SMPL_NAMES.index(collar)], joints[:, SMPL_NAMES.index(shoulder)]
    return bool(np.median(off_axis(c)) < _MIDLINE_FRACTION * np.median(off_axis(s)))


def _place_collar(joints: np.ndarray, collar: str, shoulder: str) -> None:
    spine3 = joints[:, SMPL_NAMES.index("spine3")]
    neck, arm = joints[:, SMPL_NAMES.index("neck")], joints[:, SMPL_NAMES.index(shoulder)]
    joints[:, SMPL_NAMES.index(collar)] = spine3 + _COLLAR_FROM_NECK * (neck - spine3) + _COLLAR_FROM_SHOULDER * (arm - spine3)


def _resample(positions: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """(T, ...) sampled at source_fps -> samples at t = k / target_fps covering the same time span."""
    n = len(positions)
    if n == 1 or source_fps == target_fps:
        return positions
    n_out = int(np.floor((n - 1) * target_fps / source_fps + 1e-9)) + 1
    t = np.arange(n_out) * (source_fps / target_fps)
    i0 = np.minimum(np.floor(t + 1e-9).astype(int), n - 2)
    w = (t - i0).reshape((-1,) + (1,) * (positions.ndim - 1))
    return (1 - w) * positions[i0] + w * positions[i0 + 1]
