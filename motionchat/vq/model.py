"""The motion tokenizer: a 1-D convolutional VQ-VAE over normalised feature frames.

Encoder: conv -> `down_t` x (strided conv halving time + dilated residual blocks) -> conv to
code_dim. The decoder mirrors it with nearest-neighbour up-sampling. One code covers
`frames_per_code` (4) frames; clips of any length are padded (last frame repeated) up to a multiple
of it and the output is cut back to the length asked for.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from motionchat.vq.config import VQConfig
from motionchat.vq.quantizer import QuantizeEMAReset


class ResidualBlock(nn.Module):
    """x + conv1x1(relu(dilated_conv3(relu(x)))): widens the receptive field without pooling."""

    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.dilated = nn.Conv1d(width, width, kernel_size=3, padding=dilation, dilation=dilation)
        self.pointwise = nn.Conv1d(width, width, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(F.relu(self.dilated(F.relu(x))))


def residual_stack(width: int, depth: int, dilation_growth: int) -> nn.Sequential:
    """`depth` blocks, largest dilation first (as in T2M-GPT, for encoder and decoder alike)."""
    dilations = [dilation_growth**i for i in range(depth)][::-1]
    return nn.Sequential(*(ResidualBlock(width, d) for d in dilations))


class Encoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(cfg.feature_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.down_t):
            layers += [
                nn.Conv1d(cfg.width, cfg.width, kernel_size=4, stride=2, padding=1),  # halves time
                residual_stack(cfg.width, cfg.depth, cfg.dilation_growth),
            ]
        layers.append(nn.Conv1d(cfg.width, cfg.code_dim, 3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # (B, D, T) -> (B, code_dim, T / frames_per_code)


class Decoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(cfg.code_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.down_t):
            layers += [
                residual_stack(cfg.width, cfg.depth, cfg.dilation_growth),
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv1d(cfg.width, cfg.width, 3, padding=1),
            ]
        layers += [
            nn.Conv1d(cfg.width, cfg.width, 3, padding=1),
            nn.ReLU(),
            nn.Conv1d(cfg.width, cfg.feature_dim, 3, padding=1),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # (B, code_dim, N) -> (B, D, N * frames_per_code)


class VQOutput(NamedTuple):
    reconstruction: torch.Tensor  # (B, T, D), same length as the input
    codes: torch.Tensor  # (B, ceil(T / frames_per_code))
    commit_loss: torch.Tensor  # scalar
    perplexity: torch.Tensor  # scalar, of this batch's code histogram


class MotionVQVAE(nn.Module):
    """Features (B, T, D) <-> codes (B, ceil(T/4)); `forward` runs both ways for training."""

    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quantizer = QuantizeEMAReset(cfg.codebook_size, cfg.code_dim, cfg.ema_decay)
        self.decoder = Decoder(cfg)

    def _check_features(self, features: torch.Tensor) -> None:
        if features.ndim != 3 or features.shape[-1] != self.cfg.feature_dim or features.shape[1] < 1:
            raise ValueError(
                f"expected features of shape (batch, frames>=1, {self.cfg.feature_dim}), got {tuple(features.shape)}"
            )

    def _pad_to_codes(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, D, T') with T' the next multiple of frames_per_code (last frame repeated)."""
        frames = features.shape[1]
        pad = -frames % self.cfg.frames_per_code
        x = features.permute(0, 2, 1)  # (B, D, T)
        return F.pad(x, (0, pad), mode="replicate") if pad else x

    def _features(self, latent: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, code_dim, N) latent -> (B, frames, D) features, the decoder's output cut to `frames`."""
        return self.decoder(latent)[:, :, :frames].permute(0, 2, 1)

    def forward(self, features: torch.Tensor) -> VQOutput:
        self._check_features(features)
        latent = self.encoder(self._pad_to_codes(features))  # (B, code_dim, N)
        quantized, codes, commit_loss, perplexity = self.quantizer(latent)
        return VQOutput(self._features(quantized, features.shape[1]), codes, commit_loss, perplexity)

    @torch.no_grad()
    def reconstruct_unquantized(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D): the encoder's output decoded without the codebook, the best any
        quantizer could do with the encoder's latents (a diagnostic, not a tokenizer path)."""
        return self.decode_latent(self.latent(features), features.shape[1])

    def latent(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D) normalised features -> (B, code_dim, N) encoder output, before quantizing."""
        self._check_features(features)
        return self.encoder(self._pad_to_codes(features))

    def decode_latent(self, latent: torch.Tensor, frames: int) -> torch.Tensor:
        """(B, code_dim, N) latent (a codebook entry or not) -> (B, frames, D) normalised features."""
        return self._features(latent, frames)

    @torch.no_grad()
    def encode(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D) normalised features -> (B, ceil(T / frames_per_code)) code indices."""
        self._check_features(features)
        latent = self.encoder(self._pad_to_codes(features))  # (B, code_dim, N)
        batch, dim, length = latent.shape
        flat = latent.permute(0, 2, 1).reshape(-1, dim).float()
        return self.quantizer.quantize(flat).view(batch, length)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """(B, N) code indices -> (B, frames, D) normalised features; frames defaults to N * 4.

        `frames` must be one that encodes to N codes, i.e. in ((N - 1) * 4, N * 4].
        """
        if codes.ndim != 2 or codes.shape[1] < 1:
            raise ValueError(f"expected codes of shape (batch, n_codes>=1), got {tuple(codes.shape)}")
        if codes.min() < 0 or codes.max() >= self.cfg.codebook_size:
            raise ValueError(f"code indices must lie in [0, {self.cfg.codebook_size}), got {codes.min()}..{codes.max()}")
        full = codes.shape[1] * self.cfg.frames_per_code
        frames = full if frames is None else frames
        if not full - self.cfg.frames_per_code < frames <= full:
            raise ValueError(f"{codes.shape[1]} codes decode to {full - self.cfg.frames_per_code + 1}..{full} frames, not {frames}")
        quantized = self.quantizer.dequantize(codes).permute(0, 2, 1)  # (B, code_dim, N)
        return self._features(quantized.to(next(self.decoder.parameters()).dtype), frames)
