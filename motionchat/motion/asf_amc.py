"""Acclaim ASF (skeleton) + AMC (motion) files, as in CMU's original mocap release.

The skeleton is turned into a rig whose joints sit where each bone starts (the bone's pivot): joint
"lfemur" is the hip, "ltibia" the knee, "lfoot" the ankle, as in CMU's BVH conversions; every leaf
bone adds an end joint "<bone>_end". A bone's local rotation is C M C^-1, with C from its `axis`
line and M from its AMC values, and it turns the bone's own vector (direction * length). Lengths
and root translations are divided by the `:units length` multiplier (CMU's files then read in
inches). AMC files carry no frame rate: CMU captured at 120 fps (a few trials at 60).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.fileio import read_text
from motionchat.motion.euler import euler_to_matrix, forward_kinematics_rig
from motionchat.motion.rig import ImportedMotion, RigMotion, rig_to_smpl22

CMU_FPS = 120.0
_ROTATION_DOFS = ("rx", "ry", "rz")
_TRANSLATION_DOFS = ("tx", "ty", "tz")


@dataclass(frozen=True)
class AsfBone:
    name: str
    vector: np.ndarray = field(repr=False)  # direction * length, length-multiplier applied
    axis_rad: np.ndarray = field(repr=False)  # angles of the bone's local frame, in `axis_order`
    axis_order: str  # e.g. "XYZ": rotate about X first
    dofs: tuple[str, ...]  # e.g. ("rx", "ry", "rz"), AMC value order


@dataclass(frozen=True)
class AsfSkeleton:
    """An ASF file: the root's channel order and frame, the bones, and the hierarchy.

    Args:
        root_order: AMC value order of the root, e.g. ("tx", "ty", "tz", "rx", "ry", "rz").
        root_axis_order / root_orientation_rad / root_position: the root's frame and rest position.
        bones: bones by name.
        parents: bone name -> parent bone name ("root" for the root's children).
        length_unit: the `:units length` multiplier (lengths were divided by it; AMC root
            translations still need dividing).
        degrees: angles are in degrees (the `:units angle` line), also for AMC files without a header.
    """

    root_order: tuple[str, ...]
    root_axis_order: str
    root_orientation_rad: np.ndarray = field(repr=False)
    root_position: np.ndarray = field(repr=False)
    bones: dict[str, AsfBone] = field(repr=False)
    parents: dict[str, str]
    length_unit: float
    degrees: bool


def _sections(text: str) -> dict[str, list[str]]:
    """':keyword' sections -> their lines (comments and blank lines dropped)."""
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            keyword, _, rest = line[1:].partition(" ")
            current = keyword.lower()
            sections[current] = [rest.strip()] if rest.strip() else []
        elif current is not None:
            sections[current].append(line)
    return sections


def _asf_rotation(angles_rad: np.ndarray, order: str) -> np.ndarray:
    """Acclaim order "XYZ" applies X first: R = Rz Ry Rx, i.e. BVH's order reversed."""
    return euler_to_matrix(np.asarray(angles_rad)[..., ::-1], order[::-1])


def parse_asf(path: str | os.PathLike) -> AsfSkeleton:
    path = Path(path)
    sections = _sections(read_text(path, "ASF"))
    if "bonedata" not in sections or "root" not in sections or "hierarchy" not in sections:
        raise MotionchatError(f"{path}: not an ASF skeleton (needs :root, :bonedata and :hierarchy sections)")
    units = dict(_key_values(sections.get("units", [])))
    try:
        length_unit = float(units.get("length", ["1"])[0])
    except ValueError:
        length_unit = -1.0
    if not length_unit > 0:
        raise MotionchatError(f"{path}: bad ':units length' {units.get('length')}")
    degrees = units.get("angle", ["deg"])[0].lower().startswith("deg")
    to_rad = np.pi / 180 if degrees else 1.0

    root = dict(_key_values(sections["root"]))
    root_order = tuple(v.lower() for v in root.get("order", []))
    unknown = [d for d in root_order if d not in _ROTATION_DOFS + _TRANSLATION_DOFS]
    if unknown:
        raise MotionchatError(f"{path}: unsupported root order {' '.join(unknown)}")
    root_axis_order = root.get("axis", ["XYZ"])[0].upper()
    root_orientation = _floats(root.get("orientation", ["0", "0", "0"]), 3, "root orientation", path) * to_rad
    root_position = _floats(root.get("position", ["0", "0", "0"]), 3, "root position", path) / length_unit

    bones = {}
    for block in _blocks(sections["bonedata"], path):
        fields = dict(_key_values(block))
        name = fields.get("name", [""])[0]
        if not name:
            raise MotionchatError(f"{path}: a bone without a name in :bonedata")
        direction = _floats(fields.get("direction", []), 3, f"bone {name} direction", path)
        bone_length = _floats(fields.get("length", []), 1, f"bone {name} length", path)[0]
        axis = fields.get("axis", ["0", "0", "0", "XYZ"])
        axis_order = axis[3].upper() if len(axis) > 3 else "XYZ"
        dofs = tuple(d.lower() for d in fields.get("dof", []))
        if any(d not in _ROTATION_DOFS for d in dofs):
            raise MotionchatError(f"{path}: bone {name} has dof {' '.join(dofs)}; only rx, ry, rz are supported")
        norm = np.linalg.norm(direction)
        vector = direction / norm * bone_length / length_unit if norm > 0 else np.zeros(3)
        bones[name] = AsfBone(name, vector, _floats(axis[:3], 3, f"bone {name} axis", path) * to_rad, axis_order, dofs)

    parents = {}
    for block in _blocks(sections["hierarchy"], path):
        for line in block:
            parent, *kids = line.split()
            for kid in kids:
                if kid not in bones:
                    raise MotionchatError(f"{path}: :hierarchy names bone {kid!r} that :bonedata lacks")
                if parent != "root" and parent not in bones:
                    raise MotionchatError(f"{path}: :hierarchy names bone {parent!r} that :bonedata lacks")
                parents[kid] = parent
    skeleton = AsfSkeleton(root_order, root_axis_order, root_orientation, root_position, bones, parents, length_unit, degrees)
    if not _topological(skeleton, path):
        raise MotionchatError(f"{path}: the :hierarchy section places no bone under the root")
    return skeleton


def _key_values(lines: list[str]):
    for line in lines:
        key, *values = line.split()
        yield key.lower(), values


def _blocks(lines: list[str], path: Path) -> list[list[str]]:
    blocks, current = [], None
    for line in lines:
        if line == "begin":
            current = []
        elif line == "end":
            if current is None:
                raise MotionchatError(f"{path}: 'end' without 'begin'")
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise MotionchatError(f"{path}: a 'begin' block is not closed; the file is truncated")
    return blocks


def _floats(values: list[str], count: int, what: str, path: Path) -> np.ndarray:
    try:
        result = np.array([float(v) for v in values[:count]])
    except ValueError:
        result = np.zeros(0)
    if len(result) != count:
        raise MotionchatError(f"{path}: bad {what} {' '.join(values)!r} (expected {count} numbers)")
    return result


def parse_amc(path: str | os.PathLike, skeleton: AsfSkeleton) -> dict[str, np.ndarray]:
    """AMC frames -> {"root" or bone name: (F, n_values)}, values in radians and ASF length units as stored."""
    path = Path(path)
    text = read_text(path, "AMC")
    lines = [ln.strip() for ln in text.splitlines()]
    keywords = {ln.upper() for ln in lines if ln.startswith(":")}
    degrees = ":DEGREES" in keywords or (":RADIANS" not in keywords and skeleton.degrees)
    lines = [ln for ln in lines if ln and not ln.startswith(("#", ":"))]
    if not lines or not lines[0].isdigit():
        raise MotionchatError(f"{path}: not an AMC motion file (expected a frame number after the header)")
    block = next((k for k, ln in enumerate(lines[1:], 1) if ln.isdigit()), len(lines))
    if len(lines) % block:
        raise MotionchatError(f"{path}: truncated: the last frame is incomplete ({len(lines) % block} of {block} lines)")
    n_frames = len(lines) // block
    if not all(ln.isdigit() for ln in lines[::block]):
        raise MotionchatError(f"{path}: frames list different bones; only files with the same bones in every frame are supported")
    values = {}
    for i in range(1, block):
        rows = lines[i::block]
        name = rows[0].split(None, 1)[0]
        expected = len(skeleton.root_order) if name == "root" else len(skeleton.bones[name].dofs) if name in skeleton.bones else None
        if expected is None:
            raise MotionchatError(f"{path}: bone {name!r} is not in the ASF skeleton; is this the right .asf file?")
        tokens = " ".join(rows).split()
        if len(tokens) != n_frames * (expected + 1) or set(tokens[:: expected + 1]) != {name}:
            raise MotionchatError(f"{path}: bone {name!r} does not have {expected} values in every frame; is the file truncated?")
        del tokens[:: expected + 1]
        try:
            table = np.array(tokens, dtype=np.float64).reshape(n_frames, expected)
        except ValueError:
            raise MotionchatError(f"{path}: bone {name!r} has a non-numeric value") from None
        if not np.isfinite(table).all():
            raise MotionchatError(f"{path}: bone {name!r} has NaN or infinite values")
        values[name] = table
    if "root" not in values:
        raise MotionchatError(f"{path}: the frames have no root line")
    to_rad = np.pi / 180 if degrees else 1.0
    for name, table in values.items():
        dofs = skeleton.root_order if name == "root" else skeleton.bones[name].dofs
        rot = [k for k, d in enumerate(dofs) if d in _ROTATION_DOFS]
        table[:, rot] *= to_rad
    return values


def asf_amc_rig_motion(skeleton: AsfSkeleton, frames: dict[str, np.ndarray], fps: float, source: str = "") -> RigMotion:
    """Joint positions (bone starts plus leaf-bone ends) of every frame, in the ASF's length units."""
    bones = _topological(skeleton)
    leaves = [b for b in bones if b not in skeleton.parents.values()]
    names = ["root", *bones, *(f"{b}_end" for b in leaves)]
    index = {n: i for i, n in enumerate(names)}
    parents = [-1, *(index[skeleton.parents[b]] for b in bones), *(index[b] for b in leaves)]
    # A joint sits at the end of its parent bone; the root's children start at the root.
    n_frames = len(frames["root"])
    offsets = np.zeros((n_frames, len(names), 3))
    for j in range(1, len(names)):
        if parents[j] > 0:
            offsets[:, j] = skeleton.bones[names[parents[j]]].vector

    root = frames["root"]
    translation = np.broadcast_to(skeleton.root_position, (n_frames, 3)).copy()
    for k, dof in enumerate(skeleton.root_order):
        if dof in _TRANSLATION_DOFS:
            translation[:, "xyz".index(dof[1])] += root[:, k] / skeleton.length_unit
    offsets[:, 0] = translation
    rotations = np.broadcast_to(np.eye(3), (n_frames, len(names), 3, 3)).copy()
    root_rot = [k for k, d in enumerate(skeleton.root_order) if d in _ROTATION_DOFS]
    rotations[:, 0] = _local_rotation(
        skeleton.root_orientation_rad, skeleton.root_axis_order, root[:, root_rot],
        "".join(skeleton.root_order[k][1] for k in root_rot),
    )
    for name in bones:
        bone = skeleton.bones[name]
        if bone.dofs and name in frames:
            rotations[:, index[name]] = _local_rotation(bone.axis_rad, bone.axis_order, frames[name], "".join(d[1] for d in bone.dofs))
    positions = forward_kinematics_rig(tuple(parents), offsets, rotations)
    return RigMotion(tuple(names), tuple(parents), positions, fps, source)


def _topological(skeleton: AsfSkeleton, source: str | os.PathLike = "ASF") -> list[str]:
    """Bones with every parent before its children (hierarchy order, then bone order)."""
    ordered, placed = [], {"root"}
    pending = [b for b in skeleton.bones if b in skeleton.parents]
    while pending:
        ready = [b for b in pending if skeleton.parents[b] in placed]
        if not ready:
            raise MotionchatError(f"{source}: the :hierarchy has a cycle among {', '.join(pending)}")
        ordered += ready
        placed.update(ready)
        pending = [b for b in pending if b not in placed]
    return ordered


def _local_rotation(axis_rad: np.ndarray, axis_order: str, values_rad: np.ndarray, dof_axes: str) -> np.ndarray:
    """C M C^-1: the AMC rotation M expressed in the bone's axis frame C. (T, 3, 3)."""
    c = _asf_rotation(axis_rad, axis_order)
    m = _asf_rotation(values_rad, dof_axes.upper()) if dof_axes else np.eye(3)
    return c @ m @ c.T


def read_asf_amc(
    asf_path: str | os.PathLike,
    amc_path: str | os.PathLike,
    fps: float = CMU_FPS,
    joint_map: dict[str, str] | str | os.PathLike | None = None,
    metres_per_unit: float | None = None,
) -> ImportedMotion:
    """An ASF skeleton and AMC motion -> the 22 SMPL joints at 20 fps in metres, Y up, on the floor."""
    skeleton = parse_asf(asf_path)
    frames = parse_amc(amc_path, skeleton)
    return rig_to_smpl22(asf_amc_rig_motion(skeleton, frames, fps, str(amc_path)), joint_map, metres_per_unit)


def find_asf(amc_path: str | os.PathLike) -> Path:
    """The skeleton beside an AMC file: CMU's "<subject>.asf" for "<subject>_<trial>.amc", else the only .asf there."""
    amc_path = Path(amc_path)
    subject = amc_path.parent / (amc_path.stem.split("_", 1)[0] + ".asf")
    if subject.is_file():
        return subject
    candidates = sorted(amc_path.parent.glob("*.asf"))
    if len(candidates) == 1:
        return candidates[0]
    found = f"{len(candidates)} .asf files" if candidates else "no .asf file"
    raise MotionchatError(f"{amc_path}: found {found} beside it; put the subject's skeleton there as {subject.name}")
