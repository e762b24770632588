"""A dataset split turned into motion codes once, and cached on disk.

Every clip is encoded whole and in the pieces the completion families need, each piece on its own
(as a user's motion would be at run time): the first 20% and the rest (predict), the first and the
last 25% (inbetween). Clips longer than `MAX_FRAMES` are cut to it first.

The cache is one safetensors file per split, named by a hash of everything the codes depend on
(tokenizer file, statistics, clip ids and feature values), so a changed tokenizer or dataset never
reads stale codes, and stage 3 reuses the file stage 2 wrote:

    RUN/codes/train-<hash>.safetensors   "<piece>.codes" (int32, all clips end to end) and
                                         "<piece>.offsets" (int64, clips + 1), clip ids in metadata
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from motionchat.data.dataset import MotionClips
from motionchat.fileio import atomic_path
from motionchat.filenames import CODES_DIR
from motionchat.motion.timing import MAX_FRAMES
from motionchat.tasks.examples import known_frames
from motionchat.vq.codec import MotionCodec

CACHE_FORMAT = "motionchat-codes/1"
PIECES = ("full", "predict_head", "predict_rest", "inbetween_head", "inbetween_tail")


@dataclass
class SplitCodes:
    """Codes of every clip of a split, per piece; a piece too short to exist has no codes."""

    clip_ids: list[str]
    frames: np.ndarray  # (clips,) frames encoded as "full" (at most MAX_FRAMES)
    pieces: dict[str, list[np.ndarray]]

    def codes(self, piece: str, index: int) -> list[int]:
        return self.pieces[piece][index].tolist()


def _cut(features: np.ndarray) -> dict[str, np.ndarray]:
    features = features[:MAX_FRAMES]
    frames = len(features)
    predict_head, _ = known_frames("predict", frames)
    keep, _ = known_frames("inbetween", frames)
    return {
        "full": features,
        "predict_head": features[:predict_head],
        "predict_rest": features[predict_head:],
        "inbetween_head": features[:keep],
        "inbetween_tail": features[frames - keep :] if keep else features[:0],
    }


def encode_split(clips: MotionClips, codec: MotionCodec) -> SplitCodes:
    cuts = [_cut(clips.features(i)) for i in range(len(clips))]
    pieces: dict[str, list[np.ndarray]] = {}
    for piece in PIECES:
        present = [i for i, c in enumerate(cuts) if len(c[piece])]
        encoded = codec.encode_many([cuts[i][piece] for i in present])
        pieces[piece] = [np.zeros(0, np.int32)] * len(cuts)
        for i, codes in zip(present, encoded):
            pieces[piece][i] = np.asarray(codes, dtype=np.int32)
    frames = np.array([len(c["full"]) for c in cuts], dtype=np.int64)
    return SplitCodes(list(clips.clip_ids), frames, pieces)


def cache_key(clips: MotionClips, vq_file: Path, codec: MotionCodec) -> str:
    """Hash of what the codes depend on: format, tokenizer file, statistics, clips and their values."""
    digest = hashlib.blake2b(digest_size=12)
    for part in (CACHE_FORMAT.encode(), Path(vq_file).read_bytes(), codec.normalizer.mean.tobytes(), codec.normalizer.std.tobytes()):
        digest.update(hashlib.sha256(part).digest())
    digest.update(json.dumps([clips.split, clips.clip_ids, clips.lengths.tolist()]).encode())
    digest.update(np.ascontiguousarray(clips.frames).view(np.uint8).data)
    return digest.hexdigest()


def _read(path: Path, key: str) -> SplitCodes | None:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
        if metadata.get("format") != CACHE_FORMAT or metadata.get("key") != key:
            return None
        clip_ids = json.loads(metadata["clip_ids"])
        pieces = {}
        for piece in PIECES:
            flat, offsets = tensors[f"{piece}.codes"].numpy(), tensors[f"{piece}.offsets"].numpy()
            pieces[piece] = [flat[offsets[i] : offsets[i + 1]] for i in range(len(clip_ids))]
        return SplitCodes(clip_ids, tensors["frames"].numpy(), pieces)
    except (SafetensorError, OSError, ValueError, KeyError, json.JSONDecodeError):
        return None  # a damaged or foreign file: encode again


def _write(path: Path, codes: SplitCodes, key: str) -> None:
    tensors = {"frames": torch.from_numpy(codes.frames)}
    for piece in PIECES:
        arrays = codes.pieces[piece]
        tensors[f"{piece}.codes"] = torch.from_numpy(np.concatenate(arrays).astype(np.int32))
        tensors[f"{piece}.offsets"] = torch.from_numpy(np.cumsum([0] + [len(a) for a in arrays]).astype(np.int64))
    metadata = {"format": CACHE_FORMAT, "key": key, "clip_ids": json.dumps(codes.clip_ids)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_or_encode(clips: MotionClips, codec: MotionCodec, vq_file: Path, write_dir: Path, also_look_in: Iterable[Path] = ()) -> tuple[SplitCodes, Path, bool]:
    """The split's codes from a cache in `write_dir` or `also_look_in` (their `codes/` folders),
    else encoded now and cached in `write_dir`; returns (codes, cache file, whether it was encoded now)."""
    key = cache_key(clips, vq_file, codec)
    name = f"{clips.split}-{key}.safetensors"
    for folder in (write_dir, *also_look_in):
        path = Path(folder) / CODES_DIR / name
        if path.is_file() and (found := _read(path, key)) is not None:
            return found, path, False
    codes = encode_split(clips, codec)
    path = Path(write_dir) / CODES_DIR / name
    _write(path, codes, key)
    return codes, path, True
