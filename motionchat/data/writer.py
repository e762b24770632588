"""Write a HumanML3D-layout dataset (the layout `motionchat.data.dataset` reads)::

    DIR/
      new_joints/ID.npy       (T, 22, 3) float32, HumanML3D's processed frame (floor, +Z facing)
      new_joint_vecs/ID.npy   (T, 263) float32 features
      texts/ID.txt            caption#word/POS ...#0.0#0.0, one caption a line
      train.txt val.txt test.txt all.txt
      Mean.npy Std.npy        feature statistics over the train split

Every file is written atomically. The statistics follow HumanML3D's `cal_mean_variance`: the
standard deviation is averaged within each feature group (root yaw velocity, root XZ velocity,
root height, positions, rotations, velocities, foot contacts), so that a group's values keep
their relative scale after normalisation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from motionchat.data.dataset import FEATURES_DIR, JOINTS_DIR, TEXTS_DIR
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import EDITS_FILE, LABELS_FILE
from motionchat.motion.arrays import write_npy
from motionchat.motion.features import feature_layout, features_to_joints, joints_to_features
from motionchat.motion.normalizer import MEAN_FILE, STD_FILE, Normalizer
from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec

SPLITS = ("train", "val", "test")
_STD_FLOOR = 1e-4  # a group that never varies (e.g. contacts of a clip set that never lifts a foot)


def clip_arrays(joints: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> tuple[np.ndarray, np.ndarray]:
    """(T+1, J, 3) joints -> (`new_joints` (T, J, 3), features (T, D)), both float32.

    As in HumanML3D, `new_joints` are the positions recovered from the features (its
    `recover_from_ric`): the processed frame, first T frames.
    """
    features = joints_to_features(joints, skeleton)
    return features_to_joints(features, skeleton), features


def write_clip(root: Path, clip_id: str, new_joints: np.ndarray, features: np.ndarray, caption_lines: list[str]) -> None:
    # Thousands of small files: atomic renames, but no fsync per file.
    write_npy(root / JOINTS_DIR / f"{clip_id}.npy", new_joints, durable=False)
    write_npy(root / FEATURES_DIR / f"{clip_id}.npy", features, durable=False)
    atomic_write_text(root / TEXTS_DIR / f"{clip_id}.txt", "".join(line + "\n" for line in caption_lines), durable=False)


class FeatureStats:
    """Running per-dimension sums of features (float64) for the dataset's Mean/Std."""

    def __init__(self, dim: int):
        self.count = 0
        self.total = np.zeros(dim)
        self.total_sq = np.zeros(dim)

    def add(self, features: np.ndarray) -> None:
        features = np.asarray(features, dtype=np.float64)
        self.count += len(features)
        self.total += features.sum(0)
        self.total_sq += (features**2).sum(0)

    def merge(self, count: int, total: np.ndarray, total_sq: np.ndarray) -> None:
        self.count += count
        self.total += total
        self.total_sq += total_sq

    def normalizer(self, skeleton: SkeletonSpec = HUMANML3D, source: str = "dataset statistics") -> Normalizer:
        if self.count < 2:
            raise MotionchatError(f"{source}: the train split has {self.count} frame(s); statistics need at least 2")
        mean = self.total / self.count
        std = np.sqrt(np.maximum(self.total_sq / self.count - mean**2, 0.0))
        layout = feature_layout(skeleton)
        for group in (layout.root_yaw_velocity, layout.root_xz_velocity, layout.root_height, layout.positions,
                      layout.rotations_6d, layout.velocities, layout.foot_contacts):
            std[group] = max(std[group].mean(), _STD_FLOOR)
        return Normalizer(mean, std, source)


def write_splits(root: Path, splits: dict[str, list[str]]) -> None:
    """train/val/test.txt (one ID a line, in the order given) and all.txt (every ID, sorted)."""
    for name in SPLITS:
        atomic_write_text(root / f"{name}.txt", "".join(f"{clip_id}\n" for clip_id in splits.get(name, [])))
    everything = sorted(i for ids in splits.values() for i in ids)
    atomic_write_text(root / "all.txt", "".join(f"{clip_id}\n" for clip_id in everything))


def write_statistics(root: Path, stats: FeatureStats, skeleton: SkeletonSpec = HUMANML3D) -> Normalizer:
    normalizer = stats.normalizer(skeleton, source=str(root / MEAN_FILE))
    normalizer.save(root)
    return normalizer


# Everything a dataset writer here may create; `prepare_out_dir(force=True)` clears only these.
LAYOUT_ENTRIES = (JOINTS_DIR, FEATURES_DIR, TEXTS_DIR, "train.txt", "val.txt", "test.txt", "all.txt", MEAN_FILE,
                  STD_FILE, LABELS_FILE, EDITS_FILE, "compositional_test.txt", "corpus.json", "sources.jsonl")


def check_out_dir(root: str | Path, force: bool) -> Path:
    """Raise unless `root` may receive a dataset: missing, empty, or non-empty with `force`."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise MotionchatError(f"{root}: exists and is not a folder; choose another --out")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise MotionchatError(f"{root}: folder is not empty; choose an empty --out or pass --force to overwrite")
    return root


def prepare_out_dir(root: str | Path, force: bool) -> Path:
    """Make `root` ready to receive a dataset; refuse a non-empty folder unless `force`.

    With `force`, the dataset files a previous run left there are removed first (nothing else).
    """
    root = check_out_dir(root, force)
    if root.is_dir():
        for name in LAYOUT_ENTRIES:
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    for sub in (JOINTS_DIR, FEATURES_DIR, TEXTS_DIR):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root
