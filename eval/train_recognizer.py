"""`motionchat-eval train-recognizer`: train the action recogniser on a synthetic corpus.

A stage of the project's training loop (`trainer.loop`). Loss = per-frame cross-entropy of the
frame tagger + cross-entropy of the segment reader's parameters on each labelled action span,
whose ends are jittered by a few frames so the reader tolerates the tagger's boundaries. The run
folder ends with::

    OUT/
      recognizer.safetensors    the recogniser (weights, statistics, config, test report)
      recognizer_report.json    test split: program accuracy of the ground truth
      config.json metrics.jsonl checkpoints/ ranks.json   (see trainer.loop)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from eval.embedder import pad_motions
from eval.metrics.programs import program_accuracy
from eval.recognizer import (
    FOOT_CONTACTS,
    IGNORE,
    RECOGNIZER_FILE,
    ActionRecognizer,
    Classes,
    RecognizerConfig,
    RecognizerModel,
    frame_targets,
    parameter_targets,
    reader_loss,
    save_recognizer,
    segment_crop,
    segment_summary,
)
from motionchat.data.dataset import MotionClips
from motionchat.data.synth.vocabulary import Program, program_from_dicts
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import LABELS_FILE
from motionchat.motion.normalizer import Normalizer
from trainer.config import TrainConfig
from trainer.loop import RunResult
from trainer.run_config import RunOptions, StageRun

REPORT_FILE = "recognizer_report.json"
STAGE_NAME = "recognizer"
JITTER_FRAMES = 3


@dataclass(frozen=True)
class RecognizerTrainConfig:
    """Recogniser training.

    Args:
        model: the architecture and decoding (feature_dim is set from the data).
        train: the optimisation loop.
        val_clips: validation clips scored by each periodic evaluation.
    """

    model: RecognizerConfig = field(default_factory=RecognizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    val_clips: int = 300


PRESETS: dict[str, RecognizerTrainConfig] = {
    # A synthetic corpus of a few thousand clips on CPU: 2000 steps took 30 min on 2 shared cores;
    # ground-truth program accuracy (test) 95.5% exact.
    "tiny": RecognizerTrainConfig(
        train=TrainConfig(steps=2000, batch_size=32, lr=2e-3, warmup_steps=100, min_lr_ratio=0.05, log_every=25, checkpoint_every=500,
                          eval_every=500, weight_decay=0.01),
    ),  # fmt: skip
}


@dataclass(frozen=True)
class LabelledClips:
    """A split's clips with their programs and action spans (from labels.jsonl)."""

    clips: MotionClips
    programs: list[Program]
    spans: list[list[tuple[int, int]]]


def read_labelled(root: Path, split: str, skeleton=None) -> LabelledClips:
    from motionchat.data.labels import read_labels

    if not (root / LABELS_FILE).is_file():
        raise MotionchatError(f"{root}: no {LABELS_FILE}; the recogniser trains on the synthetic corpus (`trainer data synth`)")
    labels = read_labels(root)
    clips = MotionClips(root, split, skeleton)
    missing = [c for c in clips.clip_ids if c not in labels]
    if missing:
        raise MotionchatError(f"{root / LABELS_FILE}: no label for clip {missing[0]} ({len(missing)} in all); regenerate the corpus")
    rows = [labels[c] for c in clips.clip_ids]
    return LabelledClips(clips, [program_from_dicts(r["program"]) for r in rows], [[tuple(s) for s in r["segments"]] for r in rows])


class RecognizerItems(Dataset):
    """(index, seed) -> a clip's inputs and targets; span ends are jittered from the seed."""

    def __init__(self, data: LabelledClips, normalizer: Normalizer, cfg: RecognizerConfig, classes: Classes):
        self.data = data
        self.normalised = normalizer.normalize(data.clips.frames).astype(np.float32)
        self.cfg = cfg
        self.classes = classes

    def __len__(self) -> int:
        return len(self.data.clips)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        index, seed = key
        rng = np.random.default_rng(seed)
        clips = self.data.clips
        start0, frames = clips.starts[index], int(clips.lengths[index])
        raw = clips.features(index)
        normalised = self.normalised[start0 : start0 + frames]
        program, spans = self.data.programs[index], self.data.spans[index]
        segments = []
        for action, (start, end) in zip(program, spans):
            start = int(np.clip(start + rng.integers(-JITTER_FRAMES, JITTER_FRAMES + 1), 0, frames - 2))
            end = int(np.clip(end + rng.integers(-JITTER_FRAMES, JITTER_FRAMES + 1), start + 2, frames))
            segments.append({
                "crop": normalised[segment_crop(frames, start, end, self.cfg.margin_frames)],
                "action": self.classes.actions.index(action.name),
                "summary": segment_summary(raw[start:end]),
                "targets": parameter_targets(action, self.classes.param_values),
            })  # fmt: skip
        tags = frame_targets(frames, program, spans, self.classes.actions)
        return {"features": normalised, "tags": tags, "segments": segments}


