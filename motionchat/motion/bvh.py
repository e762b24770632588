"""BVH files: read any rig onto the 22 SMPL joints, write a 22-joint motion with solved rotations.

Reading: `parse_bvh` (hierarchy, channels in any order, motion table) -> `bvh_rig_motion` (forward
kinematics over all frames at once, in the file's units) -> `rig.rig_to_smpl22` (mapping, units,
Y up, 20 fps, floor). `read_bvh` does all three.

Writing: `write_bvh` builds a hierarchy with SMPL joint names, offsets from the motion's own bone
lengths, and per-frame rotations solved from the positions so that reading the file back gives
the same joints. BVH's rotation at a joint turns the bones of its *children* (unlike HumanML3D's,
stored at the bone's end joint). A joint with one child gets the smallest rotation that points the
child's bone where it is (twist about a bone cannot be seen from positions; the minimal one is
stable and exact); the pelvis and spine3, with three children each, get the best-fitting rotation
of their children's rest offsets (exact for rigid skeletons). Units: centimetres; rotation order ZXY.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path, read_text
from motionchat.motion.euler import euler_to_matrix, forward_kinematics_rig, matrix_to_euler
from motionchat.motion.rig import ImportedMotion, RigMotion, rig_to_smpl22
from motionchat.motion.rotations import qbetween, quat_to_matrix
from motionchat.motion.skeleton import HUMANML3D, bone_lengths
from motionchat.motion.timing import HUMANML3D_FPS

_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_BY_LOWER = {c.lower(): c for c in _CHANNELS}


@dataclass(frozen=True)
class BvhFile:
    """The contents of a BVH file.

    Args:
        names: joint names in file order; each End Site is a joint named "<parent>_end".
        parents: parent index per joint, -1 for the root.
        offsets: (J, 3) OFFSET of each joint.
        channels: channel names per joint (empty for end sites), in file order.
        frame_time_s: seconds per frame.
        motion: (F, C) channel values, C = total number of channels.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray = field(repr=False)
    channels: tuple[tuple[str, ...], ...]
    frame_time_s: float
    motion: np.ndarray = field(repr=False)

    @property
    def fps(self) -> float:
        """Frame rate, snapped to an integer when the frame time was written rounded (.0083333 -> 120)."""
        fps = 1.0 / self.frame_time_s
        return float(round(fps)) if abs(fps - round(fps)) < 1e-3 * fps else fps


def parse_bvh(path: str | os.PathLike) -> BvhFile:
    """Read a BVH file; any problem is a `MotionchatError` naming the file."""
    path = Path(path)
    text = read_text(path, "BVH")
    if not text.lstrip().startswith("HIERARCHY"):
        raise MotionchatError(f"{path}: not a BVH file (it does not start with HIERARCHY)")
    motion_at = re.search(r"^\s*MOTION\s*$", text, flags=re.MULTILINE)
    if motion_at is None:
        raise MotionchatError(f"{path}: no MOTION section; the file is truncated or not a BVH file")
    names, parents, offsets, channels = _parse_hierarchy(text[: motion_at.start()], path)
    frame_time_s, motion = _parse_motion(text[motion_at.end():], sum(len(c) for c in channels), path)
    return BvhFile(tuple(names), tuple(parents), np.array(offsets, dtype=np.float64), tuple(channels), frame_time_s, motion)


def _parse_hierarchy(header: str, path: Path):
    # One logical line per keyword or brace, whatever the file's line breaks around braces.
    lines = [ln.strip() for ln in header.replace("{", "\n{\n").replace("}", "\n}\n").splitlines()]
    lines = [ln for ln in lines if ln][1:]  # drop HIERARCHY
    names, parents, offsets, channels = [], [], [], []
    stack: list[int] = []
    pending: int | None = None
    for line in lines:
        keyword, rest = (line.split(None, 1) + [""])[:2]
        keyword = keyword.upper()
        if keyword in ("ROOT", "JOINT") or line.upper().replace(" ", "") == "ENDSITE":
            if keyword == "ROOT" and names:
                raise MotionchatError(f"{path}: more than one ROOT; only single-skeleton BVH files are supported")
            if keyword != "ROOT" and not stack:
                raise MotionchatError(f"{path}: {line[:60]!r} outside the ROOT joint's braces")
            if keyword in ("ROOT", "JOINT"):
                name = rest.strip()
                if not name:
                    raise MotionchatError(f"{path}: a {keyword} without a name")
            else:
                name = _unique(f"{names[stack[-1]]}_end", names)
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            offsets.append((0.0, 0.0, 0.0))
            channels.append(())
            pending = len(names) - 1
        elif line == "{":
            if pending is None:
                raise MotionchatError(f"{path}: unexpected '{{' in the HIERARCHY section")
            stack.append(pending)
            pending = None
        elif line == "}":
            if not stack:
                raise MotionchatError(f"{path}: unbalanced '}}' in the HIERARCHY section")
            stack.pop()
        elif keyword == "OFFSET" and stack:
            offsets[stack[-1]] = tuple(_numbers(rest, 3, "OFFSET", path))
        elif keyword == "CHANNELS" and stack:
            parts = rest.split()
            try:
                count = int(parts[0])
            except (IndexError, ValueError):
                raise MotionchatError(f"{path}: bad CHANNELS line {line[:60]!r}") from None
            found = [_CHANNEL_BY_LOWER.get(p.lower()) for p in parts[1:]]
            if len(found) != count or None in found:
                raise MotionchatError(f"{path}: bad CHANNELS line {line[:60]!r} (expected {count} of {', '.join(_CHANNELS)})")
            channels[stack[-1]] = tuple(found)
        else:
            raise MotionchatError(f"{path}: unexpected {line[:60]!r} in the HIERARCHY section")
    if stack or pending is not None:
        raise MotionchatError(f"{path}: the HIERARCHY section is truncated (unclosed braces)")
    if not names:
        raise MotionchatError(f"{path}: the HIERARCHY section has no ROOT joint")
    return names, parents, offsets, channels


