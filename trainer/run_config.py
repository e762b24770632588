"""The config a stage runs with: a preset plus overrides for a new run, the recorded one on --resume."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from motionchat.errors import MotionchatError
from trainer.config import apply_overrides, parse_set_options, read_config_file
from trainer.rundir import CONFIG_FILE, read_run_config

C = TypeVar("C")


def resolve_stage_config(
    *,
    stage: str,
    presets: dict[str, C],
    default: C,
    out: Path,
    preset: str | None,
    config_file: Path | None,
    set_options: list[str],
    resume: bool,
) -> tuple[C, str, dict]:
    """(config, preset name, the run's recorded config.json or {} for a new run).

    A new run starts from `presets[preset or "tiny"]`, then the config file, then `--set`. A resumed
    run takes exactly what its config.json recorded (built on `default`), so nothing may be changed.
    """
    if resume:
        if preset or config_file or set_options:
            raise MotionchatError("--resume continues with the run's recorded config; drop --preset/--config/--set")
        recorded = read_run_config(out)
        if recorded.get("stage") != stage:
            raise MotionchatError(f"{out / CONFIG_FILE}: not a {stage} run; pick the matching run folder")
        cfg = apply_overrides(default, recorded.get("config", {}), str(out / CONFIG_FILE))
        return cfg, str(recorded.get("preset")), recorded
    preset = preset or "tiny"
    if preset not in presets:
        raise MotionchatError(f"unknown preset '{preset}'; choose one of {', '.join(presets)}")
    cfg = presets[preset]
    if config_file is not None:
        cfg = apply_overrides(cfg, read_config_file(config_file), str(config_file))
    if set_options:
        cfg = apply_overrides(cfg, parse_set_options(set_options), "--set")
    return cfg, preset, {}
