"""How long chat makes a person wait: the REPL's start, one request in a warm engine, one cold `ask`.

Prints medians over --runs (with min and max) of
  1. one text->motion request through `Engine.ask` in this process, after a warm-up: with
     `--format none` (joints .npy, features .npy and .bvh written, no preview; target <= 0.25 s)
     and with a GIF preview (target <= 0.35 s). CPU seconds of this process are given too: on a
     busy machine the wall clock includes waiting for a core.
  2. the REPL, `motionchat --bundle B --format none`, started as a subprocess on a pseudo-terminal
     (so prompt_toolkit really draws its prompt), timed from the spawn until
       - "prompt shown": `you>` is on the terminal;
       - "ready for input": the answer to `/samples 1`, typed as soon as the prompt shows, is on
         the terminal, i.e. the prompt reads and handles keys (target <= 3 s). Faster than anyone
         types: the bundle starts loading once the prompt is drawn, and keys wait while importing
         torch holds the GIL, so this is the worst case;
       - "first answer" (time to first answer): the answer to the request, typed right after, is on the terminal. The
         bundle loads in the background while the prompt waits and the first request waits for
         it, so this is about: start + bundle load + one request without preview.
  3. `motionchat ask REQUEST --format gif` as a fresh process (Python start, imports, bundle load,
     the request and its GIF): what a one-shot user waits, and its peak memory (targets <= 3 s,
     <= 300 MiB), beside the baseline it replaces: a fresh process that only imports torch and
     transformers' T5 (what loading the bundle cost before answering went without transformers).

The request and the seed are fixed, so every run makes the same motion. The in-process part runs
first, so the subprocesses start with the disk cache warm. Files go to a temporary folder that is
removed at the end; the REPL history goes there too.

    python benchmarks/chat.py [--bundle PATH] [--runs 5]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from motionchat.chat.engine import Engine, default_bundle_path
from motionchat.chat.session import Session
from motionchat.errors import MotionchatError, friendly_errors

REQUEST = "a person waves with the right hand, then jumps twice"
SEED = 0
TERMINAL_ROWS, TERMINAL_COLUMNS = 40, 120
PROMPT = "you>"  # prompt_toolkit draws the space after it as a cursor move
COMMAND, COMMAND_ANSWER = "/samples 1", "1 sample(s) per request"
MOTION_ANSWER = re.compile(r"\bm\d+: \d+ frames|error: .*")
# CSI sequences (colours, cursor moves, modes), OSC strings (titles), and two-byte escapes.
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CURSOR_POSITION_REQUEST = b"\x1b[6n"


def spread(values: list[float], unit: str = "s") -> str:
    return f"median {statistics.median(values):6.3f} {unit} (min {min(values):6.3f}, max {max(values):6.3f})"


def motionchat_command() -> list[str]:
    """The `motionchat` script installed beside this Python (a version-manager shim on PATH would add
    its own start-up time), else the same entry point through this Python."""
    script = Path(sys.executable).with_name("motionchat")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from motionchat.cli import app; sys.exit(app(prog_name='motionchat'))"]


# --- 1. in this process ---------------------------------------------------------------------------


def request_s(engine: Engine) -> tuple[float, float, int]:
    """Wall and CPU seconds of one request, and the frames of the motion it made."""
    engine.session.clear()  # same numbering (m1) and memory every run
    start_s, start_cpu_s = time.perf_counter(), time.process_time()
    reply = engine.ask(REQUEST)
    wall_s, cpu_s = time.perf_counter() - start_s, time.process_time() - start_cpu_s
    if not reply.ok:
        raise MotionchatError(f"the bundle gave no motion for '{REQUEST}': {reply.error}; check the bundle")
    return wall_s, cpu_s, reply.motions[0].frames


def time_in_process(bundle: Path, out_dir: Path, runs: int) -> None:
    start_s = time.perf_counter()
    engine = Engine(Session(out_dir=out_dir, seed=SEED), bundle, output_format="none")
    _ = engine.bundle  # waits for the background load
    load_s = time.perf_counter() - start_s
    import torch  # already loaded by the engine

    print(f"bundle load in this process: {load_s:.2f} s (once; includes importing torch)")
    for output_format, target in (("none", "target <= 0.25 s"), ("gif", "target <= 0.35 s")):
        engine.output_format = output_format  # what `--format` sets; the REPL's /render reads it too
        request_s(engine)  # warm-up
        timings = [request_s(engine) for _ in range(runs)]
        frames = {t[2] for t in timings}
        print(f"one request, warm engine, --format {output_format:4} ({'/'.join(map(str, frames))} frames):")
        print(f"  wall {spread([t[0] for t in timings])}   <- {target}")
        print(f"  cpu  {spread([t[1] for t in timings])}")
    print(f"torch threads in the requests: {torch.get_num_threads()} (set by the engine)")


# --- 2. the REPL on a pseudo-terminal -------------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal, read as a person sees it (escape codes dropped).

    It answers cursor-position requests as a terminal emulator would (prompt_toolkit sends them).
    """

    def __init__(self, command: list[str], env: dict[str, str]):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", TERMINAL_ROWS, TERMINAL_COLUMNS, 0, 0))
        self.start_s = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True
        )
        os.close(slave)
        self.master = master
        self.raw = b""
        self.last_read_s = self.start_s  # when the last bytes arrived
        self.answered_requests = 0
        self.read_up_to = 0  # text before this index has been matched already
        self.last_match = ""

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    @property
    def text(self) -> str:
        return _ESCAPES.sub(b"", self.raw).decode(errors="replace")

    def wait_for(self, pattern: str | re.Pattern, timeout_s: float) -> float:
        """Seconds from the spawn until `pattern` shows after what earlier waits matched."""
        pattern = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        deadline_s = time.perf_counter() + timeout_s
        while True:
            found = pattern.search(self.text, self.read_up_to)
            if found:
                self.read_up_to, self.last_match = found.end(), found.group()
                return self.last_read_s - self.start_s
            remaining_s = deadline_s - time.perf_counter()
            if remaining_s <= 0 or not self._read(remaining_s):
                tail = self.text[-300:].replace("\r", "")
                raise MotionchatError(
                    f"the REPL did not show {pattern.pattern!r} (exit code {self.process.poll()}); it showed: ...{tail}"
                )

    def _read(self, timeout_s: float) -> bool:
        """Read what the child wrote; False once it has closed the terminal or the time is up."""
        if not select.select([self.master], [], [], timeout_s)[0]:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child has exited
            return False
        self.last_read_s = time.perf_counter()
        self.raw += chunk
        while self.raw.count(_CURSOR_POSITION_REQUEST) > self.answered_requests:
            self.send("\x1b[1;1R")
            self.answered_requests += 1
        return bool(chunk)

    def close(self, timeout_s: float = 10.0) -> None:
        """Ctrl-D, as a person leaves; stopped if it does not leave."""
        try:
            self.send("\x04")
            self.process.wait(timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self.master)