def _unique(name: str, names: list[str]) -> str:
    candidate, k = name, 1
    while candidate in names:
        k += 1
        candidate = f"{name}{k}"
    return candidate


def _numbers(text: str, count: int, what: str, path: Path) -> list[float]:
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        values = []
    if len(values) != count:
        raise MotionchatError(f"{path}: bad {what} values {text.strip()[:60]!r} (expected {count} numbers)")
    return values


def _parse_motion(body: str, n_channels: int, path: Path) -> tuple[float, np.ndarray]:
    frames = re.match(r"\s*Frames:\s*(\d+)\s+Frame\s+Time:\s*(\S+)", body)
    if frames is None:
        raise MotionchatError(f"{path}: MOTION needs 'Frames: N' and 'Frame Time: S' lines; the file is truncated or malformed")
    n_frames = int(frames.group(1))
    try:
        frame_time_s = float(frames.group(2))
    except ValueError:
        frame_time_s = -1.0
    if not frame_time_s > 0:
        raise MotionchatError(f"{path}: bad Frame Time {frames.group(2)!r} (expected seconds per frame > 0)")
    try:
        values = np.array(body[frames.end():].split(), dtype=np.float64)
    except ValueError:
        raise MotionchatError(f"{path}: the MOTION data contains a non-numeric value") from None
    expected = n_frames * n_channels
    if len(values) < expected:
        raise MotionchatError(
            f"{path}: truncated: the header declares {n_frames} frames of {n_channels} channels, "
            f"the file holds {len(values) / max(n_channels, 1):.1f} frames; re-export or repair the file"
        )
    if len(values) > expected:
        raise MotionchatError(
            f"{path}: the MOTION data has {len(values) - expected} values more than {n_frames} frames of {n_channels} channels; "
            "fix the 'Frames:' line"
        )
    if n_frames == 0:
        raise MotionchatError(f"{path}: the file has no frames")
    if not np.isfinite(values).all():
        raise MotionchatError(f"{path}: the MOTION data contains NaN or infinite values")
    return frame_time_s, values.reshape(n_frames, n_channels)


def bvh_rig_motion(bvh: BvhFile, source: str = "") -> RigMotion:
    """Joint positions of every frame (file units and axes), by forward kinematics over all frames at once."""
    n_frames, n_joints = len(bvh.motion), len(bvh.names)
    rotations = np.broadcast_to(np.eye(3), (n_frames, n_joints, 3, 3)).copy()
    offsets = np.broadcast_to(bvh.offsets, (n_frames, n_joints, 3)).copy()
    column = 0
    for j, names in enumerate(bvh.channels):
        rot_columns, order = [], ""
        for name in names:
            axis = "XYZ".index(name[0])
            if name.endswith("position"):
                # Position channels replace the OFFSET component (the root's are its absolute position).
                offsets[:, j, axis] = bvh.motion[:, column]
            else:
                rot_columns.append(column)
                order += name[0]
            column += 1
        if order:
            rotations[:, j] = euler_to_matrix(np.deg2rad(bvh.motion[:, rot_columns]), order)
    positions = forward_kinematics_rig(bvh.parents, offsets, rotations)
    return RigMotion(bvh.names, bvh.parents, positions, bvh.fps, source)


def read_bvh(
    path: str | os.PathLike,
    joint_map: dict[str, str] | str | os.PathLike | None = None,
    metres_per_unit: float | None = None,
) -> ImportedMotion:
    """A BVH file -> the 22 SMPL joints at 20 fps in metres, Y up, on the floor (see `rig.rig_to_smpl22`)."""
    bvh = parse_bvh(path)
    return rig_to_smpl22(bvh_rig_motion(bvh, str(path)), joint_map, metres_per_unit)


# --- Export ----------------------------------------------------------------------------------------

