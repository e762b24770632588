"""Difference accuracy on the synthetic corpus: does a sentence say how one clip was edited into
the other?

A sentence is read back with the corpus's own parser (`parse_difference`). It is correct when it
is one of the sentences the corpus writes, names the pair's edit kind and the changed value
(faster/slower, the new side, count, distance or direction, the new, added or removed action),
and everything else it states (which action, the previous value, where the action was added or
removed) is true as well. Per kind: the accuracy over the pairs of each edit kind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from motionchat.data.synth.edits import Difference, parse_difference


@dataclass(frozen=True)
class DifferenceAccuracy:
    correct: float
    per_kind: dict[str, float] = field(default_factory=dict)
    n: int = 0


def difference_accuracy(sentences: Sequence[str], truths: Sequence[Difference]) -> DifferenceAccuracy:
    if len(sentences) != len(truths):
        raise ValueError(f"{len(sentences)} sentences but {len(truths)} true differences")
    if not truths:
        raise ValueError("no differences to compare")
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sentence, truth in zip(sentences, truths):
        said = parse_difference(sentence)
        hits[truth.kind][0] += said is not None and said.agrees_with(truth)
        hits[truth.kind][1] += 1
    return DifferenceAccuracy(
        correct=sum(h for h, _ in hits.values()) / len(truths),
        per_kind={kind: h / t for kind, (h, t) in sorted(hits.items())},
        n=len(truths),
    )
