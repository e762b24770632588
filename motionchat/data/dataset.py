"""Read a HumanML3D-layout dataset (HumanML3D, KIT-ML, the synthetic corpus) and serve it to torch.

Layout (the same for every dataset; the skeleton comes from the feature size or the caller)::

    DIR/
      new_joint_vecs/ID.npy   (T, D) features, D = 263 (22 joints) or 251 (KIT-ML, 21 joints)
      new_joints/ID.npy       (T, J, 3) joint positions (not needed for training)
      texts/ID.txt            caption#tok/POS tok/POS ...#start_s#end_s, one caption a line
      train.txt val.txt test.txt   one ID a line (also accepted under DIR/meta/)
      Mean.npy Std.npy        (D,) feature statistics

`MotionClips` loads one split's features into memory (one contiguous float32 array) and, on
request, its captions. The torch datasets on top of it take `(index, seed)` keys from
`trainer`'s step-indexed sampler, so every random choice (here: the crop offset) is a pure
function of the key and a resumed run sees exactly the same batches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from motionchat.errors import MotionchatError
from motionchat.motion.arrays import load_npy_array
from motionchat.motion.skeleton import SkeletonSpec, skeleton_for_feature_dim

FEATURES_DIR = "new_joint_vecs"
JOINTS_DIR = "new_joints"
TEXTS_DIR = "texts"
SPLIT_DIRS = ("", "meta")  # split files live at the top (HumanML3D) or under meta/ (some copies)


@dataclass(frozen=True)
class Caption:
    """One line of `texts/ID.txt`. start_s/end_s 0.0 means the caption covers the whole clip."""

    text: str
    tokens: tuple[str, ...]  # "word/POS"
    start_s: float
    end_s: float


def parse_caption_line(line: str, where: str) -> Caption:
    parts = line.rstrip("\n").split("#")
    if len(parts) != 4 or not parts[0].strip():
        raise MotionchatError(f"{where}: expected 'caption#tokens#start#end', got {line.strip()[:60]!r}; fix the line")
    try:
        start_s, end_s = float(parts[2]), float(parts[3])
    except ValueError:
        raise MotionchatError(f"{where}: start/end '{parts[2]}', '{parts[3]}' are not numbers; fix the line") from None
    start_s, end_s = (0.0 if np.isnan(v) else v for v in (start_s, end_s))  # HumanML3D writes nan for "whole clip"
    return Caption(parts[0].strip(), tuple(parts[1].split()), start_s, end_s)


def read_captions(path: str | os.PathLike) -> list[Caption]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise MotionchatError(f"{path}: cannot read captions ({err.__class__.__name__}); check the file") from None
    return [parse_caption_line(line, f"{path}:{i}") for i, line in enumerate(lines, 1) if line.strip()]


def find_split_file(root: str | os.PathLike, split: str) -> Path:
    root = Path(root)
    for sub in SPLIT_DIRS:
        candidate = root / sub / f"{split}.txt"
        if candidate.is_file():
            return candidate
    raise MotionchatError(f"{root}: no '{split}.txt' split file (looked in {root} and {root / 'meta'}); add one ID per line")


def read_split(root: str | os.PathLike, split: str) -> list[str]:
    """Clip IDs of a split, in file order."""
    path = find_split_file(root, split)
    try:
        ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise MotionchatError(f"{path}: cannot read split file ({err.__class__.__name__}); check the file") from None
    if not ids:
        raise MotionchatError(f"{path}: split file lists no clips; add one ID per line")
    return ids


def check_dataset_dir(root: str | os.PathLike) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise MotionchatError(f"{root}: dataset folder not found; pass a HumanML3D-layout folder (see `trainer data --help`)")
    if not (root / FEATURES_DIR).is_dir():
        raise MotionchatError(f"{root}: no '{FEATURES_DIR}/' folder; this is not a HumanML3D-layout dataset")
    return root


class MotionClips:
    """The features (and optionally captions) of one split, checked and held in memory.

    Args:
        root: dataset folder.
        split: split name ("train", "val", "test", or any NAME with a NAME.txt).
        skeleton: expected rig; None infers it from the feature size of the first clip.
        min_frames: clips shorter than this are left out (counted in `n_too_short`).
        skip_missing: leave out IDs whose feature file is missing (counted in `n_missing`)
            instead of failing; partial copies of a dataset need it.
        with_captions: also read `texts/ID.txt` (a clip without one is then an error or, with
            skip_missing, left out).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        skeleton: SkeletonSpec | None = None,
        *,
        min_frames: int = 1,
        skip_missing: bool = False,
        with_captions: bool = False,
    ):
        self.root = check_dataset_dir(root)
        self.split = split
        self.n_missing = 0
        self.n_too_short = 0
        ids, arrays, captions = [], [], []
        for clip_id in read_split(self.root, split):
            path = self.root / FEATURES_DIR / f"{clip_id}.npy"
            text_path = self.root / TEXTS_DIR / f"{clip_id}.txt"
            if not path.is_file() or (with_captions and not text_path.is_file()):
                if skip_missing:
                    self.n_missing += 1
                    continue
                missing = path if not path.is_file() else text_path
                raise MotionchatError(f"{missing}: listed in the '{split}' split but missing; restore it or remove the ID")
            features = load_npy_array(path, "features").astype(np.float32, copy=False)
            skeleton = skeleton or self._infer_skeleton(features, path)
            if features.ndim != 2 or features.shape[1] != skeleton.feature_dim:
                raise MotionchatError(
                    f"{path}: features have shape {features.shape}, expected (frames, {skeleton.feature_dim}) for the {skeleton.name} skeleton"
                )
            if features.shape[0] < min_frames:
                self.n_too_short += 1
                continue
            ids.append(clip_id)
            arrays.append(features)
            if with_captions:
                captions.append(read_captions(text_path))
        if not ids:
            raise MotionchatError(
                f"{self.root}: the '{split}' split has no usable clip ({self.n_missing} missing, "
                f"{self.n_too_short} shorter than {min_frames} frames); check the dataset"
            )
        self.skeleton: SkeletonSpec = skeleton
        self.clip_ids: list[str] = ids
        self.lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.frames = np.concatenate(arrays, axis=0)  # (sum T, D), one block instead of many small arrays
        self.captions: list[list[Caption]] | None = captions if with_captions else None

    @staticmethod
    def _infer_skeleton(features: np.ndarray, path: Path) -> SkeletonSpec:
        try:
            return skeleton_for_feature_dim(features.shape[-1] if features.ndim == 2 else -1)
        except KeyError:
            raise MotionchatError(
                f"{path}: features have shape {features.shape}; no known skeleton has that many values per frame"
            ) from None

    def __len__(self) -> int:
        return len(self.clip_ids)

    def features(self, index: int) -> np.ndarray:
        """(T, D) features of clip `index` (a view into the shared block)."""
        start = self.starts[index]
        return self.frames[start : start + self.lengths[index]]


class FeatureCrops(Dataset):
    """Random fixed-length windows of the clips (for tokenizer training).

    Keys are `(clip index, seed)`; the window start is drawn from `seed`, so the same key always
    gives the same window. Clips shorter than `crop_frames` must have been left out
    (`MotionClips(min_frames=crop_frames)`).
    """

    def __init__(self, clips: MotionClips, crop_frames: int):
        too_short = int((clips.lengths < crop_frames).sum())
        if too_short:
            raise ValueError(f"{too_short} clips are shorter than the {crop_frames}-frame crop")
        self.clips = clips
        self.crop_frames = crop_frames

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, seed = key
        features = self.clips.features(index)
        start = int(np.random.default_rng(seed).integers(0, features.shape[0] - self.crop_frames + 1))
        return torch.from_numpy(features[start : start + self.crop_frames].copy())  # (crop, D)


class WholeClips(Dataset):
    """Whole clips, one (T, D) tensor each, in split order (for evaluation)."""

    def __init__(self, clips: MotionClips):
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(self.clips.features(index).copy())
