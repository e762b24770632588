"""Metrics of the motion tokenizer: MPJPE of reconstructed joints, and codebook use.

Stage 1 reports them and the evaluation suite scores the tokenizer with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def check_joint_pair(predicted, target) -> tuple[np.ndarray, np.ndarray]:
    """Two (T>0, J, 3) joint arrays of one shape, as float64; anything else is a ValueError."""
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if predicted.shape != target.shape or predicted.ndim != 3 or predicted.shape[-1] != 3 or len(predicted) == 0:
        raise ValueError(
            f"need two (T>0, J, 3) joint arrays of the same shape, got {predicted.shape} and {target.shape}"
        )
    return predicted, target


def mpjpe_mm(predicted, target, root_aligned: bool = True, root: int = 0) -> float:
    """Mean per-joint position error in millimetres over (T, J, 3) joints given in metres.

    root_aligned subtracts each frame's root joint from both first (MotionGPT's convention for the
    tokenizer), so a drifting root path is not counted.
    """
    predicted, target = check_joint_pair(predicted, target)
    if root_aligned:
        predicted = predicted - predicted[:, root : root + 1]
        target = target - target[:, root : root + 1]
    return float(1000.0 * np.linalg.norm(predicted - target, axis=-1).mean())


@dataclass(frozen=True)
class CodebookUse:
    """How a set of code indices covers a codebook of `codebook_size` entries.

    Args:
        usage: fraction of entries used at least once.
        perplexity: exp(entropy) of the code histogram, the effective number of codes in use.
        codes: number of indices counted.
    """

    usage: float
    perplexity: float
    codes: int
    codebook_size: int


def codebook_use(codes, codebook_size: int) -> CodebookUse:
    codes = np.asarray(codes).reshape(-1)
    if codes.size == 0:
        raise ValueError("no codes to count")
    if codes.min() < 0 or codes.max() >= codebook_size:
        raise ValueError(f"code indices must lie in [0, {codebook_size}), got {codes.min()}..{codes.max()}")
    import torch

    from motionchat.vq.quantizer import perplexity

    counts = np.bincount(codes.astype(np.int64), minlength=codebook_size).astype(np.float64)
    return CodebookUse(
        usage=float((counts > 0).mean()),
        perplexity=float(perplexity(torch.from_numpy(counts))),
        codes=int(codes.size),
        codebook_size=codebook_size,
    )
