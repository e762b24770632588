"""Edited variants of a program, with an instruction and a sentence saying how they differ.

An `Edit` changes one thing: an action's speed, side, count, direction or distance, or it adds,
removes or replaces an action. Every edit has an inverse (faster <-> slower, add <-> remove...),
so a pair of clips gives two edit examples. Instructions read like requests to the system ("do it
faster", "use the left hand instead"); differences read like a comparison of the two motions
("the second person waves faster"). `parse_difference` reads a difference back into what changed
(`Difference`), so that a model's description of two motions can be checked against the edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

import numpy as np

from motionchat.data.synth.captions import DIRECTION_WORDS, action_templates, gerund, parse_caption, render_clause, third_person
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


def _place(program: Program, index: int) -> str:
    """Where action `index` is in a program, in words."""
    return "at the end" if index == len(program) - 1 else "at the beginning" if index == 0 else "in the middle"


def _describe_add_remove(edit: Edit, rng: np.random.Generator) -> tuple[str, str]:
    longer, i = (edit.target, edit.index) if edit.kind == "add" else (edit.source, edit.index)
    action = longer[i]
    where = _place(longer, i)
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


# ---- reading differences back ------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """What a difference sentence says changed.

    Args:
        kind: the edit kind (one of EDIT_KINDS).
        action: the primitive concerned, as in the first motion (add: the added one).
        value: the change: "faster"/"slower" (speed); the new side, count, distance or direction
            (for walk/jump swaps "forward", "backward" or "in place"); the new primitive (replace).
        previous: the value before (side, count, distance, direction).
        place: where an action was added or removed ("at the end").

    A sentence leaves some of them unsaid (None); `difference_of` gives them all.
    """

    kind: str
    action: str | None = None
    value: str | int | None = None
    previous: str | int | None = None
    place: str | None = None

    def agrees_with(self, truth: Difference) -> bool:
        """The same kind, and every field said here equal to the truth's."""
        said = (f.name for f in fields(self) if f.name != "kind" and getattr(self, f.name) is not None)
        return self.kind == truth.kind and all(getattr(self, name) == getattr(truth, name) for name in said)


def _direction_value(action: Action) -> str:
    """An action's direction parameter, or for a primitive that swaps with its direction edit the
    word for its direction ("backward" for walk_backward)."""
    return action.direction if action.direction is not None else _direction(action)


def difference_of(edit: Edit) -> Difference:
    """Everything a difference sentence of `edit` can say."""
    kind, i = edit.kind, edit.index
    if kind in ("add", "remove"):
        longer = edit.target if kind == "add" else edit.source
        return Difference(kind, longer[i].name, place=_place(longer, i))
    old, new = edit.source[i], edit.target[i]
    if kind == "speed":
        return Difference(kind, old.name, "faster" if SPEEDS.index(new.speed) > SPEEDS.index(old.speed) else "slower")
    if kind == "direction":
        return Difference(kind, old.name, _direction_value(new), _direction_value(old))
    if kind == "replace":
        return Difference(kind, old.name, new.name)
    return Difference(kind, old.name, getattr(new, kind), getattr(old, kind))


# The phrases `describe_edit` puts primitives into, back to the primitive.
_VERBS = {_verb(Action(name)): name for name in ACTIONS}  # "walks forward"
_NOUNS = {PHRASES[name][1]: name for name in ACTIONS}  # "forward jump"
_GERUNDS = {_gerund(Action(name)): name for name in ACTIONS}  # "jumping in place"
_IMPERATIVES = {PHRASES[name][0]: name for name in ACTIONS}  # "jump in place"
_SWAP_WORDS = {_direction(Action(name)): name for name in DIRECTION_SWAPS}  # "backward" -> walk_backward
_COUNTS = {words: count for count, words in COUNT_WORDS.items()}
_NUMBERS = {words: number for number, words in NUMBER_WORDS.items()}
_PLACES = "(at the beginning|in the middle|at the end)"
_LIMBS = r"(?:the (left|right)|(both)) (?:hand|arm|leg|knee)s?"  # side: group 1 or 2
_METRES = r"(one|two|three|four|five) meters?"


def _directions(name: str) -> dict[str, str]:
    """The words for each direction of a primitive ("to the left" -> "left")."""
    return {_direction(Action(name, direction=d)): d for d in ACTIONS[name].params.get("direction", ())}


_DIRECTIONS = {words: d for name in ACTIONS for words, d in _directions(name).items()} | {w: w for w in _SWAP_WORDS}


def _verb_and_rest(text: str) -> tuple[str, str] | None:
    """("walk", "two meters") from "walks forward two meters"."""
    for phrase in sorted(_VERBS, key=len, reverse=True):
        if text == phrase or text.startswith(phrase + " "):
            return _VERBS[phrase], text[len(phrase) :].strip()
    return None


