"""`motionchat run script.txt`: one request a line, context carried from line to line.

Lines that need no earlier result are generated together in one batch; a line that refers to the
session's motions ("make it faster", "describe m2") waits for the lines before it. A failing line
never stops the others; the summary names every failure with its line number.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from motionchat.chat.engine import Engine, references_session
from motionchat.chat.replies import Reply
from motionchat.errors import MotionchatError

MAX_BATCH = 32


def read_script(path: Path) -> list[tuple[int, str]]:
    """(line number, request) for every line that is not blank or a # comment. A line that is not
    UTF-8 text comes back with its undecodable bytes as U+FFFD; `unreadable` names those lines."""
    if not path.is_file():
        raise MotionchatError(f"{path}: no such script file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MotionchatError(f"{path}: cannot read it ({err.strerror})") from None
    lines = [(n, line.decode("utf-8", "replace").strip()) for n, line in enumerate(data.splitlines(), start=1)]
    requests = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not requests:
        raise MotionchatError(f"{path}: no requests in it (only blank lines and # comments)")
    return requests


def unreadable(text: str) -> bool:
    return "\ufffd" in text


def _batches(requests: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    batches: list[list[tuple[int, str]]] = []
    for number, text in requests:
        dependent = references_session(text)
        if dependent or not batches or len(batches[-1]) >= MAX_BATCH or batches[-1][0][2]:
            batches.append([(number, text, dependent)])
        else:
            batches[-1].append((number, text, dependent))
    return [[(n, t) for n, t, _ in batch] for batch in batches]


def run_script(path: Path, engine: Engine, console: Console, *, as_json: bool = False, verbose: bool = False) -> int:
    """Run every request of the script; returns how many lines failed."""
    requests = read_script(path)
    results: list[tuple[int, Reply]] = []
    progress = Progress(
        TextColumn("[bold]requests"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=as_json, transient=True,
    )
    with progress:
        task = progress.add_task("run", total=len(requests))
        for n, text in requests:
            if unreadable(text):
                results.append((n, Reply(text, error="this line is not UTF-8 text; save the script as UTF-8")))
                progress.advance(task)
        batches = _batches([(n, text) for n, text in requests if not unreadable(text)])
        for done, batch in enumerate(batches):
            mark = engine.session.mark()
            try:
                replies = engine.ask_many([text for _, text in batch], [f"line{n:03d}" for n, _ in batch])
            except KeyboardInterrupt:  # what this batch made is removed; earlier lines stay, later ones are not run
                engine.session.rollback(mark)
                results += [(n, Reply(text, error="cancelled (Ctrl-C); nothing of it kept"))
                            for later in batches[done:] for n, text in later]  # fmt: skip
                break
            results += [(n, reply) for (n, _), reply in zip(batch, replies)]
            progress.advance(task, len(batch))
    results.sort(key=lambda item: item[0])
    failed = [(n, r) for n, r in results if not r.ok]
    if as_json:
        for n, reply in results:
            print(json.dumps({"line": n, **reply.as_dict()}))
        return len(failed)
    table = Table("line", "task", "result")
    for n, reply in results:
        if not reply.ok:
            outcome = f"[red]failed:[/] {escape(reply.error)}"
        elif reply.motions:
            outcome = ", ".join(f"{m.name} ({m.frames} frames) → {escape(str(m.files[-1]))}" for m in reply.motions)
        else:
            outcome = escape(" | ".join(reply.texts))
        if reply.ok:
            outcome = "\n".join([outcome, *reply.facts])
        if verbose and reply.caption:
            outcome = f"[dim]model input:[/] {escape(reply.caption)}\n{outcome}"
        outcome = "\n".join([outcome, *(f"[dim]note:[/] {escape(note)}" for note in reply.notes)])
        table.add_row(str(n), reply.family or "-", outcome)
    console.print(table)
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(results)} lines failed:[/] " + ", ".join(
            f"line {n} ({escape(reply.error)})" for n, reply in failed))
    else:
        console.print(f"all {len(results)} lines done; files in {engine.session.out_dir}")
    return len(failed)
