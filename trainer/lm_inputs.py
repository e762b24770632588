"""What stages 2 and 3 both read before training the language model: the tokenizer folder of the
previous stage, the captioned splits, the run records, and fixed evaluation keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from motionchat.data.dataset import MotionClips
from motionchat.errors import MotionchatError
from motionchat.filenames import VQ_FILE
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import SkeletonSpec
from motionchat.vq import load_vq
from motionchat.vq.codec import MotionCodec


def check_codec_dir(folder: Path, what: str) -> Path:
    """Refuse a --vq/--init folder without a tokenizer (before any data is read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MotionchatError(
            f"{folder}: {what} folder not found; pass {'a stage-1 run folder' if what == '--vq' else 'a stage-2 run folder'}"
        )
    if not (folder / VQ_FILE).is_file():
        raise MotionchatError(
            f"{folder}: no {VQ_FILE}; pass a folder where `trainer {'stage1' if what == '--vq' else 'stage2'}` finished"
        )
    return folder


def load_codec_dir(folder: Path, skeleton: SkeletonSpec, what: str) -> MotionCodec:
    """The tokenizer (vq.safetensors) and its statistics (Mean/Std) kept in `folder`."""
    folder = check_codec_dir(folder, what)
    return MotionCodec(load_vq(folder / VQ_FILE), Normalizer.from_dir(folder), skeleton)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def load_captioned(data_dir: Path, split: str, skeleton: SkeletonSpec | None = None) -> MotionClips:
    return MotionClips(data_dir, split, skeleton, with_captions=True)


def load_validation(data_dir: Path, skeleton: SkeletonSpec) -> MotionClips:
    try:
        return load_captioned(data_dir, "val", skeleton)
    except MotionchatError as err:
        raise MotionchatError(f"{err} (or train without validation: --set train.eval_every=0)") from None


def fixed_keys(count: int, size: int, seed: int) -> list[tuple[int, int]]:
    """`count` evaluation keys spread over a dataset of `size`, the same at every evaluation."""
    order = np.random.default_rng(seed).permutation(size)
    return [(int(order[i % size]), seed * 1_000_003 + i) for i in range(count)]