def _only_action(clause: str) -> str | None:
    program = parse_caption(clause)
    return program[0].name if len(program) == 1 else None


def _side(match: re.Match, group: int) -> str:
    return match.group(group) or match.group(group + 1)


def _instead(left: str, right: str) -> Difference | None:
    """"the second person LEFT instead of RIGHT": a side, replace, count, distance or direction edit."""
    limbs = re.fullmatch(f"uses {_LIMBS}", left), re.fullmatch(_LIMBS, right)
    if limbs[0] and limbs[1]:
        return Difference("side", value=_side(limbs[0], 1), previous=_side(limbs[1], 1))
    if right in _GERUNDS:
        return _said("replace", action=_GERUNDS[right], value=_only_action(left))
    name, rest = _verb_and_rest(left) or (None, None)
    if name is None:
        return None
    if rest in _COUNTS and right in _COUNTS:
        return Difference("count", name, _COUNTS[rest], _COUNTS[right])
    metres = re.fullmatch(_METRES, rest), re.fullmatch(_METRES, right)
    if metres[0] and metres[1]:
        return Difference("distance", name, _NUMBERS[metres[0].group(1)], _NUMBERS[metres[1].group(1)])
    if not rest and name in DIRECTION_SWAPS and right in _SWAP_WORDS:  # "walks backward instead of forward"
        return Difference("direction", DIRECTION_SWAPS[name], _direction(Action(name)), right)
    directions = _directions(name)
    if rest in directions and right in directions:
        return Difference("direction", name, directions[rest], directions[right])
    return None


def _said(kind: str, **values) -> Difference | None:
    """The difference the phrases of a sentence say; None when one of them is not a known phrase."""
    return None if any(v is None for v in values.values()) else Difference(kind, **values)


def parse_difference(sentence: str) -> Difference | None:
    """What a difference sentence worded as `describe_edit` words them says changed (any casing,
    with or without its full stop); None for any other sentence."""
    text = " ".join(sentence.lower().split()).rstrip(".!")
    if match := re.fullmatch(r"the second person (.+) instead of (.+)", text):
        return _instead(*match.groups())
    if match := re.fullmatch(r"the second person (.+) more (quickly|slowly)", text):
        name, rest = _verb_and_rest(match.group(1)) or (None, None)
        return _said("speed", action=name, value={"quickly": "faster", "slowly": "slower"}[match.group(2)]) if rest == "" else None
    if match := re.fullmatch(r"in the second motion the person (.+) (faster|slower) than in the first", text):
        name, rest = _verb_and_rest(match.group(1)) or (None, None)
        return _said("speed", action=name, value=match.group(2)) if rest == "" else None
    if match := re.fullmatch(r"the (.+) is (faster|slower) in the second motion", text):
        return _said("speed", action=_NOUNS.get(match.group(1)), value=match.group(2))
    if match := re.fullmatch(rf"in the second motion the (.+) is done with {_LIMBS} rather than {_LIMBS}", text):
        return _said("side", action=_NOUNS.get(match.group(1)), value=_side(match, 2), previous=_side(match, 4))
    if match := re.fullmatch(r"the (.+) is repeated (.+) in the second motion and (.+) in the first", text):
        noun, new, old = match.groups()
        return _said("count", action=_NOUNS.get(noun), value=_COUNTS.get(new), previous=_COUNTS.get(old))
    if match := re.fullmatch(r"in the second motion the direction is (.+) rather than (.+)", text):
        return _said("direction", value=_DIRECTIONS.get(match.group(1)), previous=_DIRECTIONS.get(match.group(2)))
    if match := re.fullmatch(rf"the (.+) covers (?:more|less) ground in the second motion: {_METRES} instead of {_METRES}", text):
        noun, new, old = match.groups()
        return _said("distance", action=_NOUNS.get(noun), value=_NUMBERS[new], previous=_NUMBERS[old])
    if match := re.fullmatch(r"in the second motion the (.+) is replaced by an? (.+)", text):
        return _said("replace", action=_NOUNS.get(match.group(1)), value=_NOUNS.get(match.group(2)))
    if match := re.fullmatch(rf"the second person also (.+) {_PLACES}", text):
        return _said("add", action=_only_action(match.group(1)), place=match.group(2))
    if match := re.fullmatch(rf"the second motion has an extra (.+) {_PLACES}", text):
        return _said("add", action=_NOUNS.get(match.group(1)), place=match.group(2))
    if match := re.fullmatch(r"the second person does not (.+)", text):
        return _said("remove", action=_IMPERATIVES.get(match.group(1)))
    if match := re.fullmatch(rf"the (.+) {_PLACES} is missing from the second motion", text):
        return _said("remove", action=_NOUNS.get(match.group(1)), place=match.group(2))
    return None
