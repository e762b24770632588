"""Training metrics: one JSON object a line in `metrics.jsonl`, optionally mirrored to TensorBoard.

Lines are appended as they come (a log, not an artefact); a run killed mid-line leaves at most one
broken last line, which `read_metrics` skips. On resume, `truncate_after` drops the records of
steps the resumed run will redo, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import METRICS_FILE


def read_metrics(path: Path) -> list[dict[str, Any]]:
    records = []
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the half-written last line of a killed run
    return records


def truncate_after(path: Path, step: int) -> None:
    """Keep only the records of steps <= `step` (rewritten atomically)."""
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def require_tensorboard() -> None:
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        raise MotionchatError("train.tensorboard=true needs the tensorboard package; `pip install tensorboard` or leave it off") from None


class MetricsLog:
    """Appends records to metrics.jsonl (and TensorBoard when asked); used on the main process only."""

    def __init__(self, run_dir: Path, tensorboard: bool):
        self.path = run_dir / METRICS_FILE
        self._tensorboard = None
        if tensorboard:
            require_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self._tensorboard is not None:
            split = record.get("split", "train")
            for name, value in record.items():
                if isinstance(value, (int, float)) and name not in ("step", "split"):
                    self._tensorboard.add_scalar(f"{split}/{name}", value, record["step"])

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
