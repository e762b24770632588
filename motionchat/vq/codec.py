"""Raw motion features <-> motion codes (and back to joints): the tokenizer with its normaliser.

A tokenizer only makes sense with the statistics it was trained on, so the two travel together
here; chat, evaluation and training all turn motions into codes through `MotionCodec`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from motionchat.errors import MotionchatError
from motionchat.motion.features import features_to_joints
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import SkeletonSpec
from motionchat.vq.model import MotionVQVAE


@dataclass
class DecodedMotion:
    features: np.ndarray  # (T, D) raw (denormalised) features
    skeleton: SkeletonSpec

    @cached_property
    def joints(self) -> np.ndarray:
        """(T, J, 3) metres, recovered from the features on first use (evaluation needs none)."""
        return features_to_joints(self.features, self.skeleton)


@dataclass
class MotionCodec:
    """A trained tokenizer, its normaliser and the skeleton of its features."""

    vq: MotionVQVAE
    normalizer: Normalizer
    skeleton: SkeletonSpec

    def __post_init__(self):
        dims = {self.vq.cfg.feature_dim, self.normalizer.dim, self.skeleton.feature_dim}
        if len(dims) != 1:
            raise MotionchatError(
                f"tokenizer ({self.vq.cfg.feature_dim}), statistics ({self.normalizer.dim}) and the {self.skeleton.name} "
                f"skeleton ({self.skeleton.feature_dim}) disagree on values per frame; use parts trained together"
            )

    @property
    def codebook_size(self) -> int:
        return self.vq.cfg.codebook_size

    @property
    def frames_per_code(self) -> int:
        """Frames one code covers: the tokenizer's temporal down-sampling."""
        return self.vq.cfg.frames_per_code

    def _checked(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.skeleton.feature_dim or len(features) < 1:
            raise MotionchatError(
                f"motion features have shape {features.shape}; expected (frames >= 1, {self.skeleton.feature_dim})"
            )
        return features

    def encode(self, features: np.ndarray) -> list[int]:
        """(T, D) raw features -> ceil(T / frames_per_code) codes."""
        return self.encode_many([features])[0]

    def encode_many(self, motions: Sequence[np.ndarray], batch_size: int = 64) -> list[list[int]]:
        """Codes of several motions; motions of equal length share a forward pass."""
        motions = [self._checked(m) for m in motions]
        device = next(self.vq.parameters()).device
        codes: list[list[int] | None] = [None] * len(motions)
        for chunk in _equal_length_chunks([len(m) for m in motions], batch_size):
            batch = torch.from_numpy(self.normalizer.normalize(np.stack([motions[i] for i in chunk]))).to(device)
            with _conv_kernels(len(chunk)):
                encoded = self.vq.encode(batch)
            for i, row in zip(chunk, encoded.cpu().tolist()):  # (B, N)
                codes[i] = row
        return codes  # type: ignore[return-value]

    def fit(self, features: np.ndarray) -> list[int]:
        """(T, D) raw features -> codes that decode at least as close to its joints as `encode`'s,
        found by searching the codebook against the decoded joints (`vq.fitting`): for motion
        unlike the tokenizer's corpus (real capture); seconds a clip rather than milliseconds."""
        from motionchat.vq.fitting import fit_codes

        features = self._checked(features)
        return fit_codes(self.vq, self.normalizer.mean, self.normalizer.std, self.skeleton, features, self.encode(features))

    def decode(self, codes: Sequence[int], frames: int | None = None) -> DecodedMotion:
        """Codes -> raw features and joints, cut to `frames` (at most `frames_per_code` per code; default all)."""
        return self.decode_many([codes], [frames])[0]

    def decode_many(
        self, code_lists: Sequence[Sequence[int]], frames: Sequence[int | None] | None = None, batch_size: int = 64
    ) -> list[DecodedMotion]:
        """`decode` of several motions; motions with as many codes share a forward pass."""
        frames = list(frames) if frames is not None else [None] * len(code_lists)
        for codes, n in zip(code_lists, frames):
            self._check_codes(codes, n)
        device = next(self.vq.parameters()).device
        decoded: list[DecodedMotion | None] = [None] * len(code_lists)
        for chunk in _equal_length_chunks([len(c) for c in code_lists], batch_size):
            batch = torch.tensor([[int(c) for c in code_lists[i]] for i in chunk], dtype=torch.long, device=device)
            with _conv_kernels(len(chunk)):
                decoded_batch = self.vq.decode(batch)
            features = self.normalizer.denormalize(decoded_batch.float().cpu().numpy())  # (B, 4N, D) at 4 frames a code
            for i, motion in zip(chunk, features):
                decoded[i] = DecodedMotion(motion[: frames[i] or len(motion)], self.skeleton)
        return decoded  # type: ignore[return-value]

    def _check_codes(self, codes: Sequence[int], frames: int | None) -> None:
        if len(codes) == 0:
            raise MotionchatError("cannot decode an empty motion (no codes)")
        bad = [c for c in codes if not 0 <= int(c) < self.codebook_size]
        if bad:
            raise MotionchatError(f"motion code {bad[0]} is outside the codebook (0..{self.codebook_size - 1})")
        if frames is not None and frames < 1:
            raise MotionchatError(f"cannot decode to {frames} frames; ask for at least 1")


ONEDNN_MIN_ROWS = 8


@contextmanager
def _conv_kernels(rows: int) -> Iterator[None]:
    """oneDNN's convolutions for `ONEDNN_MIN_ROWS` motions or more, torch's own below.

    On one motion they are no faster (49 codes: 5.5 ms against 5.1) but hold about 7 MB more
    working memory for a 196-frame motion than for a short one, which decides whether a cold
    `motionchat ask` stays under 300 MiB; on 64 motions they are 7.5 times faster.
    """
    if rows >= ONEDNN_MIN_ROWS or not torch.backends.mkldnn.enabled:
        yield
        return
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = True


def _equal_length_chunks(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices of items of equal length, at most `batch_size` at a time (one forward pass each)."""
    by_length: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        by_length.setdefault(length, []).append(index)
    for indices in by_length.values():
        for first in range(0, len(indices), batch_size):
            yield indices[first : first + batch_size]
