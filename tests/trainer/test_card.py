"""card.md: the corpus as its command and seed, and "well formed" text answers that read as the
family's answers (durations as durations, captions and differences by the corpus's parsers)."""

import json

import pytest

from motionchat.data.synth.corpus import describe_corpus, synthesize_corpus
from motionchat.tasks.families import load_families
from motionchat.tasks.templates import read_answer
from trainer.stage3 import model_card, text_answer_problem

FAMILIES = load_families()


@pytest.mark.parametrize("family, text, synthetic, ok", [
    ("m2length", "It is 3.5 seconds long.", True, True),
    ("m2length", "This motion takes 3 seconds (60 frames).", True, True),
    ("m2length", "This motion takes 3 seconds (61 frames).", True, False),  # two lengths that disagree
    ("m2length", "That motion is5- seconds.", True, False),
    ("m2length", "Main change: The second person stands up pointing.", True, False),  # a diff sentence
    ("t2length", "A length of 141 frames fits it.", False, True),
    ("diff", "That motion is5- seconds.", True, False),
    ("diff", "The difference: the wave is faster in the second motion.", True, True),
    ("m2t", "a woman kicks with her right foot fast", True, True),
    ("m2t", "a woman kicks with her right foot fast", False, True),
    ("m2t", "the the of person", True, False),
    ("m2t", "the the of person", False, True),  # another corpus: any sentence may be a caption
    ("length2t", "a person sits down and jumps", True, False),  # seated, then a standing action
])  # fmt: skip
def test_a_text_answer_is_well_formed_only_if_it_reads_as_one_of_its_family(family, text, synthetic, ok):
    problem = text_answer_problem(FAMILIES[family], text, synthetic)
    assert (problem is None) == ok, problem


def test_read_answer_gives_the_slot_values():
    assert read_answer(FAMILIES["t2length"].answers, " Around 60 frames. ") == [{"frames": "60"}]
    assert read_answer(FAMILIES["m2length"].answers, "It runs for 0 seconds.") == []
    assert read_answer(FAMILIES["m2t"].answers, "   ") == []
    readings = read_answer(FAMILIES["diff"].answers, "The difference: the wave is faster in the second motion.")
    assert {"diff": "the wave is faster in the second motion."} in readings and len(readings) == 2


def test_the_card_records_the_corpus_command_and_seed_not_a_local_path(tmp_path):
    corpus = tmp_path / "scratch" / "synth8"
    synthesize_corpus(corpus, 8, seed=5, workers=1)
    described = describe_corpus(corpus)
    assert described.startswith("`trainer data synth --out synth8 --clips 8 --seed 5`") and "corpus seed 5" in described
    assert "train/val/test 4/2/2 clips" in described and str(tmp_path) not in described
    record = {"preset": "tiny", "data": str(corpus), "steps": 3}
    provenance = {"stage1": dict(record), "stage2": dict(record), "stage3": {**record, "corpus": described}}
    answers = {"m2length": {"output": "text", "ok": False, "problem": "reads as none of the family's answer sentences",
                            "answer": "That motion is5- seconds.", "at_length_limit": False}}  # fmt: skip
    card = model_card(provenance, answers, [])
    assert str(tmp_path) not in card
    assert f"- corpus: {described}" in card and "- stage1: preset tiny, 3 steps" in card
    assert "| m2length | text | no | reads as none of the family's answer sentences |" in card
    plain = tmp_path / "mine"
    plain.mkdir()
    (plain / "corpus.json").write_text(json.dumps({"clips": "many"}))
    assert describe_corpus(plain) == "the dataset folder `mine`"
