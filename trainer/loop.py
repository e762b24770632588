"""The training loop every stage shares, on Hugging Face accelerate.

The same code runs as one process (CPU or GPU) or as many under `accelerate launch` / `torchrun`
(DDP; NCCL on GPUs, gloo on CPUs), with bf16 autocast and gradient accumulation from the config.
A stage supplies the model, its data, the loss of one batch and its evaluation; the loop does the
rest in order: micro-steps, clip, step, lr, log, evaluate, checkpoint.

Only the main process writes files. Data order is a pure function of the step
(`trainer.sampling`), and a checkpoint holds everything else that changes (weights and buffers,
optimizer, scheduler, the RNG state of every process), so `resume=True` continues exactly.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list, gather_object, send_to_device, set_seed
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import nn
from torch.utils.data import DataLoader, Dataset

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from trainer.checkpoint import capture_rng, list_checkpoints, load_checkpoint, remove_stale_temporaries, restore_rng, save_checkpoint
from trainer.config import TrainConfig, lr_factor, met, parse_stop_when
from trainer.conditioning import gap_line
from trainer.metrics import METRICS_FILE, MetricsLog, require_tensorboard, truncate_after
from trainer.rundir import start_run_dir
from trainer.sampling import SampleKey, StepBatchSampler

RANKS_FILE = "ranks.json"


class Stage(Protocol):
    """What a training stage plugs into the loop."""

    name: str
    train: TrainConfig

    def describe(self) -> str:
        """One line about the data, printed at the start."""

    def build_model(self) -> nn.Module: ...

    def train_dataset(self) -> Dataset:
        """Items keyed by `(index, seed)`; all randomness of an item comes from its seed."""

    def collate(self, items: list) -> Any: ...

    # Optional, for `train.group_batches` > 1: an item's length in tokens.
    # def item_length(self, item: Any) -> int: ...

    def train_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss to back-propagate and detached scalar metrics for the log."""

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation metrics; main process only, model unwrapped and in eval mode."""

    def finish(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        """Final evaluation and artefacts (main process only); returns the summary to print."""


@dataclass
class RunResult:
    step: int
    is_main: bool  # whether this process is the main one (the one that wrote files)
    summary: dict[str, Any]  # from Stage.finish, on the main process; {} elsewhere


def state_sha256(model: nn.Module) -> str:
    """Hash of every parameter and buffer, to check that processes hold identical weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _progress(console: Console, disable: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
    )


def run_training(
    stage: Stage,
    run_dir: Path,
    *,
    resume: bool,
    force: bool = False,
    max_steps: int | None = None,
    config_snapshot: dict[str, Any],
    console: Console | None = None,
) -> RunResult:
    """Train `stage` in `run_dir`, which the caller has checked (`trainer.rundir.check_run_dir`).

    A fresh run (not `resume`) records `config_snapshot` as the run's config.json.
    """
    cfg = stage.train
    # Without a GPU, processes started by torchrun / accelerate launch talk over gloo (cpu=True).
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(), mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum_steps
    )
    main = accelerator.is_main_process
    console = console or Console(stderr=True)
    say = console.print if main else (lambda _msg: None)
    world = accelerator.num_processes
    if cfg.batch_size % (world * cfg.grad_accum_steps):
        raise MotionchatError(
            f"train.batch_size={cfg.batch_size} is not divisible by {world} processes x "
            f"{cfg.grad_accum_steps} accumulation steps; change one of them"
        )
    if cfg.tensorboard:
        require_tensorboard()
    stop_step = min(cfg.steps, max_steps) if max_steps else cfg.steps
    stop_condition = parse_stop_when(cfg.stop_when)
    accelerator.wait_for_everyone()  # every process has validated its inputs before anything is written
    if main and not resume:
        start_run_dir(run_dir, config_snapshot, force=force)

    set_seed(cfg.seed)  # identical initial weights on every process
    model = stage.build_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg))
    set_seed(cfg.seed, device_specific=True)  # then a stream of its own per process
    start_step = start_micro_step = 0
    if resume:
        start_step, start_micro_step = _restore(run_dir, model, optimizer, scheduler, accelerator, stage.name, cfg.seed, say)
        if start_step >= stop_step:
            raise MotionchatError(f"{run_dir}: the run is already at step {start_step}; raise --max-steps or train.steps to go on")
    model, optimizer = accelerator.prepare(model, optimizer)

    dataset = stage.train_dataset()
    accum = cfg.grad_accum_steps
    if cfg.group_batches > 1 and not hasattr(stage, "item_length"):
        raise MotionchatError(f"{stage.name}: its samples all have one length; train.group_batches applies to stages 2 and 3, set it to 1")

    def length(key: SampleKey) -> int:
        return stage.item_length(dataset[key])

    sampler = StepBatchSampler(
        len(dataset), cfg.batch_size // accum, accelerator.process_index, world, cfg.seed, start=start_micro_step, stop=stop_step * accum,
        group_batches=cfg.group_batches, length=length if cfg.group_batches > 1 else None,
    )
    # A generator of its own: creating the iterator must not draw from the (restored) global RNG.
    loader = DataLoader(
        dataset, batch_sampler=sampler, collate_fn=stage.collate, num_workers=cfg.num_workers, generator=torch.Generator().manual_seed(cfg.seed)
    )
    batches = iter(loader)
    metrics_log = MetricsLog(run_dir, cfg.tensorboard) if main else None
    say(stage.describe())
    say(
        f"{stage.name}: steps {start_step}->{stop_step} of {cfg.steps}, {world} process(es) on {accelerator.device}, "
        f"batch {cfg.batch_size} = {world} x {accum} x {cfg.batch_size // accum // world}, precision {cfg.mixed_precision}"
    )

    window: dict[str, list[torch.Tensor]] = {}
    window_start = time.perf_counter()
    with _progress(console, disable=not main) as progress:
        task = progress.add_task(stage.name, total=stop_step, completed=start_step, loss="-", lr="-")
        model.train()
        for step in range(start_step, stop_step):
            for _ in range(accum):
                batch = send_to_device(next(batches), accelerator.device)
                with accelerator.accumulate(model):
                    loss, metrics = stage.train_step(model, batch)
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and cfg.grad_clip_norm > 0:
                        accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip_norm)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                for name, value in {"loss": loss.detach(), **metrics}.items():
                    window.setdefault(name, []).append(value.detach().float())
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            done = step + 1

            if done % cfg.log_every == 0 or done == stop_step:
                means = {name: accelerator.reduce(torch.stack(values).mean(), "mean").item() for name, values in window.items()}
                elapsed = time.perf_counter() - window_start
                steps_in_window = len(window["loss"]) // accum
                if main:
                    metrics_log.write({"step": done, "split": "train", **means, "lr": lr, "steps_per_s": steps_in_window / elapsed})
                progress.update(task, loss=f"{means['loss']:.4f}", lr=f"{lr:.2e}")
                window, window_start = {}, time.perf_counter()
            progress.update(task, completed=done)

            stop_now = False
            if cfg.eval_every and done % cfg.eval_every == 0 and done != stop_step:
                if main:
                    scores = _evaluate(stage, accelerator.unwrap_model(model))
                    metrics_log.write({"step": done, "split": "val", **scores})
                    progress.console.print(f"step {done} validation: {_validation_line(scores)}")
                    stop_now = met(stop_condition, scores)
                stop_now = broadcast_object_list([stop_now])[0]
            if stop_now:
                say(f"stopping early at step {done}: {cfg.stop_when} is met")
                stop_step = done
            if done % cfg.checkpoint_every == 0 or done == stop_step:
                _save(run_dir, done, model, optimizer, scheduler, accelerator, stage.name, config_snapshot, cfg.keep_checkpoints)
            if stop_now:
                break

    hashes = gather_object([state_sha256(accelerator.unwrap_model(model))])
    summary: dict[str, Any] = {}
    if main:
        atomic_write_text(run_dir / RANKS_FILE, json.dumps({"step": stop_step, "weights_sha256": hashes}, indent=2) + "\n")
        if len(set(hashes)) != 1:
            say("[bold yellow]warning:[/] processes ended with different weights; see ranks.json")
        raw = accelerator.unwrap_model(model)
        raw.eval()
        summary = stage.finish(raw, run_dir)
        metrics_log.write({"step": stop_step, "split": "final", **{k: v for k, v in summary.items() if isinstance(v, (int, float))}})
        metrics_log.close()
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return RunResult(stop_step, main, summary)


