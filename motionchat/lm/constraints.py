"""Decoding constrained by the answer's output type, as a `LogitsProcessor` (see `warpers.py`).

    motion:  <som> code{min..max} <eom> </s>     (an <eom> is forced once `max` codes are out)
    text:    any text token, then </s>           (no motion tokens, <som>/<eom>, sentinels, pad, unk)

Each row's state is read from its decoder ids so far (column 0 is the decoder start token), so the
same processor serves our decoding loop and `model.generate(logits_processor=[...])`. A finished
row (one that produced </s>) may only repeat </s>, so no row ever has every token masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch

from motionchat.lm.vocab import VocabLayout
from motionchat.lm.warpers import LogitsProcessor

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

MOTION = "motion"
TEXT = "text"
OUTPUT_TYPES = (MOTION, TEXT)

# Row states; each selects one row of the allow-mask table.
_FINISHED, _START, _CODES, _CODES_OR_END, _END, _TEXT = range(6)


def banned_in_text(tokenizer: PreTrainedTokenizerBase, vocab: VocabLayout) -> set[int]:
    """Ids a text answer must not contain: the joint tokens and every special token except </s>."""
    special = {i for i, token in tokenizer.added_tokens_decoder.items() if token.special}
    banned = set(vocab.joint_ids()) | special | set(tokenizer.all_special_ids)
    banned.discard(vocab.eos_id)
    return banned


class OutputConstraint(LogitsProcessor):
    """Mask logits so row b's answer follows the grammar of `output_types[b]`.

    Args:
        vocab: the joint vocabulary layout.
        num_logits: width of the model's logits (ids at or above `vocab.size` are never allowed).
        output_types: "motion" or "text", one per row (rows = prompts x samples).
        min_codes, max_codes: per-row bounds on the number of motion codes (ignored for text rows).
        text_banned: ids text rows may not produce (see `banned_in_text`).
        prefix_lengths: per row, how many forced text tokens (a task tag) come before the answer.
    """

    def __init__(
        self,
        vocab: VocabLayout,
        num_logits: int,
        output_types: Sequence[str],
        min_codes: Sequence[int],
        max_codes: Sequence[int],
        text_banned: Iterable[int],
        prefix_lengths: Sequence[int] | None = None,
    ):
        if not len(output_types) == len(min_codes) == len(max_codes):
            raise ValueError("output_types, min_codes and max_codes need one entry per row")
        unknown = set(output_types) - set(OUTPUT_TYPES)
        if unknown:
            raise ValueError(f"unknown output type {sorted(unknown)[0]!r}; use one of {OUTPUT_TYPES}")
        if any(lo < 1 or hi < lo for lo, hi in zip(min_codes, max_codes)):
            raise ValueError(f"need 1 <= min_codes <= max_codes per row, got {list(zip(min_codes, max_codes))}")
        self.vocab = vocab
        self.is_motion = torch.tensor([t == MOTION for t in output_types])
        self.min_codes = torch.tensor(list(min_codes))
        self.max_codes = torch.tensor(list(max_codes))
        self.prefix_lengths = torch.tensor(list(prefix_lengths) if prefix_lengths is not None else [0] * len(output_types))

        motion_ids = torch.arange(vocab.motion_start, vocab.motion_start + vocab.codebook_size)
        allow = torch.zeros(6, num_logits, dtype=torch.bool)
        allow[_FINISHED, vocab.eos_id] = True
        allow[_START, vocab.som_id] = True
        allow[_CODES, motion_ids] = True
        allow[_CODES_OR_END, motion_ids] = True
        allow[_CODES_OR_END, vocab.eom_id] = True
        allow[_END, vocab.eom_id] = True
        allow[_TEXT, : vocab.size] = True
        allow[_TEXT, sorted(text_banned)] = False
        self.allow = allow

    def row_states(self, input_ids: torch.LongTensor) -> torch.LongTensor:
        generated = input_ids[:, 1:]  # drop the decoder start token
        v = self.vocab
        n_codes = ((generated >= v.motion_start) & (generated < v.motion_start + v.codebook_size)).sum(1)
        finished = (generated == v.eos_id).any(1)
        ended = (generated == v.eom_id).any(1)
        started = generated.shape[1] > self.prefix_lengths.to(n_codes.device)  # the tag holds no code, <eom> or </s>
        min_codes, max_codes = self.min_codes.to(n_codes.device), self.max_codes.to(n_codes.device)
        motion = torch.where(n_codes < max_codes, _CODES_OR_END, _END)
        motion = torch.where(n_codes < min_codes, _CODES, motion)
        motion = torch.where(started, motion, _START)
        motion = torch.where(ended, _FINISHED, motion)
        state = torch.where(self.is_motion.to(n_codes.device), motion, _TEXT)
        return torch.where(finished, _FINISHED, state)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        allowed = self.allow.to(scores.device)[self.row_states(input_ids)]  # (B, V)
        return scores.masked_fill(~allowed, float("-inf"))

    def motion_columns(self) -> torch.LongTensor:
        """The ids a motion row can ever be allowed, ascending: </s>, the codes, <som>, <eom>. Only
        these logits matter while every unfinished row is a motion row (a finished row allows </s>)."""
        v = self.vocab
        return torch.tensor(sorted({v.eos_id, v.som_id, v.eom_id, *range(v.motion_start, v.motion_start + v.codebook_size)}))

    def tracker(self, max_tokens: int, device: str | torch.device = "cpu") -> RowStates:
        """Row states kept up to date token by token, for a decoding loop that owns its ids and
        decodes at most `max_tokens` tokens a row."""
        return RowStates(self, max_tokens, device)


class RowStates:
    """`OutputConstraint.row_states` kept incrementally: `update(next_ids)` after each step instead
    of rescanning every row's ids (the same states, step for step), with few tensor operations per
    step: a row's state is looked up from its number of codes so far, then overridden once the row
    is over (</s>, or <eom> in a motion row)."""

    def __init__(self, constraint: OutputConstraint, max_tokens: int, device: str | torch.device):
        v, rows, width = constraint.vocab, len(constraint.is_motion), constraint.allow.shape[1]
        is_motion = constraint.is_motion
        counts = torch.arange(max_tokens + 1)[None, :]  # a row's codes so far, 0..max_tokens
        min_codes, max_codes = constraint.min_codes[:, None], constraint.max_codes[:, None]
        motion = torch.where(counts < max_codes, _CODES_OR_END, _END)
        motion = torch.where(counts < min_codes, _CODES, motion)
        # (rows * (max_tokens + 1),) state by (row, codes so far), before the row is over
        self.by_count = torch.where(is_motion[:, None], motion, _TEXT).flatten().to(device)
        self.row_offset = (torch.arange(rows) * (max_tokens + 1)).to(device)
        self.first = torch.where(is_motion, _START, _TEXT).to(device)
        self.is_code = torch.zeros(width, dtype=torch.long)
        self.is_code[v.motion_start : v.motion_start + v.codebook_size] = 1
        self.is_code = self.is_code.to(device)
        ends = torch.zeros(2, width, dtype=torch.bool)  # [row is motion, token]: the row is over
        ends[:, v.eos_id] = True
        ends[1, v.eom_id] = True
        self.ends, self.kind = ends.to(device), is_motion.long().to(device)
        self.is_text = ~is_motion.to(device)
        self.n_codes = torch.zeros(rows, dtype=torch.long, device=device)
        self.over = torch.zeros(rows, dtype=torch.bool, device=device)
        self.prefix = constraint.prefix_lengths.to(device)  # a row starts its answer after its prefix
        self.longest_prefix = max(constraint.prefix_lengths.tolist(), default=0)
        self.steps, self.motion_only = 0, False

    def update(self, next_ids: torch.LongTensor) -> None:
        self.n_codes += self.is_code[next_ids]
        self.over |= self.ends[self.kind, next_ids]
        self.steps += 1

    def states(self) -> torch.LongTensor:
        """(rows,) the state of each row, as `OutputConstraint.row_states` gives it."""
        if self.steps <= 0:
            return self.first
        state = self.by_count[self.row_offset + self.n_codes].masked_fill_(self.over, _FINISHED)
        return torch.where(self.prefix >= self.steps, self.first, state) if self.steps <= self.longest_prefix else state

    def only_motion_left(self) -> bool:
        """No unfinished text row: every row's allowed ids are within `motion_columns()`."""
        if not self.motion_only:  # once true, it stays true
            self.motion_only = not bool((self.is_text & ~self.over).any())
        return self.motion_only


