"""`trainer all`: stage 1 -> 2 -> 3 in one command, each stage in its own run folder.

    BUNDLE.runs/
      all.json           the command's settings (data, preset, per-stage overrides), read back by --resume
      stage1/ stage2/ stage3/   the three run folders
    BUNDLE/              the bundle stage 3 writes

Settings address a stage by prefix: `--set stage2.train.steps=500`, or a config file with
[stage1] [stage2] [stage3] tables. Each stage's typed config is built (and checked) before stage 1
starts and handed to the stage as it is. With --resume, finished stages are skipped, an interrupted
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
from motionchat.filenames import CONFIG_FILE, EVAL_FILE, LM_DIR, VQ_FILE
from trainer.checkpoint import list_checkpoints
from trainer.config import apply_overrides, parse_set_options, read_config_file
from trainer.run_config import RunOptions
from trainer.stage3 import check_bundle_out, default_run_dir

STAGES = ("stage1", "stage2", "stage3")
SETTINGS_FILE = "all.json"


def runs_dir_for(bundle: Path) -> Path:
    return default_run_dir(bundle).parent


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Nested overrides `base` with `changes` on top."""
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if nested else value
    return merged


def stage_overrides(config_file: Path | None, set_options: list[str]) -> dict[str, dict[str, Any]]:
    """Per stage, its nested overrides: the config file's table, then --set on top."""
    per_stage: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    tables = read_config_file(config_file) if config_file is not None else {}
    for source, tree in ((str(config_file), tables), ("--set", parse_set_options(set_options))):
        unknown = sorted(set(tree) - set(STAGES))
        if unknown:
            raise MotionchatError(f"{source}: '{unknown[0]}' is not a stage; prefix settings with stage1., stage2. or stage3.")
        for stage, tree_of_stage in tree.items():
            if not isinstance(tree_of_stage, dict):
                raise MotionchatError(f"{source}: '{stage}' needs settings under it, e.g. {stage}.train.steps=100")
            per_stage[stage] = _merged(per_stage[stage], tree_of_stage)
    return per_stage


def stage_configs(preset: str, overrides: dict[str, dict[str, Any]], source: str) -> dict[str, Any]:
    """The typed config of every stage: its preset with the overrides applied (all checked before
    any stage trains)."""
    from trainer.stage1 import STAGE1_PRESETS
    from trainer.stage2 import STAGE2_PRESETS
    from trainer.stage3 import STAGE3_PRESETS

    presets = {"stage1": STAGE1_PRESETS, "stage2": STAGE2_PRESETS, "stage3": STAGE3_PRESETS}
    if preset not in STAGE2_PRESETS:
        raise MotionchatError(f"unknown preset '{preset}'; choose one of {', '.join(STAGE2_PRESETS)}")
    return {stage: apply_overrides(presets[stage][preset], overrides[stage], f"{source} ({stage})") for stage in STAGES}


def _done(stage: str, run: Path, bundle: Path) -> bool:
    if stage == "stage1":
        return (run / VQ_FILE).is_file()
    if stage == "stage2":
        return (run / EVAL_FILE).is_file() and (run / LM_DIR).is_dir()
    return (run / EVAL_FILE).is_file() and (bundle / CONFIG_FILE).is_file()


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
        if "overrides" not in settings:  # recorded before overrides were kept nested: --set items per stage
            recorded = settings.get("set", {})
            settings["overrides"] = {stage: parse_set_options(recorded.get(stage, [])) for stage in STAGES}
    else:
        if data is None:
            raise MotionchatError("--data is required: a HumanML3D-layout dataset folder with texts/ (e.g. from `trainer data synth`)")
        if runs.is_dir() and any(runs.iterdir()) and not force:
            raise MotionchatError(f"{runs}: holds earlier runs; pass --resume to continue them or --force to start over")
        check_bundle_out(out, resume=False, force=force)
        settings = {
            "data": str(Path(data).resolve()), "preset": given.preset or "tiny", "max_steps": max_steps,
            "overrides": stage_overrides(given.config_file, given.set_options),
        }  # fmt: skip
        stage_configs(settings["preset"], settings["overrides"], "--config/--set")
        from motionchat.data.dataset import check_dataset_dir

        check_dataset_dir(settings["data"])
        processes.wait_for_everyone()
        if processes.is_main_process:
            runs.mkdir(parents=True, exist_ok=True)
            atomic_write_text(runs / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    processes.wait_for_everyone()

    data_dir = Path(settings["data"])
    configs = stage_configs(settings["preset"], settings["overrides"], str(runs / SETTINGS_FILE))
    for stage in STAGES:
        run = runs / stage
        if resume and _done(stage, run, out):
            say(f"{stage}: finished earlier in {run}; skipped")
            continue
        again = resume and (run / CONFIG_FILE).is_file() and bool(list_checkpoints(run))
        common = {
            "preset": None if again else settings["preset"], "config": None if again else configs[stage],
            "config_file": None, "set_options": [], "max_steps": max_steps, "resume": again,
            "force": not again and (force or resume),
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
