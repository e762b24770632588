"""Edited variants of a program, with an instruction and a sentence saying how they differ.

An `Edit` changes one thing: an action's speed, side, count, direction or distance, or it adds,
removes or replaces an action. Every edit has an inverse (faster <-> slower, add <-> remove...),
so a pair of clips gives two edit examples. Instructions read like requests to the system ("do it
faster", "use the left hand instead"); differences read like a comparison of the two motions
("the second person waves faster").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionchat.data.synth.captions import DIRECTION_WORDS, action_templates, gerund, render_clause, third_person
from motionchat.data.synth.program import adjacent_pairs, sample_action
from motionchat.data.synth.vocabulary import ACTIONS, SPEEDS, Action, Program, check_program

EDIT_KINDS = ("speed", "side", "count", "direction", "distance", "add", "remove", "replace")

# Each primitive as an imperative verb phrase and as a noun phrase, for instructions.
PHRASES = {
    "walk": ("walk forward", "walk"), "walk_backward": ("walk backward", "backward walk"),
    "sidestep": ("step sideways", "sidestep"), "walk_circle": ("walk in a circle", "circle"),
    "turn": ("turn", "turn"), "jog": ("jog", "jog"), "run": ("run", "run"), "jump": ("jump in place", "jump"),
    "jump_forward": ("jump forward", "forward jump"), "hop": ("hop on one leg", "hopping"),
    "wave": ("wave", "wave"), "raise_arms": ("raise the arm", "arm raise"), "clap": ("clap", "clapping"),
    "punch": ("punch", "punch"), "throw": ("throw", "throw"), "reach": ("reach forward", "reach"),
    "point": ("point", "pointing"), "kick": ("kick", "kick"), "squat": ("squat", "squat"), "lunge": ("lunge", "lunge"),
    "kneel": ("kneel", "kneeling"), "sit_down": ("sit down", "sitting down"), "stand_up": ("stand up", "standing up"),
    "bow": ("bow", "bow"), "touch_toes": ("touch the toes", "toe touch"), "twist": ("twist the torso", "twist"),
    "spin": ("spin", "spin"), "stretch": ("stretch", "stretch"), "stand_still": ("stand still", "pause"),
    "sway": ("sway", "swaying"), "dance": ("dance", "dance"),
}
LIMB = {"wave": "hand", "raise_arms": "arm", "punch": "hand", "throw": "hand", "reach": "arm", "point": "hand",
        "kick": "leg", "hop": "leg", "lunge": "leg", "kneel": "knee"}
# Direction edits that swap the primitive rather than a parameter.
DIRECTION_SWAPS = {"walk": "walk_backward", "walk_backward": "walk", "jump": "jump_forward", "jump_forward": "jump"}
COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times"}
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


@dataclass(frozen=True)
class Edit:
    """`source` turned into `target` by changing action `index` (for "add": where it was inserted)."""

    kind: str
    index: int
    source: Program
    target: Program

    def inverse(self) -> Edit:
        kind = {"add": "remove", "remove": "add"}.get(self.kind, self.kind)
        return Edit(kind, self.index, self.target, self.source)


def _valid(program: Program, avoid: frozenset) -> bool:
    try:
        check_program(program)
    except ValueError:
        return False
    names = [a.name for a in program]
    return not any(a == b for a, b in zip(names[:-1], names[1:])) and not (adjacent_pairs(program) & avoid)


def _replace_at(program: Program, index: int, action: Action) -> Program:
    return program[:index] + (action,) + program[index + 1 :]


def _parameter_edits(program: Program, kind: str) -> list[Edit]:
    """Every edit of one parameter kind (speed, side, count, distance, direction)."""
    edits = []
    for i, action in enumerate(program):
        for value in action.spec.params.get(kind, ()):
            if value != getattr(action, kind):
                edits.append(Edit(kind, i, program, _replace_at(program, i, action.with_params(**{kind: value}))))
        if kind == "direction" and action.name in DIRECTION_SWAPS:
            swapped = DIRECTION_SWAPS[action.name]
            params = {p: v for p, v in action.params().items() if v in ACTIONS[swapped].params.get(p, ())}
            if set(params) == set(ACTIONS[swapped].params):
                edits.append(Edit(kind, i, program, _replace_at(program, i, Action(swapped, **params))))
    return edits


def _structural_edit(program: Program, kind: str, rng: np.random.Generator, avoid: frozenset, tries: int = 12) -> Edit | None:
    """A random valid add / remove / replace edit, or None if a few draws find none."""
    for _ in range(tries):
        if kind == "remove":
            if len(program) < 2:
                return None
            i = int(rng.integers(len(program)))
            edit = Edit(kind, i, program, program[:i] + program[i + 1 :])
        elif kind == "add":
            if len(program) >= 3:
                return None
            i = int(rng.choice([0, len(program)]))
            new = sample_action(_random_name(rng), rng)
            edit = Edit(kind, i, program, program[:i] + (new,) + program[i:])
        else:
            i = int(rng.integers(len(program)))
            spec = program[i].spec
            names = [n for n, o in ACTIONS.items() if n != program[i].name and (o.starts, o.ends) == (spec.starts, spec.ends)]
            if not names:  # sitting down and standing up have no stand-in
                continue
            edit = Edit(kind, i, program, _replace_at(program, i, sample_action(names[rng.integers(len(names))], rng)))
        if _valid(edit.target, avoid):
            return edit
    return None


def _random_name(rng: np.random.Generator) -> str:
    names = list(ACTIONS)
    return names[rng.integers(len(names))]


def sample_edit(program: Program, rng: np.random.Generator, avoid: frozenset = frozenset(), kinds=EDIT_KINDS) -> Edit | None:
    """A random edit: a kind (uniformly among those that apply), then a concrete change of that kind."""
    for k in rng.permutation(len(kinds)):
        kind = kinds[k]
        if kind in ("add", "remove", "replace"):
            edit = _structural_edit(program, kind, rng, avoid)
            if edit is not None:
                return edit
            continue
        edits = [e for e in _parameter_edits(program, kind) if _valid(e.target, avoid)]
        if edits:
            return edits[rng.integers(len(edits))]
    return None


# ---- words ----------------------------------------------------------------------------------


class _You:
    """The voice of instructions: "your left hand", "lower yourself"."""

    poss, obj = "your", "yourself"


class _Them:
    poss, obj = "their", "themselves"


def _pick(rng: np.random.Generator, options: list[str]) -> str:
    return options[rng.integers(len(options))]


def _clause(action: Action, rng: np.random.Generator, form: str, voice=_Them) -> str:
    """The action with its parameters as a clause: "third" ("waves twice"), "base" (an order)."""
    templates = action_templates(action)
    return render_clause(action, templates[rng.integers(len(templates))], voice, rng, form)


def _imperative(action: Action, rng: np.random.Generator) -> str:
    return _clause(action, rng, "base", _You)


def _verb(action: Action) -> str:
    """Third-person verb phrase of the primitive ("walks forward")."""
    first, *rest = PHRASES[action.name][0].split()
    return " ".join([third_person(first), *rest])


def _gerund(action: Action) -> str:
    first, *rest = PHRASES[action.name][0].split()
    return " ".join([gerund(first), *rest])


def _limb(action: Action) -> str:
    limb = LIMB[action.name]
    return f"both {limb}s" if action.side == "both" else f"the {action.side} {limb}"


def _direction(action: Action) -> str:
    if action.name in DIRECTION_SWAPS:
        return {"walk": "forward", "walk_backward": "backward", "jump": "in place", "jump_forward": "forward"}[action.name]
    words = DIRECTION_WORDS.get(action.name, {}).get(action.direction, [action.direction])
    return words[0].replace("{poss} ", "")


def describe_edit(edit: Edit, rng: np.random.Generator) -> tuple[str, str]:
    """(instruction, difference) for an edit, in varied wording."""
    kind, i = edit.kind, edit.index
    if kind in ("add", "remove"):
        return _describe_add_remove(edit, rng)
    old, new = edit.source[i], edit.target[i]
    noun, imp = PHRASES[old.name][1], PHRASES[old.name][0]
    if kind == "speed":
        faster = SPEEDS.index(new.speed) > SPEEDS.index(old.speed)
        comp, adverb = ("faster", "more quickly") if faster else ("slower", "more slowly")
        instruction = _pick(rng, [f"do it {comp}", f"make the {noun} {comp}", f"{imp} {adverb}",
                                  f"{'speed up' if faster else 'slow down'} the {noun}", f"can you make it {comp}?",
                                  f"the {noun} should be {comp}"])
        difference = _pick(rng, [f"the second person {_verb(old)} {adverb}", f"the {noun} is {comp} in the second motion",
                                 f"in the second motion the person {_verb(old)} {comp} than in the first"])
    elif kind == "side":
        instruction = _pick(rng, [f"use {_limb(new)} instead", f"do it with {_limb(new)}", f"switch to {_limb(new)}",
                                  f"{imp} with {_limb(new)} instead of {_limb(old)}"])
        difference = _pick(rng, [f"the second person uses {_limb(new)} instead of {_limb(old)}",
                                 f"in the second motion the {noun} is done with {_limb(new)} rather than {_limb(old)}"])
    elif kind == "count":
        more = new.count > old.count
        instruction = _pick(rng, [f"{imp} {COUNT_WORDS[new.count]} instead", f"make it {COUNT_WORDS[new.count]}",
                                  f"{imp} {COUNT_WORDS[new.count]} instead of {COUNT_WORDS[old.count]}",
                                  f"{'more' if more else 'fewer'} repetitions: {COUNT_WORDS[new.count]}"])
        difference = _pick(rng, [f"the second person {_verb(old)} {COUNT_WORDS[new.count]} instead of {COUNT_WORDS[old.count]}",
                                 f"the {noun} is repeated {COUNT_WORDS[new.count]} in the second motion and {COUNT_WORDS[old.count]} in the first"])
    elif kind == "direction":
        if new.name != old.name:  # walk <-> walk backward, jump in place <-> jump forward
            instruction = _pick(rng, [f"{PHRASES[new.name][0]} instead", f"{PHRASES[new.name][0]} instead of {_direction(old)}"])
            difference = f"the second person {_verb(new)} instead of {_direction(old)}"
        else:
            instruction = _pick(rng, [f"go {_direction(new)} instead", f"{imp} {_direction(new)} instead",
                                      f"{imp} {_direction(new)} instead of {_direction(old)}"])
            difference = _pick(rng, [f"the second person {_verb(old)} {_direction(new)} instead of {_direction(old)}",
                                     f"in the second motion the direction is {_direction(new)} rather than {_direction(old)}"])
    elif kind == "distance":
        farther = new.distance > old.distance
        metres = f"{NUMBER_WORDS[new.distance]} meter{'s' if new.distance > 1 else ''}"
        old_metres = f"{NUMBER_WORDS[old.distance]} meter{'s' if old.distance > 1 else ''}"
        instruction = _pick(rng, [f"{imp} {metres} instead", f"go {'farther' if farther else 'less far'}: {metres}",
                                  f"make the {noun} {'longer' if farther else 'shorter'}, {metres}"])
        difference = _pick(rng, [f"the second person {_verb(old)} {metres} instead of {old_metres}",
                                 f"the {noun} covers {'more' if farther else 'less'} ground in the second motion: {metres} instead of {old_metres}"])
    else:  # replace
        instruction = _pick(rng, [f"{_imperative(new, rng)} instead of {_gerund(old)}",
                                  f"replace the {noun} with a {PHRASES[new.name][1]}",
                                  f"swap the {noun} for a {PHRASES[new.name][1]}",
                                  f"instead of {_gerund(old)}, {_imperative(new, rng)}"])
        difference = _pick(rng, [f"the second person {_clause(new, rng, 'third')} instead of {_gerund(old)}",
                                 f"in the second motion the {noun} is replaced by a {PHRASES[new.name][1]}"])
    return instruction, difference


def _describe_add_remove(edit: Edit, rng: np.random.Generator) -> tuple[str, str]:
    longer, i = (edit.target, edit.index) if edit.kind == "add" else (edit.source, edit.index)
    action = longer[i]
    where = "at the end" if i == len(longer) - 1 else "at the beginning" if i == 0 else "in the middle"
    noun = PHRASES[action.name][1]
    if edit.kind == "add":
        instruction = _pick(rng, [f"add a {noun} {where}", f"also {_imperative(action, rng)} {where}",
                                  f"{'then' if where == 'at the end' else 'first'} {_imperative(action, rng)}",
                                  f"{_imperative(action, rng)} {where} too"])
        difference = _pick(rng, [f"the second person also {_clause(action, rng, 'third')} {where}",
                                 f"the second motion has an extra {noun} {where}"])
    else:
        instruction = _pick(rng, [f"skip the {noun}", f"don't {PHRASES[action.name][0]}", f"leave out the {noun}",
                                  f"remove the {noun} {where}", f"do it without the {noun}"])
        difference = _pick(rng, [f"the second person does not {PHRASES[action.name][0]}",
                                 f"the {noun} {where} is missing from the second motion"])
    return instruction, difference
