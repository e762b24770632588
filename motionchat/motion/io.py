"""Load any supported motion file into joints, and save joints in any supported format.

This is the one dispatcher by file extension; the format readers live in `npy.py`, `bvh.py` and
`asf_amc.py`. Everything comes out as joint positions (T, J, 3) in metres, Y up, at the
skeleton's frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec

MOTION_SUFFIXES = (".npy", ".bvh", ".amc")
OUTPUT_KINDS = ("joints", "features", "bvh", "smpl", "obj")


@dataclass
class LoadedMotion:
    """A motion read from disk. `features` are raw (unnormalised) when the file held features."""

    path: Path
    joints: np.ndarray
    skeleton: SkeletonSpec
    description: str
    features: np.ndarray | None = None


def load_motion(
    path: str | Path,
    *,
    joint_map: str | Path | None = None,
    normalizer=None,
) -> LoadedMotion:
    """Read `.npy` (features or joints), `.bvh`, or `.amc` (with its `.asf` beside it)."""
    path = Path(path)
    if path.suffix.lower() not in MOTION_SUFFIXES:
        raise MotionchatError(
            f"{path}: unsupported file type '{path.suffix or '(none)'}'; use one of {', '.join(MOTION_SUFFIXES)}"
        )
    if not path.is_file():
        raise MotionchatError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        from motionchat.motion.npy import read_npy_motion

        motion = read_npy_motion(path, normalizer=normalizer)
        return LoadedMotion(path, motion.joints, motion.skeleton, motion.description, motion.features)
    if suffix == ".bvh":
        from motionchat.motion.bvh import read_bvh

        imported = read_bvh(path, joint_map=joint_map)
        kind = "BVH"
    else:
        from motionchat.motion.asf_amc import find_asf, read_asf_amc

        asf = find_asf(path)
        imported = read_asf_amc(asf, path, joint_map=joint_map)
        kind = f"ASF/AMC with {asf.name}"
    description = (
        f"{kind}, {imported.source_frames} frames at {imported.source_fps:g} fps, {imported.unit} units, "
        f"{imported.up_axis} up"
    )
    return LoadedMotion(path, imported.joints, HUMANML3D, description)


def infer_output_kind(out: Path, to: str | None) -> str:
    """The output kind from `--to`, or else from the output file's extension."""
    if to is not None:
        if to not in OUTPUT_KINDS:
            raise MotionchatError(f"--to {to}: unknown output kind; use one of {', '.join(OUTPUT_KINDS)}")
        return to
    by_suffix = {".npy": "joints", ".bvh": "bvh", ".npz": "smpl"}
    if out.suffix.lower() in by_suffix:
        return by_suffix[out.suffix.lower()]
    raise MotionchatError(f"{out}: cannot tell the output format from the extension; pass --to {'|'.join(OUTPUT_KINDS)}")


def check_output_suffix(out: Path, kind: str) -> None:
    expected = {"joints": ".npy", "features": ".npy", "bvh": ".bvh", "smpl": ".npz"}.get(kind)
    if expected and out.suffix.lower() != expected:
        raise MotionchatError(f"{out}: --to {kind} writes a {expected} file; change the output name")


SAVE_SUFFIXES = (".npy", ".bvh", ".gif", ".mp4")


def save_motion(
    joints: np.ndarray, path: str | Path, *, skeleton: SkeletonSpec = HUMANML3D, caption: str | None = None
) -> Path:
    """Write joints by extension: `.npy` joints, `.bvh`, or a `.gif`/`.mp4` preview (atomically)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        from motionchat.motion.arrays import write_npy

        write_npy(path, np.asarray(joints, dtype=np.float32))
    elif suffix == ".bvh":
        from motionchat.motion.bvh import write_bvh

        if skeleton.n_joints != 22:
            raise MotionchatError(f"{path}: BVH export needs the 22-joint skeleton, this motion has {skeleton.n_joints}")
        write_bvh(joints, path, fps=skeleton.fps)
    elif suffix in (".gif", ".mp4"):
        from motionchat.motion.render import render_motions

        render_motions([joints], path, caption=caption, skeleton=skeleton)
    else:
        raise MotionchatError(f"{path}: cannot save as '{suffix or '(none)'}'; use one of {', '.join(SAVE_SUFFIXES)}")
    return path