class HeldCodes(LogitsProcessor):
    """Hold given codes of motion answers: the k-th code of row r's motion is `held[r][k]` where that
    is not None (in-betweening keeps the start and end it was given, MoMask-style inpainting of
    tokens; the model samples only the rest). Run it after `OutputConstraint`, which keeps the
    answer's length, so a held code is always one the grammar allows.

    Args:
        vocab: the joint vocabulary layout.
        held: per row, the code (0..codebook_size-1) or None at each place of its motion; rows
            with nothing held are left alone.
    """

    def __init__(self, vocab: VocabLayout, held: Sequence[Sequence[int | None]]):
        self.vocab = vocab
        width = max((len(h) for h in held), default=0) + 1  # a last column of None: past the held places
        table = torch.full((len(held), width), -1, dtype=torch.long)
        for row, codes in enumerate(held):
            for k, code in enumerate(codes):
                if code is not None:
                    table[row, k] = vocab.motion_start + code
        self.table = table

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        v, table = self.vocab, self.table.to(input_ids.device)
        is_code = (input_ids >= v.motion_start) & (input_ids < v.motion_start + v.codebook_size)
        place = is_code.sum(1).clamp(max=table.shape[1] - 1)
        writing = (input_ids == v.som_id).any(1) & ~(input_ids == v.eom_id).any(1)
        target = table[torch.arange(len(table), device=input_ids.device), place]
        hold = writing & (target >= 0)
        if not bool(hold.any()):
            return scores
        held_scores = torch.full_like(scores, float("-inf"))
        held_scores[hold, target[hold]] = 0.0
        return torch.where(hold[:, None], held_scores, scores)
