"""Frames are the one length unit of the code base; this is the only place that converts.

`fps` is the dataset's frame rate (20 for HumanML3D, 12.5 for KIT-ML); `frames_per_code` is the
motion tokenizer's temporal down-sampling (4).
"""

from __future__ import annotations

HUMANML3D_FPS = 20.0
FRAMES_PER_CODE = 4
MAX_FRAMES = 196
MIN_FRAMES = 40


def frames_to_seconds(frames: int, fps: float = HUMANML3D_FPS) -> float:
    return frames / fps


def seconds_to_frames(seconds: float, fps: float = HUMANML3D_FPS) -> int:
    return int(round(seconds * fps))


def frames_to_codes(frames: int, frames_per_code: int = FRAMES_PER_CODE) -> int:
    """Number of tokens that cover `frames` (the tokenizer pads up to a multiple)."""
    return -(-frames // frames_per_code)


def codes_to_frames(codes: int, frames_per_code: int = FRAMES_PER_CODE) -> int:
    return codes * frames_per_code