def collate_items(items: list[dict[str, Any]], param_names) -> dict[str, Any]:
    features, frames = pad_motions([item["features"][:, :-FOOT_CONTACTS] for item in items])
    tags = torch.full(features.shape[:2], IGNORE, dtype=torch.long)
    for i, item in enumerate(items):
        tags[i, : len(item["tags"])] = torch.from_numpy(item["tags"])
    segments = [s for item in items for s in item["segments"]]
    crops, crop_frames = pad_motions([s["crop"][:, :-FOOT_CONTACTS] for s in segments])
    return {
        "features": features, "frames": frames, "tags": tags, "crops": crops, "crop_frames": crop_frames,
        "actions": torch.tensor([s["action"] for s in segments]),
        "summary": torch.from_numpy(np.stack([s["summary"] for s in segments])),
        "targets": {p: torch.tensor([s["targets"][p] for s in segments]) for p in param_names},
    }  # fmt: skip


class RecognizerStage:
    """Recogniser training for `trainer.loop.run_training`."""

    name = STAGE_NAME

    def __init__(self, cfg: RecognizerTrainConfig, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.train_data = read_labelled(self.data_dir, "train")
        skeleton = self.train_data.clips.skeleton
        self.test_data = read_labelled(self.data_dir, "test", skeleton)
        try:
            self.val_data = read_labelled(self.data_dir, "val", skeleton)
        except MotionchatError:
            self.val_data = None  # no val split (or an empty one): periodic evaluation uses the test split
        self.normalizer = Normalizer.from_dir(self.data_dir)
        self.cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, feature_dim=self.normalizer.dim))
        self.train = self.cfg.train
        self.classes = Classes.from_vocabulary()

    def describe(self) -> str:
        n_actions = sum(len(p) for p in self.train_data.programs)
        return f"{self.data_dir}: {len(self.train_data.clips)} training clips ({n_actions} labelled actions), {len(self.test_data.clips)} test clips"

    def build_model(self) -> nn.Module:
        return RecognizerModel(self.cfg.model, self.classes)

    def train_dataset(self) -> RecognizerItems:
        return RecognizerItems(self.train_data, self.normalizer, self.cfg.model, self.classes)

    def collate(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return collate_items(items, list(self.classes.param_values))

    def train_step(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raw = model.module if hasattr(model, "module") else model  # DDP wraps it
        tag_logits = raw.tagger(batch["features"], batch["frames"])
        frame_loss = F.cross_entropy(tag_logits.flatten(0, 1), batch["tags"].flatten(), ignore_index=IGNORE)
        param_logits = raw.reader(batch["crops"], batch["crop_frames"], batch["actions"], batch["summary"])
        param_loss = reader_loss(param_logits, batch["targets"])
        with torch.no_grad():
            valid = batch["tags"] != IGNORE
            frame_acc = (tag_logits.argmax(-1) == batch["tags"])[valid].float().mean()
        return frame_loss + param_loss, {"frame_loss": frame_loss.detach(), "param_loss": param_loss.detach(), "frame_acc": frame_acc}

    def _score(self, model: RecognizerModel, data: LabelledClips, limit: int | None = None) -> dict[str, Any]:
        device = str(next(model.parameters()).device)
        count = len(data.clips) if limit is None else min(limit, len(data.clips))
        recognizer = ActionRecognizer(model, self.normalizer, device=device)
        motions = [data.clips.features(i) for i in range(count)]
        accuracy = program_accuracy(recognizer.recognise(motions), data.programs[:count])
        return {"clips": count, "program_exact": accuracy.exact, "program_actions": accuracy.actions,
                "per_action": accuracy.per_action, "per_param": accuracy.per_param}  # fmt: skip

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        scores = self._score(model, self.val_data or self.test_data, self.cfg.val_clips)
        return {"program_exact": scores["program_exact"], "program_actions": scores["program_actions"]}

    def finish(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        report = {"split": "test", **self._score(model, self.test_data)}
        save_recognizer(ActionRecognizer(model, self.normalizer), run_dir / RECOGNIZER_FILE, report)
        atomic_write_text(run_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")
        return report


def run_train_recognizer(*, data: Path | None, **options: Any) -> RunResult:
    """`motionchat-eval train-recognizer` (`options`: the fields of `RunOptions`): validate every input, then train."""
    run = StageRun(RunOptions(**options), stage=STAGE_NAME, presets=PRESETS, default=RecognizerTrainConfig())
    data = run.input_dir(data, "data", "--data is required: a synthetic corpus folder (from `trainer data synth`)")
    return run.train(RecognizerStage(run.cfg, data), {"data": str(data.resolve())}, lambda r: (
        f"test split ({r['clips']} clips), ground truth: program accuracy {100 * r['program_exact']:.1f}% exact, "
        f"{100 * r['program_actions']:.1f}% actions in order\nwrote {run.run_dir / RECOGNIZER_FILE}, {run.run_dir / REPORT_FILE}"
    ))  # fmt: skip
