"""What can be measured beside the model's words, so a user sees when an answer contradicts it.

The model's answer is never replaced: these are extra lines on the reply (`notes` say how the
request was read and what the model saw, `facts` are measurements), shown under the answer and
in `--json`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motionchat.chat.replies import Reply
from motionchat.chat.session import SessionMotion
from motionchat.chat.vocabulary import unknown_words_note
from motionchat.motion.summary import summarize
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES
from motionchat.tasks.routing import RoutedRequest, duration_in, in_unit

READS_START = ("m2t", "m2length", "diff", "edit", "m2t_length")  # the model reads the first MAX_FRAMES
READS_END = ("predict",)  # the model continues from the last part


def request_notes(request: RoutedRequest, motions: list[SessionMotion], bundle: Path) -> list[str]:
    """How the request was read, words the model has not learnt, and which part of a long motion
    the model will see."""
    notes = [request.note] if request.note else []
    unknown = unknown_words_note(bundle, " ".join(request.captions) or request.caption or request.edit)
    if unknown:
        notes.append(unknown)
    for motion in {m.name: m for m in motions}.values():
        if motion.frames <= MAX_FRAMES or request.family not in READS_START + READS_END:
            continue
        part = "first" if request.family in READS_START else "last"
        notes.append(
            f"{motion.name} is {in_unit(motion.frames, None, motion.skeleton.fps)}; the model reads only its "
            f"{part} {in_unit(MAX_FRAMES, None, motion.skeleton.fps)}"
        )
    return notes


def answer_facts(reply: Reply, request: RoutedRequest, motions: list[SessionMotion], made: list[SessionMotion]) -> list[str]:
    """Measured facts for a finished reply: the inputs' and results' lengths and distances, and
    where the model's words say something that can be checked, whether they agree."""
    facts: list[str] = []
    family = request.family
    fps = next((m.skeleton.fps for m in motions + made), HUMANML3D_FPS)
    if family == "m2length" and motions:
        measured = motions[0].frames
        facts.append(f"measured: {motions[0].name} is {in_unit(measured, request.unit, fps)}")
        for text in reply.texts:
            said = duration_in(text, fps)
            if said is not None and abs(said - min(measured, MAX_FRAMES)) > max(4, 0.1 * measured):
                facts.append(f"the model's answer ({in_unit(said, None, fps)}) does not match the measured length")
    if family in ("t2length", "m2t_length") and request.unit:
        for text in reply.texts:
            said = duration_in(text, fps)
            if said is not None:
                facts.append(f"in {request.unit}: {in_unit(said, request.unit, fps)}")
    if family == "diff" and len(motions) == 2:
        a, b = motions
        if a is b or (a.joints.shape == b.joints.shape and np.allclose(a.joints, b.joints, atol=1e-5)):
            facts.append(f"measured: {a.name} and {b.name} are identical")
        else:
            facts.append(f"measured: {_measure(a)}; {_measure(b)}")
    if family in ("m2t", "m2t_length") and motions:
        facts.append(f"measured: {_measure(motions[0])}")
    if family == "edit" and motions and made:
        for result in made:
            facts.append(f"measured: {_measure(motions[0])} -> {_measure(result)}")
    elif made:
        facts += [f"measured: {_measure(result)}" for result in made]
    return facts


def _measure(motion: SessionMotion) -> str:
    summary = summarize(motion.joints, motion.skeleton)
    return f"{motion.name} {in_unit(summary.frames, None, motion.skeleton.fps)}, travels {summary.distance_m:.1f} m"
