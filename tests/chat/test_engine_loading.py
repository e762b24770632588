"""When the chat engine loads its bundle: only when asked, and in the REPL once the prompt is drawn
(loading alongside slows the drawing; see motionchat/chat/engine.py)."""

import threading
import time

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
from motionchat.errors import MotionchatError


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


class SlowLoad(FakeLoad):
    """A load that takes `seconds` and fails the first `failures` times."""

    def __init__(self, seconds: float, failures: int = 0):
        super().__init__()
        self.seconds, self.failures = seconds, failures

    def __call__(self, path):
        time.sleep(self.seconds)
        if self.failures:
            self.failures -= 1
            raise OSError("disk hiccup")
        return super().__call__(path)


def test_a_request_at_any_moment_of_the_load_waits_for_it(monkeypatch, tmp_path):
    load = SlowLoad(seconds=0.02)
    monkeypatch.setattr(motionchat.bundle, "load_bundle", load)
    path = _bundle_dir(tmp_path / "b")
    for offset_s in [i * 0.0003 for i in range(100)]:  # before, during and after the 20 ms load
        engine = Engine(Session(out_dir=tmp_path / "out"), path)
        engine.start_loading()
        time.sleep(offset_s)
        assert engine.bundle == f"bundle at {path}"
    assert len(load.paths) == 100  # one load per engine, however the request fell


def test_a_failed_load_is_reported_once_and_retried_by_the_next_request(monkeypatch, tmp_path):
    load = SlowLoad(seconds=0.01, failures=2)
    monkeypatch.setattr(motionchat.bundle, "load_bundle", load)
    engine = Engine(Session(out_dir=tmp_path / "out"), _bundle_dir(tmp_path / "b"))
    engine.start_loading()
    reply = engine.ask("a person jumps")
    assert "disk hiccup" in reply.error  # the request that waited is told why
    with pytest.raises(MotionchatError, match="disk hiccup"):
        _ = engine.bundle  # the next one loads again (and fails again here)
    assert engine.bundle == f"bundle at {tmp_path / 'b'}"  # and the one after that succeeds
    assert engine.bundle == f"bundle at {tmp_path / 'b'}" and len(load.paths) == 1  # then kept


def test_requests_from_several_threads_share_one_load(monkeypatch, tmp_path):
    load = SlowLoad(seconds=0.05)
    monkeypatch.setattr(motionchat.bundle, "load_bundle", load)
    engine = Engine(Session(out_dir=tmp_path / "out"), _bundle_dir(tmp_path / "b"))
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.bundle)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [f"bundle at {tmp_path / 'b'}"] * 8 and len(load.paths) == 1


# Real cold starts: a fresh process starts the background load, then asks after an offset, so that
# the request's own imports fall at every moment of the load's imports.
_COLD_START = """
import sys, time
from pathlib import Path
from motionchat.chat.engine import Engine
from motionchat.chat.session import Session
engine = Engine(Session(out_dir=Path(sys.argv[2]), seed=0), None, "none")
engine.start_loading()
time.sleep(float(sys.argv[1]))
reply = engine.ask("a person jumps")
print("OK" if reply.error is None else f"ERROR {reply.error}")
"""


@pytest.mark.slow
def test_cold_starts_with_a_request_at_every_offset_all_answer(tmp_path):
    import os
    import subprocess
    import sys

    starts = int(os.environ.get("MOTIONCHAT_RACE_STARTS", "100"))
    failed = []
    for i in range(starts):
        offset_s = 2.0 * i / starts  # the load takes about 1-2 s on a 2-core machine
        out = subprocess.run([sys.executable, "-c", _COLD_START, str(offset_s), str(tmp_path / str(i))],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        if out.returncode != 0 or out.stdout.strip() != "OK":
            failed.append((offset_s, out.stdout.strip() or out.stderr.strip().splitlines()[-1:]))
    assert not failed, failed
