"""Teacher-forced answer log-likelihoods (motionchat/lm/scoring.py) on the step decoder: the same
numbers as transformers' forward pass over the whole answer, for text and motion answers, with a
forced prefix left unscored, on the training model and on the transformers-free runtime."""

import dataclasses

import pytest
import torch
from lm_fixtures import CODEBOOK, SMALL, captions

from motionchat.lm.model import build_lm
from motionchat.lm.generation import text_ids
from motionchat.lm.runtime import load_runtime_lm
from motionchat.lm.scoring import answer_log_likelihoods
from motionchat.lm.storage import save_lm
from motionchat.lm.vocab import motion_tokens_to_text


def _reference(lm, prompts, answers, prefixes) -> list[float]:
    """Sum of log p over the answer tokens from one forward pass of transformers' model."""
    rows = []
    for prompt, answer, prefix in zip(prompts, answers, prefixes):
        head, tail = text_ids(lm.tokenizer, prefix), list(lm.tokenizer(answer)["input_ids"])
        decoder = [lm.vocab.pad_id, *head, *tail[:-1]]
        with torch.no_grad():
            logits = lm.model(
                input_ids=torch.tensor([lm.tokenizer(prompt)["input_ids"]]), decoder_input_ids=torch.tensor([decoder])
            ).logits[0].float()
        scores = logits.log_softmax(-1)[torch.arange(len(head), len(decoder)), torch.tensor(tail)]
        rows.append(float(scores.sum()))
    return rows


@pytest.mark.parametrize("timed", [False, True])
def test_log_likelihoods_match_a_forward_pass_on_both_backbones(timed, tmp_path):
    lm = build_lm(dataclasses.replace(SMALL, motion_time=timed), CODEBOOK, captions(), seed=3)
    if timed:
        with torch.no_grad():  # rows that differ, so a wrong time index would change the numbers
            table = lm.model.shared.time.weight
            table[1:] = torch.randn(table[1:].shape, generator=torch.Generator().manual_seed(1)) * 0.5
    lm.model.eval()
    motion = motion_tokens_to_text([3, 7, 7, 1, 30], CODEBOOK)
    prompts = [f"describe {motion}", "a person jumps twice", "someone waves with the left hand slowly"]
    answers = ["a person walks forward", motion, motion_tokens_to_text([2, 2], CODEBOOK)]
    prefixes = ["m2t:", "", "t2m:"]
    expected = _reference(lm, prompts, answers, prefixes)
    save_lm(tmp_path / "lm", lm.model, lm.tokenizer, lm.vocab)
    runtime = load_runtime_lm(tmp_path / "lm")
    for backbone in (lm, runtime):
        got = answer_log_likelihoods(backbone.model, backbone.tokenizer, backbone.vocab, prompts, answers, prefixes)
        assert got == pytest.approx(expected, abs=1e-3)
    assert all(score < 0 for score in expected)


def test_no_rows_and_mismatched_rows():
    lm = build_lm(SMALL, CODEBOOK, captions(), seed=0)
    assert answer_log_likelihoods(lm.model, lm.tokenizer, lm.vocab, [], [], []) == []
    with pytest.raises(ValueError, match="2 prompts, 1 answers"):
        answer_log_likelihoods(lm.model, lm.tokenizer, lm.vocab, ["a", "b"], ["c"], ["", ""])
