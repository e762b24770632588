"""What one request produced, and how it is shown: rich for people, JSON for scripts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from motionchat.motion.timing import frames_to_seconds


@dataclass
class MotionResult:
    name: str  # the session name, m1, m2, ...
    frames: int
    fps: float
    files: list[Path] = field(default_factory=list)


@dataclass
class Reply:
    """The answer to one request: text, motions, or the problem that stopped it."""

    request: str
    family: str | None = None
    texts: list[str] = field(default_factory=list)
    motions: list[MotionResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # malformed samples; the rest still count
    error: str | None = None  # the request failed as a whole
    caption: str | None = None  # the description the model got, without the request words around it
    notes: list[str] = field(default_factory=list)  # how the request was read; what the model saw
    facts: list[str] = field(default_factory=list)  # measured beside the model's words

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.texts or self.motions)

    def as_dict(self) -> dict:
        return {
            "request": self.request,
            "ok": self.ok,
            "family": self.family,
            "texts": self.texts,
            "motions": [
                {
                    "name": m.name,
                    "frames": m.frames,
                    "seconds": frames_to_seconds(m.frames, m.fps),
                    "files": [str(f) for f in m.files],
                }
                for m in self.motions
            ],
            "problems": self.problems,
            "error": self.error,
            "caption": self.caption,
            "notes": self.notes,
            "facts": self.facts,
        }


def show_reply(console: Console, reply: Reply, *, verbose: bool = False) -> None:
    """The reply for people; `verbose` adds the description the model got."""
    if reply.family is not None:
        console.print(f"[dim]task:[/] [cyan]{reply.family}[/]")
    if verbose and reply.caption:
        console.print(f"[dim]model input:[/] {escape(reply.caption)}")
    for note in reply.notes:
        console.print(f"[dim]note:[/] {escape(note)}")
    if reply.error is not None:
        console.print(f"[bold red]error:[/] {escape(reply.error)}")
        return
    for text in reply.texts:
        console.print(f"  {escape(text)}")
    for motion in reply.motions:
        seconds = frames_to_seconds(motion.frames, motion.fps)
        console.print(f"  [bold]{motion.name}[/]: {motion.frames} frames ({seconds:.1f} s)")
        for path in motion.files:
            console.print(f"    [green]{escape(str(path))}[/]")
    for fact in reply.facts:
        console.print(f"  [dim]{escape(fact)}[/]")
    for problem in reply.problems:
        console.print(f"  [yellow]warning:[/] {escape(problem)}")
