"""Turning generated ids into answers: motion codes or text, or a stated problem.

A malformed answer is reported in `Answer.problem` with `codes`/`text` left empty; nothing is ever
patched up or replaced by a default code.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from motionchat.lm.vocab import EOM, SOM, VocabLayout
from motionchat.motion.timing import codes_to_frames

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass(frozen=True)
class Answer:
    """One generated answer.

    Args:
        token_ids: what the model produced, up to and without </s> (for reports and debugging).
        codes: the motion codes of a well-formed motion answer, else None.
        text: the decoded text of a text answer, else None (kept, with `problem` set, when the
            text ran out of tokens before </s>).
        problem: why the answer is unusable or incomplete; None when it is fine.
    """

    token_ids: list[int]
    codes: list[int] | None = None
    text: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def frames(self) -> int:
        if self.codes is None:
            raise ValueError(f"this answer has no motion ({self.problem or 'it is text'})")
        return codes_to_frames(len(self.codes))


def _until_eos(token_ids: Sequence[int], eos_id: int) -> tuple[list[int], bool]:
    ids = list(token_ids)
    if eos_id in ids:
        return ids[: ids.index(eos_id)], True
    return ids, False


def parse_motion_answer(token_ids: Sequence[int], vocab: VocabLayout, max_codes: int) -> Answer:
    """`<som> codes <eom>` -> codes; anything else -> a problem naming what is wrong."""
    ids, _ = _until_eos(token_ids, vocab.eos_id)
    max_frames = codes_to_frames(max_codes)
    if not ids:
        return Answer(ids, problem="the model gave an empty answer instead of a motion")
    if ids[0] != vocab.som_id:
        return Answer(ids, problem=f"the answer does not start with {SOM}, so it is not a motion")
    body = ids[1:]
    end = body.index(vocab.eom_id) if vocab.eom_id in body else len(body)
    inner, after = body[:end], body[end + 1 :]
    stray = [i for i in inner if not vocab.is_motion_id(i)]
    if stray:
        return Answer(ids, problem=f"the motion contains a non-motion token (id {stray[0]}) before {EOM}")
    if end == len(body):
        if len(inner) >= max_codes:
            return Answer(ids, problem=f"motion did not end within {max_frames} frames")
        return Answer(ids, problem=f"the answer stopped after {len(inner)} codes without {EOM}")
    if not inner:
        return Answer(ids, problem="the motion is empty (no codes between <som> and <eom>)")
    if len(inner) > max_codes:
        frames = codes_to_frames(len(inner))
        return Answer(ids, problem=f"the motion has {frames} frames, over the {max_frames}-frame limit")
    if after:
        return Answer(ids, problem=f"the answer goes on after {EOM}")
    return Answer(ids, codes=[vocab.code_of(i) for i in inner])


def parse_text_answer(
    token_ids: Sequence[int],
    tokenizer: PreTrainedTokenizerBase,
    vocab: VocabLayout,
    banned: Container[int],
    max_tokens: int,
) -> Answer:
    """Decoded text; motion or special tokens inside, or no </s> within `max_tokens`, are reported."""
    ids, ended = _until_eos(token_ids, vocab.eos_id)
    if len(ids) > max_tokens:
        ids, ended = ids[:max_tokens], False
    bad = [i for i in ids if i in banned]
    if bad:
        name = "a motion token" if bad[0] in vocab.joint_ids() else "a special token"
        return Answer(ids, problem=f"the text answer contains {name} ({tokenizer.convert_ids_to_tokens(bad[0])})")
    text = tokenizer.decode(ids, skip_special_tokens=True).strip()
    if not ended:
        return Answer(ids, text=text, problem=f"the text did not end within {max_tokens} tokens")
    if not text:
        return Answer(ids, text=text, problem="the model gave an empty text answer")
    return Answer(ids, text=text)