def _validation_line(scores: dict[str, float]) -> str:
    """loss, prompt gaps and the judge's scores of one periodic evaluation, on one line."""
    judged = ", ".join(f"{name.removeprefix('judge_')} {value:.3f}" for name, value in scores.items() if name.startswith("judge_"))
    parts = [f"loss {scores.get('loss', float('nan')):.4f}", gap_line(scores), f"judge: {judged}" if judged else ""]
    return "; ".join(p for p in parts if p)


def _evaluate(stage: Stage, model: nn.Module) -> dict[str, float]:
    model.eval()
    try:
        return stage.evaluate(model)
    finally:
        model.train()


def _save(run_dir, step, model, optimizer, scheduler, accelerator, stage_name, config_snapshot, keep) -> None:
    rng_states = gather_object([capture_rng()])  # every process's, in rank order
    if accelerator.is_main_process:
        payload = {
            "stage": stage_name,
            "world_size": accelerator.num_processes,
            "model": accelerator.unwrap_model(model).state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_states,
            "micro_steps": step * accelerator.gradient_accumulation_steps,  # the data position
            "config": json.dumps(config_snapshot),
        }
        save_checkpoint(run_dir, step, payload, keep)
    accelerator.wait_for_everyone()


def _restore(run_dir, model, optimizer, scheduler, accelerator, stage_name, seed, say) -> tuple[int, int]:
    """Load the newest checkpoint into the (unprepared) model/optimizer/scheduler; returns its step
    and data position (micro-steps done)."""
    if accelerator.is_main_process:
        for stale in remove_stale_temporaries(run_dir):
            say(f"removed a half-written file left by an interrupted run: {stale.name}")
    accelerator.wait_for_everyone()
    found = list_checkpoints(run_dir)
    if not found:
        raise MotionchatError(f"{run_dir}: no checkpoint to resume from; start without --resume")
    step, path = found[-1]
    state = load_checkpoint(path)
    if state.get("stage") != stage_name:
        raise MotionchatError(f"{path}: a {state.get('stage')} checkpoint, not {stage_name}; pick the matching run folder")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if state["world_size"] == accelerator.num_processes:
        restore_rng(state["rng"][accelerator.process_index])
    else:
        say(
            f"[yellow]note:[/] checkpoint from {state['world_size']} process(es), resuming on {accelerator.num_processes}: "
            "data order continues exactly, random streams are re-seeded"
        )
        set_seed(seed + step, device_specific=True)
    if accelerator.is_main_process:
        truncate_after(run_dir / METRICS_FILE, step)
    say(f"resumed from {path.name} (step {step})")
    return step, state["micro_steps"]