_EXPORT_ORDER = "ZXY"
_CM_PER_M = 100.0
# Rest direction of each bone (parent -> joint) in the exported T-pose; the pelvis's and spine3's
# children take their rest offsets from the motion instead (see `_group_rest_offsets`).
_REST_DIRECTIONS = np.array(
    [
        [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
        [0, -1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0],
        [1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0],
    ],
    dtype=np.float64,
)
# Joints with several children: (joint, (left child, right child, up child)).
_GROUPS = ((0, (1, 2, 3)), (9, (13, 14, 12)))


def write_bvh(joints: np.ndarray, path: str | os.PathLike, fps: float = HUMANML3D_FPS) -> None:
    """Write (T, 22, 3) joint positions in metres as a BVH file (atomically)."""
    spec = HUMANML3D
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (spec.n_joints, 3) or len(joints) == 0:
        raise MotionchatError(f"{path}: cannot write BVH from joints of shape {joints.shape}; expected (frames, 22, 3)")
    if not np.isfinite(joints).all():
        raise MotionchatError(f"{path}: cannot write BVH: the joints contain NaN or infinite values")
    parents = spec.parents
    children = [[c for c, p in enumerate(parents) if p == j] for j in range(spec.n_joints)]
    lengths = np.median(bone_lengths(joints, spec), axis=0)
    rest = _REST_DIRECTIONS * lengths[:, None]
    for joint, group in _GROUPS:
        rest[list(group)] = _group_rest_offsets(joints, joint, group)

    world = _solve_world_rotations(joints, rest, children, parents)
    local = world.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            local[:, j] = np.swapaxes(world[:, p], -1, -2) @ world[:, j]
    angles_deg = np.rad2deg(matrix_to_euler(local, _EXPORT_ORDER))  # (T, 22, 3)

    lines = ["HIERARCHY"]
    order: list[int] = []

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        offset = np.zeros(3) if parents[j] < 0 else rest[j] * _CM_PER_M
        channels = "Xposition Yposition Zposition " if parents[j] < 0 else ""
        channels += " ".join(f"{a}rotation" for a in _EXPORT_ORDER)
        lines.append(f"{pad}{'ROOT' if parents[j] < 0 else 'JOINT'} {spec.joint_names[j]}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        lines.append(f"{pad}\tCHANNELS {len(channels.split())} {channels}")
        order.append(j)
        for c in children[j]:
            emit(c, depth + 1)
        if not children[j]:
            end = _REST_DIRECTIONS[j] * lengths[j] / 2 * _CM_PER_M
            lines.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}", pad + "\t}"])
        lines.append(pad + "}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {len(joints)}", f"Frame Time: {1.0 / fps:.8f}"]
    table = np.concatenate([joints[:, 0] * _CM_PER_M, angles_deg[:, order].reshape(len(joints), -1)], axis=1)
    body = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in table)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + body + "\n", encoding="utf-8")


def _group_frames(vectors: np.ndarray) -> np.ndarray:
    """(T, 3 children, 3) -> (T, 3, 3) orthonormal frames: x from right to left child, y towards the up child."""
    x = vectors[:, 0] - vectors[:, 1]
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
    y = vectors[:, 2] - (vectors[:, 2] * x).sum(-1, keepdims=True) * x
    y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    return np.stack([x, y, np.cross(x, y)], axis=-1)  # columns are the axes


def _group_rest_offsets(joints: np.ndarray, joint: int, group: tuple[int, int, int]) -> np.ndarray:
    """Rest offsets of a joint's three children: their mean shape in the group's own frame, at median lengths."""
    vectors = joints[:, list(group)] - joints[:, joint, None]
    frames = _group_frames(vectors)
    local = np.einsum("tab,tca->tcb", frames, vectors).mean(axis=0)  # (3 children, 3)
    lengths = np.median(np.linalg.norm(vectors, axis=-1), axis=0)
    return local / np.maximum(np.linalg.norm(local, axis=-1, keepdims=True), 1e-12) * lengths[:, None]


def _solve_world_rotations(joints, rest, children, parents) -> np.ndarray:
    """(T, 22, 3, 3) world rotation of every joint's frame (see the module docstring)."""
    n_frames = len(joints)
    world = np.zeros((n_frames, len(parents), 3, 3))
    groups = dict(_GROUPS)
    for j, p in enumerate(parents):
        parent_world = np.broadcast_to(np.eye(3), (n_frames, 3, 3)) if p < 0 else world[:, p]
        if j in groups:
            group = list(groups[j])
            world[:, j] = _best_rotation(rest[group], joints[:, group] - joints[:, j, None])
        elif len(children[j]) == 1:
            c = children[j][0]
            current_rest = np.einsum("tab,b->ta", parent_world, rest[c])
            swing = quat_to_matrix(qbetween(current_rest, joints[:, c] - joints[:, j]))
            world[:, j] = swing @ parent_world
        else:
            world[:, j] = parent_world
    return world


def _best_rotation(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotations R (T, 3, 3) minimising sum |R rest_i - current_i|^2 (Kabsch), rest (N, 3), current (T, N, 3)."""
    covariance = np.einsum("na,tnb->tab", rest, current)  # sum_i rest_i current_i^T
    u, _, vt = np.linalg.svd(covariance)
    v = np.swapaxes(vt, -1, -2)
    d = np.sign(np.linalg.det(v @ np.swapaxes(u, -1, -2)))
    fix = np.broadcast_to(np.eye(3), d.shape + (3, 3)).copy()
    fix[:, 2, 2] = d
    return v @ fix @ np.swapaxes(u, -1, -2)
