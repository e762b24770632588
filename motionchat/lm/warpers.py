"""Logits processors for decoding, without transformers: the protocol and the sampling warpers.

A processor is called as `processor(input_ids, scores)` with the decoder ids so far (B, t) and the
next-token scores (B, V), and returns new scores, as transformers' `LogitsProcessor` is; so the
same objects also serve `model.generate(logits_processor=[...])`. The warpers are written as
transformers writes them (same operations, same order), so sampled answers are the same either way;
tests compare them.
"""

from __future__ import annotations

import torch


class LogitsProcessor:
    """Base of every processor: `__call__(input_ids (B, t), scores (B, V)) -> scores (B, V)`."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class TemperatureLogitsWarper(LogitsProcessor):
    def __init__(self, temperature: float):
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def __call__(self, input_ids, scores):
        return scores / self.temperature


class TopKLogitsWarper(LogitsProcessor):
    """Keep the `top_k` best scores of each row (ties with the k-th kept too), -inf the rest."""

    def __init__(self, top_k: int):
        if not (isinstance(top_k, int) and top_k > 0):
            raise ValueError(f"top_k must be a positive integer, got {top_k}")
        self.top_k = top_k

    def __call__(self, input_ids, scores):
        kth = torch.topk(scores, min(self.top_k, scores.size(-1)))[0][..., -1, None]
        return scores.masked_fill(scores < kth, -float("inf"))


class TopPLogitsWarper(LogitsProcessor):
    """Keep the smallest set of best tokens whose probability reaches `top_p` (at least one)."""

    def __init__(self, top_p: float):
        if not 0 <= top_p <= 1:
            raise ValueError(f"top_p must be in [0, 1], got {top_p}")
        self.top_p = float(top_p)

    def __call__(self, input_ids, scores):
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cumulative <= (1 - self.top_p)
        remove[..., -1:] = False
        return scores.masked_fill(remove.scatter(1, sorted_indices, remove), -float("inf"))
