"""Z-score normalisation of motion features with a dataset's Mean/Std.

A tokenizer is trained on features normalised with one set of statistics and must always be fed
with that set (HumanML3D's own `Mean.npy`/`Std.npy`, or the ones the synthetic corpus writes), so
the statistics travel with the model and this class refuses anything that does not fit them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.filenames import BUNDLE_MEAN_FILE, BUNDLE_STD_FILE
from motionchat.filenames import DATASET_MEAN_FILE as MEAN_FILE
from motionchat.filenames import DATASET_STD_FILE as STD_FILE
from motionchat.motion.arrays import load_npy_array, write_npy

# Other code bases save the same statistics in lower case.
_STATS_NAMES = ((MEAN_FILE, STD_FILE), (BUNDLE_MEAN_FILE, BUNDLE_STD_FILE))


class Normalizer:
    """Per-dimension mean and standard deviation of (T, D) features.

    Args:
        mean: (D,) per-dimension mean.
        std: (D,) per-dimension standard deviation, finite and positive.
        source: where the statistics came from, for messages.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, source: str = "statistics given in memory"):
        mean = np.asarray(mean)
        std = np.asarray(std)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise MotionchatError(
                f"{source}: mean has shape {mean.shape} and std {std.shape}; both must be (D,) with the same D"
            )
        if not (np.isfinite(mean).all() and np.isfinite(std).all()):
            raise MotionchatError(f"{source}: mean or std contains NaN or Inf; recompute the statistics")
        if (std <= 0).any():
            bad = np.flatnonzero(std <= 0)
            raise MotionchatError(
                f"{source}: std is zero or negative in {len(bad)} dimension(s) (first: {bad[0]}); "
                "features cannot be normalised by it, recompute the statistics with a floor on std"
            )
        self.mean = mean.astype(np.float32)
        self.std = std.astype(np.float32)
        self.source = source

    @property
    def dim(self) -> int:
        return len(self.mean)

    @classmethod
    def from_files(cls, mean_path: str | Path, std_path: str | Path) -> Normalizer:
        mean = load_npy_array(mean_path, "mean")
        std = load_npy_array(std_path, "std")
        return cls(mean, std, source=f"{mean_path} + {Path(std_path).name}")

    @classmethod
    def from_dir(cls, directory: str | Path) -> Normalizer:
        """Read `Mean.npy`/`Std.npy` (or `mean.npy`/`std.npy`) from a folder."""
        directory = Path(directory)
        if not directory.is_dir():
            raise MotionchatError(f"{directory}: not a folder; point at the folder holding {MEAN_FILE} and {STD_FILE}")
        for mean_name, std_name in _STATS_NAMES:
            if (directory / mean_name).is_file() and (directory / std_name).is_file():
                return cls.from_files(directory / mean_name, directory / std_name)
        raise MotionchatError(
            f"{directory}: no {MEAN_FILE} + {STD_FILE} (or mean.npy + std.npy) in this folder; "
            "point at the folder holding the statistics"
        )

    def save(self, directory: str | Path) -> None:
        """Write `Mean.npy` and `Std.npy` (float32) into `directory`, each atomically."""
        directory = Path(directory)
        write_npy(directory / MEAN_FILE, self.mean)
        write_npy(directory / STD_FILE, self.std)

    def _check(self, features) -> None:
        if features.shape[-1] != self.dim:
            raise MotionchatError(
                f"features have {features.shape[-1]} values per frame but the statistics from {self.source} "
                f"have {self.dim}; use statistics made for this feature size"
            )

    def _stats_like(self, features):
        """Mean and std as the same kind of array as `features` (numpy, or torch on its device)."""
        if isinstance(features, np.ndarray):
            return self.mean.astype(features.dtype, copy=False), self.std.astype(features.dtype, copy=False)
        import torch

        as_tensor = lambda a: torch.as_tensor(a, dtype=features.dtype, device=features.device)  # noqa: E731
        return as_tensor(self.mean), as_tensor(self.std)

    def normalize(self, features):
        """(..., D) raw features (numpy or torch) -> (..., D) z-scores, same type and float dtype."""
        features = _as_float(features)
        self._check(features)
        mean, std = self._stats_like(features)
        return (features - mean) / std

    def denormalize(self, features):
        """(..., D) z-scores (numpy or torch) -> (..., D) raw features, same type and float dtype."""
        features = _as_float(features)
        self._check(features)
        mean, std = self._stats_like(features)
        return features * std + mean


def _as_float(features):
    if isinstance(features, np.ndarray) or not hasattr(features, "is_floating_point"):
        features = np.asarray(features)
        return features if np.issubdtype(features.dtype, np.floating) else features.astype(np.float32)
    return features if features.is_floating_point() else features.float()
