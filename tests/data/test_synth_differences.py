"""Difference sentences of the synthetic corpus's edits read back into what changed."""

import itertools

import numpy as np
import pytest

from motionchat.data.synth import edits
from motionchat.data.synth.edits import EDIT_KINDS, Difference, Edit, describe_edit, difference_of, parse_difference, sample_edit
from motionchat.data.synth.program import sample_program
from motionchat.data.synth.vocabulary import Action
from motionchat.tasks.examples import as_sentence

# What a sentence must always state, per kind (the rest it may leave unsaid).
ALWAYS_SAID = {"speed": ("value",), "side": ("value", "previous"), "count": ("value", "previous"), "direction": ("value", "previous"),
               "distance": ("value", "previous"), "replace": ("action", "value"), "add": ("action", "place"), "remove": ("action",)}


def _seeded_edits(seed: int, n: int) -> list[Edit]:
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(n):
        edit = sample_edit(sample_program(rng), rng)
        if edit is not None:
            found += [edit, edit.inverse()]
    return found


def test_every_wording_of_every_edit_reads_back(monkeypatch):
    # `describe_edit` draws its wording with `_pick`; forcing option k of every list covers all
    # wordings of each edit (the clauses inside vary with the seeded draws).
    sentences = set()
    kinds = set()
    for k in range(3):
        monkeypatch.setattr(edits, "_pick", lambda rng, options, k=k: options[k % len(options)])
        for edit in _seeded_edits(k, 400):
            _, sentence = describe_edit(edit, np.random.default_rng(len(sentences)))
            said, truth = parse_difference(sentence), difference_of(edit)
            assert said is not None and said.agrees_with(truth), (sentence, said, truth)
            assert all(getattr(said, f) is not None for f in ALWAYS_SAID[edit.kind]), (sentence, said)
            assert parse_difference(as_sentence(sentence)) == said  # as the model answers: capitalised, full stop
            sentences.add(sentence)
            kinds.add(edit.kind)
    assert kinds == set(EDIT_KINDS) and len(sentences) > 1000


def test_seeded_descriptions_read_back_as_the_corpus_writes_them():
    rng = np.random.default_rng(7)
    for edit in _seeded_edits(11, 800):
        sentence = describe_edit(edit, rng)[1]
        assert parse_difference(sentence).agrees_with(difference_of(edit)), sentence


def test_a_sentence_of_one_edit_rarely_fits_another():
    edits_ = _seeded_edits(3, 800)
    rng = np.random.default_rng(0)
    fits = compared = 0
    for a, b in itertools.pairwise(edits_):
        if difference_of(a) != difference_of(b):
            compared += 1
            fits += parse_difference(describe_edit(a, rng)[1]).agrees_with(difference_of(b))
    assert fits / compared < 0.01, (fits, compared)  # only the wordings that leave the action unsaid can fit


def test_known_sentences():
    wave = Action("wave", side="left", speed="normal", count=2)
    assert parse_difference("The second person waves more quickly.") == Difference("speed", "wave", "faster")
    assert parse_difference("the second person uses both hands instead of the left hand") == Difference("side", None, "both", "left")
    assert parse_difference("the kick is repeated three times in the second motion and once in the first") == Difference("count", "kick", 3, 1)
    assert parse_difference("the second person walks backward instead of forward") == Difference("direction", "walk", "backward", "forward")
    assert parse_difference("the second motion has an extra forward jump at the end") == Difference("add", "jump_forward", place="at the end")
    assert parse_difference("in the second motion the wave is replaced by a bow") == Difference("replace", "wave", "bow")
    truth = difference_of(Edit("count", 0, (wave,), (wave.with_params(count=3),)))
    assert truth == Difference("count", "wave", 3, 2)
    assert parse_difference("the wave is repeated three times in the second motion and twice in the first").agrees_with(truth)
    assert not parse_difference("the wave is repeated four times in the second motion and twice in the first").agrees_with(truth)
    assert not parse_difference("the kick is repeated three times in the second motion and twice in the first").agrees_with(truth)
    assert not parse_difference("the second person waves more quickly").agrees_with(truth)


@pytest.mark.parametrize("sentence", ["", "the person dances", "the second person flies instead of walking",
                                      "the wave is faster", "the second motion has an extra moonwalk at the end"])
def test_other_sentences_are_not_read(sentence):
    assert parse_difference(sentence) is None
