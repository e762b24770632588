"""Duration answers held to their family's templates: whatever the scores, the answer reads as one."""

from pathlib import Path

import pytest
import torch

import motionchat
from motionchat.lm.generation import text_ids
from motionchat.lm.runtime import load_runtime_tokenizer
from motionchat.tasks.answer_grammar import DurationGrammar, _token_patterns, is_duration_family
from motionchat.tasks.families import default_families
from motionchat.tasks.templates import read_answer

BUNDLE_LM = Path(motionchat.__file__).parent / "assets" / "default_bundle" / "lm"
DURATION_FAMILIES = ("m2length", "t2length")


@pytest.fixture(scope="module")
def tokenizer():
    return load_runtime_tokenizer(BUNDLE_LM)


def test_the_duration_families_are_the_text_families_that_state_only_a_duration():
    families = default_families()
    assert {f for f, family in families.items() if is_duration_family(family)} == set(DURATION_FAMILIES)


def test_every_duration_template_can_be_held_with_the_shipped_tokenizer(tokenizer):
    for family_id in DURATION_FAMILIES:
        for template in default_families()[family_id].answers:
            assert _token_patterns(tokenizer, template) is not None, template.text


def walk(grammar: DurationGrammar, prefixes: list[list[int]], eos_id: int, seed: int, vocab_size: int) -> list[list[int]]:
    """Decode every row with random scores through the grammar; the answers after the prefixes."""
    rng = torch.Generator().manual_seed(seed)
    rows = len(prefixes)
    history = torch.zeros(rows, 1, dtype=torch.long)  # the decoder start token
    done = [False] * rows
    for step in range(48):
        scores = grammar(history, torch.randn(rows, vocab_size, generator=rng))
        next_ids = scores.argmax(-1)
        for r, prefix in enumerate(prefixes):
            if step < len(prefix):
                assert torch.isfinite(scores[r]).all()  # the forced tag is left alone
                next_ids[r] = prefix[step]
            elif done[r]:
                next_ids[r] = eos_id
        done = [d or int(t) == eos_id for d, t in zip(done, next_ids)]
        history = torch.cat([history, next_ids[:, None]], 1)
        if all(done):
            break
    return [row[1 + len(p) :] for row, p in zip(history.tolist(), prefixes)]


@pytest.mark.parametrize("seed", range(8))
def test_whatever_the_scores_a_held_answer_reads_as_one_of_its_templates_and_free_rows_stay_free(tokenizer, seed):
    families = default_families()
    rows = [families["m2length"], families["t2length"], None, families["m2length"]]
    # Tagged rows and untagged ones (the installed templates have no tags; a bundle's may).
    prefixes = [text_ids(tokenizer, "m2length:"), [], text_ids(tokenizer, "a person"), []]
    grammar = DurationGrammar(tokenizer, rows, [len(p) for p in prefixes], tokenizer.eos_token_id)
    vocab_size = len(tokenizer)
    answers = walk(grammar, prefixes, tokenizer.eos_token_id, seed, vocab_size)
    for family, ids in zip(rows, answers):
        if family is None:
            continue
        assert tokenizer.eos_token_id in ids
        text = tokenizer.decode(ids, skip_special_tokens=True).strip()
        readings = read_answer(family.answers, text)
        assert readings, text
        for values in readings:  # a template with both units states one length
            if "frames" in values and "seconds" in values:
                assert round(float(values["seconds"]) * 20) == int(values["frames"])
    first = DurationGrammar(tokenizer, rows, [len(p) for p in prefixes], tokenizer.eos_token_id)
    first = first(torch.zeros(4, 1, dtype=torch.long), torch.zeros(4, vocab_size))
    assert torch.isfinite(first[0]).all() and torch.isfinite(first[2]).all()  # a tag to come; a free row
    assert not torch.isfinite(first[1]).all() and not torch.isfinite(first[3]).all()


def test_numbers_keep_to_whole_frames(tokenizer):
    family = default_families()["m2length"]
    grammar = DurationGrammar(tokenizer, [family], [0], tokenizer.eos_token_id)
    whole, typed = grammar._numbers("seconds")
    assert {"0.05", "2.85", "7", "9.8"} <= whole and not {"0", "0.0", "2.83", "07", "9.85", "10"} & whole
    assert "2.8" in typed and "2.83" not in typed
    frames_whole, _ = grammar._numbers("frames")
    assert {"57", "196"} <= frames_whole and not {"0", "057", "197", "1137"} & frames_whole
    assert grammar._fits("frames", "57", {"seconds": "2.85"}, complete=True)
    assert not grammar._fits("frames", "58", {"seconds": "2.85"}, complete=True)
