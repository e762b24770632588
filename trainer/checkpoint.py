"""Checkpoints that resume a run exactly: one file per save, written atomically.

Run folder::

    OUT/
      config.json                    the stage config the run uses (resume reads it back)
      metrics.jsonl                  one JSON object a line: {"step", "split", ...}
      checkpoints/step_00001000.pt   model, optimizer, scheduler, step, RNG of every process

A checkpoint is a plain dict of tensors and numbers saved with `torch.save` and read back with
`torch.load(weights_only=True)`: no arbitrary unpickling. It is written to a hidden temporary
file and renamed, so a killed run leaves either the previous checkpoints or the new one complete;
`remove_stale_temporaries` sweeps temporaries a kill left behind.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_FORMAT = 1
_NAME = re.compile(r"^step_(\d{8})\.pt$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"step_{step:08d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the complete checkpoints, oldest first."""
    folder = run_dir / CHECKPOINT_DIR
    found = [(int(m.group(1)), p) for p in folder.glob("step_*.pt") if (m := _NAME.match(p.name))]
    return sorted(found)


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete half-written temporaries (from `atomic_path`) that a killed run left behind."""
    stale = [p for p in run_dir.rglob(".*.tmp*") if p.is_file()]
    for path in stale:
        path.unlink()
    return stale


def capture_rng() -> dict[str, Any]:
    """This process's random states, as tensors and plain numbers (loadable with weights_only)."""
    _, mt_state, position, has_gauss, cached = np.random.get_state()
    version, py_state, gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"state": torch.from_numpy(mt_state.astype(np.int64)), "pos": int(position), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "state": list(py_state), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["state"].numpy().astype(np.uint32), np_state["pos"], np_state["has_gauss"], np_state["cached"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """Write `payload` (+ format and step) atomically as the checkpoint of `step`; keep the last `keep`."""
    path = checkpoint_path(run_dir, step)
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, "step": step, **payload}, tmp)
    for _, old in list_checkpoints(run_dir)[:-keep]:
        old.unlink()
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged or foreign file
        raise MotionchatError(f"{path}: unreadable checkpoint ({err.__class__.__name__}); delete it to resume from an earlier one") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise MotionchatError(f"{path}: not a motionchat checkpoint (format {CHECKPOINT_FORMAT}); delete it or start a new run")
    return state