def time_repl(command: list[str], env: dict[str, str], timeout_s: float) -> tuple[float, float, float]:
    """Seconds from spawn to: prompt shown, a typed command answered, the first motion shown."""
    terminal = Terminal(command, env)
    try:
        prompt_s = terminal.wait_for(PROMPT, timeout_s)
        terminal.send(COMMAND + "\r")
        ready_s = terminal.wait_for(COMMAND_ANSWER, timeout_s)
        terminal.send(REQUEST + "\r")
        motion_s = terminal.wait_for(MOTION_ANSWER, timeout_s)
        if terminal.last_match.startswith("error:"):
            raise MotionchatError(f"the REPL could not answer '{REQUEST}': {terminal.last_match}")
        terminal.wait_for(PROMPT, timeout_s)  # the request is over when the next prompt shows
    finally:
        terminal.close()
    return prompt_s, ready_s, motion_s


# --- 3. a cold `motionchat ask` -------------------------------------------------------------------


def time_process(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak memory (MiB) of a fresh process running `command`."""
    start_s = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)  # this child's own resource use
    wall_s = time.perf_counter() - start_s
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode(errors="replace").strip()
    process.stderr.close()
    if process.returncode != 0:
        raise MotionchatError(f"`{' '.join(command[:3])} ...` failed (exit code {process.returncode}): {error[-300:]}")
    return wall_s, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def spread_ratio(values: list[float], baseline: list[float]) -> str:
    return f"{statistics.median(baseline) / statistics.median(values):4.2f}x"


@friendly_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="the model to time (default: the shipped one, or $MOTIONCHAT_BUNDLE)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median, min, max)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any one step before giving up")
    args = parser.parse_args()
    if args.runs < 1:
        raise MotionchatError(f"--runs {args.runs}: give at least 1")
    bundle = (args.bundle or default_bundle_path()).resolve()
    threads = os.environ.get("OMP_NUM_THREADS")
    print(f"bundle: {bundle}")
    print(f"request: '{REQUEST}' (seed {SEED}), {args.runs} runs per figure")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
          + (f", OMP_NUM_THREADS={threads}" if threads else ""))  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="motionchat-bench-") as tmp:
        tmp = Path(tmp)
        time_in_process(bundle, tmp / "in-process", args.runs)

        command = motionchat_command()
        env = {**os.environ, "MOTIONCHAT_HISTORY": str(tmp / "history"), "TERM": "xterm-256color"}
        print(f"subprocesses run: {' '.join(command)} ...")
        repl = [*command, "--bundle", str(bundle), "--out", str(tmp / "repl"), "--format", "none", "--seed", str(SEED)]
        times = [time_repl(repl, env, args.timeout) for _ in range(args.runs)]
        print(f"REPL on a {TERMINAL_COLUMNS}x{TERMINAL_ROWS} pseudo-terminal, seconds after the spawn:")
        print(f"  prompt shown     {spread([t[0] for t in times])}")
        print(f"  ready for input  {spread([t[1] for t in times])}   <- target <= 3 s ('{COMMAND}' answered)")
        print(f"  first answer     {spread([t[2] for t in times])}   (time to first answer: start + bundle load + one request, --format none)")

        ask = [*command, "ask", REQUEST, "--bundle", str(bundle), "--out", str(tmp / "ask"), "--format", "gif",
               "--seed", str(SEED)]  # fmt: skip
        imports = [sys.executable, "-c", "import torch; from transformers import T5ForConditionalGeneration"]
        asks, baselines = [], []
        for _ in range(args.runs):  # alternating, so that both see the same machine
            asks.append(time_process(ask, env))
            baselines.append(time_process(imports, env))
        print("cold `motionchat ask --format gif` (Python start, imports, bundle load, request, GIF),")
        print("beside a process that only imports torch and transformers' T5 (the baseline):")
        for k, (what, unit, target) in enumerate((("wall", "s", "<= 3 s"), ("cpu ", "s", ""), ("peak", "MiB", "<= 300 MiB"))):
            ours, theirs = [t[k] for t in asks], [t[k] for t in baselines]
            print(f"  {what} {spread(ours, unit)}   baseline {spread(theirs, unit)}   "
                  f"baseline / ask {spread_ratio(ours, theirs)}" + (f"   <- target {target}" if target else ""))  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
