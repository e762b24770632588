"""Captions of the synthetic corpus: paraphrases, HumanML3D text lines, tagging, and the parser."""

import re

import numpy as np

from motionchat.data.dataset import parse_caption_line
from motionchat.data.synth.captions import (
    action_templates,
    caption_line,
    caption_words,
    known_word,
    parse_caption,
    tag_caption,
    write_captions,
)
from motionchat.data.synth.program import sample_program
from motionchat.data.synth.vocabulary import ACTIONS, Action, default_action

CONNECTORS = re.compile(r"\b(then|and|after|before|afterwards|finally|first|next)\b|[,.;]")


def test_every_action_has_five_paraphrase_forms_free_of_connectors():
    for name, spec in ACTIONS.items():
        values = [None] if "direction" not in spec.params else list(spec.params["direction"])
        for direction in values:
            action = default_action(name) if direction is None else default_action(name).with_params(direction=direction)
            templates = action_templates(action)
            assert len(set(templates)) >= 5, name
            for template in templates:
                assert not CONNECTORS.search(template), (name, template)


def test_parser_reads_back_generated_captions():
    rng = np.random.default_rng(0)
    total = correct = 0
    for _ in range(600):
        program = sample_program(rng)
        captions = write_captions(program, rng, 3)
        assert len(set(captions)) == 3
        for caption in captions:
            total += 1
            correct += parse_caption(caption) == program
    assert correct / total >= 0.99, correct / total


def test_parser_handles_reordering_connectors():
    wave = Action("wave", side="left", speed="normal", count=2)
    jump = Action("jump", speed="fast", count=1)
    assert parse_caption("before jumping quickly, a man waves his left hand twice.") == (wave, jump)
    assert parse_caption("a man jumps quickly after waving his left hand two times") == (wave, jump)
    assert parse_caption("a person waves with the left hand twice, then jumps up fast.") == (wave, jump)
    assert parse_caption("the person stands around") == ()


def test_caption_lines_are_humanml3d_lines_with_known_words():
    rng = np.random.default_rng(1)
    for _ in range(300):
        for caption in write_captions(sample_program(rng), rng, 3):
            line = caption_line(caption)
            parsed = parse_caption_line(line, "test")
            assert parsed.text == caption and (parsed.start_s, parsed.end_s) == (0.0, 0.0)
            assert len(parsed.tokens) == len(caption_words(caption))
            assert all(re.fullmatch(r"[a-z0-9-]+/[A-Z]+", t) for t in parsed.tokens)
            unknown = [w for w in caption_words(caption) if not known_word(w)]
            assert not unknown, (caption, unknown)


def test_tagger_uses_lemmas_and_context():
    assert tag_caption("She punches twice, then throws two punches.") == (
        "she/PRON punch/VERB twice/ADV then/ADV throw/VERB two/NUM punch/NOUN"
    )
