"""Summaries of repeated evaluations: mean with a 95% confidence interval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """mean ± ci95 over n repeats (ci95 = 1.96 · std / sqrt(n), std with ddof=0 as in Guo et al.)."""

    mean: float
    ci95: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, digits: int = 3) -> str:
        return f"{self.mean:.{digits}f} ± {self.ci95:.{digits}f}"


def mean_ci95(values: Sequence[float]) -> Interval:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"need a non-empty 1-D list of values, got shape {values.shape}")
    return Interval(float(values.mean()), float(1.96 * values.std() / np.sqrt(len(values))), len(values))
