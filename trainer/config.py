"""Training settings shared by every stage, and the one way to change a preset.

A stage's config is a (nested) dataclass; its presets are instances. Users change them with a
config file (JSON or TOML, the same nesting as `config.json` in a run folder) and with
`--set section.key=value`; every key is checked against the dataclass, so a typo is an error,
not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from motionchat.errors import MotionchatError

C = TypeVar("C")

LR_SCHEDULES = ("cosine", "step", "constant")
MIXED_PRECISION = ("no", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop.

    Args:
        steps: optimizer steps of the full schedule (`--max-steps` may stop earlier).
        batch_size: samples per optimizer step over all processes and accumulation micro-steps.
        grad_accum_steps: micro-batches accumulated per optimizer step.
        lr: peak learning rate (AdamW).
        beta1, beta2: AdamW betas.
        weight_decay: AdamW decoupled weight decay.
        lr_schedule: "cosine" (to lr * min_lr_ratio), "step" (one drop to lr * min_lr_ratio at
            decay_start_frac of the steps), or "constant"; all after a linear warm-up.
        warmup_steps: steps of linear warm-up from 0.
        min_lr_ratio: final (cosine) or post-drop (step) fraction of lr.
        decay_start_frac: where the "step" schedule drops.
        grad_clip_norm: clip the gradient norm to this; 0 turns clipping off.
        mixed_precision: "no", "bf16" (GPU) or "fp16".
        seed: seeds model initialisation, data order and every random choice.
        log_every: steps between metric lines in metrics.jsonl.
        checkpoint_every: steps between checkpoints (one is always written at the end).
        keep_checkpoints: how many recent checkpoints to keep.
        eval_every: steps between evaluations on the validation split; 0 evaluates only at the end.
        num_workers: DataLoader worker processes per training process.
        group_batches: cut the sample stream into windows of this many batches and sort each
            window by example length before batching (`trainer.sampling`), so batches are padded
            less; 1 is off. Stages 2 and 3 only.
        tensorboard: also log to TensorBoard (needs the `tensorboard` package).
        stop_when: stop early once a periodic evaluation meets this, as "METRIC>=VALUE" or
            "METRIC<=VALUE" over the validation metrics (e.g. "judge_t2m_r_precision_top3>=0.8"
            in stage 3); empty never stops early.
    """

    steps: int = 1000
    batch_size: int = 64
    grad_accum_steps: int = 1
    lr: float = 2e-4
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    decay_start_frac: float = 2 / 3
    grad_clip_norm: float = 1.0
    mixed_precision: str = "no"
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    eval_every: int = 0
    num_workers: int = 0
    group_batches: int = 1
    tensorboard: bool = False
    stop_when: str = ""

    def __post_init__(self):
        positive = ("steps", "batch_size", "grad_accum_steps", "log_every", "checkpoint_every", "keep_checkpoints", "group_batches")
        bad = [name for name in positive if getattr(self, name) < 1]
        bad += [name for name in ("warmup_steps", "eval_every", "num_workers") if getattr(self, name) < 0]
        bad += [name for name in ("lr", "weight_decay", "grad_clip_norm") if not getattr(self, name) >= 0]
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            bad.append("beta1/beta2")
        if not (0 <= self.min_lr_ratio <= 1 and 0 <= self.decay_start_frac <= 1):
            bad.append("min_lr_ratio/decay_start_frac")
        if bad:
            raise ValueError(f"out of range: {', '.join(bad)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got '{self.lr_schedule}'")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, got '{self.mixed_precision}'")
        parse_stop_when(self.stop_when)


def parse_stop_when(text: str) -> tuple[str, str, float] | None:
    """"judge_t2m_r_precision_top3>=0.8" -> ("judge_t2m_r_precision_top3", ">=", 0.8); "" -> None."""
    if not text.strip():
        return None
    for sign in (">=", "<="):
        metric, found, value = text.partition(sign)
        if found and metric.strip():
            try:
                return metric.strip(), sign, float(value)
            except ValueError:
                break
    raise ValueError(f"stop_when must read METRIC>=VALUE or METRIC<=VALUE, got '{text}'")


