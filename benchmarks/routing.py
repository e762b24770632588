"""Routing accuracy by family on tests/tasks/routing_set.tsv, and the time one request takes.

    python benchmarks/routing.py            # a table: family, requests, correct, accuracy
    python benchmarks/routing.py --misses   # also every misrouted request

The set is natural wording written for this check (questions, commands, polite forms, typos,
upper case, numbers as words, several units), none of it copied from the instruction templates.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from motionchat.errors import MotionchatError  # noqa: E402
from motionchat.tasks.routing import route  # noqa: E402

SET = Path(__file__).resolve().parents[1] / "tests" / "tasks" / "routing_set.tsv"


def load_set(path: Path = SET) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            family, text = line.split("\t", 1)
            rows.append((family, text))
    return rows


def routed_family(text: str) -> str:
    try:
        return route(text).family
    except MotionchatError:
        return "(refused)"


def accuracy(rows: list[tuple[str, str]]) -> tuple[dict[str, tuple[int, int]], list[tuple[str, str, str]], float]:
    """Per family (correct, total), the misses (expected, got, text), and seconds per request."""
    total, correct, misses = Counter(), Counter(), []
    start = time.perf_counter()
    for family, text in rows:
        got = routed_family(text)
        total[family] += 1
        if got == family:
            correct[family] += 1
        else:
            misses.append((family, got, text))
    per_request = (time.perf_counter() - start) / max(len(rows), 1)
    return {f: (correct[f], total[f]) for f in sorted(total)}, misses, per_request


def main() -> None:
    rows = load_set()
    by_family, misses, per_request = accuracy(rows)
    print(f"{'family':16}{'requests':>9}{'correct':>9}{'accuracy':>10}")
    for family, (good, count) in by_family.items():
        print(f"{family:16}{count:9d}{good:9d}{good / count:10.1%}")
    good = sum(g for g, _ in by_family.values())
    print(f"{'all':16}{len(rows):9d}{good:9d}{good / len(rows):10.1%}")
    print(f"{per_request * 1000:.2f} ms per request")
    if "--misses" in sys.argv:
        for family, got, text in misses:
            print(f"  expected {family:14} got {got:14} {text}")


if __name__ == "__main__":
    main()
