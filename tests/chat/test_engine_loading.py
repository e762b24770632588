"""When the chat engine loads its bundle: only when asked, and in the REPL once the prompt is drawn
(loading alongside slows the drawing; see motionchat/chat/engine.py)."""

import threading

import pytest
import torch  # noqa: F401  imported up front, so a started loader thread reaches load_bundle at once
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

import motionchat.bundle
from motionchat.chat.engine import Engine
from motionchat.chat.repl import Repl
from motionchat.chat.session import Session


class FakeLoad:
    """Stands in for `load_bundle`: records each call and how often the prompt had been drawn."""

    def __init__(self):
        self.paths = []
        self.renders_before = []
        self.app = None  # the prompt's application, once the test has made it
        self.called = threading.Event()

    def __call__(self, path):
        self.paths.append(path)
        self.renders_before.append(None if self.app is None else self.app.render_counter)
        self.called.set()
        return f"bundle at {path}"


@pytest.fixture
def fake_load(monkeypatch):
    fake = FakeLoad()
    monkeypatch.setattr(motionchat.bundle, "load_bundle", fake)
    return fake


def _bundle_dir(path):
    path.mkdir()
    (path / "config.json").write_text("{}")
    return path


def test_engine_loads_on_the_first_request_not_before(fake_load, tmp_path):
    engine = Engine(Session(out_dir=tmp_path / "out"), _bundle_dir(tmp_path / "b"))
    assert not fake_load.called.wait(0.5)
    assert engine.bundle == f"bundle at {tmp_path / 'b'}"
    assert fake_load.paths == [tmp_path / "b"]


def test_repl_loads_once_its_prompt_is_drawn_and_again_after_bundle(fake_load, tmp_path):
    first, second = _bundle_dir(tmp_path / "first"), _bundle_dir(tmp_path / "second")
    engine = Engine(Session(out_dir=tmp_path / "out"), first)
    with create_pipe_input() as pipe:
        pipe.send_text(f"/bundle {second}\r/quit\r")
        prompt = PromptSession(input=pipe, output=DummyOutput())
        fake_load.app = prompt.app
        Repl(engine, Console(record=True), prompt).run()
    assert engine.bundle == f"bundle at {second}"
    assert fake_load.paths == [first, second]  # no request was made: the REPL started both loads
    assert all(renders >= 1 for renders in fake_load.renders_before)
