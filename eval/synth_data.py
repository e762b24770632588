"""What the diff task and the compositional split read of a synthetic corpus, beside `EvalData`:
each edit pair's true edit, and the test clips built on a held-out pair."""

from __future__ import annotations

from pathlib import Path

from eval.data import EditPair, EvalData
from motionchat.data.synth.edits import Difference, Edit, difference_of
from motionchat.data.synth.program import adjacent_pairs
from motionchat.data.synth.vocabulary import Program
from motionchat.errors import MotionchatError

HELD_OUT_FILE = "compositional_test.txt"


def true_differences(pairs: list[EditPair], programs: dict[str, Program] | None) -> list[Difference]:
    """What each pair's difference must say, from its edit kind and the two clips' programs."""
    if programs is None:
        raise MotionchatError("diff needs the programs of the synthetic corpus (labels.jsonl); regenerate the corpus")
    out = []
    for pair in pairs:
        out.append(difference_of(Edit(pair.kind, pair.index, programs[pair.source], programs[pair.target])))
    return out


def read_held_out_pairs(root: Path) -> frozenset[tuple[str, str]] | None:
    """The ordered action pairs held out of training ("a>b" lines), or None without the file."""
    path = root / HELD_OUT_FILE
    if not path.is_file():
        return None
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        first, sep, second = line.strip().partition(">")
        if not (sep and first and second):
            raise MotionchatError(f"{path}:{number}: {line!r} is not an action pair 'a>b'; regenerate the corpus")
        pairs.append((first, second))
    return frozenset(pairs)


def compositional_positions(data: EvalData) -> list[int]:
    """Positions (in `data.test_indices`) of the evaluated test clips whose program has two
    consecutive actions in an order held out of training; [] when the corpus has none."""
    held = read_held_out_pairs(data.root)
    if held is None or data.programs is None:
        return []
    return [k for k, clip_id in enumerate(data.test_ids) if adjacent_pairs(data.programs[clip_id]) & held]
