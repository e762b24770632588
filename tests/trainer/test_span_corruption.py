"""T5 span corruption: the hidden spans and the kept tokens put together give the sequence back."""

import numpy as np
import pytest

from trainer.span_corruption import span_corrupt

SENTINELS = list(range(1000, 1100))


def rebuild(inputs: list[int], targets: list[int]) -> list[int]:
    spans, current = {}, None
    for token in targets:
        if token in SENTINELS:
            current = token
            spans[current] = []
        else:
            spans[current].append(token)
    return [t for token in inputs for t in (spans[token] if token in SENTINELS else [token])]


@pytest.mark.parametrize("length", [2, 3, 7, 20, 49, 120])
def test_inputs_and_targets_rebuild_the_sequence(length):
    tokens = list(range(length))
    for seed in range(20):
        inputs, targets = span_corrupt(tokens, np.random.default_rng(seed), SENTINELS, 0.15, 3.0)
        assert rebuild(inputs, targets) == tokens
        used = [t for t in inputs if t in SENTINELS]
        assert used == SENTINELS[: len(used)] and targets[-1] == SENTINELS[len(used)]  # in order, then a closing one
        assert inputs[0] == 0  # a kept token comes first
        assert len(targets) - len(used) - 1 == max(1, min(round(0.15 * length), length - 1))


def test_noise_density_and_span_length_on_average():
    tokens = list(range(200))
    hidden, spans = [], []
    for seed in range(50):
        inputs, targets = span_corrupt(tokens, np.random.default_rng(seed), SENTINELS, 0.15, 3.0)
        n_spans = sum(t in SENTINELS for t in inputs)
        hidden.append(len(targets) - n_spans - 1)
        spans.append(n_spans)
    assert np.mean(hidden) == 30 and np.mean(spans) == 10  # 15% of 200, in spans of 3 on average


def test_a_single_token_cannot_be_corrupted():
    with pytest.raises(ValueError, match="at least 2"):
        span_corrupt([5], np.random.default_rng(0), SENTINELS, 0.15, 3.0)
