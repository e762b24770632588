"""Writing a fit: AMASS-style parameter files and OBJ mesh sequences (for Blender and friends).

An AMASS-style `.npz` holds `poses` (T, 72 / 156 / 165 axis-angle values for SMPL / SMPL-H /
SMPL-X: root, 21 body joints, then hands, jaw and eyes at zero), `trans` (T, 3), `betas`,
`mocap_framerate`, `gender` and `surface_model_type`, all plain arrays (it loads with
`allow_pickle=False`). Y is up, as in HumanML3D.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path, atomic_write_text
from motionchat.motion.smpl.fit import SmplFit
from motionchat.motion.smpl.model import POSE_WIDTH, BodyModel
from motionchat.motion.timing import HUMANML3D_FPS

OBJ_FRAME_NAME = "frame_{:04d}.obj"  # numbered from 1, the way Blender's sequence importers expect
_OBJ_FRAME_PATTERN = re.compile(r"frame_(\d{4,})\.obj")


def amass_poses(fit: SmplFit) -> np.ndarray:
    """(T, 72 | 156 | 165) axis-angle pose rows in AMASS's layout for the fit's model type."""
    poses = np.zeros((fit.n_frames, POSE_WIDTH[fit.model_type]))
    poses[:, :3] = fit.global_orient
    poses[:, 3:66] = fit.body_pose.reshape(fit.n_frames, 63)
    return poses


def write_smpl_npz(path: str | os.PathLike, fit: SmplFit, fps: float = HUMANML3D_FPS) -> Path:
    """Write the fit's parameters as an AMASS-style `.npz` (keys in the module docstring)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise MotionchatError(f"{path}: SMPL parameters are written as .npz; change the extension")
    arrays = {
        "poses": amass_poses(fit),
        "trans": fit.transl,
        "betas": fit.betas,
        "mocap_framerate": np.array(float(fps)),
        "gender": np.array(fit.gender),
        "surface_model_type": np.array(fit.model_type),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def _obj_text(vertices: np.ndarray, faces_text: str) -> str:
    rows = "\n".join(f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in vertices.tolist())
    return f"# motionchat SMPL fit, Y up, metres\n{rows}\n{faces_text}\n"


def write_obj_sequence(out_dir: str | os.PathLike, fit: SmplFit, body_model: BodyModel) -> list[Path]:
    """Write one OBJ per frame (`frame_0001.obj`, ...) into `out_dir`, each atomically.

    Frame files left from an earlier, longer export into the same folder are removed, so the
    folder always holds exactly this sequence; other files are left alone.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise MotionchatError(f"{out_dir}: is a file; OBJ sequences are written into a folder, so pass a folder path")
    vertices = fit.vertices(body_model)
    faces_text = "\n".join(f"f {a} {b} {c}" for a, b, c in (body_model.faces + 1).tolist())
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for t, frame_vertices in enumerate(vertices, start=1):
        path = out_dir / OBJ_FRAME_NAME.format(t)
        atomic_write_text(path, _obj_text(frame_vertices, faces_text))
        written.append(path)
    for stale in out_dir.iterdir():
        match = _OBJ_FRAME_PATTERN.fullmatch(stale.name)
        if match and int(match.group(1)) > len(written):
            stale.unlink()
    return written
