"""The `trainer` command: datasets and the three training stages.

Every stage runs the same way on one process or many: prefix the command with
`accelerate launch [--multi_gpu] --num_processes N -m trainer ...` or
`torchrun --nproc_per_node N -m trainer ...`. Heavy modules are imported inside the commands so
that `trainer --help` is quick.
"""

from __future__ import annotations

# On a shared CPU, OpenMP threads that spin while waiting for each other slow training several
# times over (measured: 2 threads, 0.7 vs 1.7 steps/s with other jobs running); importing
# motionchat (before torch) makes them sleep instead: motionchat/threads.py.
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer

from motionchat.cli_options import option_group
from motionchat.errors import friendly_errors
from trainer.data_cli import app as data_app
from trainer.options import RUN_OPTIONS

app = typer.Typer(
    help="Train motionchat models: the motion tokenizer (stage1), pretraining (stage2), instruction tuning (stage3).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")

F = TypeVar("F", bound=Callable)

OutOption = Annotated[Path, typer.Option("--out", help="Run folder: config, checkpoints, metrics and the trained artefacts.")]


def training_command(name: str, options: dict[str, tuple[Any, Any]] = RUN_OPTIONS) -> Callable[[F], F]:
    """Register the command `name`: a `MotionchatError` is shown as one line, and the options every
    training command takes (trainer.options) reach it as the dict `options`."""

    def register(command: F) -> F:
        return app.command(name)(friendly_errors(option_group("options", options)(command)))

    return register


@training_command("stage1")
def stage1(
    out: OutOption,
    data: Annotated[
        Optional[Path],
        typer.Option("--data", help="HumanML3D-layout dataset folder (new_joint_vecs/, train/val/test.txt, Mean.npy, Std.npy)."),
    ] = None,
    *,
    options: dict[str, Any],
) -> None:
    """Train the motion tokenizer (VQ-VAE) and write OUT/vq.safetensors, the normaliser and eval.json.

    Example: [bold]trainer stage1 --data data/synth --preset tiny --out runs/vq[/]

    On several GPUs or CPU processes: [bold]torchrun --nproc_per_node N -m trainer stage1 ...[/] or
    [bold]accelerate launch --multi_gpu --num_processes N -m trainer stage1 ...[/]
    (bf16: --set train.mixed_precision=bf16; accumulation: --set train.grad_accum_steps=K).
    """
    from trainer.stage1 import run_stage1

    run_stage1(data=data, out=out, **options)


DataOption = Annotated[
    Optional[Path],
    typer.Option("--data", help="HumanML3D-layout dataset folder with captions (texts/); a synthetic corpus adds labels.jsonl and edits.jsonl."),
]


@training_command("stage2")
def stage2(
    out: OutOption,
    data: DataOption = None,
    vq: Annotated[Optional[Path], typer.Option("--vq", help="Run folder of `trainer stage1` (vq.safetensors, Mean.npy, Std.npy).")] = None,
    *,
    options: dict[str, Any],
) -> None:
    """Pretrain the language model on motion tokens and text (span corruption + text<->motion pairs); writes OUT/lm/.

    Example: [bold]trainer stage2 --data data/synth --vq runs/vq --preset tiny --out runs/pretrain[/]

    The base preset starts from a local T5 checkpoint: --preset base --set lm.pretrained_dir=/path/to/flan-t5-base.
    """
    from trainer.stage2 import run_stage2

    run_stage2(data=data, vq=vq, out=out, **options)


@training_command("stage3")
def stage3(
    out: Annotated[Path, typer.Option("--out", help="The model bundle to write (a folder).")],
    data: DataOption = None,
    init: Annotated[Optional[Path], typer.Option("--init", help="Run folder of `trainer stage2` (lm/, vq.safetensors, Mean/Std).")] = None,
    run_dir: Annotated[
        Optional[Path], typer.Option("--run-dir", help="Run folder for checkpoints and metrics (default: OUT.runs/stage3).")
    ] = None,
    *,
    options: dict[str, Any],
) -> None:
    """Instruction-tune the model on all 15 task families and write the bundle to OUT.

    Example: [bold]trainer stage3 --data data/synth --init runs/pretrain --out models/tiny[/]
    """
    from trainer.stage3 import run_stage3

    run_stage3(data=data, init=init, out=out, run_dir=run_dir, **options)


# `trainer all` passes its settings on to every stage, so several of its options read differently.
ALL_OPTIONS = RUN_OPTIONS | {
    "config_file": (
        Annotated[Optional[Path], typer.Option("--config", help="JSON or TOML file with [stage1] [stage2] [stage3] tables of settings.")],
        None,
    ),
    "set_options": (
        Annotated[
            Optional[list[str]], typer.Option("--set", help="One setting of one stage: --set stage2.train.steps=500. Unknown keys are refused.")
        ],
        None,
    ),
    "max_steps": (
        Annotated[Optional[int], typer.Option("--max-steps", min=1, help="Stop every stage after this many steps (smoke runs).")],
        None,
    ),
    "resume": (
        Annotated[
            bool, typer.Option("--resume", help="Skip finished stages, continue the interrupted one, then go on, with the recorded settings.")
        ],
        False,
    ),
    "force": (Annotated[bool, typer.Option("--force", help="Start all stages over (earlier runs in OUT.runs/ are replaced).")], False),
}


@training_command("all", ALL_OPTIONS)
def all_stages(
    out: Annotated[Path, typer.Option("--out", help="The model bundle to write; the three run folders go to OUT.runs/.")],
    data: DataOption = None,
    *,
    options: dict[str, Any],
) -> None:
    """Train stage 1 -> 2 -> 3 and write the bundle.

    Example: [bold]trainer all --data data/synth --preset tiny --out models/tiny[/]
    """
    from trainer.pipeline import run_all

    run_all(data=data, out=out, **options)
