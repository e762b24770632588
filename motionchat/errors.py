"""User-facing errors.

Anything a user can cause (a bad file, a wrong shape, a missing checkpoint, an unknown option)
raises `MotionchatError` with a one-line message that names the thing and says what to do.
The command-line front ends print that line and exit with `exit_code`; no traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable)


class MotionchatError(Exception):
    """A problem the user can fix; the message is shown as one line."""

    exit_code = EXIT_BAD_INPUT


def friendly_errors(fn: F) -> F:
    """Decorate a CLI command: print a `MotionchatError` as one red line and exit non-zero."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MotionchatError as err:
            from rich.console import Console
            from rich.markup import escape

            Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(err))}")
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]
