"""Duration answers that always state a duration: decoding held to the family's answer templates.

A family whose answer is a duration (m2length, t2length) answers with one of its templates, the
duration slots holding numbers ("It is 57 frames long.", "It lasts 2.85 seconds."). A small model
sometimes wanders off into a caption instead, which states no length at all. `DurationGrammar`
masks, at every step, every token that would leave all of the family's templates, so the answer
is always one of them; the model still chooses the template and every digit, within the lengths a
motion can have (1 to `MAX_FRAMES` frames). Where a template holds both `{seconds}` and `{frames}`,
the second number is the one the first implies, as `templates.read_answer` requires.

The templates are matched token by token: each is filled with sample numbers and tokenized alone
(as stage 3 tokenizes its targets), and every run of digit and "." tokens becomes a number slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from motionchat.lm.generation import text_ids
from motionchat.lm.warpers import LogitsProcessor
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES, seconds_to_frames
from motionchat.tasks.templates import DURATION_SLOTS, Template, fill, seconds_text

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from motionchat.tasks.families import Family

_NUMBER_CHARS = "0123456789."
MAX_ANSWER_FRAMES = MAX_FRAMES  # the longest duration an answer may state: the longest motion there is
_SAMPLES = ({"frames": "57", "seconds": "2.85"}, {"frames": "140", "seconds": "7"})


def is_duration_family(family: Family) -> bool:
    """A text family whose every answer states a duration and nothing else."""
    return family.output == "text" and bool(family.answers) and all(
        t.slots and t.slots <= set(DURATION_SLOTS) for t in family.answers
    )


@dataclass(frozen=True)
class _Pattern:
    """One template as tokens: an int is a literal token id, a str a number slot ("frames"/"seconds")."""

    items: tuple[int | str, ...]


@dataclass(frozen=True)
class _State:
    pattern: int
    item: int
    number: str  # the digits typed so far in the current number slot
    values: tuple[tuple[str, str], ...]  # the slots already filled


def _token_patterns(tokenizer: PreTrainedTokenizerBase, template: Template) -> _Pattern | None:
    """`template` as tokens, or None when its literal tokens change with the numbers filled in."""
    order = template.slot_order
    found = []
    for sample in _SAMPLES:
        ids = text_ids(tokenizer, fill(template, **sample))
        pieces = tokenizer.convert_ids_to_tokens(ids)
        items: list[int | str] = []
        run: list[tuple[str, int]] = []  # number-character tokens not yet placed
        slots = iter(order)
        for token, token_id in [*zip(pieces, ids), ("", -1)]:
            if token and all(c in _NUMBER_CHARS for c in token):
                run.append((token, token_id))
                continue
            if any(c.isdigit() for t, _ in run for c in t):
                items.append(next(slots, "?"))
            else:  # a lone "." is punctuation
                items.extend(i for _, i in run)
            run = []
            if token_id >= 0:
                items.append(token_id)
        found.append(tuple(items))
    if found[0] != found[1] or "?" in found[0] or sum(isinstance(i, str) for i in found[0]) != len(order):
        return None
    return _Pattern(found[0])


class DurationGrammar(LogitsProcessor):
    """Hold each row's answer (after its forced prefix) to one family's duration templates.

    Args:
        tokenizer: the model's text tokenizer.
        families: per row, the duration family the row answers, or None for a free row.
        prefix_lengths: per row, how many forced tokens (a task tag) precede the answer.
        eos_id: the end token, the only one allowed once a template is complete.
        fps: frames per second, to check a template's two numbers against each other.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        families: Sequence[Family | None],
        prefix_lengths: Sequence[int],
        eos_id: int,
        fps: float = HUMANML3D_FPS,
    ):
        self.fps, self.eos_id = fps, eos_id
        self._cache: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self.characters = {c: tokenizer.convert_tokens_to_ids(c) for c in _NUMBER_CHARS}
        self.character_of = {i: c for c, i in self.characters.items()}
        unknown = getattr(tokenizer, "unk_token_id", None)
        spelled = all(i is not None and i != unknown for i in self.characters.values())
        # A family none of whose templates can be held (a tokenizer that merges digits) stays free.
        self.patterns: dict[str, list[_Pattern]] = {}
        for family in {f.id: f for f in families if f is not None}.values():
            patterns = [p for t in family.answers if spelled and (p := _token_patterns(tokenizer, t)) is not None]
            self.patterns[family.id] = patterns
        self.row_patterns = [self.patterns[f.id] or None if f is not None else None for f in families]
        self.prefix_lengths = list(prefix_lengths)
        self._progress: dict[int, tuple[int, list[_State]]] = {}  # row -> (answer tokens read, states)

    def _numbers(self, slot: str) -> tuple[frozenset[str], frozenset[str]]:
        """The texts a slot may hold, whole and as typed so far: a whole number of frames, or
        seconds as `seconds_text` prints a whole number of frames (as every trained answer does)."""
        if slot not in self._cache:
            write = str if slot == "frames" else (lambda f: seconds_text(f, self.fps))
            whole = frozenset(write(f) for f in range(1, MAX_ANSWER_FRAMES + 1))
            self._cache[slot] = (whole, frozenset(t[:k] for t in whole for k in range(1, len(t) + 1)))
        return self._cache[slot]

    def _required(self, slot: str, values: dict[str, str]) -> str | None:
        """The exact text a slot must hold when the template's other duration slot is filled."""
        if slot == "frames" and "seconds" in values:
            return str(seconds_to_frames(float(values["seconds"]), self.fps))
        if slot == "seconds" and "frames" in values:
            return seconds_text(int(values["frames"]), self.fps)
        return None

    def _fits(self, slot: str, text: str, values: dict[str, str], complete: bool) -> bool:
        required = self._required(slot, values)
        if required is not None:
            return text == required if complete else required.startswith(text)
        whole, typed = self._numbers(slot)
        return text in (whole if complete else typed)

    def _advance(self, patterns: list[_Pattern], states: list[_State], token: int) -> list[_State]:
        out = []
        for s in states:
            items = patterns[s.pattern].items
            if s.item == len(items):
                continue  # complete: only </s> follows
            item, values = items[s.item], dict(s.values)
            if isinstance(item, int):
                if token == item:
                    out.append(_State(s.pattern, s.item + 1, "", s.values))
                continue
            char = self.character_of.get(token)
            if char is not None and self._fits(item, s.number + char, values, complete=False):
                out.append(_State(s.pattern, s.item, s.number + char, s.values))
            if s.number and self._fits(item, s.number, values, complete=True):  # the number ends here
                done = _State(s.pattern, s.item + 1, "", (*s.values, (item, s.number)))
                out.extend(self._advance(patterns, [done], token))
        return out

    def _allowed(self, patterns: list[_Pattern], states: list[_State]) -> set[int]:
        allowed: set[int] = set()
        for s in states:
            items = patterns[s.pattern].items
            if s.item == len(items):
                allowed.add(self.eos_id)
                continue
            item, values = items[s.item], dict(s.values)
            if isinstance(item, int):
                allowed.add(item)
                continue
            allowed.update(i for c, i in self.characters.items() if self._fits(item, s.number + c, values, complete=False))
            if s.number and self._fits(item, s.number, values, complete=True):
                allowed |= self._allowed(patterns, [_State(s.pattern, s.item + 1, "", (*s.values, (item, s.number)))])
        return allowed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        mask = None
        for row, (patterns, prefix) in enumerate(zip(self.row_patterns, self.prefix_lengths)):
            if patterns is None or input_ids.shape[1] < 1 + prefix:
                continue
            answer = input_ids[row, 1 + prefix :].tolist()  # column 0 is the decoder start token
            # States carried from the previous step (decoding adds one token a call).
            done, states = self._progress.get(row, (0, [_State(k, 0, "", ()) for k in range(len(patterns))]))
            if done > len(answer) or self.eos_id in answer:
                continue
            for token in answer[done:]:
                states = self._advance(patterns, states, token)
            self._progress[row] = (len(answer), states)
            allowed = self._allowed(patterns, states) or {self.eos_id}
            if mask is None:
                mask = torch.zeros_like(scores, dtype=torch.bool)
            mask[row] = True
            mask[row, sorted(allowed)] = False
        return scores if mask is None else scores.masked_fill(mask, float("-inf"))