def met(condition: tuple[str, str, float] | None, scores: Mapping[str, float]) -> bool:
    """Whether validation `scores` meet a parsed `stop_when` (never when the metric is missing)."""
    if condition is None or condition[0] not in scores:
        return False
    metric, sign, value = condition
    return scores[metric] >= value if sign == ">=" else scores[metric] <= value


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Multiplier of cfg.lr at optimizer step `step` (0-based). Pure, so it is testable."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    if cfg.lr_schedule == "step":
        return cfg.min_lr_ratio if step >= cfg.decay_start_frac * cfg.steps else 1.0
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


# --- overrides ---------------------------------------------------------------------------------


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def _parse_text(text: str, kind: type, key: str) -> Any:
    """A `--set` value (always text) as the field's type."""
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{key} takes true or false, not '{text}'")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


def _check_type(value: Any, kind: type, key: str) -> Any:
    """A config-file value (already typed by JSON/TOML) against the field's type."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ValueError(f"{key} must be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def apply_overrides(cfg: C, overrides: Mapping[str, Any], source: str) -> C:
    """A copy of dataclass `cfg` with nested `overrides` applied; unknown keys and bad values raise.

    Values may be text (from `--set`, parsed to the field's type) or typed (from a file).
    """

    def apply(obj: Any, changes: Mapping[str, Any], prefix: str) -> Any:
        hints = typing.get_type_hints(type(obj))
        names = [f.name for f in dataclasses.fields(obj)]
        updates = {}
        for name, value in changes.items():
            key = f"{prefix}{name}"
            if name not in names:
                raise MotionchatError(f"{source}: unknown config key '{key}'; known keys: {', '.join(prefix + n for n in names)}")
            kind = hints[name]
            if dataclasses.is_dataclass(kind):
                if not isinstance(value, Mapping):
                    raise MotionchatError(f"{source}: '{key}' is a section; set its keys as {key}.NAME")
                updates[name] = apply(getattr(obj, name), value, f"{key}.")
                continue
            if isinstance(value, Mapping):
                raise MotionchatError(f"{source}: '{key}' is a setting, not a section")
            try:
                if isinstance(value, str) and kind is not str:
                    updates[name] = _parse_text(value, kind, key)
                else:
                    updates[name] = _check_type(value, kind, key)
            except ValueError as err:
                raise MotionchatError(f"{source}: bad value for '{key}' ({err})") from None
        try:
            return dataclasses.replace(obj, **updates)
        except (ValueError, TypeError) as err:
            raise MotionchatError(f"{source}: {err}") from None

    return apply(cfg, overrides, "")


def parse_set_options(items: list[str]) -> dict:
    """["train.lr=1e-4", "vq.width=64"] -> {"train": {"lr": "1e-4"}, "vq": {"width": "64"}}."""
    nested: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MotionchatError(f"--set '{item}': expected KEY=VALUE, e.g. --set train.lr=1e-4")
        *sections, leaf = key.strip().split(".")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
            if not isinstance(node, dict):
                raise MotionchatError(f"--set '{item}': '{section}' was already given a value")
        node[leaf] = value.strip()
    return nested


def read_config_file(path: str | os.PathLike) -> dict:
    """A JSON (.json) or TOML (.toml) file of nested overrides."""
    path = Path(path)
    if path.suffix not in (".json", ".toml"):
        raise MotionchatError(f"{path}: config files must be .json or .toml")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise MotionchatError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise MotionchatError(f"{path}: cannot parse config ({str(err).splitlines()[0]}); fix the file") from None
    if not isinstance(data, dict):
        raise MotionchatError(f"{path}: the config must be a table/object of settings")
    return data
