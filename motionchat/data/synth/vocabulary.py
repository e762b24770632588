"""The program vocabulary of the synthetic corpus, defined once as data.

A clip is described by a *program*: one to three `Action`s performed in order. Each action names
a primitive and fills the parameters that primitive takes (side, speed, count, direction,
distance); the allowed values are listed here and nowhere else. The generator, the caption
writer and parser, the edit sampler and the evaluator's program accuracy all read this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PARAM_NAMES = ("side", "speed", "count", "direction", "distance")

SPEEDS = ("slow", "normal", "fast")
SIDES = ("left", "right", "both")

# Values a caption may leave unsaid; every other parameter value is always put into words.
DEFAULTS = {"speed": "normal", "count": 1}

STAND, SIT = "stand", "sit"
_POSTURE_WORDS = {STAND: "standing", SIT: "seated"}


@dataclass(frozen=True)
class ActionSpec:
    """One motion primitive.

    Args:
        name: identifier used in programs and labels.
        category: "locomotion", "arms", "legs" or "body".
        params: allowed values of each parameter the primitive takes.
        starts / ends: posture before and after ("stand" or "sit").
    """

    name: str
    category: str
    params: dict[str, tuple] = field(default_factory=dict)
    starts: str = STAND
    ends: str = STAND

    def __post_init__(self):
        unknown = set(self.params) - set(PARAM_NAMES)
        if unknown:
            raise ValueError(f"{self.name}: unknown parameters {sorted(unknown)}")


def _spec(name, category, starts=STAND, ends=STAND, **params) -> ActionSpec:
    return ActionSpec(name, category, {k: tuple(v) for k, v in params.items()}, starts, ends)


_LR = ("left", "right")
ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        # locomotion
        _spec("walk", "locomotion", speed=SPEEDS, distance=(1, 2, 3, 4)),
        _spec("walk_backward", "locomotion", speed=SPEEDS, distance=(1, 2)),
        _spec("sidestep", "locomotion", direction=_LR, speed=SPEEDS, distance=(1, 2)),
        _spec("walk_circle", "locomotion", direction=("clockwise", "counterclockwise"), speed=SPEEDS),
        _spec("turn", "locomotion", direction=("left", "right", "around"), speed=SPEEDS),
        _spec("jog", "locomotion", speed=SPEEDS, distance=(2, 3, 4)),
        _spec("run", "locomotion", speed=SPEEDS, distance=(3, 4, 5)),
        _spec("jump", "locomotion", count=(1, 2, 3), speed=SPEEDS),
        _spec("jump_forward", "locomotion", count=(1, 2, 3), speed=SPEEDS),
        _spec("hop", "locomotion", side=_LR, count=(2, 3, 4), speed=SPEEDS),
        # arms
        _spec("wave", "arms", side=SIDES, count=(2, 3, 4), speed=SPEEDS),
        _spec("raise_arms", "arms", side=SIDES, count=(1, 2), speed=SPEEDS),
        _spec("clap", "arms", count=(1, 2, 3, 4), speed=SPEEDS),
        _spec("punch", "arms", side=_LR, count=(1, 2, 3), speed=SPEEDS),
        _spec("throw", "arms", side=_LR, count=(1, 2), speed=SPEEDS),
        _spec("reach", "arms", side=SIDES, speed=SPEEDS),
        _spec("point", "arms", side=_LR, direction=("forward", "left", "right", "up")),
        # legs
        _spec("kick", "legs", side=_LR, count=(1, 2, 3), speed=SPEEDS),
        _spec("squat", "legs", count=(1, 2, 3), speed=SPEEDS),
        _spec("lunge", "legs", side=_LR, count=(1, 2), speed=SPEEDS),
        _spec("kneel", "legs", side=_LR, speed=SPEEDS),
        _spec("sit_down", "legs", ends=SIT, speed=SPEEDS),
        _spec("stand_up", "legs", starts=SIT, speed=SPEEDS),
        # whole body
        _spec("bow", "body", count=(1, 2), speed=SPEEDS),
        _spec("touch_toes", "body", count=(1, 2), speed=SPEEDS),
        _spec("twist", "body", count=(1, 2, 3), speed=SPEEDS),
        _spec("spin", "body", direction=_LR, speed=SPEEDS),
        _spec("stretch", "body", speed=SPEEDS),
        _spec("stand_still", "body"),
        _spec("sway", "body", count=(2, 3, 4), speed=SPEEDS),
        _spec("dance", "body", speed=SPEEDS),
    )
}


@dataclass(frozen=True)
class Action:
    """One step of a program; parameters the primitive does not take stay None."""

    name: str
    side: str | None = None
    speed: str | None = None
    count: int | None = None
    direction: str | None = None
    distance: int | None = None

    @property
    def spec(self) -> ActionSpec:
        return ACTIONS[self.name]

    def params(self) -> dict:
        return {k: getattr(self, k) for k in PARAM_NAMES if getattr(self, k) is not None}

    def with_params(self, **changes) -> Action:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {"action": self.name, **self.params()}

    @classmethod
    def from_dict(cls, data: dict) -> Action:
        data = dict(data)
        return cls(data.pop("action"), **data)


Program = tuple[Action, ...]


def check_action(action: Action) -> None:
    """Raise ValueError unless the action names a known primitive with all and only its parameters."""
    spec = ACTIONS.get(action.name)
    if spec is None:
        raise ValueError(f"unknown action {action.name!r}")
    for param in PARAM_NAMES:
        value = getattr(action, param)
        if param in spec.params:
            if value not in spec.params[param]:
                raise ValueError(f"{action.name}: {param}={value!r} not in {spec.params[param]}")
        elif value is not None:
            raise ValueError(f"{action.name} takes no {param} (got {value!r})")


def check_program(program: Program) -> None:
    """Raise ValueError on an unknown action, a bad parameter or a posture that does not chain."""
    if not program:
        raise ValueError("empty program")
    posture = program[0].spec.starts
    for action in program:
        check_action(action)
        if action.spec.starts != posture:
            raise ValueError(f"{action.name} needs the body {_POSTURE_WORDS[action.spec.starts]}, it is {_POSTURE_WORDS[posture]}")
        posture = action.spec.ends


def default_action(name: str) -> Action:
    """The primitive with its first allowed value for every parameter (defaults where they exist)."""
    spec = ACTIONS[name]
    values = {p: DEFAULTS[p] if DEFAULTS.get(p) in v else v[0] for p, v in spec.params.items()}
    return Action(name, **values)


def program_to_dicts(program: Program) -> list[dict]:
    return [a.to_dict() for a in program]


def program_from_dicts(items: list[dict]) -> Program:
    return tuple(Action.from_dict(d) for d in items)


def coverage_items() -> list[tuple[str, str, object]]:
    """Every (action, parameter, value) the vocabulary allows, plus (action, "", None) per action."""
    items = []
    for name, spec in ACTIONS.items():
        items.append((name, "", None))
        for param, values in spec.params.items():
            items.extend((name, param, v) for v in values)
    return items
