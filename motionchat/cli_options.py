"""Options shared by several typer commands, declared once (`option_group`)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable)


def option_group(name: str, options: dict[str, tuple[Any, Any]]) -> Callable[[F], F]:
    """Give a command a group of options where its keyword-only parameter `name` stands; the
    command gets their values as one dict under `name`.

    Typer reads a command's options from its signature, so a group that several commands share
    (`options`: parameter name -> (Annotated alias, default)) is written once instead of in every
    signature, and keeps its place in --help.
    """

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        group = [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=alias, default=default)
                 for key, (alias, default) in options.items()]  # fmt: skip
        parameters = [p for own in signature.parameters.values() for p in (group if own.name == name else [own])]

        @functools.wraps(command)
        def grouped(*args, **kwargs):
            kwargs[name] = {key: kwargs.pop(key) for key in options}
            return command(*args, **kwargs)

        grouped.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return grouped  # type: ignore[return-value]

    return decorate


def _show_flags_without_a_type() -> None:
    """`--json`, `--resume`, `-h`: typer 0.29 prints `<bool>` beside every flag, as if it took a
    value. Every command line of the project imports this module, so the help of all three
    (`motionchat`, `trainer`, `motionchat-eval`) shows flags bare. Typer releases without the hook
    (the GPU machine's image had one) print their help as they are."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "flags_bare", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag or self.count else shown(self, ctx)

    display_type_rich.flags_bare = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_show_flags_without_a_type()
