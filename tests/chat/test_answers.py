"""Issue 17: answers that do not mislead, and no surprises, on the shipped model.

Facts and notes are checked on made-up replies (no model) where the model's words would make the
check depend on sampling; the rest goes through the real engine and command line.
"""

import json

import numpy as np
import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console
from typer.testing import CliRunner

from motionchat.chat.engine import Engine, default_bundle_path
from motionchat.chat.facts import answer_facts, request_notes
from motionchat.chat.replies import Reply
from motionchat.chat.repl import Repl
from motionchat.chat.session import Session
from motionchat.chat.vocabulary import known_actions, unknown_words_note
from motionchat.cli import app
from motionchat.errors import MotionchatError
from motionchat.tasks.routing import route

runner = CliRunner()
BUNDLE = default_bundle_path()


def _walk(frames: int, step: float = 0.01) -> np.ndarray:
    joints = np.zeros((frames, 22, 3), dtype=np.float32)
    joints[:, :, 1] = np.linspace(0, 1.7, 22)
    joints[:, :, 2] += np.arange(frames)[:, None] * step
    return joints


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine(Session(out_dir=tmp_path_factory.mktemp("answers"), seed=0), BUNDLE, "none")


def ask_cli(tmp_path, *args):
    return runner.invoke(app, ["ask", *args, "--out", str(tmp_path), "--format", "none", "--seed", "0"])


# --- facts beside the model's words (no model) ------------------------------------------------------


def test_a_duration_answer_is_restated_in_the_unit_asked():
    request = route("how many seconds does jumping three times take?")
    facts = answer_facts(Reply("q", texts=["A length of 141 frames fits it."]), request, [], [])
    assert facts == ["in seconds: 7.0 s"]


def test_m2length_shows_the_measured_length_and_flags_a_contradiction():
    session = Session()
    motion = session.add(_walk(120), "test")
    facts = answer_facts(Reply("q", texts=["It lasts 3 seconds."]), route("how long is m1 in seconds?"), [motion], [])
    assert facts[0] == "measured: m1 is 6.0 s" and "does not match the measured length" in facts[1]
    agreeing = answer_facts(Reply("q", texts=["It lasts 6 seconds."]), route("how long is m1?"), [motion], [])
    assert len(agreeing) == 1


def test_diff_of_identical_motions_says_so():
    session = Session()
    a, b = session.add(_walk(60), "a"), session.add(_walk(60), "b")
    assert answer_facts(Reply("q", texts=["the second is faster"]), route("compare m1 and m2"), [a, b], []) == [
        "measured: m1 and m2 are identical"
    ]


def test_edit_shows_length_and_distance_before_and_after():
    session = Session()
    source, edited = session.add(_walk(100), "a"), session.add(_walk(60, step=0.02), "b")
    facts = answer_facts(Reply("q"), route("make m1 faster"), [source], [edited])
    assert facts == ["measured: m1 100 frames (5.0 s), travels 1.0 m -> m2 60 frames (3.0 s), travels 1.2 m"]


def test_a_motion_longer_than_the_model_reads_is_named():
    session = Session()
    long = session.add(_walk(250), "long")
    notes = request_notes(route("describe m1"), [long], BUNDLE)
    assert notes == ["m1 is 250 frames (12.5 s); the model reads only its first 196 frames (9.8 s)"]
    assert "last 196 frames" in request_notes(route("continue m1"), [long], BUNDLE)[0]


# --- what the model knows ------------------------------------------------------------------------


def test_the_shipped_model_lists_its_actions_from_the_bundle():
    actions = known_actions(BUNDLE)
    assert {"walk", "jump", "wave", "kick", "squat", "clap"} <= set(actions)
    assert not {"describe", "generate", "the", "circl"} & set(actions)  # instructions, grammar, word stumps


def test_an_unlearnt_action_is_named_with_the_nearest_known():
    note = unknown_words_note(BUNDLE, "a person swims")
    assert "'swims'" in note and "Nearest it knows" in note and "\n" not in note
    assert unknown_words_note(BUNDLE, "a person jumps twice, then walks forward") is None


