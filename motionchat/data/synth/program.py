"""Sampling programs: how many actions, which ones, in which order, with which parameters.

Postures chain (only `stand_up` may follow `sit_down`, and a seated start must stand up first);
the same primitive never follows itself. Some ordered pairs of actions are held out of the
training split so that the test split can measure compositional generalisation.
"""

from __future__ import annotations

import numpy as np

from motionchat.data.synth.vocabulary import ACTIONS, SIT, STAND, Action, Program

SPEED_WEIGHTS = {"slow": 0.25, "normal": 0.5, "fast": 0.25}
LENGTH_WEIGHTS = {1: 0.35, 2: 0.4, 3: 0.25}
SEATED_START = 0.04  # chance that a program starts seated (and stands up first)
HELD_OUT_FRACTION = 0.03


def sample_action(name: str, rng: np.random.Generator) -> Action:
    """The primitive with random parameters (normal speed more often than slow or fast)."""
    values = {}
    for param, allowed in ACTIONS[name].params.items():
        if param == "speed":
            weights = np.array([SPEED_WEIGHTS[v] for v in allowed])
            values[param] = allowed[rng.choice(len(allowed), p=weights / weights.sum())]
        else:
            values[param] = allowed[rng.integers(len(allowed))]
    return Action(name, **values)


def adjacent_pairs(program: Program) -> set[tuple[str, str]]:
    return {(a.name, b.name) for a, b in zip(program[:-1], program[1:])}


def _next_names(posture: str, previous: str | None, avoid: frozenset) -> list[str]:
    return [
        name
        for name, spec in ACTIONS.items()
        if spec.starts == posture and name != previous and (previous, name) not in avoid
    ]


def sample_program(
    rng: np.random.Generator,
    first: Action | None = None,
    n_actions: int | None = None,
    avoid: frozenset = frozenset(),
) -> Program:
    """A random program of 1..3 actions, starting with `first` if given, without `avoid` pairs."""
    if n_actions is None:
        lengths = list(LENGTH_WEIGHTS)
        n_actions = lengths[rng.choice(len(lengths), p=list(LENGTH_WEIGHTS.values()))]
    if first is None:
        posture = SIT if rng.random() < SEATED_START else STAND
        first = sample_action(_pick(rng, _next_names(posture, None, avoid)), rng)
    program = [first]
    while len(program) < n_actions:
        choices = _next_names(program[-1].spec.ends, program[-1].name, avoid)
        if not choices:
            break
        program.append(sample_action(_pick(rng, choices), rng))
    return tuple(program)


def _pick(rng: np.random.Generator, names: list[str]) -> str:
    return names[rng.integers(len(names))]


def held_out_pairs(seed: int, fraction: float = HELD_OUT_FRACTION) -> frozenset[tuple[str, str]]:
    """Ordered pairs of standing actions that only the test split may contain."""
    names = sorted(n for n, s in ACTIONS.items() if s.starts == STAND and s.ends == STAND)
    pairs = [(a, b) for a in names for b in names if a != b]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    chosen = rng.choice(len(pairs), size=max(1, round(fraction * len(pairs))), replace=False)
    return frozenset(pairs[i] for i in sorted(chosen))


def coverage_actions() -> list[Action]:
    """A few actions per primitive that together use every allowed value of every parameter."""
    actions = []
    for name, spec in ACTIONS.items():
        rounds = max((len(v) for v in spec.params.values()), default=1)
        for k in range(rounds):
            actions.append(Action(name, **{p: v[k % len(v)] for p, v in spec.params.items()}))
    return actions
