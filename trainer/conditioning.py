"""How much the decoder reads its prompt, and the two training-time levers that make it read more.

The prompt gap of a family: the teacher-forced loss of its targets when each example gets another
example's prompt (same family, same targets) minus the loss with its own prompt, in nats per target
token. A model that ignores its input has a gap near 0 however low its loss; the gap is what
stages 2 and 3 log beside the loss (a lower loss can come with a model that reads its prompt less).

The levers, both on training examples only:
- motion-history corruption (T2M-GPT's tau): each motion code of the decoder's teacher-forcing
  input is replaced by a random code with probability tau, the target staying clean, so the next
  code cannot be copied from the history alone;
- condition dropout: a share of examples get the null prompt (`generation.NULL_PROMPT`, the empty text),
  which both teaches the unconditional answer that classifier-free guidance subtracts at run time
  (`motionchat.lm.generation`, `DecodingConfig.guidance`) and leaves the rest to be learnt from the
  prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from motionchat.lm.vocab import VocabLayout
from trainer.seq2seq import Seq2SeqExample, mean_loss, shift_right


def corrupt_motion_history(labels: Sequence[int], vocab: VocabLayout, tau: float, rng: np.random.Generator) -> list[int] | None:
    """Teacher-forcing inputs for `labels` with each motion code replaced by a random one with
    probability `tau`; None (the plain shifted labels) when tau is 0."""
    if tau <= 0:
        return None
    inputs = shift_right(labels, vocab.pad_id)
    for i, token in enumerate(inputs):
        if vocab.is_motion_id(token) and rng.random() < tau:
            inputs[i] = vocab.motion_id(int(rng.integers(vocab.codebook_size)))
    return inputs


def prompt_gap(model: nn.Module, examples: Sequence[Seq2SeqExample], pad_id: int) -> dict[str, float]:
    """Matched and shuffled (each target with the next example's prompt) loss, and their gap."""
    if len(examples) < 2:
        raise ValueError("the prompt gap needs at least two examples")
    shuffled = [Seq2SeqExample(examples[(i + 1) % len(examples)].input_ids, e.labels, prefix=e.prefix) for i, e in enumerate(examples)]
    matched_loss = mean_loss(model, [Seq2SeqExample(e.input_ids, e.labels, prefix=e.prefix) for e in examples], pad_id)["loss"]
    shuffled_loss = mean_loss(model, shuffled, pad_id)["loss"]
    return {"matched": matched_loss, "shuffled": shuffled_loss, "gap": shuffled_loss - matched_loss}


def gap_line(metrics: dict[str, float]) -> str:
    """'gap t2m 0.31, m2t 0.52' from the `gap_<family>` entries of an evaluation."""
    gaps = [f"{key[4:]} {value:.2f}" for key, value in metrics.items() if key.startswith("gap_")]
    return "prompt gap (nats/token): " + ", ".join(gaps) if gaps else ""
