"""Contact sheets of a dataset's clips (`trainer data preview`): a grid of animated panels, each
a clip with its first caption, written as GIF; or, as PNG, one row of stills per clip.

The panels are drawn by `motionchat.motion.render.render_grid` straight into the sheet's frames
(no per-clip files), so a sheet costs what rendering its clips costs; shorter clips hold their
last pose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionchat.data.dataset import JOINTS_DIR, TEXTS_DIR, read_captions
from motionchat.errors import MotionchatError
from motionchat.motion.arrays import load_npy_array
from motionchat.motion.render import render_grid

SHEET_SUFFIXES = (".gif", ".png")
STILLS_PER_CLIP = 6


def load_clip(root: Path, clip_id: str) -> tuple[np.ndarray, str]:
    """(joints (T, 22, 3), first caption) of one clip of a HumanML3D-layout folder."""
    joints = load_npy_array(root / JOINTS_DIR / f"{clip_id}.npy", "joints")
    text_path = root / TEXTS_DIR / f"{clip_id}.txt"
    caption = read_captions(text_path)[0].text if text_path.is_file() else ""
    return joints, caption


def write_sheet(root: str | Path, clip_ids: list[str], out: str | Path, size_px: int = 240) -> Path:
    """Render `clip_ids` of the dataset in `root` into one sheet at `out` (.gif or .png)."""
    root, out = Path(root), Path(out)
    if out.suffix.lower() not in SHEET_SUFFIXES:
        raise MotionchatError(f"{out}: a sheet is written as .gif or .png, not '{out.suffix}'; change the extension")
    if not clip_ids:
        raise MotionchatError(f"{root}: no clips to preview; check the ids or the dataset")
    clips = [load_clip(root, clip_id) for clip_id in clip_ids]
    stills = STILLS_PER_CLIP if out.suffix.lower() == ".png" else 0
    return render_grid([joints for joints, _ in clips], out, titles=list(clip_ids),
                       captions=[caption for _, caption in clips], size_px=size_px, stills=stills)
