"""Pure metric functions: embeddings (FID, R-Precision, ...), captions, joints and codes, programs."""

from eval.metrics.embedding import (
    GaussianStats,
    RPrecision,
    diversity,
    euclidean_distances,
    fid,
    frechet_distance,
    gaussian_stats,
    mm_dist,
    multimodality,
    r_precision,
)
from eval.metrics.motion import CodebookUse, DisplacementErrors, codebook_use, displacement_errors, mpjpe_mm
from eval.metrics.stats import Interval, mean_ci95
from eval.metrics.text import bleu, cider_d, rouge_l, tokenize

__all__ = [
    "CodebookUse", "DisplacementErrors", "GaussianStats", "Interval", "RPrecision", "bleu", "cider_d", "codebook_use",
    "displacement_errors", "diversity", "euclidean_distances", "fid", "frechet_distance", "gaussian_stats", "mean_ci95",
    "mm_dist", "mpjpe_mm", "multimodality", "r_precision", "rouge_l", "tokenize",
]
