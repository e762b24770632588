"""A user's own BVH files and captions -> a HumanML3D-layout dataset (`trainer data build`).

The captions file is a CSV with a header row and the columns

    file      a BVH file under the BVH folder: relative path, file name, or name without .bvh
    caption   one description of the motion (several rows per file give several captions)
    split     optional: train, val or test (all rows of a file must agree)

Each file is read onto the 22 joints at 20 fps (`motionchat.motion.bvh.read_bvh`). HumanML3D
clips last 2..9.8 s, so a longer file is cut into consecutive pieces of at most 196 frames, each
keeping the file's captions (the ids say which piece: `NAME_00`, `NAME_01`...); pieces shorter
than 40 frames are left out. Files without a split go to train/val/test at random (80/5/15,
by file, so the pieces of one file never straddle splits); `sources.jsonl` records where every
clip came from.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionchat.data.synth.captions import caption_line
from motionchat.data.writer import SPLITS, FeatureStats, clip_arrays, prepare_out_dir, write_clip, write_splits, write_statistics
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.motion.skeleton import HUMANML3D
from motionchat.motion.timing import MAX_FRAMES, MIN_FRAMES

SPLIT_FRACTIONS = (0.80, 0.05, 0.15)


@dataclass
class BuildSummary:
    root: Path
    files: int
    clips: int
    splits: dict[str, int]
    skipped: list[str]


def read_caption_table(path: str | os.PathLike) -> dict[str, dict]:
    """{file key: {"captions": [...], "split": str | None}} from the captions CSV."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise MotionchatError(f"{path}: cannot read the captions file ({err.__class__.__name__}); check the path") from None
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "file" not in columns or "caption" not in columns:
        raise MotionchatError(f"{path}: the header must name the columns 'file' and 'caption' (found {', '.join(columns) or 'none'})")
    table: dict[str, dict] = {}
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        key, caption, split = row.get("file", ""), row.get("caption", ""), row.get("split", "") or None
        if not key or not caption:
            raise MotionchatError(f"{path}:{line}: empty 'file' or 'caption'; fill both or remove the row")
        if "#" in caption or "\n" in caption:
            raise MotionchatError(f"{path}:{line}: captions may not contain '#'; rephrase the caption")
        if split is not None and split not in SPLITS:
            raise MotionchatError(f"{path}:{line}: split '{split}' is not one of {', '.join(SPLITS)}")
        entry = table.setdefault(key, {"captions": [], "split": split})
        if split is not None and entry["split"] not in (None, split):
            raise MotionchatError(f"{path}:{line}: '{key}' has rows in two splits ({entry['split']}, {split}); use one")
        entry["split"] = entry["split"] or split
        entry["captions"].append(caption)
    if not table:
        raise MotionchatError(f"{path}: no caption rows; add 'file,caption' lines under the header")
    return table


def _find_bvh(bvh_dir: Path, key: str, files: list[Path], captions_path: Path) -> Path:
    direct = bvh_dir / key
    if direct.is_file():
        return direct
    stem = Path(key).stem if key.lower().endswith(".bvh") else Path(key).name
    matches = [f for f in files if f.stem == stem]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise MotionchatError(f"{captions_path}: no BVH file '{key}' under {bvh_dir}; fix the 'file' column or --bvh-dir")
    raise MotionchatError(f"{captions_path}: '{key}' matches {len(matches)} files under {bvh_dir}; give its relative path")


def _clip_name(path: Path, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_") or "clip"
    base, k = name, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def _pieces(n_frames: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) joint-frame windows of at most MAX_FRAMES + 1 frames (T+1 -> T features)."""
    window = MAX_FRAMES + 1
    starts = range(0, max(n_frames - 1, 1), MAX_FRAMES)
    return [(s, min(s + window, n_frames)) for s in starts if min(s + window, n_frames) - s >= MIN_FRAMES + 1]


def _assign_splits(names: list[str], given: dict[str, str | None], seed: int) -> dict[str, str]:
    free = [n for n in names if given.get(n) is None]
    order = np.random.default_rng(seed).permutation(len(free))
    free = [free[i] for i in order]
    n = len(free)
    n_test = max(1, round(SPLIT_FRACTIONS[2] * n)) if n >= 2 else 0
    n_val = max(1, round(SPLIT_FRACTIONS[1] * n)) if n >= 3 else 0
    out = {name: split for name, split in given.items() if split is not None}
    for i, name in enumerate(free):
        out[name] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def build_from_bvh(
    bvh_dir: str | os.PathLike,
    captions_csv: str | os.PathLike,
    out_dir: str | os.PathLike,
    seed: int = 0,
    force: bool = False,
    joint_map: str | os.PathLike | None = None,
    on_file=None,
) -> BuildSummary:
    """Read every captioned BVH file, cut it into clips and write the dataset (see the module docstring)."""
    from motionchat.motion.bvh import read_bvh

    bvh_dir, captions_csv = Path(bvh_dir), Path(captions_csv)
    if not bvh_dir.is_dir():
        raise MotionchatError(f"{bvh_dir}: BVH folder not found; pass the folder holding your .bvh files")
    files = sorted(p for p in bvh_dir.rglob("*") if p.suffix.lower() == ".bvh")
    table: dict[Path, dict] = {}  # rows naming the same file in different ways are merged
    for key, entry in read_caption_table(captions_csv).items():
        path = _find_bvh(bvh_dir, key, files, captions_csv)
        merged = table.setdefault(path, {"captions": [], "split": None})
        if entry["split"] and merged["split"] not in (None, entry["split"]):
            raise MotionchatError(f"{captions_csv}: {path.name} has rows in two splits ({merged['split']}, {entry['split']}); use one")
        merged["split"] = merged["split"] or entry["split"]
        merged["captions"] += entry["captions"]
    root = prepare_out_dir(out_dir, force)

    taken: set[str] = set()
    names = {path: _clip_name(path, taken) for path in table}
    file_split = _assign_splits(list(names.values()), {names[p]: v["split"] for p, v in table.items()}, seed)
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    stats = FeatureStats(HUMANML3D.feature_dim)
    rows, skipped = [], []
    for path, entry in table.items():
        joints = read_bvh(path, joint_map).joints
        pieces = _pieces(len(joints))
        if not pieces:
            skipped.append(f"{path.name} ({len(joints)} frames at 20 fps, under the {MIN_FRAMES + 1} a clip needs)")
        lines = [caption_line(c) for c in entry["captions"]]
        for k, (start, end) in enumerate(pieces):
            clip_id = names[path] if len(pieces) == 1 else f"{names[path]}_{k:02d}"
            new_joints, features = clip_arrays(joints[start:end])
            write_clip(root, clip_id, new_joints, features, lines)
            split = file_split[names[path]]
            splits[split].append(clip_id)
            if split == "train":
                stats.add(features)
            rows.append({"id": clip_id, "file": str(path.relative_to(bvh_dir)), "start_frame": start, "end_frame": end,
                         "split": split, "captions": entry["captions"]})
        if on_file:
            on_file(path)
    if not splits["train"]:
        raise MotionchatError(f"{captions_csv}: no clip landed in the train split; give some files split 'train' or add files")
    write_splits(root, splits)
    write_statistics(root, stats)
    atomic_write_text(root / "sources.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return BuildSummary(root, len(table), len(rows), {s: len(v) for s, v in splits.items()}, skipped)
