"""Model inputs and targets of the task families: the one place that writes them.

Training (stage 3) and run time (chat, evaluation) both reach `build_prompt` through
`motionchat.tasks.answering.prepare`, so the text the model reads never differs between the two;
training also calls `build_target`. Motions enter as motion
codes and are written into the text as `<som><motion_id_..>...<eom>` strings.

The cuts of the completion families are defined here too: prediction is given the first 20% of a
clip's frames and answers with the rest (encoded on their own); in-betweening is given the first
and the last 25% and answers with the whole clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from motionchat.errors import MotionchatError
from motionchat.lm.vocab import motion_tokens_to_text
from motionchat.motion.timing import HUMANML3D_FPS
from motionchat.tasks.families import Family
from motionchat.tasks.templates import DurationUnit, answer_text, sample_instruction

if TYPE_CHECKING:
    from motionchat.tasks.templates import Rng

PREDICT_KEEP = 0.2  # MotionGPT's prediction protocol
INBETWEEN_KEEP = 0.25  # MotionGPT's in-betweening protocol


@dataclass(frozen=True)
class TaskValues:
    """What one request or training example holds; None = not given.

    Args:
        caption: one motion description.
        captions: several descriptions in order (compose).
        motion: codes of the (first) input motion: the source (edit, diff), the start (inbetween),
            the given beginning (predict), or the motion to describe.
        motion_b: codes of the second input motion: the end (inbetween), the changed one (diff).
        frames: a duration in frames (of the motion asked for, or of the input motion).
        edit: an edit request.
        diff: how the second motion differs from the first (diff's answer; any casing).
        answer_motion: codes of the expected answer of a motion family (training targets only).
    """

    caption: str | None = None
    captions: Sequence[str] | None = None
    motion: Sequence[int] | None = None
    motion_b: Sequence[int] | None = None
    frames: int | None = None
    edit: str | None = None
    diff: str | None = None
    answer_motion: Sequence[int] | None = None


def known_frames(family_id: str, frames: int) -> tuple[int, int]:
    """(frames given at the start, frames given at the end) of a `frames`-long clip.

    predict: (20%, 0), the model answers with the remaining frames; inbetween: (25%, 25%), the
    model answers with the whole clip. Fractions round down, as in MotionGPT's protocol.
    """
    if family_id == "predict":
        return int(frames * PREDICT_KEEP), 0
    if family_id == "inbetween":
        keep = int(frames * INBETWEEN_KEEP)
        return keep, keep
    raise ValueError(f"family {family_id!r} has no known/unknown cut")


def as_sentence(text: str) -> str:
    """'the second one is faster' -> 'The second one is faster.' (diff answers are sentences)."""
    text = " ".join(text.split())
    if not text:
        raise MotionchatError("the difference is empty; give a sentence")
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _motion_text(codes: Sequence[int] | None, codebook_size: int, slot: str) -> str | None:
    if codes is None:
        return None
    try:
        return motion_tokens_to_text(list(codes), codebook_size)
    except ValueError as err:
        raise MotionchatError(f"the motion for {{{slot}}}: {err}") from None


def build_prompt(
    family: Family,
    values: TaskValues,
    rng: Rng,
    *,
    codebook_size: int,
    fps: float = HUMANML3D_FPS,
    duration_unit: DurationUnit | None = None,
) -> str:
    """The model input: a random instruction template of `family` filled from `values`."""
    slots = {
        "caption": values.caption,
        "captions": list(values.captions) if values.captions is not None else None,
        "motion": _motion_text(values.motion, codebook_size, "motion"),
        "motion_b": _motion_text(values.motion_b, codebook_size, "motion_b"),
        "frames": values.frames,
        "edit": values.edit,
    }
    return sample_instruction(family, rng, slots, fps=fps, duration_unit=duration_unit)


def build_target(family: Family, values: TaskValues, rng: Rng, *, codebook_size: int, fps: float = HUMANML3D_FPS) -> str:
    """The expected answer: motion tokens for a motion family, a filled answer template for a text one."""
    if family.output == "motion":
        if values.answer_motion is None:
            raise MotionchatError(f"a {family.id} example needs the answer motion's codes")
        return _motion_text(values.answer_motion, codebook_size, "answer")
    slots = {"caption": values.caption, "frames": values.frames, "diff": as_sentence(values.diff) if values.diff else None}
    return answer_text(family, rng, slots, fps=fps)
