"""Save and load a tokenizer as one safetensors file that carries its own `VQConfig`.

The config sits in the file's metadata (key "vq_config", JSON), so `load_vq` rebuilds the model
from the file alone; weights and codebook buffers are the tensors. No pickle anywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path
from motionchat.vq.config import VQConfig
from motionchat.vq.model import MotionVQVAE

FORMAT = "motionchat-vq/1"
C = TypeVar("C")


def save_vq(model: MotionVQVAE, path: str | os.PathLike) -> Path:
    """Write weights + codebook + config to `path` (atomically)."""
    path = Path(path)
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    metadata = {"format": FORMAT, "vq_config": json.dumps(model.cfg.to_dict(), sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_safetensors_metadata(path: Path, not_found: str, fix: str) -> dict[str, str]:
    """The metadata of a safetensors file, without loading its tensors.

    A missing file is the error "{path}: {not_found}"; an unreadable one names the problem and ends
    with `fix` (what to do about it).
    """
    if not path.is_file():
        raise MotionchatError(f"{path}: {not_found}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise MotionchatError(f"{path}: not a readable safetensors file ({err}); {fix}") from None


def config_from_json(text: str, config_type: type[C]) -> C:
    """A config dataclass from the JSON stored with its weights; ValueError or TypeError for bad
    JSON, keys the dataclass does not have, or values it refuses."""
    raw = json.loads(text)
    unknown = sorted(set(raw) - {f.name for f in fields(config_type)})
    if unknown:
        raise ValueError(f"unknown keys {unknown}")
    return config_type(**raw)


def read_vq_config(path: str | os.PathLike) -> VQConfig:
    """The `VQConfig` stored in a tokenizer file (without loading the weights)."""
    path = Path(path)
    metadata = read_safetensors_metadata(
        path, "tokenizer file not found; pass the vq.safetensors written by `trainer stage1`", "re-export the tokenizer"
    )
    if metadata.get("format") != FORMAT or "vq_config" not in metadata:
        raise MotionchatError(f"{path}: not a motionchat tokenizer (no '{FORMAT}' metadata); use a file written by `trainer stage1`")
    try:
        return config_from_json(metadata["vq_config"], VQConfig)
    except (ValueError, TypeError) as err:
        raise MotionchatError(f"{path}: bad tokenizer config in metadata ({err}); re-export the tokenizer") from None


def load_vq(path: str | os.PathLike, device: str | torch.device = "cpu") -> MotionVQVAE:
    """Rebuild the tokenizer saved at `path`, in eval mode."""
    cfg = read_vq_config(path)
    model = MotionVQVAE(cfg)
    state = load_file(str(path), device=str(device))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip() if str(err).strip() else "state mismatch"
        raise MotionchatError(f"{path}: weights do not match the stored config ({first}); re-export the tokenizer") from None
    return model.to(device).eval()
