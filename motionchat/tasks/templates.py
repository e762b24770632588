"""Template text: the slot names, parsing, filling, and the formatting that slot values need.

A template is plain text with `{slot}` placeholders whose names are the keys of `SLOTS`. There is
no escaping: a template may hold no other brace. Callers hand over task values (a caption, a
length in frames, motion token strings, ...); `slot_values` turns them into slot text, deriving
`{seconds}` from frames so that frames stay the only length unit outside the printed words.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from motionchat.errors import MotionchatError
from motionchat.motion.timing import HUMANML3D_FPS, frames_to_seconds

if TYPE_CHECKING:
    import random

    import numpy as np

    from motionchat.tasks.families import Family, SlotSpec

    Rng = random.Random | np.random.Generator

SLOTS: dict[str, str] = {
    "caption": "one motion description, stripped, without a final full stop",
    "captions": 'several captions in order, each in double quotes, joined by ", then " (compose)',
    "motion": "the (first) motion as a motion-token string, inserted verbatim",
    "motion_b": "the second motion as a motion-token string (inbetween: the end; diff: the changed one)",
    "frames": "a duration in frames, a whole number",
    "seconds": "the same duration in seconds, derived from frames: '3.5', '4'",
    "edit": "a free-text edit request ('faster', 'add a jump at the end'), without a final full stop",
    "diff": "one complete sentence saying how the second motion differs from the first",
}
DURATION_SLOTS = ("frames", "seconds")
CAPTION_JOINER = ", then "

DurationUnit = Literal["frames", "seconds"]

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Template:
    """One template's text and the slots it uses."""

    text: str
    slots: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Template:
        """Check the placeholders of `text`; a stray brace or an unknown slot is an error."""
        names = _PLACEHOLDER.findall(text)
        unknown = sorted(set(names) - set(SLOTS))
        if unknown:
            raise MotionchatError(
                f"unknown slot {{{unknown[0]}}} (known: {', '.join(sorted(SLOTS))})"
            )
        rest = _PLACEHOLDER.sub("", text)
        if "{" in rest or "}" in rest:
            raise MotionchatError("stray brace (only {slot} placeholders may use braces)")
        return cls(text=text, slots=frozenset(names))

    @property
    def slot_order(self) -> tuple[str, ...]:
        """The placeholders in the order they appear (a slot used twice appears twice)."""
        return tuple(_PLACEHOLDER.findall(self.text))


def fill(template: str | Template, **values: str) -> str:
    """Put `values` into the template's placeholders; extra values are ignored, missing ones refused."""
    if isinstance(template, str):
        template = Template.parse(template)
    missing = sorted(template.slots - values.keys())
    if missing:
        raise MotionchatError(
            f"template {template.text!r} needs {{{missing[0]}}}, which was not given; "
            f"give a value for every slot it uses"
        )
    for name in template.slots:
        value = values[name]
        if not isinstance(value, str):
            raise MotionchatError(f"slot {{{name}}} needs text, got {type(value).__name__}")
        if "{" in value or "}" in value:
            raise MotionchatError(f"the value for {{{name}}} contains a brace: {value!r}; remove it")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template.text)


def frames_text(frames: int) -> str:
    """A duration as printed in a `{frames}` slot."""
    return str(_checked_frames(frames))


def seconds_text(frames: int, fps: float = HUMANML3D_FPS) -> str:
    """A duration in frames printed as seconds: at most two decimals, no trailing zeros ('3.5', '4').

    Two decimals keep `seconds_to_frames(float(text), fps)` equal to `frames` for any fps below 100.
    """
    seconds = frames_to_seconds(_checked_frames(frames), fps)
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def _checked_frames(frames: int) -> int:
    try:
        if isinstance(frames, bool):
            raise TypeError
        count = operator.index(frames)
    except TypeError:
        raise MotionchatError(f"a duration must be a whole number of frames, got {frames!r}") from None
    if count < 1:
        raise MotionchatError(f"a duration must be at least 1 frame, got {count}")
    return count


def clean_sentence(text: str, what: str) -> str:
    """Strip spaces and one final full stop, so that templates can add their own punctuation."""
    if not isinstance(text, str):
        raise MotionchatError(f"the {what} must be text, got {type(text).__name__}")
    stripped = text.strip()
    if stripped.endswith("."):
        stripped = stripped[:-1].rstrip()
    if not stripped:
        raise MotionchatError(f"the {what} is empty; give some text")
    return stripped


def join_captions(captions: Sequence[str]) -> str:
    """Join compose captions in order: `"walk forward", then "wave"`."""
    if isinstance(captions, str) or len(captions) < 2:
        raise MotionchatError("compose needs a list of at least two captions, in order")
    parts = []
    for caption in captions:
        text = clean_sentence(caption, "caption")
        if '"' in text:
            raise MotionchatError(f"caption {text!r} contains a double quote; remove it")
        parts.append(f'"{text}"')
    return CAPTION_JOINER.join(parts)


