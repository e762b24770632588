"""Prompts and targets of every family, written by the one function training and run time share."""

import re

import numpy as np
import pytest

from motionchat.errors import MotionchatError
from motionchat.lm.vocab import text_to_motion_codes
from motionchat.tasks.examples import TaskValues, as_sentence, build_prompt, build_target, known_frames
from motionchat.tasks.families import default_families

VALUES = TaskValues(
    caption="a person jumps twice.", captions=["walk forward", "wave with the left hand."], motion=[5, 6, 7], motion_b=[8, 9],
    frames=70, edit="do it faster", diff="the second person jumps higher", answer_motion=[1, 2, 3, 4],
)  # fmt: skip


@pytest.mark.parametrize("family_id", sorted(default_families()))
def test_every_family_fills_a_prompt_and_a_target(family_id):
    family = default_families()[family_id]
    rng = np.random.default_rng(0)
    prompts = {build_prompt(family, VALUES, rng, codebook_size=16) for _ in range(30)}
    assert len(prompts) > 5  # the templates are sampled
    for prompt in prompts:
        assert not re.search(r"[{}]", prompt)
        motions = prompt.count("<som>")
        assert motions == len(family.slots.allowed & {"motion", "motion_b"})
        if "motion" in family.slots.allowed:
            assert "<som><motion_id_5><motion_id_6><motion_id_7><eom>" in prompt
    target = build_target(family, VALUES, rng, codebook_size=16)
    if family.output == "motion":
        assert text_to_motion_codes(target, 16) == [1, 2, 3, 4] and target.startswith("<som>")
    else:
        assert "<" not in target and target.strip() == target
    if family_id in ("m2t", "m2t_length", "length2t", "random_caption"):
        assert target == "a person jumps twice"  # the caption, verbatim but for its final full stop
    if family_id == "diff":
        assert "The second person jumps higher." in target
    if family_id == "compose":
        assert all('"walk forward", then "wave with the left hand"' in p for p in prompts)


def test_the_same_rng_state_gives_the_same_prompt():
    family = default_families()["t2m_length"]
    a = build_prompt(family, VALUES, np.random.default_rng(4), codebook_size=16, duration_unit="seconds")
    b = build_prompt(family, VALUES, np.random.default_rng(4), codebook_size=16, duration_unit="seconds")
    assert a == b and "3.5" in a and "70" not in a


def test_missing_or_bad_values_are_refused():
    families = default_families()
    rng = np.random.default_rng(0)
    with pytest.raises(MotionchatError, match="needs the answer motion"):
        build_target(families["t2m"], TaskValues(caption="x"), rng, codebook_size=16)
    with pytest.raises(MotionchatError, match="can be filled"):
        build_prompt(families["m2t"], TaskValues(caption="x"), rng, codebook_size=16)
    with pytest.raises(MotionchatError, match=r"\{motion\}: motion code 16 is outside"):
        build_prompt(families["m2t"], TaskValues(motion=[16]), rng, codebook_size=16)


def test_known_frames_follow_the_protocols():
    assert known_frames("predict", 100) == (20, 0) and known_frames("predict", 4) == (0, 0)
    assert known_frames("inbetween", 99) == (24, 24)
    with pytest.raises(ValueError):
        known_frames("t2m", 10)


def test_differences_become_sentences():
    assert as_sentence("  the second one is  faster ") == "The second one is faster."
    assert as_sentence("Already done!") == "Already done!"
    with pytest.raises(MotionchatError):
        as_sentence("  ")
