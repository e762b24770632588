"""Filling templates: every shipped template fills completely, durations come from frames."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from motionchat.errors import MotionchatError
from motionchat.motion.timing import MAX_FRAMES, seconds_to_frames
from motionchat.tasks.families import default_families, get_family
from motionchat.tasks.templates import (
    SLOTS,
    Template,
    answer_text,
    fill,
    frames_text,
    join_captions,
    sample_instruction,
    seconds_text,
    slot_values,
)

MOTION = "<som><motion_id_7><motion_id_3><eom>"
MOTION_B = "<som><motion_id_1><motion_id_2><motion_id_9><eom>"
SAMPLE_VALUES = {
    "caption": "a person walks forward.",
    "captions": ["walk forward", "wave with the right hand."],
    "motion": MOTION,
    "motion_b": MOTION_B,
    "frames": 70,
    "edit": "add a jump at the end",
    "diff": "The second motion is faster.",
}
BRACE = re.compile(r"[{}]")


def test_sample_values_cover_every_slot():
    assert set(slot_values(SAMPLE_VALUES)) == set(SLOTS)


@pytest.mark.parametrize("family_id", sorted(default_families()))
def test_every_template_fills_without_leaving_a_placeholder(family_id):
    family = get_family(family_id)
    text_values = slot_values(SAMPLE_VALUES)
    for template in family.instructions + family.answers:
        filled = fill(template.text, **text_values)
        assert not BRACE.search(filled), filled
        for name in template.slots:
            assert text_values[name] in filled


def test_slot_values_derive_seconds_and_join_captions():
    values = slot_values(SAMPLE_VALUES)
    assert values["frames"] == "70" and values["seconds"] == "3.5"
    assert values["captions"] == '"walk forward", then "wave with the right hand"'
    assert values["caption"] == "a person walks forward"
    assert slot_values({"frames": 70}, fps=12.5)["seconds"] == "5.6"
    with pytest.raises(MotionchatError, match="as frames"):
        slot_values({"seconds": 3.5})
    with pytest.raises(MotionchatError, match="unknown slot value 'speed'"):
        slot_values({"speed": "fast"})
    with pytest.raises(MotionchatError, match="caption is empty"):
        slot_values({"caption": " . "})


def test_fill_refuses_missing_values_and_braces_in_values():
    assert fill("Describe {motion}.", motion=MOTION, caption="unused") == f"Describe {MOTION}."
    with pytest.raises(MotionchatError, match=r"needs \{motion_b\}"):
        fill("Join {motion} and {motion_b}.", motion=MOTION)
    with pytest.raises(MotionchatError, match="brace"):
        fill("Animate {caption}.", caption="a {caption} person")
    with pytest.raises(MotionchatError, match="needs text"):
        fill("Walk {frames} frames.", frames=60)


@pytest.mark.parametrize(
    "text, problem",
    [("Do {speed}.", "unknown slot {speed}"), ("Do {caption.", "stray brace"), ("Do }{caption}", "stray brace")],
)
def test_template_parse_refuses_bad_placeholders(text, problem):
    with pytest.raises(MotionchatError, match=re.escape(problem)):
        Template.parse(text)


@pytest.mark.parametrize("frames, expected", [(70, "3.5"), (80, "4"), (63, "3.15"), (1, "0.05"), (196, "9.8")])
def test_seconds_text_prints_no_needless_decimals(frames, expected):
    assert seconds_text(frames) == expected


@pytest.mark.parametrize("fps", [20.0, 12.5, 30.0])
def test_duration_text_round_trips_through_timing(fps):
    for frames in range(1, MAX_FRAMES + 1):
        seconds = seconds_text(frames, fps)
        assert "." not in seconds or not seconds.endswith("0")
        assert seconds_to_frames(float(seconds), fps) == frames
        assert int(frames_text(frames)) == frames
    assert frames_text(np.int64(60)) == "60"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "60"])
def test_durations_must_be_whole_positive_frames(bad):
    with pytest.raises(MotionchatError, match="frame"):
        frames_text(bad)


def test_join_captions_needs_several_plain_captions():
    assert join_captions(["walk.", "wave", "sit down"]) == '"walk", then "wave", then "sit down"'
    for bad in (["walk"], "walk, wave", ['say "hi"', "wave"], ["walk", "  "]):
        with pytest.raises(MotionchatError):
            join_captions(bad)


def test_sample_instruction_picks_both_units_unless_one_is_asked_for():
    family = get_family("t2m_length")
    rng = random.Random(0)
    drawn = [sample_instruction(family, rng, {"caption": "a person jumps", "frames": 90}) for _ in range(200)]
    assert any("4.5" in d for d in drawn) and any("90" in d for d in drawn)
    assert all("a person jumps" in d for d in drawn)
    in_frames = [
        sample_instruction(family, rng, {"caption": "a person jumps", "frames": 90}, duration_unit="frames")
        for _ in range(50)
    ]
    assert all("90" in d and "4.5" not in d for d in in_frames)
    with pytest.raises(MotionchatError, match="duration unit 'minutes'"):
        sample_instruction(family, rng, {"caption": "x", "frames": 90}, duration_unit="minutes")  # type: ignore[arg-type]


def test_sample_instruction_is_seeded_and_accepts_numpy_generators():
    family = get_family("t2m")
    values = {"caption": "a person waves"}
    a = [sample_instruction(family, np.random.default_rng(3), values) for _ in range(3)]
    b = [sample_instruction(family, random.Random(3), values) for _ in range(3)]
    assert len(set(a)) == 1 and len(set(b)) == 1
    drawn = {sample_instruction(family, random.Random(seed), values) for seed in range(100)}
    assert len(drawn) > 20


def test_sample_instruction_says_what_is_missing():
    with pytest.raises(MotionchatError, match=r"t2m_length.*from caption; it needs \{caption\}, one of"):
        sample_instruction(get_family("t2m_length"), random.Random(0), {"caption": "a person runs"})


def test_answer_text_states_the_duration_or_wraps_the_text():
    rng = random.Random(1)
    durations = {answer_text(get_family("m2length"), rng, {"frames": 63}) for _ in range(100)}
    assert all("3.15" in a or "63" in a for a in durations) and len(durations) > 5
    assert answer_text(get_family("m2t"), rng, {"caption": "a man jumps. "}) == "a man jumps"
    assert "The second motion is faster." in answer_text(get_family("diff"), rng, {"diff": "The second motion is faster."})
    with pytest.raises(MotionchatError, match="answers with a motion"):
        answer_text(get_family("t2m"), rng, {"caption": "a man jumps"})


def test_slot_order_follows_the_text():
    template = Template.parse("This motion takes {seconds} seconds ({frames} frames).")
    assert template.slot_order == ("seconds", "frames") and template.slots == {"frames", "seconds"}