def slot_values(values: Mapping[str, object], fps: float = HUMANML3D_FPS) -> dict[str, str]:
    """Turn task values into slot text.

    `frames` (an int) gives both `{frames}` and `{seconds}`; `{seconds}` cannot be given directly.
    `captions` is a list joined by `join_captions`; `caption` and `edit` lose a final full stop.
    Values that are None count as absent.
    """
    text: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "seconds":
            raise MotionchatError("give durations as frames; {seconds} is derived from them")
        if name not in SLOTS:
            raise MotionchatError(f"unknown slot value {name!r} (known: {', '.join(sorted(SLOTS))})")
        if name == "frames":
            text["frames"] = frames_text(value)  # type: ignore[arg-type]
            text["seconds"] = seconds_text(value, fps)  # type: ignore[arg-type]
        elif name == "captions":
            text[name] = join_captions(value)  # type: ignore[arg-type]
        elif name in ("caption", "edit"):
            text[name] = clean_sentence(value, name)  # type: ignore[arg-type]
        elif isinstance(value, str) and value.strip():
            text[name] = value.strip()
        else:
            raise MotionchatError(f"slot {{{name}}} needs non-empty text, got {value!r}")
    return text


def sample_instruction(
    family: Family,
    rng: Rng,
    values: Mapping[str, object],
    *,
    fps: float = HUMANML3D_FPS,
    duration_unit: DurationUnit | None = None,
) -> str:
    """A random instruction of `family` filled from `values`, among the templates they can fill,
    after the family's tag if it has one.

    `rng` is a `random.Random` or a `numpy.random.Generator`. `duration_unit` keeps only templates
    that state durations in that unit (default: either).
    """
    text_values = slot_values(values, fps)
    text = _sample(family.id, "instruction", family.instructions, family.slots, rng, text_values, duration_unit)
    return f"{family.tag} {text}" if family.tag else text


def answer_text(
    family: Family,
    rng: Rng,
    values: Mapping[str, object],
    *,
    fps: float = HUMANML3D_FPS,
    duration_unit: DurationUnit | None = None,
) -> str:
    """A random answer sentence of a text family filled from `values` (see `sample_instruction`)."""
    if family.output != "text":
        raise MotionchatError(f"family {family.id!r} answers with a motion, not with text")
    text_values = slot_values(values, fps)
    return _sample(family.id, "answer", family.answers, family.answer_slots, rng, text_values, duration_unit)


def _sample(
    family_id: str,
    kind: str,
    templates: Sequence[Template],
    spec: SlotSpec,
    rng: Rng,
    text_values: dict[str, str],
    duration_unit: DurationUnit | None,
) -> str:
    if duration_unit is not None and duration_unit not in DURATION_SLOTS:
        raise MotionchatError(f"duration unit {duration_unit!r} is not one of {', '.join(DURATION_SLOTS)}")
    other_units = {u for u in DURATION_SLOTS if duration_unit is not None and u != duration_unit}
    candidates = [
        t for t in templates if t.slots <= text_values.keys() and not (t.slots & other_units)
    ]
    if not candidates:
        given = ", ".join(sorted(text_values)) or "nothing"
        raise MotionchatError(
            f"no {kind} template of family {family_id!r} can be filled from {given}"
            + (f" in {duration_unit}" if duration_unit else "")
            + f"; it needs {spec}"
        )
    index = int(rng.integers(len(candidates))) if hasattr(rng, "integers") else rng.randrange(len(candidates))
    return fill(candidates[index], **text_values)


_SLOT_PATTERNS = {"frames": r"(?P<frames>\d+)", "seconds": r"(?P<seconds>\d+(?:\.\d+)?)"}


def _answer_pattern(template: Template) -> re.Pattern[str]:
    """A whole-sentence regex of a template: durations as numbers, any other slot as some text."""
    parts = []
    for k, piece in enumerate(_PLACEHOLDER.split(template.text)):
        if k % 2 == 0:
            parts.append(re.escape(piece))
        else:
            parts.append(_SLOT_PATTERNS.get(piece, rf"(?P<{piece}>.*\S.*?)"))
    return re.compile(r"\s*" + "".join(parts) + r"\s*", re.DOTALL)


def read_answer(templates: Sequence[Template], text: str, fps: float = HUMANML3D_FPS) -> list[dict[str, str]]:
    """The slot values of every answer template that `text` reads as (none: an empty list).

    A duration slot must hold a positive number (whole frames; seconds as `seconds_text` prints
    them), and a template holding both `{frames}` and `{seconds}` must state the same length.
    """
    readings = []
    for template in templates:
        match = _answer_pattern(template).fullmatch(text)
        if match is None:
            continue
        values = {name: value.strip() for name, value in match.groupdict().items()}
        if "frames" in values and int(values["frames"]) < 1:
            continue
        if "seconds" in values and float(values["seconds"]) <= 0:
            continue
        if "frames" in values and "seconds" in values and seconds_text(int(values["frames"]), fps) != values["seconds"]:
            continue
        readings.append(values)
    return readings
