"""Encoder-decoder examples as token ids, their batches, and their loss (stages 2 and 3).

An example is the ids of the model input and of the target, both ending with </s>; optionally a
prefix the decoder is given before the target but not scored on (a task tag), and the decoder's
teacher-forcing inputs when they differ from the shifted prefix and target (stage 3's corrupted
motion history). Batches are padded to their longest member; padded and prefix target positions
are -100, so the loss ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100


@dataclass(frozen=True)
class Seq2SeqExample:
    input_ids: list[int]
    labels: list[int]
    decoder_input_ids: list[int] | None = None  # None: prefix + labels shifted right (T5's default)
    prefix: tuple[int, ...] = ()


def example_length(example: Seq2SeqExample) -> int:
    """The longer of its input and its decoder sequence: the key that grouping batches by length
    sorts on (measured against the sum and against input-then-target order, it pads least)."""
    return max(len(example.input_ids), len(example.prefix) + len(example.labels))


def shift_right(labels: Sequence[int], start_id: int) -> list[int]:
    """T5's teacher-forcing inputs: the decoder start token, then the target without its last id."""
    return [start_id, *labels[:-1]]


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def collate(examples: Sequence[Seq2SeqExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Examples -> input_ids, attention_mask (B, S), labels and decoder_input_ids (B, T)."""
    inputs = _pad([e.input_ids for e in examples], pad_id)
    decoder = [e.decoder_input_ids or shift_right([*e.prefix, *e.labels], pad_id) for e in examples]  # T5 starts from <pad>
    return {
        "input_ids": inputs,
        "attention_mask": _pad([[1] * len(e.input_ids) for e in examples], 0),
        "labels": _pad([[IGNORE] * len(e.prefix) + list(e.labels) for e in examples], IGNORE),
        "decoder_input_ids": _pad(decoder, pad_id),
    }


def seq2seq_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mean cross-entropy over the target tokens of the batch, and the token accuracy."""
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], decoder_input_ids=batch["decoder_input_ids"]
    ).logits  # (B, T, V)
    labels = batch["labels"]
    loss = F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
    counted = labels != IGNORE
    accuracy = ((logits.argmax(-1) == labels) & counted).sum() / counted.sum().clamp(min=1)
    return loss, {"token_acc": accuracy.detach()}


@torch.no_grad()
def mean_loss(model: nn.Module, examples: Sequence[Seq2SeqExample], pad_id: int, batch_size: int = 32) -> dict[str, float]:
    """Token-weighted loss and accuracy of `examples` (model in eval mode; for evaluation)."""
    device = next(model.parameters()).device
    total_loss, total_correct, total_tokens = 0.0, 0.0, 0
    for first in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[first : first + batch_size], pad_id).items()}
        loss, metrics = seq2seq_loss(model, batch)
        tokens = int((batch["labels"] != IGNORE).sum())
        total_loss += loss.item() * tokens
        total_correct += metrics["token_acc"].item() * tokens
        total_tokens += tokens
    return {"loss": total_loss / max(total_tokens, 1), "token_acc": total_correct / max(total_tokens, 1)}
