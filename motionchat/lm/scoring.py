"""How likely the model finds a given answer: teacher-forced log-likelihoods on the step decoder.

`answer_log_likelihoods(model, tokenizer, vocab, prompts, answers, prefixes)` feeds each answer's
tokens to the decoder (all positions in one pass, `FusedDecoder.forward_all`) after its prompt (and a forced prefix, a task tag, that is not scored) and
sums the log-probabilities of the answer's tokens and its closing </s>, all rows in one batch.
Best-of sampling (`tasks.answering`) uses it to read a motion back as text: the likelier the
request's caption given the motion, the better the motion shows it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from motionchat.lm.generation import text_ids
from motionchat.lm.motion_time import motion_time
from motionchat.lm.t5 import encoder_output, start_decoder
from motionchat.lm.vocab import VocabLayout


@torch.inference_mode()
def answer_log_likelihoods(
    model, tokenizer, vocab: VocabLayout, prompts: Sequence[str], answers: Sequence[str], prefixes: Sequence[str]
) -> list[float]:
    """Per row, log p(answer + </s> | prompt, prefix) in nats, unconstrained by output type."""
    if not (len(prompts) == len(answers) == len(prefixes)):
        raise ValueError(f"{len(prompts)} prompts, {len(answers)} answers and {len(prefixes)} prefixes")
    if not prompts:
        return []
    device = next(model.parameters()).device
    batch = tokenizer(list(prompts), padding=True, return_tensors="pt").to(device)
    heads = [text_ids(tokenizer, p) for p in prefixes]
    tails = [list(tokenizer(a)["input_ids"]) for a in answers]  # ends with </s>
    rows = [[vocab.pad_id, *h, *t] for h, t in zip(heads, tails)]  # T5 starts from <pad>
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [vocab.pad_id] * (width - len(r)) for r in rows], dtype=torch.long, device=device)
    # position s + 1 is scored when it holds an answer token (after the start and the prefix)
    scored = torch.tensor(
        [[1 + len(h) <= s + 1 < 1 + len(h) + len(t) for s in range(width - 1)] for h, t in zip(heads, tails)],
        dtype=torch.bool, device=device,
    )  # fmt: skip
    decoder = start_decoder(model, encoder_output(model, batch, vocab), batch["attention_mask"], max_steps=width)
    fed = ids[:, :-1]
    times = motion_time(fed, vocab, decoder.w.time.shape[0]) if decoder.timed else None
    chosen = decoder.forward_all(fed, times).float().log_softmax(-1).gather(2, ids[:, 1:, None])[..., 0]
    return torch.where(scored, chosen.double(), 0.0).sum(1).tolist()
