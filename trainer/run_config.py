"""How a training command runs: its options, the config it trains with (a preset plus overrides
for a new run, the recorded one on --resume), its input folders, then the training and the
summary line.

Every stage (`trainer stage1|stage2|stage3`, `motionchat-eval train-evaluator|train-recognizer`)
goes through `StageRun`, so they all check their inputs before writing anything, refuse the same
mistakes with the same messages and record their config.json the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from rich.console import Console

from motionchat.errors import MotionchatError
from trainer.config import apply_overrides, config_to_dict, parse_set_options, read_config_file
from trainer.loop import RunResult, Stage, run_training
from trainer.rundir import CONFIG_FILE, check_run_dir, read_run_config

C = TypeVar("C")


@dataclass
class RunOptions:
    """The options every training command takes besides its input folders (on the command line:
    trainer/options.py). `out` is the run folder, or for `trainer stage3|all` the bundle."""

    out: Path
    preset: str | None
    config_file: Path | None
    set_options: list[str] | None  # None from the command line when --set is not given
    max_steps: int | None
    resume: bool
    force: bool
    console: Console | None = None  # for progress and log lines; stderr by default
    # A typed stage config built by the caller (`trainer all`), trained as it is in place of
    # preset + config file + --set; `preset` then names the preset it was built on.
    config: Any = None

    def __post_init__(self) -> None:
        self.set_options = list(self.set_options or [])
        self.console = self.console or Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_stage_config(
    *, stage: str, presets: dict[str, C], default: C, run_dir: Path, options: RunOptions
) -> tuple[C, str | None, dict]:
    """(config, preset name, the run's recorded config.json or {} for a new run).

    A new run starts from `presets[preset or "tiny"]`, then the config file, then `--set`. A resumed
    run takes exactly what its config.json recorded (built on `default`), so nothing may be changed.
    """
    if options.config is not None and not options.resume:
        return options.config, options.preset, {}
    if options.resume:
        if options.preset or options.config_file or options.set_options:
            raise MotionchatError("--resume continues with the run's recorded config; drop --preset/--config/--set")
        recorded = read_run_config(run_dir)
        if recorded.get("stage") != stage:
            article = "an" if stage[0] in "aeiou" else "a"
            raise MotionchatError(f"{run_dir / CONFIG_FILE}: not {article} {stage} run; pick the matching run folder")
        cfg = apply_overrides(default, recorded.get("config", {}), str(run_dir / CONFIG_FILE))
        return cfg, recorded.get("preset"), recorded
    preset = options.preset or "tiny"
    if preset not in presets:
        raise MotionchatError(f"unknown preset '{preset}'; choose one of {', '.join(presets)}")
    cfg = presets[preset]
    if options.config_file is not None:
        cfg = apply_overrides(cfg, read_config_file(options.config_file), str(options.config_file))
    if options.set_options:
        cfg = apply_overrides(cfg, parse_set_options(options.set_options), "--set")
    return cfg, preset, {}


class StageRun(Generic[C]):
    """One run of a stage. Creating it checks the run folder and resolves the config (writing
    nothing); the command then finds its inputs (`input_dir`), builds its stage and calls `train`."""

    def __init__(self, options: RunOptions, *, stage: str, presets: dict[str, C], default: C, run_dir: Path | None = None):
        self.options = options
        self.run_dir = Path(run_dir or options.out)
        check_run_dir(self.run_dir, resume=options.resume, force=options.force)
        self.cfg, self.preset, self.recorded = resolve_stage_config(
            stage=stage, presets=presets, default=default, run_dir=self.run_dir, options=options
        )

    def input_dir(self, given: Path | None, key: str, missing: str) -> Path:
        """The input folder given, else on --resume the one the run recorded under `key`; without
        either, the error `missing`."""
        path = given or (Path(self.recorded[key]) if self.recorded.get(key) else None)
        if path is None:
            raise MotionchatError(missing)
        return Path(path)

    def train(self, stage: Stage, inputs: dict[str, Any], summary: Callable[[dict[str, Any]], str]) -> RunResult:
        """Train `stage` (a new run records `inputs` in its config.json); the main process then
        prints `summary(the stage's final report)` on stdout."""
        # The stage's own config: it fills in what the data decides (e.g. the feature size).
        snapshot = {"stage": stage.name, "preset": self.preset, **inputs, "config": config_to_dict(stage.cfg)}  # type: ignore[attr-defined]
        options = self.options
        result = run_training(
            stage, self.run_dir, resume=options.resume, force=options.force, max_steps=options.max_steps,
            config_snapshot=snapshot, console=options.console,
        )  # fmt: skip
        if result.is_main:
            Console(highlight=False, soft_wrap=True).print(summary(result.summary))
        return result
