"""`trainer all`: stage 1 -> 2 -> 3 in one command, each stage in its own run folder.

    BUNDLE.runs/
      all.json           the command's settings (data, preset, overrides), read back by --resume
      stage1/ stage2/ stage3/   the three run folders
    BUNDLE/              the bundle stage 3 writes

Settings address a stage by prefix: `--set stage2.train.steps=500`, or a config file with
[stage1] [stage2] [stage3] tables. With --resume, finished stages are skipped, an interrupted
one continues from its newest checkpoint, and the ones not started yet start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from trainer.checkpoint import list_checkpoints
from trainer.config import parse_set_options, read_config_file
from trainer.run_config import RunOptions
from trainer.rundir import CONFIG_FILE
from trainer.stage3 import check_bundle_out, default_run_dir

STAGES = ("stage1", "stage2", "stage3")
SETTINGS_FILE = "all.json"


def runs_dir_for(bundle: Path) -> Path:
    return default_run_dir(bundle).parent


def _flatten(tree: dict[str, Any], prefix: str = "") -> list[str]:
    """{"train": {"lr": 1e-4}} -> ["train.lr=0.0001"] (the --set form of a config-file table)."""
    items = []
    for key, value in tree.items():
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append(f"{prefix}{key}={str(value).lower() if isinstance(value, bool) else value}")
    return items


def stage_set_options(config_file: Path | None, set_options: list[str]) -> dict[str, list[str]]:
    """Per stage, its settings as --set items: the config file's table first, then --set."""
    per_stage: dict[str, list[str]] = {stage: [] for stage in STAGES}
    tables = read_config_file(config_file) if config_file is not None else {}
    for source, tree in ((str(config_file), tables), ("--set", parse_set_options(set_options))):
        unknown = sorted(set(tree) - set(STAGES))
        if unknown:
            raise MotionchatError(f"{source}: '{unknown[0]}' is not a stage; prefix settings with stage1., stage2. or stage3.")
        for stage, tree_of_stage in tree.items():
            if not isinstance(tree_of_stage, dict):
                raise MotionchatError(f"{source}: '{stage}' needs settings under it, e.g. {stage}.train.steps=100")
            per_stage[stage] += _flatten(tree_of_stage)
    return per_stage


def _done(stage: str, run: Path, bundle: Path) -> bool:
    if stage == "stage1":
        return (run / "vq.safetensors").is_file()
    if stage == "stage2":
        return (run / "eval.json").is_file() and (run / "lm").is_dir()
    return (run / "eval.json").is_file() and (bundle / "config.json").is_file()


def run_all(*, data: Path | None, **options: Any) -> None:
    """Train the three stages into `out` (the bundle; `options`: the fields of `RunOptions`); see
    the module docstring."""
    from accelerate import PartialState

    given = RunOptions(**options)
    out, resume, force, max_steps = given.out, given.resume, given.force, given.max_steps
    # Under a distributed launcher every process runs this; they meet before anything is written.
    processes = PartialState(cpu=not torch.cuda.is_available())
    say = given.console.print if processes.is_main_process else (lambda _message: None)
    runs = runs_dir_for(out)
    if resume and force:
        raise MotionchatError("--resume continues the runs and --force starts them over; pass only one")
    if resume:
        if given.preset or given.config_file or given.set_options or data:
            raise MotionchatError("--resume continues with the recorded settings; drop --data/--preset/--config/--set")
        try:
            settings = json.loads((runs / SETTINGS_FILE).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise MotionchatError(f"{runs / SETTINGS_FILE}: no readable record of a `trainer all` run; start without --resume") from None
        max_steps = max_steps or settings.get("max_steps")
    else:
        if data is None:
            raise MotionchatError("--data is required: a HumanML3D-layout dataset folder with texts/ (e.g. from `trainer data synth`)")
        if runs.is_dir() and any(runs.iterdir()) and not force:
            raise MotionchatError(f"{runs}: holds earlier runs; pass --resume to continue them or --force to start over")
        check_bundle_out(out, resume=False, force=force)
        settings = {
            "data": str(Path(data).resolve()), "preset": given.preset or "tiny", "max_steps": max_steps,
            "set": stage_set_options(given.config_file, given.set_options),
        }  # fmt: skip
        from trainer.stage2 import STAGE2_PRESETS

        if settings["preset"] not in STAGE2_PRESETS:
            raise MotionchatError(f"unknown preset '{settings['preset']}'; choose one of {', '.join(STAGE2_PRESETS)}")
        from motionchat.data.dataset import check_dataset_dir

        check_dataset_dir(settings["data"])
        processes.wait_for_everyone()
        if processes.is_main_process:
            runs.mkdir(parents=True, exist_ok=True)
            atomic_write_text(runs / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    processes.wait_for_everyone()

    data_dir = Path(settings["data"])
    for stage in STAGES:
        run = runs / stage
        if resume and _done(stage, run, out):
            say(f"{stage}: finished earlier in {run}; skipped")
            continue
        again = resume and (run / CONFIG_FILE).is_file() and bool(list_checkpoints(run))
        common = {
            "preset": None if again else settings["preset"], "config_file": None, "set_options": [] if again else settings["set"][stage],
            "max_steps": max_steps, "resume": again, "force": not again and (force or resume),
        }  # fmt: skip
        say(f"[bold]{stage}[/]: {'resuming' if again else 'starting'} in {run}")
        if stage == "stage1":
            from trainer.stage1 import run_stage1

            run_stage1(data=data_dir, out=run, **common)
        elif stage == "stage2":
            from trainer.stage2 import run_stage2

            run_stage2(data=data_dir, vq=runs / "stage1", out=run, **common)
        else:
            from trainer.stage3 import run_stage3

            run_stage3(data=data_dir, init=runs / "stage2", out=out, run_dir=run, **common)
        if stage != STAGES[-1]:
            _rejoin_processes(f"motionchat-after-{stage}")


def _rejoin_processes(name: str) -> None:
    """Set the processes up again for the next stage: a finished stage's `end_training` closes the
    process group of a distributed run, and re-joining through the launcher's store would read the
    closed group's stale addresses, so the new group keeps its keys under a prefix of its own."""
    import torch.distributed as dist
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        store, rank, world_size = next(dist.rendezvous("env://"))
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, store=dist.PrefixStore(name, store), rank=rank, world_size=world_size)
