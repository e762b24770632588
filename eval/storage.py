"""One-file storage of the evaluation networks: tensors in safetensors, config and notes as JSON
in its metadata. No pickle anywhere, and a file names its own format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path
from motionchat.vq.io import config_from_json, read_safetensors_metadata

C = TypeVar("C")


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], file_format: str, config: Any, **notes: Any) -> Path:
    """Write `tensors` with metadata {format, config (a dataclass), each note as JSON}, atomically."""
    path = Path(path)
    metadata = {"format": file_format, "config": json.dumps(config.to_dict(), sort_keys=True)}
    metadata.update({key: json.dumps(value, sort_keys=True) for key, value in notes.items()})
    tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_metadata(path: Path, file_format: str, config_type: type[C], retrain: str) -> tuple[C, dict[str, Any]]:
    """The config and notes of a file written by `save_tensors`; `retrain` says how to make a new one."""
    metadata = read_safetensors_metadata(path, f"not found; {retrain}", retrain)
    if metadata.get("format") != file_format:
        raise MotionchatError(f"{path}: not a {file_format} file; {retrain}")
    try:
        config = config_from_json(metadata["config"], config_type)
        notes = {k: json.loads(v) for k, v in metadata.items() if k not in ("format", "config")}
    except (KeyError, ValueError, TypeError) as err:
        raise MotionchatError(f"{path}: bad config in its metadata ({err}); {retrain}") from None
    return config, notes


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def load_module_state(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, retrain: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:200]
        raise MotionchatError(f"{path}: weights do not match the stored config ({detail}); {retrain}") from None
