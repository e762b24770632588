"""Motion time: each motion code's place in its clip, added to its token embedding.

T5 sees positions only through a relative bias in self-attention, bucketed log-spaced beyond 8
tokens, and cross-attention sees none; so a small T5 cannot count a motion's codes. It cannot say
how long a clip is, stop a motion at a requested length, or know how far into a motion it is when
it decides to end it. A learned row per index (the codes before this one since the last <som>),
added to the embedding of every code and <eom>, gives the encoder and the decoder that count
directly: the <eom> of a clip of n codes carries n.

Index 0 is every other token (its row is fixed at zero), 1 + k the k-th code of a clip (and the
<eom> after k codes); counts past the table share its last row. A model without the table
(config `motion_time_rows` absent or 0) is plain T5. The embedding places codes from the ids it is
given, so transformers' forward passes over whole sequences (training) are right, but its cached
`generate`, which embeds one new token at a time, is not: answers go through `generation.py`,
whose step decoder is given each token's row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from motionchat.lm.vocab import VocabLayout
from motionchat.motion.timing import FRAMES_PER_CODE, MAX_FRAMES

# one row per code of the longest clip, its <eom>, and the zero row of every other token
DEFAULT_ROWS = MAX_FRAMES // FRAMES_PER_CODE + 2
CONFIG_KEY = "motion_time_rows"
TIME_WEIGHT = "shared.time.weight"  # the table's name in model.safetensors


def motion_time(ids: torch.LongTensor, vocab: VocabLayout, rows: int) -> torch.LongTensor:
    """(..., T) token ids -> (..., T) rows of the time table (see the module docstring)."""
    is_code = (ids >= vocab.motion_start) & (ids < vocab.motion_start + vocab.codebook_size)
    codes_through = is_code.long().cumsum(-1)
    codes_before = codes_through - is_code.long()
    # codes before the latest <som>: where a clip's count starts (counts never decrease, so a running max)
    at_start = torch.where(ids == vocab.som_id, codes_through, torch.zeros_like(codes_through)).cummax(-1).values
    index = (codes_before - at_start).clamp(max=rows - 2) + 1
    return torch.where(is_code | (ids == vocab.eom_id), index, torch.zeros_like(index))


class MotionClock:
    """`motion_time` column by column, for a decoding loop that feeds one token per row at a time:
    `next(column)` gives the rows of the column after the previous one, in O(rows) rather than
    rescanning every id so far."""

    def __init__(self, vocab: VocabLayout, rows: int, batch: int, device: torch.device | str = "cpu"):
        self.vocab, self.rows = vocab, rows
        self.codes = torch.zeros(batch, dtype=torch.long, device=device)  # codes in the columns before
        self.start = torch.zeros_like(self.codes)  # codes before the latest <som>

    def next(self, column: torch.LongTensor) -> torch.LongTensor:
        v = self.vocab
        is_code = (column >= v.motion_start) & (column < v.motion_start + v.codebook_size)
        self.start = torch.where(column == v.som_id, self.codes, self.start)
        index = (self.codes - self.start).clamp(max=self.rows - 2) + 1
        self.codes += is_code.long()
        return torch.where(is_code | (column == v.eom_id), index, torch.zeros_like(index))


class MotionTimedEmbedding(nn.Embedding):
    """The shared token embedding plus the time table: a drop-in for T5's `shared` (and the
    stacks' `embed_tokens`, the same module), so that training's forward passes need no change.
    It keeps the token embedding's weight Parameter, so a head tied to it stays tied."""

    def __init__(self, tokens: nn.Embedding, vocab: VocabLayout, rows: int = DEFAULT_ROWS):
        super().__init__(tokens.num_embeddings, tokens.embedding_dim, device="meta")
        self.weight = tokens.weight
        self.time = nn.Embedding(rows, tokens.embedding_dim, padding_idx=0, device=tokens.weight.device, dtype=tokens.weight.dtype)
        with torch.no_grad():
            self.time.weight.copy_(time_signal(rows, tokens.embedding_dim, tokens.weight.detach()))
        self.vocab, self.rows = vocab, rows

    def forward(self, ids: torch.LongTensor) -> torch.Tensor:
        return F.embedding(ids, self.weight) + self.time(motion_time(ids, self.vocab, self.rows))


def time_signal(rows: int, dim: int, token_rows: torch.Tensor, scale: float = 0.3) -> torch.Tensor:
    """The table's first values: sines and cosines of the index at geometric frequencies (one cycle
    per 2 to ~300 codes), at `scale` times the token embeddings' RMS, row 0 zero. A zero table
    would leave a trained model's answers as they were, but learns slowly: nothing reads a row
    that carries no signal, and a row gets little gradient while nothing reads it (measured: mean
    |row| 0.03 against the tokens' 0.87 after 500 steps of stage 3)."""
    index = torch.arange(rows, dtype=torch.float64)[:, None]
    frequencies = torch.pi * torch.logspace(0, -2.2, dim // 2, dtype=torch.float64)[None, :]
    signal = torch.zeros(rows, dim, dtype=torch.float64)
    signal[:, 0 : 2 * (dim // 2) : 2], signal[:, 1 : 2 * (dim // 2) : 2] = torch.sin(index * frequencies), torch.cos(index * frequencies)
    signal *= scale * float(token_rows.float().pow(2).mean().sqrt()) / float(signal[1:].pow(2).mean().sqrt())
    signal[0] = 0
    return signal.to(token_rows.dtype)


def add_motion_time(model, vocab: VocabLayout, rows: int = DEFAULT_ROWS) -> MotionTimedEmbedding:
    """Give transformers' T5 `model` a time table (`time_signal`), recorded in its config; returns the new embedding."""
    embedding = MotionTimedEmbedding(model.get_input_embeddings(), vocab, rows)
    model.set_input_embeddings(embedding)
    setattr(model.config, CONFIG_KEY, rows)
    return embedding


def time_rows(config) -> int:
    """Rows of the time table a model's config (transformers' or a config.json dict) records; 0: none."""
    value = config.get(CONFIG_KEY, 0) if isinstance(config, dict) else getattr(config, CONFIG_KEY, 0)
    return int(value or 0)