def test_actions_command_and_help(tmp_path):
    result = runner.invoke(app, ["actions"])
    assert result.exit_code == 0 and "jump" in result.output
    console = Console(record=True, width=200)
    with create_pipe_input() as pipe:
        pipe.send_text("/help\r/quit\r")
        Repl(_InterruptedEngine(Session(out_dir=tmp_path)), console, PromptSession(input=pipe, output=DummyOutput())).run()
    assert "words of motion this model has learnt" in console.export_text()


# --- the engine and the command line ---------------------------------------------------------------


def test_the_caption_the_model_gets_has_no_request_words(tmp_path):
    result = ask_cli(tmp_path, "could you please show me an animation of a man jumping?", "--json")
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["caption"] == "a man jumping" and reply["family"] == "t2m", reply["error"]
    assert any(fact.startswith("measured: m1") and "travels" in fact for fact in reply["facts"])
    shown = ask_cli(tmp_path, "show me a woman waving", "--verbose")
    assert "model input: a woman waving" in shown.output


def test_an_unlearnt_action_still_gets_an_answer_with_a_warning(engine):
    reply = engine.ask("a man doing a cartwheel")
    assert reply.ok and reply.motions and any("'cartwheel'" in note for note in reply.notes)


def test_one_stem_per_answer_even_on_a_collision(tmp_path):
    engine = Engine(Session(out_dir=tmp_path, seed=0), BUNDLE, "none")
    first = engine.ask("a person jumps twice")
    second = Engine(Session(out_dir=tmp_path, seed=0), BUNDLE, "none").ask("a person jumps twice")  # m1 again
    names = [p.name for p in first.motions[0].files]
    assert names == ["m1-a-person-jumps-twice.npy", "m1-a-person-jumps-twice-features.npy", "m1-a-person-jumps-twice.bvh"]
    again = [p.name for p in second.motions[0].files]
    assert again == ["m1-a-person-jumps-twice-2.npy", "m1-a-person-jumps-twice-2-features.npy", "m1-a-person-jumps-twice-2.bvh"]


def test_list_names_the_source_of_an_edit(engine):
    engine.ask("a person walks forward")
    made = engine.session.motions[-1].name
    engine.ask("make it slower")
    assert engine.session.motions[-1].origin == f"edit of {made}: make it slower"


def test_outside_the_repl_no_slash_commands_are_suggested(tmp_path):
    result = ask_cli(tmp_path, "describe m1")
    assert result.exit_code != 0 and "no motion m1" in result.output and "/list" not in result.output
    result = ask_cli(tmp_path, "describe it")
    assert result.exit_code != 0 and "/open" not in result.output


def test_undecodable_bytes_in_a_request_are_skipped_and_said(tmp_path):
    result = ask_cli(tmp_path, "a person \udcff\udcfe jumps", "--json")  # what a shell passes for \xff\xfe
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["caption"] == "a person jumps" and "not text" in reply["notes"][0]


def test_a_script_line_that_is_not_utf8_fails_alone(tmp_path):
    script = tmp_path / "script.txt"
    script.write_bytes(b"a person jumps\n\xff\xfe a person waves\nhow long is it?\n")
    result = runner.invoke(app, ["run", str(script), "--out", str(tmp_path / "out"), "--format", "none", "--json"])
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert result.exit_code == 1 and [line["ok"] for line in lines] == [True, False, True]
    assert "not UTF-8" in lines[1]["error"]


def test_out_that_is_a_file_is_one_line(tmp_path):
    clip = tmp_path / "clip.npy"
    clip.write_bytes(b"x")
    result = runner.invoke(app, ["ask", "a person jumps", "--out", str(clip)])
    assert result.exit_code == 2 and "is a file" in result.output and "Traceback" not in result.output


def test_format_is_case_insensitive(tmp_path):
    result = runner.invoke(app, ["ask", "a person jumps", "--out", str(tmp_path), "--format", "NONE"])
    assert result.exit_code == 0, result.output


