"""Metrics over evaluator embeddings (Guo et al. 2022's text-to-motion protocol).

Every function takes plain (N, D) arrays of embeddings: motions and texts already encoded by an
evaluator (ours or Guo et al.'s). Distances are Euclidean throughout, as in the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg


def _as_2d(name: str, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D), got shape {x.shape}")
    return x


def euclidean_distances(a, b) -> np.ndarray:
    """(N, D), (M, D) -> (N, M) Euclidean distances."""
    a, b = _as_2d("a", a), _as_2d("b", b)
    squared = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


@dataclass(frozen=True)
class GaussianStats:
    """Mean (D,) and covariance (D, D) of a set of embeddings."""

    mu: np.ndarray
    sigma: np.ndarray


def gaussian_stats(embeddings) -> GaussianStats:
    x = _as_2d("embeddings", embeddings)
    if len(x) < 2:
        raise ValueError(f"need at least 2 embeddings for a covariance, got {len(x)}")
    return GaussianStats(x.mean(0), np.cov(x, rowvar=False))


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two Gaussians.

    When the product of the covariances is singular the square root is taken of the product of
    slightly regularised covariances (eps on the diagonal), as the usual FID code does.
    """
    diff = a.mu - b.mu
    covmean = linalg.sqrtm(a.sigma @ b.sigma)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(a.sigma)) * eps
        covmean = linalg.sqrtm((a.sigma + offset) @ (b.sigma + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real  # tiny imaginary parts from numerical error
    value = diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def fid(embeddings_a, embeddings_b) -> float:
    """Fréchet distance between Gaussians fitted to two sets of (N, D) embeddings."""
    return frechet_distance(gaussian_stats(embeddings_a), gaussian_stats(embeddings_b))


@dataclass(frozen=True)
class RPrecision:
    """Fraction of texts whose own motion ranks within the top k of its batch, for k = 1..len(top).

    Args:
        top: (top-1, top-2, ...) accuracies.
        n_pairs: pairs scored (full batches only; the remainder is left out, as in the protocol).
    """

    top: tuple[float, ...]
    n_pairs: int


def r_precision(text_emb, motion_emb, batch: int = 32, top_k: int = 3) -> RPrecision:
    """Guo et al.'s R-Precision: in each batch of `batch` consecutive (text, motion) pairs, rank the
    batch's motions by distance to each text and check where the text's own motion lands.

    Ties count against the match (a text equally far from two motions has not retrieved its own),
    so degenerate embeddings score 0 rather than 1. Shuffle the pairs beforehand for random batches.
    """
    text, motion = _as_2d("text_emb", text_emb), _as_2d("motion_emb", motion_emb)
    if text.shape != motion.shape:
        raise ValueError(f"text and motion embeddings differ in shape: {text.shape} vs {motion.shape}")
    n_batches = len(text) // batch
    if n_batches == 0:
        raise ValueError(f"R-Precision needs at least one full batch of {batch} pairs, got {len(text)}")
    hits = np.zeros(top_k)
    for start in range(0, n_batches * batch, batch):
        dist = euclidean_distances(text[start : start + batch], motion[start : start + batch])
        own = np.diag(dist)[:, None]
        others = ~np.eye(batch, dtype=bool)
        rank = (dist < own).sum(1) + ((dist == own) & others).sum(1)  # 0 = retrieved first
        hits += [(rank < k).sum() for k in range(1, top_k + 1)]
    n_pairs = n_batches * batch
    return RPrecision(tuple(float(h / n_pairs) for h in hits), n_pairs)


def mm_dist(text_emb, motion_emb) -> float:
    """Mean distance between each text and its own motion (the protocol's 'matching score')."""
    text, motion = _as_2d("text_emb", text_emb), _as_2d("motion_emb", motion_emb)
    if text.shape != motion.shape:
        raise ValueError(f"text and motion embeddings differ in shape: {text.shape} vs {motion.shape}")
    return float(np.linalg.norm(text - motion, axis=1).mean())


def diversity(embeddings, pairs: int, rng: np.random.Generator) -> float:
    """Mean distance over `pairs` random pairs (two independent draws without replacement)."""
    x = _as_2d("embeddings", embeddings)
    if not 1 <= pairs <= len(x):
        raise ValueError(f"diversity needs 1 <= pairs <= {len(x)} embeddings, got pairs={pairs}")
    first = rng.choice(len(x), pairs, replace=False)
    second = rng.choice(len(x), pairs, replace=False)
    return float(np.linalg.norm(x[first] - x[second], axis=1).mean())


def multimodality(embeddings_per_prompt, pairs: int, rng: np.random.Generator) -> float:
    """(N prompts, S samples, D) -> mean distance between `pairs` random sample pairs per prompt."""
    x = np.asarray(embeddings_per_prompt, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"multimodality needs (prompts, samples, D) embeddings, got shape {x.shape}")
    if not 1 <= pairs <= x.shape[1]:
        raise ValueError(f"multimodality needs 1 <= pairs <= {x.shape[1]} samples per prompt, got pairs={pairs}")
    first = rng.choice(x.shape[1], pairs, replace=False)
    second = rng.choice(x.shape[1], pairs, replace=False)
    return float(np.linalg.norm(x[:, first] - x[:, second], axis=-1).mean())
