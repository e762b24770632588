"""Contact sheets of a dataset's clips (`trainer data preview`): a grid of animated panels, each
a clip with its first caption, written as GIF; or, as PNG, one row of stills per clip.

Each panel is drawn by `motionchat.motion.render.render_motions` (one clip, its caption on top)
and the panels are tiled frame by frame; shorter clips hold their last pose.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from motionchat.data.dataset import JOINTS_DIR, TEXTS_DIR, read_captions
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path
from motionchat.motion.arrays import load_npy_array
from motionchat.motion.render import render_motions

SHEET_SUFFIXES = (".gif", ".png")
STILLS_PER_CLIP = 6


def load_clip(root: Path, clip_id: str) -> tuple[np.ndarray, str]:
    """(joints (T, 22, 3), first caption) of one clip of a HumanML3D-layout folder."""
    joints = load_npy_array(root / JOINTS_DIR / f"{clip_id}.npy", "joints")
    text_path = root / TEXTS_DIR / f"{clip_id}.txt"
    caption = read_captions(text_path)[0].text if text_path.is_file() else ""
    return joints, caption


def _panel_frames(joints: np.ndarray, title: str, caption: str, size_px: int, path: Path) -> list[np.ndarray]:
    import imageio.v3 as iio

    render_motions([joints], path, titles=[title], caption=caption, size_px=size_px)
    return [frame[..., :3] for frame in iio.imread(path, index=None)]


def write_sheet(root: str | Path, clip_ids: list[str], out: str | Path, size_px: int = 240) -> Path:
    """Render `clip_ids` of the dataset in `root` into one sheet at `out` (.gif or .png)."""
    import imageio.v3 as iio

    root, out = Path(root), Path(out)
    if out.suffix.lower() not in SHEET_SUFFIXES:
        raise MotionchatError(f"{out}: a sheet is written as .gif or .png, not '{out.suffix}'; change the extension")
    if not clip_ids:
        raise MotionchatError(f"{root}: no clips to preview; check the ids or the dataset")
    with tempfile.TemporaryDirectory() as tmp:
        panels = []
        for k, clip_id in enumerate(clip_ids):
            joints, caption = load_clip(root, clip_id)
            panels.append(_panel_frames(joints, clip_id, caption, size_px, Path(tmp) / f"{k}.gif"))
    height, width = panels[0][0].shape[:2]
    if out.suffix.lower() == ".png":
        rows = []
        for frames in panels:
            picks = np.linspace(0, len(frames) - 1, STILLS_PER_CLIP).round().astype(int)
            rows.append(np.concatenate([frames[i] for i in picks], axis=1))
        sheet = np.concatenate(rows, axis=0)
        with atomic_path(out) as tmp_path:
            iio.imwrite(tmp_path, sheet, extension=".png")
        return out
    columns = math.ceil(math.sqrt(len(panels)))
    rows_n = math.ceil(len(panels) / columns)
    n_frames = max(len(f) for f in panels)
    blank = np.full((height, width, 3), 255, dtype=np.uint8)
    frames = []
    for t in range(n_frames):
        tiles = [p[min(t, len(p) - 1)] for p in panels] + [blank] * (rows_n * columns - len(panels))
        grid = [np.concatenate(tiles[r * columns : (r + 1) * columns], axis=1) for r in range(rows_n)]
        frames.append(np.concatenate(grid, axis=0))
    with atomic_path(out) as tmp_path:
        iio.imwrite(tmp_path, np.stack(frames), extension=".gif", duration=1000 / 20, loop=0)
    return out
