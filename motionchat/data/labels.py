"""The synthetic corpus's label files: each clip's action program (`labels.jsonl`) and the edit
pairs (`edits.jsonl`). The corpus writer makes them; every training stage and evaluation reads
them here."""

from __future__ import annotations

import json
from pathlib import Path

from motionchat.errors import MotionchatError
from motionchat.filenames import EDITS_FILE, LABELS_FILE

EDIT_FIELDS = ("source", "target", "kind", "index", "instruction", "difference")


def read_edits(root: str | Path) -> list[dict]:
    """edits.jsonl as rows with EDIT_FIELDS ([] when the dataset has none: not a synthetic corpus)."""
    path = Path(root) / EDITS_FILE
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            rows.append({key: int(row[key]) if key == "index" else str(row[key]) for key in EDIT_FIELDS})
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise MotionchatError(
                f"{path}:{number}: not an edit row ({', '.join(EDIT_FIELDS)}); regenerate the corpus"
            ) from None
    return rows


def read_labels(root: str | Path) -> dict[str, dict]:
    """labels.jsonl as {clip id: row}."""
    path = Path(root) / LABELS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise MotionchatError(
            f"{path}: cannot read labels ({err.__class__.__name__}); is this a synthetic corpus?"
        ) from None
    rows = {}
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            rows[row["id"]] = row
        except (json.JSONDecodeError, KeyError, TypeError):
            raise MotionchatError(f"{path}:{number}: not a label row; regenerate the corpus") from None
    return rows


def read_labels_if_any(root: str | Path) -> dict[str, dict]:
    """`read_labels`, or {} when the dataset has no labels.jsonl (not a synthetic corpus)."""
    return read_labels(root) if (Path(root) / LABELS_FILE).is_file() else {}
