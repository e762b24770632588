"""Program accuracy on the synthetic corpus: does a motion (or caption) carry the requested program?

A program is an ordered tuple of `Action`s (see `motionchat.data.synth.vocabulary`). Definitions:

- exact: the predicted program has the same number of actions as the requested one and every
  action matches in order: same primitive and the same value of every parameter it takes
  (side, speed, count, direction, distance). A parameter a caption leaves unsaid counts as its
  default (speed "normal", count 1).
- actions: the same primitives in the same order, parameters ignored.
- per action: for each primitive, the fraction of its requested occurrences that the prediction
  has at the same position (the primitive only).
- per parameter: over positions where the primitive matched, the fraction with the right value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from motionchat.data.synth.vocabulary import ACTIONS, DEFAULTS, PARAM_NAMES, Action, Program


def with_defaults(action: Action) -> Action:
    """The action with unsaid defaultable parameters filled in (so "waves" == "waves once")."""
    spec = ACTIONS.get(action.name)
    if spec is None:
        return action
    changes = {p: DEFAULTS[p] for p in spec.params if p in DEFAULTS and getattr(action, p) is None}
    return action.with_params(**changes) if changes else action


@dataclass(frozen=True)
class ProgramAccuracy:
    """Program accuracy over a set of (predicted, requested) pairs; see the module docstring."""

    exact: float
    actions: float
    per_action: dict[str, float] = field(default_factory=dict)
    per_param: dict[str, float] = field(default_factory=dict)
    n: int = 0


def program_accuracy(predicted: Sequence[Program], requested: Sequence[Program]) -> ProgramAccuracy:
    if len(predicted) != len(requested):
        raise ValueError(f"{len(predicted)} predicted programs but {len(requested)} requested")
    if not requested:
        raise ValueError("no programs to compare")
    exact = same_actions = 0
    action_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    param_hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pred, want in zip(predicted, requested):
        pred = tuple(with_defaults(a) for a in pred)
        want = tuple(with_defaults(a) for a in want)
        exact += pred == want
        same_actions += [a.name for a in pred] == [a.name for a in want]
        for i, target in enumerate(want):
            got = pred[i] if i < len(pred) else None
            hit = got is not None and got.name == target.name
            action_hits[target.name][0] += hit
            action_hits[target.name][1] += 1
            if hit:
                for param in PARAM_NAMES:
                    if getattr(target, param) is not None:
                        param_hits[param][0] += getattr(got, param) == getattr(target, param)
                        param_hits[param][1] += 1
    n = len(requested)
    return ProgramAccuracy(
        exact=exact / n,
        actions=same_actions / n,
        per_action={name: h / t for name, (h, t) in sorted(action_hits.items())},
        per_param={name: h / t for name, (h, t) in sorted(param_hits.items())},
        n=n,
    )
