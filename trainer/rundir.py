"""The output folder of a training run: checked before anything is written, then started.

`check_run_dir` only reads, so a command can validate all its inputs first and fail without
touching anything; `start_run_dir` (main process, after validation) creates the folder and
records the config.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import CONFIG_FILE
from trainer.checkpoint import CHECKPOINT_DIR, list_checkpoints
from trainer.metrics import METRICS_FILE


def check_run_dir(out: Path, *, resume: bool, force: bool) -> Path:
    """Refuse an output folder that would lose work: non-empty without --resume/--force, or
    --resume where there is nothing to resume."""
    out = Path(out)
    if resume and force:
        raise MotionchatError("--resume continues a run and --force starts it over; pass only one")
    if out.exists() and not out.is_dir():
        raise MotionchatError(f"{out}: exists and is not a folder; pass a folder for --out")
    if resume:
        if not (out / CONFIG_FILE).is_file():
            raise MotionchatError(f"{out}: no {CONFIG_FILE}, so no run to resume; start without --resume")
        if not list_checkpoints(out):
            raise MotionchatError(f"{out}: no checkpoint to resume from; start without --resume")
    elif out.is_dir() and any(out.iterdir()) and not force:
        raise MotionchatError(f"{out}: folder is not empty; pass --resume to continue its run or --force to start over")
    return out


def read_run_config(out: Path) -> dict[str, Any]:
    path = Path(out) / CONFIG_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MotionchatError(f"{path}: cannot read the run config ({err.__class__.__name__}); start a new run") from None
    if not isinstance(data, dict):
        raise MotionchatError(f"{path}: the run config is not a JSON object; start a new run")
    return data


def start_run_dir(out: Path, config: dict[str, Any], *, force: bool) -> None:
    """Create the folder (clearing a previous run's checkpoints and log with --force) and write config.json."""
    out.mkdir(parents=True, exist_ok=True)
    if force:
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
        (out / METRICS_FILE).unlink(missing_ok=True)
    atomic_write_text(out / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
