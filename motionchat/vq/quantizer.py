"""Vector quantiser with an EMA-updated codebook and reset of dead codes (T2M-GPT's recipe).

All codebook state (the codes, their EMA sums and counts, and whether the codebook was seeded)
lives in buffers, so it is saved with the weights and a resumed run continues exactly.

Under `torch.distributed` the per-batch statistics are summed over all processes and every random
choice is broadcast from rank 0, so every process keeps the same codebook.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _sum_over_processes(tensor: torch.Tensor) -> torch.Tensor:
    if _distributed():
        dist.all_reduce(tensor)
    return tensor


def _same_on_all_processes(tensor: torch.Tensor) -> torch.Tensor:
    """Rank 0's tensor everywhere (for random choices that must agree)."""
    if _distributed():
        dist.broadcast(tensor, src=0)
    return tensor


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a code histogram: the effective number of codes in use."""
    probs = counts / counts.sum().clamp_min(1e-10)
    return torch.exp(-(probs * torch.log(probs.clamp_min(1e-10))).sum())


class QuantizeEMAReset(nn.Module):
    """Nearest-code quantiser; the codebook follows its assigned vectors by EMA, not by gradients.

    A code whose EMA count falls below 1 (it has been starved of vectors) is re-seeded with a
    random vector of the current batch.
    """

    def __init__(self, codebook_size: int, code_dim: int, ema_decay: float = 0.99):
        super().__init__()
        self.codebook_size = codebook_size
        self.code_dim = code_dim
        self.ema_decay = ema_decay
        self.register_buffer("codebook", torch.zeros(codebook_size, code_dim))
        self.register_buffer("code_sum", torch.zeros(codebook_size, code_dim))
        self.register_buffer("code_count", torch.zeros(codebook_size))
        self.register_buffer("initialised", torch.tensor(False))

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) vectors -> (N,) index of the nearest code."""
        distances = (
            x.pow(2).sum(dim=1, keepdim=True)
            - 2 * x @ self.codebook.t()
            + self.codebook.pow(2).sum(dim=1)[None, :]
        )  # (N, K)
        return distances.argmin(dim=1)

    def dequantize(self, indices: torch.Tensor) -> torch.Tensor:
        """(...) indices -> (..., D) code vectors."""
        return F.embedding(indices, self.codebook)

    def _random_vectors(self, x: torch.Tensor) -> torch.Tensor:
        """K rows drawn from the batch (repeated with a little noise when the batch is smaller)."""
        n = x.shape[0]
        if n < self.codebook_size:
            repeats = math.ceil(self.codebook_size / n)
            noise = torch.randn(n * repeats, x.shape[1], device=x.device) * (0.01 / math.sqrt(x.shape[1]))
            x = x.repeat(repeats, 1) + noise
        picked = x[torch.randperm(x.shape[0], device=x.device)[: self.codebook_size]].contiguous()
        return _same_on_all_processes(picked)

    @torch.no_grad()
    def _initialise(self, x: torch.Tensor) -> None:
        self.codebook.copy_(self._random_vectors(x))
        self.code_sum.copy_(self.codebook)
        self.code_count.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def update_codebook(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """EMA step towards the mean of each code's vectors, then reset dead codes; returns counts."""
        onehot = F.one_hot(indices, self.codebook_size).to(x.dtype)  # (N, K)
        counts = _sum_over_processes(onehot.sum(dim=0))  # (K,)
        sums = _sum_over_processes(onehot.t() @ x)  # (K, D)
        random_codes = self._random_vectors(x)

        decay = self.ema_decay
        self.code_sum.mul_(decay).add_(sums, alpha=1 - decay)
        self.code_count.mul_(decay).add_(counts, alpha=1 - decay)
        alive = (self.code_count >= 1.0)[:, None]
        means = self.code_sum / self.code_count.clamp_min(1e-10)[:, None]
        self.codebook.copy_(torch.where(alive, means, random_codes))
        return counts

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, D, N) encoder output -> quantised (B, D, N), indices (B, N), commitment loss, perplexity."""
        batch, dim, length = x.shape
        with torch.autocast(device_type=x.device.type, enabled=False):
            flat = x.float().permute(0, 2, 1).reshape(-1, dim)  # (B*N, D)
            if self.training and not bool(self.initialised):
                self._initialise(flat.detach())
            with torch.no_grad():
                indices = self.quantize(flat)
            quantized = self.dequantize(indices)
            if self.training:
                counts = self.update_codebook(flat.detach(), indices)
            else:
                counts = torch.bincount(indices, minlength=self.codebook_size).to(flat.dtype)
            commit_loss = F.mse_loss(flat, quantized.detach())
            quantized = flat + (quantized - flat).detach()  # straight-through gradient
        quantized = quantized.view(batch, length, dim).permute(0, 2, 1).to(x.dtype)
        return quantized, indices.view(batch, length), commit_loss, perplexity(counts)
