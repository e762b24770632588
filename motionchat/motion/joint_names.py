"""Mocap joint names -> SMPL joint names: the name heuristics and explicit joint-map files.

`guess_joint_map` covers CMU MotionBuilder-style (LeftUpLeg, LeftArm), 3dsMax-style (LeftHip,
LeftShoulder), ASF bone names (lfemur), Mixamo (mixamorig:LeftUpLeg), 3ds Max Biped (Bip01 L Thigh)
and SMPL names; `load_joint_map` reads a user's explicit map.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from motionchat.errors import MotionchatError
from motionchat.fileio import read_text
from motionchat.motion.skeleton import HUMANML3D

SMPL_NAMES = HUMANML3D.joint_names
SPINE_JOINTS = ("spine1", "spine2", "spine3")

# Candidate base names (after normalisation) per SMPL joint, most specific first. Sided joints are
# tried as left<base>, l<base>, <base>left, <base>l (and the same for right). Order matters where
# conventions collide: "LeftShoulder" is the clavicle in MotionBuilder-style rigs (which also have
# LeftArm) but the shoulder in 3dsMax-style ones; "LeftFoot" is the ankle except in SMPL naming
# (which also has left_ankle). Joints are assigned in `_ASSIGN_ORDER`, each from unused rig joints.
_SIDED_BASES = {
    "hip": ("upleg", "hip", "femur", "thigh", "upperleg"),
    "knee": ("leg", "knee", "tibia", "calf", "shin", "lowerleg", "lowleg"),
    "ankle": ("ankle", "foot"),
    "foot": ("toebase", "toe", "toes", "toe0", "ball", "foot"),
    "shoulder": ("arm", "upperarm", "humerus", "shoulder"),
    "collar": ("collar", "clavicle", "shoulder"),
    "elbow": ("forearm", "elbow", "radius", "lowerarm", "lowarm"),
    "wrist": ("wrist", "hand"),
}
_CENTRAL_BASES = {
    "pelvis": ("hips", "pelvis", "root", "hip"),
    # The upper neck first: in CMU rigs "Neck" sits where the clavicles start, below the shoulders.
    "neck": ("neck1", "upperneck", "neck", "neck01", "lowerneck"),
    "head": ("head",),
}
_ASSIGN_ORDER = (
    "pelvis",
    "head",
    "neck",
    *(
        f"{side}_{part}"
        for part in ("hip", "knee", "ankle", "foot", "shoulder", "collar", "elbow", "wrist")
        for side in ("left", "right")
    ),
)
_NAME_PREFIXES = ("bip01", "bip001")


def normalise_name(name: str) -> str:
    """Lowercase, namespace and Biped prefix removed, only letters and digits: "mixamorig:LeftUpLeg" -> "leftupleg"."""
    name = name.replace("|", ":").rsplit(":", 1)[-1].lower()
    name = "".join(ch for ch in name if ch.isalnum())
    for prefix in _NAME_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def _candidates(smpl_name: str) -> list[str]:
    if smpl_name in _CENTRAL_BASES:
        return list(_CENTRAL_BASES[smpl_name])
    side, part = smpl_name.split("_", 1)
    short = side[0]
    return [n for base in _SIDED_BASES[part] for n in (side + base, short + base, base + side, base + short)]


def guess_joint_map(names: tuple[str, ...] | list[str]) -> dict[str, str]:
    """SMPL name -> rig joint name for every SMPL joint the name heuristics find.

    spine1/2/3 are matched only when a rig names all three (SMPL naming); other rigs' spine joints
    ("Spine", "Spine1" in CMU and Mixamo rigs) mean different things and are interpolated instead.
    """
    by_norm: dict[str, str] = {}
    for name in names:
        by_norm.setdefault(normalise_name(name), name)
    found: dict[str, str] = {}
    used: set[str] = set()
    for smpl_name in _ASSIGN_ORDER:
        for cand in _candidates(smpl_name):
            if cand in by_norm and by_norm[cand] not in used:
                found[smpl_name] = by_norm[cand]
                used.add(by_norm[cand])
                break
    if all(s in by_norm for s in SPINE_JOINTS):
        found.update({s: by_norm[s] for s in SPINE_JOINTS})
    return found


def load_joint_map(path: str | os.PathLike) -> dict[str, str]:
    """Read a JSON joint map {"left_hip": "LeftUpLeg", ...} (SMPL name -> rig joint name)."""
    path = Path(path)
    text = read_text(path, "joint map")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise MotionchatError(
            f"{path}: joint map is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
        ) from None
    if not isinstance(data, dict):
        raise MotionchatError(f'{path}: joint map must be a JSON object like {{"left_hip": "LeftUpLeg"}}')
    unknown = sorted(k for k in data if k not in SMPL_NAMES)
    if unknown:
        raise MotionchatError(
            f"{path}: unknown SMPL joint name(s) {', '.join(map(repr, unknown))}; keys must be among {', '.join(SMPL_NAMES)}"
        )
    bad = sorted(k for k, v in data.items() if not isinstance(v, str) or not v)
    if bad:
        raise MotionchatError(
            f"{path}: joint map values must be rig joint names (non-empty strings); check {', '.join(bad)}"
        )
    return dict(data)
