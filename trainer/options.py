"""The command-line options every training command shares: `trainer stage1|stage2|stage3|all` and
`motionchat-eval train-evaluator|train-recognizer`.

A command takes them with `@option_group("options", RUN_OPTIONS)` (motionchat.cli) and passes the
dict on to its run function, whose `trainer.run_config.RunOptions` has the same names. A command
whose option means something else (e.g. `--set` of `trainer all`) replaces that entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

# parameter name -> (Annotated alias, default), in --help order
RUN_OPTIONS = {
    "preset": (
        Annotated[Optional[str], typer.Option("--preset", help="Starting configuration: 'tiny' (CPU, synthetic corpus; the default) or 'base'.")],
        None,
    ),
    "config_file": (
        Annotated[
            Optional[Path],
            typer.Option("--config", help="JSON or TOML file of settings applied over the preset (same nesting as OUT/config.json)."),
        ],
        None,
    ),
    "set_options": (
        Annotated[
            Optional[list[str]],
            typer.Option("--set", help="One setting, applied last: --set train.lr=1e-4 --set vq.width=256. Unknown keys are refused."),
        ],
        None,
    ),
    "max_steps": (
        Annotated[
            Optional[int],
            typer.Option("--max-steps", min=1, help="Stop after this many optimizer steps (smoke runs); the lr schedule keeps train.steps."),
        ],
        None,
    ),
    "resume": (
        Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its newest checkpoint, with its recorded config.")],
        False,
    ),
    "force": (Annotated[bool, typer.Option("--force", help="Start over in a non-empty --out (its checkpoints and log are deleted).")], False),
}
