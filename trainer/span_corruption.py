"""T5's span corruption: hide random spans of a sequence behind sentinels; the target spells them out.

    tokens:  a b c d e f g h
    input:   a <extra_id_0> d e f <extra_id_1> h
    target:  <extra_id_0> b c <extra_id_1> g <extra_id_2>

About `noise_density` of the tokens are hidden, in spans of `mean_span_length` on average; spans
and the gaps between them are random segmentations with at least one token each (as in T5's
`random_spans_noise_mask`), and the sequence always starts with a kept token.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _segment(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """`total` items cut into `parts` non-empty runs at random; the run lengths."""
    cuts = np.sort(rng.choice(np.arange(1, total), size=parts - 1, replace=False))
    return np.diff(np.concatenate([[0], cuts, [total]]))


def span_corrupt(
    tokens: Sequence[int], rng: np.random.Generator, sentinel_ids: Sequence[int], noise_density: float, mean_span_length: float
) -> tuple[list[int], list[int]]:
    """(input ids, target ids) for `tokens` (at least 2); neither gets an end-of-sequence id."""
    length = len(tokens)
    if length < 2:
        raise ValueError("span corruption needs at least 2 tokens")
    noise = min(max(int(round(length * noise_density)), 1), length - 1)
    spans = min(max(int(round(noise / mean_span_length)), 1), noise, length - noise, len(sentinel_ids) - 1)
    noise_lengths = _segment(noise, spans, rng)
    kept_lengths = _segment(length - noise, spans, rng)
    inputs: list[int] = []
    targets: list[int] = []
    position = 0
    for span, (kept, hidden) in enumerate(zip(kept_lengths, noise_lengths)):
        inputs += list(tokens[position : position + kept])
        position += kept
        inputs.append(sentinel_ids[span])
        targets.append(sentinel_ids[span])
        targets += list(tokens[position : position + hidden])
        position += hidden
    targets.append(sentinel_ids[spans])
    return inputs, targets
