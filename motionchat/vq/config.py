"""Architecture of the motion tokenizer, as one flat dataclass (saved with the weights)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class VQConfig:
    """Shape of the VQ-VAE. The defaults are MotionGPT's / T2M-GPT's HumanML3D tokenizer.

    Args:
        feature_dim: values per frame (263 for HumanML3D, 251 for KIT-ML); set from the data.
        codebook_size: number of codes K (the motion vocabulary size).
        code_dim: length of one code vector.
        width: channels of the convolutional encoder and decoder.
        depth: dilated residual blocks per resolution level.
        dilation_growth: dilation of block i is growth**i (reversed in the encoder and decoder).
        down_t: how many times time is halved; a code covers 2**down_t frames.
        ema_decay: decay of the codebook's exponential moving averages.
    """

    feature_dim: int = 263
    codebook_size: int = 512
    code_dim: int = 512
    width: int = 512
    depth: int = 3
    dilation_growth: int = 3
    down_t: int = 2
    ema_decay: float = 0.99

    def __post_init__(self):
        bad = [f.name for f in fields(self) if f.type in ("int", int) and getattr(self, f.name) < 1]
        if bad:
            raise ValueError(f"VQConfig: {', '.join(bad)} must be at least 1")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"VQConfig: ema_decay must be in (0, 1), got {self.ema_decay}")

    @property
    def frames_per_code(self) -> int:
        return 2**self.down_t

    def to_dict(self) -> dict:
        return asdict(self)