# --- Ctrl-C ---------------------------------------------------------------------------------------


class _InterruptedEngine:
    """Makes a motion with a file, then is interrupted, as a long request would be by Ctrl-C."""

    loaded = True
    bundle_path = BUNDLE

    def __init__(self, session):
        self.session = session

    def start_loading(self):
        pass

    def describe(self):
        return "a test engine"

    def ask(self, text):
        motion = self.session.add(_walk(40), "t2m: " + text)
        path = self.session.output_path(motion.name, ".npy")
        path.write_bytes(b"partial")
        motion.files.append(path)
        raise KeyboardInterrupt


def test_ctrl_c_keeps_nothing_of_the_request(tmp_path):
    session = Session(out_dir=tmp_path)
    session.add(_walk(40), "earlier")
    console = Console(record=True, width=200)
    with create_pipe_input() as pipe:
        pipe.send_text("a person jumps\r/quit\r")
        Repl(_InterruptedEngine(session), console, PromptSession(input=pipe, output=DummyOutput())).run()
    assert [m.name for m in session.motions] == ["m1"] and not list(tmp_path.glob("m2*"))
    assert "cancelled; nothing kept (m2 and its files removed)" in console.export_text()
    assert session.add(_walk(40), "next").name == "m2"  # numbering carries on from what was kept


# --- fuzz: no traceback from any input --------------------------------------------------------------

ODD = ["", " ", "\x00", "\udcff\udcfe", "m" * 5000, "describe " + "m9" * 300, "a person walks for 1e309 seconds",
       "a person walks for 99999999999999999999999 frames", "how long is m99999999999999999999?",
       "generate -0 seconds of walking", "a person walks for .5 minutes", "\"\"\"", "'''", "then then then",
       "first, then", "after, before", "compare", "fill in", "how long", "m", "m0", "describe .npy",
       "describe /", "make it", "🙂 a person dances 🙂", "A" * 1999, "a person walks for nan seconds",
       "walk for 3 seconds then sit for 4 seconds", "\t\n\r", "between m1 and", "---", "?", "1 2 3 seconds"]  # fmt: skip


@pytest.mark.parametrize("text", ODD)
def test_the_router_never_raises_anything_but_a_user_error(text):
    try:
        route(text)
    except MotionchatError as err:
        assert "\n" not in str(err)


@pytest.mark.parametrize("text", ["[/] what", "describe m1 [/]", "[bold]a person[/bold] jumps", "describe [red]x.npy"])
def test_markup_like_requests_are_printed_as_typed(tmp_path, text):
    result = ask_cli(tmp_path, text)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and result.exit_code in (0, 1, 2)


def test_odd_requests_through_the_engine_fail_in_one_line(engine):
    for reply in engine.ask_many(ODD):
        assert reply.ok or (reply.error and "\n" not in reply.error), reply


def test_ctrl_c_in_ask_and_run_keeps_nothing_of_the_cancelled_request(tmp_path, monkeypatch):
    def interrupted(self, texts, stems=None):
        motion = self.session.add(_walk(40), "t2m")
        path = self.session.output_path(motion.name, ".npy")
        path.write_bytes(b"partial")
        motion.files.append(path)
        raise KeyboardInterrupt

    monkeypatch.setattr(Engine, "ask_many", interrupted)
    result = runner.invoke(app, ["ask", "a person jumps", "--out", str(tmp_path / "ask"), "--format", "none"])
    assert result.exit_code == 130 and "cancelled; nothing kept (m1 and its files removed)" in result.stderr
    assert not list((tmp_path / "ask").glob("*"))
    script = tmp_path / "script.txt"
    script.write_text("a person jumps\na person waves\n")
    result = runner.invoke(app, ["run", str(script), "--out", str(tmp_path / "run"), "--format", "none", "--json"])
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert result.exit_code == 1 and all("cancelled" in line["error"] for line in lines) and len(lines) == 2
    assert not list((tmp_path / "run").glob("*"))
