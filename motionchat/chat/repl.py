"""The interactive `motionchat` session (prompt_toolkit): history, completion, slash commands.

Enter sends the request; a line ending in a backslash, or Alt+Enter, continues it on the next
line. Ctrl-C cancels the request being worked on (or clears the line) and stays; Ctrl-D leaves.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings
from rich.console import Console
from rich.markup import escape

from motionchat.chat.engine import Engine
from motionchat.chat.replies import show_reply
from motionchat.chat.session import best_of_count, guidance_scale, sampling_temperature
from motionchat.errors import MotionchatError
from motionchat.motion.timing import frames_to_seconds
from motionchat.tasks.routing import HELP_TEXT

COMMANDS = {
    "/help": "show this help",
    "/open FILE": "load a motion (.npy, .bvh, .amc) into the session",
    "/list": "the session's motions with frames and origin",
    "/save mN PATH": "save a motion as .npy (joints), .bvh, .gif or .mp4",
    "/render mN": "write a preview of a motion into the output folder",
    "/play mN": "animate a motion here in the terminal",
    "/bundle PATH": "switch to another trained model",
    "/samples N": "motions to make per request",
    "/seed N": "sampling seed (same seed, same answers)",
    "/guidance S": "classifier-free guidance scale (1 = off; higher follows the request more)",
    "/temperature T": "sampling temperature (lower keeps to likelier answers)",
    "/bestof K": "motions drawn per text-to-motion answer, keeping the one the model reads back best (1 = off)",
    "/verbose": "show (or stop showing) the description the model gets",
    "/actions": "the actions this model has seen in training",
    "/clear": "forget the session's motions",
    "/quit": "leave (Ctrl-D works too)",
}
_PATH_ARGUMENT = {"/open": 1, "/bundle": 1, "/save": 2}  # which argument of a command is a path


def history_path() -> Path:
    if "MOTIONCHAT_HISTORY" in os.environ:
        return Path(os.environ["MOTIONCHAT_HISTORY"])
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state / "motionchat" / "history"


class ChatCompleter(Completer):
    """Slash commands at the start of the line; file paths where a command expects one, or for any
    word that looks like a path."""

    def __init__(self):
        self.paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event) -> Iterable[Completion]:
        text = document.text_before_cursor
        words = text.split(" ")
        if len(words) == 1 and text.startswith("/"):
            for usage in COMMANDS:
                name = usage.split()[0]
                if name.startswith(text):
                    yield Completion(name, start_position=-len(text), display_meta=COMMANDS[usage])
            return
        word = words[-1]
        expects_path = _PATH_ARGUMENT.get(words[0]) == len(words) - 1
        if expects_path or "/" in word or word.startswith(("~", ".")):
            yield from self.paths.get_completions(Document(word, len(word)), complete_event)


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _(event):
        buffer = event.current_buffer
        if buffer.text.endswith("\\"):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    def _(event):
        event.current_buffer.insert_text("\n")

    return bindings


class Repl:
    """Reads requests and slash commands until /quit or Ctrl-D."""

    def __init__(self, engine: Engine, console: Console, prompt_session: PromptSession | None = None):
        self.engine = engine
        self.engine.session.interactive = True
        self.verbose = False
        self.console = console
        if prompt_session is None:
            path = history_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            prompt_session = PromptSession(history=FileHistory(str(path)))
        self.prompt = prompt_session
        # The model loads while the first prompt waits for a request, and again after /bundle.
        self.prompt.app.after_render += lambda app: self.engine.start_loading()
        self.handlers: dict[str, Callable[[list[str]], bool | None]] = {
            "/help": self._help, "/open": self._open, "/list": self._list, "/save": self._save,
            "/render": self._render, "/play": self._play, "/bundle": self._bundle,
            "/samples": self._samples, "/seed": self._seed, "/guidance": self._guidance, "/temperature": self._temperature, "/bestof": self._best_of, "/verbose": self._verbose,
            "/actions": self._actions, "/clear": self._clear, "/quit": self._quit,
            "/exit": self._quit,
        }

    def run(self) -> None:
        self.console.print(
            f"[bold]motionchat[/] with {self.engine.describe()}. Ask for a motion, or /help. Ctrl-D leaves."
        )
        while True:
            try:
                text = self.prompt.prompt(
                    "you> ", completer=ChatCompleter(), key_bindings=_key_bindings(), multiline=True,
                    complete_while_typing=False,
                )
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            text = " ".join(text.split())
            if not text:
                continue
            try:
                if text.startswith("/"):
                    if self._command(text):
                        break
                else:
                    self._ask(text)
            except KeyboardInterrupt:
                self.console.print("[yellow]cancelled[/]")
            except MotionchatError as err:
                self.console.print(f"[bold red]error:[/] {escape(str(err))}")
        self.console.print("bye")

    def _ask(self, text: str) -> None:
        """Answer a request; Ctrl-C cancels all of it: motions made so far are dropped, files deleted."""
        mark = self.engine.session.mark()
        try:
            with self.console.status("loading model…" if not self.engine.loaded else "working…"):
                reply = self.engine.ask(text)
        except KeyboardInterrupt:
            dropped = self.engine.session.rollback(mark)
            kept = f" ({', '.join(dropped)} and {'its' if len(dropped) == 1 else 'their'} files removed)" if dropped else ""
            self.console.print(f"[yellow]cancelled; nothing kept[/]{kept}")
            return
        show_reply(self.console, reply, verbose=self.verbose)

    def _command(self, text: str) -> bool:
        """Run a slash command; True means leave."""
        try:
            words = shlex.split(text)
        except ValueError as err:
            raise MotionchatError(f"cannot read '{text}': {err}") from None
        handler = self.handlers.get(words[0].lower())
        if handler is None:
            raise MotionchatError(f"unknown command {words[0]}; /help lists them")
        return bool(handler(words[1:]))

    def _help(self, args: list[str]) -> None:
        from rich.table import Table

        table = Table(show_header=False, box=None, padding=(0, 2))
        for usage, what in COMMANDS.items():
            table.add_row(f"[cyan]{usage}[/]", what)
        self.console.print(table)
        self.console.print(HELP_TEXT)
        self._actions([])

    def _open(self, args: list[str]) -> None:
        path = Path(_one(args, "/open FILE")).expanduser()
        motion = self.engine.session.open(path)
        self.console.print(f"{motion.name}: {motion.frames} frames from {escape(str(path))}")

    def _list(self, args: list[str]) -> None:
        if not self.engine.session.motions:
            self.console.print("no motions yet")
            return
        from rich.table import Table

        table = Table("name", "frames", "seconds", "origin")
        for m in self.engine.session.motions:
            table.add_row(m.name, str(m.frames), f"{frames_to_seconds(m.frames, m.skeleton.fps):.1f}", m.origin)
        self.console.print(table)

    def _save(self, args: list[str]) -> None:
        if len(args) != 2:
            raise MotionchatError("usage: /save mN PATH (.npy, .bvh, .gif or .mp4)")
        motion = self.engine.session.get(args[0])
        path = self.engine.save(motion, Path(args[1]).expanduser())
        self.console.print(f"wrote [green]{escape(str(path))}[/]")

    def _render(self, args: list[str]) -> None:
        motion = self.engine.session.get(_one(args, "/render mN"))
        path = self.engine.session.output_path(motion.name, ".gif" if self.engine.output_format != "mp4" else ".mp4")
        self.console.print(f"wrote [green]{escape(str(self.engine.save(motion, path)))}[/]")

    def _play(self, args: list[str]) -> None:
        from motionchat.motion.terminal import play_in_terminal

        motion = self.engine.session.get(_one(args, "/play mN"))
        play_in_terminal(motion.joints, skeleton=motion.skeleton, console=self.console, fps=motion.skeleton.fps)

    def _bundle(self, args: list[str]) -> None:
        self.engine.use_bundle(Path(_one(args, "/bundle PATH")).expanduser())
        self.console.print(f"now using {escape(self.engine.describe())}")

    def _samples(self, args: list[str]) -> None:
        self.engine.session.samples = _positive_int(_one(args, "/samples N"), "/samples", maximum=16)
        self.console.print(f"{self.engine.session.samples} sample(s) per request")

    def _seed(self, args: list[str]) -> None:
        self.engine.session.seed = _positive_int(_one(args, "/seed N"), "/seed", minimum=0)
        self.console.print(f"seed {self.engine.session.seed}")

    def _guidance(self, args: list[str]) -> None:
        self.engine.session.guidance = guidance_scale(_one(args, "/guidance S"))
        self.console.print(f"guidance {self.engine.session.guidance:g}")

    def _temperature(self, args: list[str]) -> None:
        self.engine.session.temperature = sampling_temperature(_one(args, "/temperature T"))
        self.console.print(f"temperature {self.engine.session.temperature:g}")

    def _best_of(self, args: list[str]) -> None:
        self.engine.session.best_of = best_of_count(_one(args, "/bestof K"))
        self.console.print(f"best of {self.engine.session.best_of} motion(s) per text-to-motion answer")

    def _verbose(self, args: list[str]) -> None:
        self.verbose = not self.verbose
        self.console.print(f"verbose {'on' if self.verbose else 'off'}: the description the model gets is {'shown' if self.verbose else 'hidden'}")

    def _actions(self, args: list[str]) -> None:
        from motionchat.chat.vocabulary import describe_known_actions

        self.console.print(describe_known_actions(self.engine.bundle_path))

    def _clear(self, args: list[str]) -> None:
        self.engine.session.clear()
        self.console.print("session cleared (files already written stay)")

    def _quit(self, args: list[str]) -> bool:
        return True


def _one(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise MotionchatError(f"usage: {usage}")
    return args[0]


def _positive_int(text: str, command: str, minimum: int = 1, maximum: int = 2**31 - 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise MotionchatError(f"{command} needs a whole number, got '{text}'") from None
    if not minimum <= value <= maximum:
        raise MotionchatError(f"{command} must be between {minimum} and {maximum}, got {value}")
    return value
