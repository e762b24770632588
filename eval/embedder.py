"""What the task protocols need from an evaluator: texts and motions -> one shared embedding space.

Two evaluators implement it: ours (`eval.evaluator.ContrastiveEvaluator`, trained by
`motionchat-eval train-evaluator`) and Guo et al.'s (`eval.guo.GuoEvaluator`, from a user's copy
of the published checkpoint). Motions come in as raw (unnormalised) (T, D) features; each
evaluator normalises them with its own statistics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from motionchat.data.dataset import Caption

TextInput = Caption | str


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int
    min_frames: int  # shortest motion it can encode

    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Raw (T, D) features, one array per motion -> (N, dim) float64."""
        ...

    def embed_texts(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Captions (with their word/POS tokens where known) -> (N, dim) float64."""
        ...


def chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def pad_motions(motions: Sequence[np.ndarray], min_frames: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (T_i, D) arrays -> zero-padded (B, max(T_max, min_frames), D) float32 tensor, (B,) lengths."""
    lengths = torch.tensor([len(m) for m in motions], dtype=torch.long)
    batch = torch.zeros(len(motions), max(int(lengths.max()), min_frames), motions[0].shape[-1])
    for i, motion in enumerate(motions):
        batch[i, : len(motion)] = torch.from_numpy(np.asarray(motion, dtype=np.float32))
    return batch, lengths


def caption_text(text: TextInput) -> str:
    return text.text if isinstance(text, Caption) else text
