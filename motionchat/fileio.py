"""Atomic file writes (write to a temporary file beside the target, then rename over it), and
reading a user's text file with a one-line error.

A reader (or a resumed run after a kill) therefore sees either the old file or the complete new
one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from motionchat.errors import MotionchatError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write to; it replaces `path` only if the block succeeds.

    `durable` also flushes the data to disk before the rename (checkpoints, user outputs); bulk
    dataset files skip that: the rename alone already guarantees no half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should read like normal files
    try:
        yield tmp_path
        if durable:
            with open(tmp_path, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def read_text(path: Path, what: str) -> str:
    """A text file's contents; a missing or unreadable file is a `MotionchatError` naming it."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise MotionchatError(f"{path}: {what} file not found; check the path") from None
    except IsADirectoryError:
        raise MotionchatError(f"{path}: is a directory, expected a {what} file") from None
    except OSError as err:
        raise MotionchatError(f"{path}: cannot read the {what} file ({err.strerror})") from None
