"""The shipped family files hold what DESIGN.md promises, and bad family files are refused."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest

from motionchat.errors import MotionchatError
from motionchat.tasks.families import default_families, get_family, load_families

# id -> output type, from the table in DESIGN.md "The 15 task families".
EXPECTED_OUTPUT = {
    "t2m": "motion", "t2m_length": "motion", "length2m": "motion", "random_motion": "motion",
    "m2t": "text", "m2t_length": "text", "m2length": "text", "t2length": "text",
    "length2t": "text", "random_caption": "text", "predict": "motion", "inbetween": "motion",
    "compose": "motion", "edit": "motion", "diff": "text",
}
# Families whose instructions state a duration, and those whose answers do.
DURATION_IN_INSTRUCTIONS = {"t2m_length", "length2m", "m2t_length", "length2t"}
DURATION_IN_ANSWERS = {"m2length", "t2length"}
MIN_INSTRUCTIONS = 40

TEMPLATES_DIR = resources.files("motionchat.templates")
# Read independently of the loader: a regex over the raw JSON text of each file.
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def raw_families() -> dict[str, dict]:
    files = [f for f in TEMPLATES_DIR.iterdir() if f.name.endswith(".json")]
    return {f.name.removesuffix(".json"): json.loads(f.read_text(encoding="utf-8")) for f in files}


def used(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def check_against_spec(templates: list[str], spec: dict) -> None:
    """Each template: declared slots only, every plain required slot, groups as their mode says."""
    groups = [e for e in spec["required"] if isinstance(e, dict)]
    plain = {e for e in spec["required"] if isinstance(e, str)}
    declared = plain | set(spec["optional"]) | {n for g in groups for names in g.values() for n in names}
    for template in templates:
        slots = used(template)
        assert slots <= declared, template
        assert plain <= slots, template
        for group in groups:
            (mode, names), = group.items()
            count = len(slots & set(names))
            assert (count == 1) if mode == "one_of" else (count >= 1), template


def normalised(template: str) -> str:
    return " ".join(template.split()).casefold()


def test_the_fifteen_families_ship_with_their_output_types():
    raw = raw_families()
    assert {fid: d["output"] for fid, d in raw.items()} == EXPECTED_OUTPUT
    loaded = default_families()
    assert {fid: f.output for fid, f in loaded.items()} == EXPECTED_OUTPUT
    for fid, data in raw.items():
        assert data["family"] == fid
        assert data["description"].strip()
        assert [t.text for t in loaded[fid].instructions] == data["instructions"]


@pytest.mark.parametrize("family_id", sorted(EXPECTED_OUTPUT))
def test_instruction_templates_are_many_distinct_and_use_declared_slots(family_id):
    data = raw_families()[family_id]
    instructions = data["instructions"]
    assert len(instructions) >= MIN_INSTRUCTIONS
    assert len({normalised(t) for t in instructions}) == len(instructions)
    check_against_spec(instructions, data["slots"])
    quoted = [t for t in instructions if re.search(r"\"\{(caption|edit)\}\"", t)]
    if used(" ".join(instructions)) & {"caption", "edit"}:
        assert quoted and len(quoted) < len(instructions), "want templates with and without quotes"


@pytest.mark.parametrize("family_id", sorted(EXPECTED_OUTPUT))
def test_answers_exist_exactly_for_text_families(family_id):
    data = raw_families()[family_id]
    if EXPECTED_OUTPUT[family_id] == "motion":
        assert "answers" not in data and "answer_slots" not in data
        return
    answers = data["answers"]
    assert len({normalised(t) for t in answers}) == len(answers)
    check_against_spec(answers, data["answer_slots"])


def test_duration_families_have_frame_and_second_templates():
    raw = raw_families()
    for fid, key in [(f, "instructions") for f in DURATION_IN_INSTRUCTIONS] + [
        (f, "answers") for f in DURATION_IN_ANSWERS
    ]:
        templates = raw[fid][key]
        assert any(used(t) & {"frames", "seconds"} == {"frames"} for t in templates), fid
        assert any(used(t) & {"frames", "seconds"} == {"seconds"} for t in templates), fid
    for fid, data in raw.items():
        if fid not in DURATION_IN_INSTRUCTIONS:
            assert not any(used(t) & {"frames", "seconds"} for t in data["instructions"]), fid
        if fid in DURATION_IN_INSTRUCTIONS:
            assert not any({"frames", "seconds"} <= used(t) for t in data["instructions"]), fid


def test_loading_a_folder_path_matches_the_package_data(tmp_path):
    for fid, data in raw_families().items():
        (tmp_path / f"{fid}.json").write_text(json.dumps(data))
    assert load_families(tmp_path) == dict(default_families())


def test_get_family_names_the_known_ones_when_unknown():
    assert get_family("t2m").id == "t2m"
    with pytest.raises(MotionchatError, match="unknown task family 'dance'.*t2m_length"):
        get_family("dance")


def t2m_length_file() -> dict:
    return json.loads(json.dumps(raw_families()["t2m_length"]))


def m2length_file() -> dict:
    return json.loads(json.dumps(raw_families()["m2length"]))


def with_instruction(data: dict, template: str) -> dict:
    data["instructions"].append(template)
    return data


# case -> (file name, file content, text the message must contain)
BAD_FILES = {
    "unknown slot": ("t2m_length", lambda: with_instruction(t2m_length_file(), "Do {speed} for {frames} frames: {caption}"), "{speed}"),
    "undeclared slot": ("t2m_length", lambda: with_instruction(t2m_length_file(), "Edit {caption} in {frames} frames: {edit}"), "{edit}"),
    "missing required slot": ("t2m_length", lambda: with_instruction(t2m_length_file(), "Walk for {frames} frames."), "{caption}"),
    "missing alternative": ("t2m_length", lambda: with_instruction(t2m_length_file(), "Animate {caption} now."), "one of"),
    "both alternatives in one_of": (
        "t2m_length",
        lambda: with_instruction(t2m_length_file(), "Animate {caption} for {seconds} s ({frames} frames)."),
        "more than one",
    ),
    "duplicate up to case and spaces": (
        "t2m_length",
        lambda: with_instruction(t2m_length_file(), "make a motion of {frames}   FRAMES: {caption}."),
        "repeats",
    ),
    "stray brace": ("t2m_length", lambda: with_instruction(t2m_length_file(), "Animate {caption for {frames} frames."), "brace"),
    "wrong output type": ("t2m_length", lambda: {**t2m_length_file(), "output": "video"}, "'video'"),
    "family name mismatch": ("m2length", t2m_length_file, "file name"),
    "unknown key": ("t2m_length", lambda: {**t2m_length_file(), "extra": 1}, "'extra'"),
    "answers on a motion family": ("t2m_length", lambda: {**t2m_length_file(), "answers": ["{caption}"]}, "motion family"),
    "text family without answers": (
        "m2length",
        lambda: {k: v for k, v in m2length_file().items() if k != "answers"},
        "'answers'",
    ),
    "unused alternative": ("m2length", lambda: {**m2length_file(), "answers": ["It lasts {seconds} seconds."]}, "{frames}"),
    "bad group mode": (
        "t2m_length",
        lambda: {**t2m_length_file(), "slots": {"required": ["caption", {"all_of": ["frames", "seconds"]}], "optional": []}},
        "one_of/any_of",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_family_file_is_refused_in_one_line_naming_file_and_template(tmp_path, case):
    name, make, expected = BAD_FILES[case]
    data = make()
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    with pytest.raises(MotionchatError) as err:
        load_families(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert expected in message
    added = data["instructions"][-1]
    if added not in raw_families()[data["family"]]["instructions"]:
        assert repr(added) in message


def test_invalid_json_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(MotionchatError, match="no family .json files"):
        load_families(tmp_path)
    with pytest.raises(MotionchatError, match="not a templates folder"):
        load_families(tmp_path / "missing")
    (tmp_path / "t2m.json").write_text('{"family": "t2m",')
    with pytest.raises(MotionchatError, match=r"t2m\.json: not valid JSON") as err:
        load_families(tmp_path)
    assert "\n" not in str(err.value)


def test_templates_folder_is_the_installed_package_data():
    assert Path(str(TEMPLATES_DIR / "t2m.json")).is_file()
