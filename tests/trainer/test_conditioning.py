"""The prompt gap and the motion-history corruption of `trainer.conditioning`."""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lm"))
from lm_fixtures import captions, small_lm  # noqa: E402

from motionchat.lm.vocab import motion_tokens_to_text  # noqa: E402
from trainer.conditioning import corrupt_motion_history, gap_line, prompt_gap  # noqa: E402
from trainer.seq2seq import Seq2SeqExample, shift_right  # noqa: E402


def examples(lm, count=8):
    rng = np.random.default_rng(0)
    k = lm.vocab.codebook_size
    return [Seq2SeqExample(lm.tokenizer(captions()[i])["input_ids"],
                           lm.tokenizer(motion_tokens_to_text(rng.integers(k, size=6).tolist(), k))["input_ids"])
            for i in range(count)]  # fmt: skip


def test_the_gap_is_zero_for_a_decoder_that_cannot_see_the_encoder_and_not_for_one_that_can():
    lm = small_lm()
    items = examples(lm)
    assert abs(prompt_gap(lm.model, items, lm.vocab.pad_id)["gap"]) > 1e-4  # a random model already depends on it
    with torch.no_grad():
        for block in lm.model.decoder.block:
            block.layer[1].EncDecAttention.o.weight.zero_()  # cross-attention contributes nothing
    result = prompt_gap(lm.model, items, lm.vocab.pad_id)
    assert abs(result["gap"]) < 1e-6 and result["matched"] > 0
    assert gap_line({"loss": 1.0, "gap_t2m": 0.3}) == "prompt gap (nats/token): t2m 0.30" and gap_line({"loss": 1.0}) == ""


def test_corruption_replaces_motion_codes_only_at_the_rate_asked():
    lm = small_lm()
    v = lm.vocab
    labels = [v.som_id, *[v.motion_id(c % v.codebook_size) for c in range(400)], v.eom_id, v.eos_id]
    assert corrupt_motion_history(labels, v, 0.0, np.random.default_rng(0)) is None
    corrupted = corrupt_motion_history(labels, v, 0.3, np.random.default_rng(0))
    plain = shift_right(labels, v.pad_id)
    changed = [i for i, (a, b) in enumerate(zip(corrupted, plain)) if a != b]
    assert all(v.is_motion_id(plain[i]) and v.is_motion_id(corrupted[i]) for i in changed)
    assert 0.2 < len(changed) / 400 < 0.4  # tau, less the draws that picked the same code


def test_the_gap_grows_clearly_positive_when_a_model_learns_a_mapping_from_its_prompt():
    """A toy mapping: each caption's answer is its own fixed motion; after a few dozen steps the
    answers depend on the prompt, so another example's prompt costs far more than its own."""
    from trainer.seq2seq import collate, seq2seq_loss

    torch.manual_seed(0)
    lm = small_lm()
    items = examples(lm)
    before = prompt_gap(lm.model, items, lm.vocab.pad_id)["gap"]
    optimizer = torch.optim.AdamW(lm.model.parameters(), lr=3e-3)
    lm.model.train()
    for _ in range(60):
        loss, _ = seq2seq_loss(lm.model, collate(items, lm.vocab.pad_id))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    lm.model.eval()
    after = prompt_gap(lm.model, items, lm.vocab.pad_id)
    assert after["gap"] > 0.5 and after["gap"] > 10 * abs(before), (before, after)  # measured 1.06-1.31 over seeds 0, 1, 7


def test_a_prefix_is_fed_to_the_decoder_but_not_scored():
    from trainer.seq2seq import IGNORE, collate

    lm = small_lm()
    pad = lm.vocab.pad_id
    batch = collate([Seq2SeqExample([5, 6, 1], [7, 8, 1], prefix=(3, 4)), Seq2SeqExample([5, 1], [9, 1])], pad)
    assert batch["labels"].tolist() == [[IGNORE, IGNORE, 7, 8, 1], [9, 1, IGNORE, IGNORE, IGNORE]]
    assert batch["decoder_input_ids"].tolist() == [[pad, 3, 4, 7, 8], [pad, 9, pad, pad, pad]]
