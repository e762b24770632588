"""`motionchat-eval train-evaluator`: train our contrastive evaluator on a dataset's train split.

It runs in the project's training loop (`trainer.loop`: checkpoints, `--resume`, several
processes), as one more stage. Loss: symmetric InfoNCE between caption and motion embeddings of a
batch, with a learned temperature; a caption that appears twice in a batch (the synthetic corpus
repeats programs) is not counted as a negative of its twin. The run folder ends with::

    OUT/
      evaluator.safetensors    the evaluator (weights, tokenizer, statistics, config, test report)
      evaluator_report.json    test split: R-Precision and MM-Dist of the ground truth, FID val/test
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

from eval.evaluator import (
    EVALUATOR_FILE,
    ContrastiveEvaluator,
    ContrastiveModel,
    EvaluatorConfig,
    PieceEncoder,
    motion_inputs,
    save_evaluator,
)
from eval.metrics import diversity, fid, mm_dist, r_precision
from motionchat.data.dataset import MotionClips, find_split_file, read_split
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.motion.normalizer import Normalizer
from trainer.config import TrainConfig
from trainer.loop import RunResult
from trainer.run_config import RunOptions, StageRun

REPORT_FILE = "evaluator_report.json"
STAGE_NAME = "evaluator"
MAX_LOGIT_SCALE = 100.0


@dataclass(frozen=True)
class EvaluatorTrainConfig:
    """Evaluator training.

    Args:
        model: the architecture (feature_dim and vocab_size are set from the data).
        train: the optimisation loop.
        text_vocab_size: upper bound on the SentencePiece pieces learnt from the train captions.
        val_clips: validation clips scored by each periodic evaluation.
    """

    model: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    text_vocab_size: int = 1000
    val_clips: int = 512


PRESETS: dict[str, EvaluatorTrainConfig] = {
    # A synthetic corpus of a few thousand clips on CPU: 1500 steps took 35 min on 2 shared cores
    # (0.3-1.5 steps/s under load); R-Precision top-1 0.88 (val) after 500 steps, 0.96 (test) at the end.
    "tiny": EvaluatorTrainConfig(
        model=EvaluatorConfig(width=192, embed_dim=256),
        train=TrainConfig(steps=1500, batch_size=64, lr=2e-3, warmup_steps=100, min_lr_ratio=0.05, log_every=25, checkpoint_every=500,
                          eval_every=500, weight_decay=0.01),
    ),  # fmt: skip
    # HumanML3D on a GPU: Guo et al.'s evaluator size (512-d).
    "base": EvaluatorTrainConfig(
        model=EvaluatorConfig(width=512, embed_dim=512),
        train=TrainConfig(steps=30_000, batch_size=128, lr=5e-4, warmup_steps=1000, min_lr_ratio=0.05, log_every=100,
                          checkpoint_every=2000, eval_every=2000, weight_decay=0.01, num_workers=2),
        text_vocab_size=4000,
    ),  # fmt: skip
}


class CaptionedClips(Dataset):
    """(index, seed) -> one clip's normalised features and one of its captions, drawn from the seed."""

    def __init__(self, clips: MotionClips, normalised_frames: np.ndarray):
        self.clips = clips
        self.frames = normalised_frames

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: tuple[int, int]) -> tuple[np.ndarray, str]:
        index, seed = key
        start, length = self.clips.starts[index], self.clips.lengths[index]
        captions = self.clips.captions[index]
        caption = captions[int(np.random.default_rng(seed).integers(len(captions)))].text
        return self.frames[start : start + length], caption


def contrastive_loss(text: torch.Tensor, motion: torch.Tensor, logit_scale: torch.Tensor, same_caption: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over (B, E) unit vectors; `same_caption` (B, B) masks twins out of the negatives."""
    logits = logit_scale.exp().clamp(max=MAX_LOGIT_SCALE) * text @ motion.T  # (B, B)
    twins = same_caption & ~torch.eye(len(text), dtype=torch.bool, device=text.device)
    logits = logits.masked_fill(twins, float("-inf"))
    target = torch.arange(len(text), device=text.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


R_PRECISION_BATCH = 32


def ground_truth_scores(evaluator: ContrastiveEvaluator, clips: MotionClips, seed: int = 0) -> dict[str, float]:
    """How well the evaluator matches a split's own pairs (one random caption per clip): R-Precision
    (shuffled batches of 32; left out below 32 clips), MM-Dist and Diversity."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(clips))
    captions = [clips.captions[i][int(rng.integers(len(clips.captions[i])))] for i in order]
    texts = evaluator.embed_texts(captions)
    motions = evaluator.embed_motions([clips.features(int(i)) for i in order])
    scores = {"clips": len(clips), "mm_dist": mm_dist(texts, motions), "diversity": diversity(motions, min(300, len(motions)), rng)}
    if len(clips) >= R_PRECISION_BATCH:
        top = r_precision(texts, motions, batch=R_PRECISION_BATCH).top
        scores.update(r_precision_top1=top[0], r_precision_top2=top[1], r_precision_top3=top[2])
    return scores


class EvaluatorStage:
    """Evaluator training for `trainer.loop.run_training`."""

    name = STAGE_NAME

    def __init__(self, cfg: EvaluatorTrainConfig, data_dir: Path):
        from motionchat.lm.tokenizer import train_sentencepiece

        self.data_dir = Path(data_dir)
        self.train_clips = MotionClips(self.data_dir, "train", with_captions=True)
        self.test_clips = MotionClips(self.data_dir, "test", self.train_clips.skeleton, with_captions=True)
        self.val_clips = self._optional_split("val")
        self.normalizer = Normalizer.from_dir(self.data_dir)
        if self.normalizer.dim != self.train_clips.skeleton.feature_dim:
            raise MotionchatError(
                f"{self.normalizer.source}: statistics have {self.normalizer.dim} values per frame, the features "
                f"{self.train_clips.skeleton.feature_dim}; use the dataset's own Mean/Std"
            )
        sentences = [PieceEncoder.normalise(c.text) for captions in self.train_clips.captions for c in captions]
        self.piece_model = train_sentencepiece(sentences, cfg.text_vocab_size)
        pieces = PieceEncoder(self.piece_model, cfg.model.max_text_tokens)
        model_cfg = dataclasses.replace(cfg.model, feature_dim=self.normalizer.dim, vocab_size=pieces.processor.get_piece_size())
        self.cfg = dataclasses.replace(cfg, model=model_cfg)
        self.train = self.cfg.train
        self.pieces = pieces
        self.frames = self.normalizer.normalize(self.train_clips.frames).astype(np.float32)

    def _optional_split(self, split: str) -> MotionClips | None:
        """The split, or None when the dataset has no (or an empty) split file for it."""
        try:
            find_split_file(self.data_dir, split)
            read_split(self.data_dir, split)
        except MotionchatError:
            return None
        return MotionClips(self.data_dir, split, self.train_clips.skeleton, with_captions=True)

    def describe(self) -> str:
        t = self.train_clips
        return (
            f"{self.data_dir}: {len(t)} training clips ({t.skeleton.name}, {sum(len(c) for c in t.captions)} captions, "
            f"{self.pieces.processor.get_piece_size()} text pieces), {len(self.test_clips)} test clips"
        )

    def build_model(self) -> nn.Module:
        return ContrastiveModel(self.cfg.model)

    def train_dataset(self) -> CaptionedClips:
        return CaptionedClips(self.train_clips, self.frames)

    def collate(self, items: list[tuple[np.ndarray, str]]) -> dict[str, torch.Tensor]:
        features, frames = motion_inputs([features for features, _ in items])
        captions = [caption for _, caption in items]
        ids, tokens = self.pieces.batch(captions)
        same = torch.tensor([[a == b for b in captions] for a in captions])
        return {"features": features, "frames": frames, "ids": ids, "tokens": tokens, "same_caption": same}

    def train_step(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raw = model.module if hasattr(model, "module") else model  # DDP wraps it
        motion = raw.motion_encoder(batch["features"], batch["frames"])
        text = raw.text_encoder(batch["ids"], batch["tokens"])
        loss = contrastive_loss(text, motion, raw.logit_scale, batch["same_caption"])
        with torch.no_grad():
            top1 = ((text @ motion.T).argmax(1) == torch.arange(len(text), device=text.device)).float().mean()
        return loss, {"batch_top1": top1, "logit_scale": raw.logit_scale.detach().exp()}

    def _evaluator(self, model: ContrastiveModel) -> ContrastiveEvaluator:
        device = str(next(model.parameters()).device)
        return ContrastiveEvaluator(model, self.pieces, self.normalizer, device=device)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        scores = ground_truth_scores(self._evaluator(model), self.val_clips or self.test_clips)
        return {k: v for k, v in scores.items() if k in ("r_precision_top1", "r_precision_top3", "mm_dist")}

    def finish(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        evaluator = self._evaluator(model)
        report: dict[str, Any] = {"split": "test", **ground_truth_scores(evaluator, self.test_clips)}
        if self.val_clips is not None:
            val = evaluator.embed_motions([self.val_clips.features(i) for i in range(len(self.val_clips))])
            test_emb = evaluator.embed_motions([self.test_clips.features(i) for i in range(len(self.test_clips))])
            report["fid_val_vs_test"] = fid(val, test_emb)
        save_evaluator(evaluator, run_dir / EVALUATOR_FILE, report)
        atomic_write_text(run_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")
        return report


def _summary(r: dict[str, Any], out: Path) -> str:
    r_precision = (
        f"R-Precision top-1/2/3 {r['r_precision_top1']:.3f} / {r['r_precision_top2']:.3f} / {r['r_precision_top3']:.3f}, "
        if "r_precision_top1" in r else ""
    )  # fmt: skip
    fid_note = f", FID val vs test {r['fid_val_vs_test']:.3f}" if "fid_val_vs_test" in r else ""
    return (
        f"test split ({r['clips']} clips), ground truth: {r_precision}MM-Dist {r['mm_dist']:.3f}, "
        f"Diversity {r['diversity']:.3f}{fid_note}\nwrote {out / EVALUATOR_FILE}, {out / REPORT_FILE}"
    )


def run_train_evaluator(*, data: Path | None, **options: Any) -> RunResult:
    """`motionchat-eval train-evaluator` (`options`: the fields of `RunOptions`): validate every input, then train."""
    run = StageRun(RunOptions(**options), stage=STAGE_NAME, presets=PRESETS, default=EvaluatorTrainConfig())
    data = run.input_dir(data, "data", "--data is required: a HumanML3D-layout dataset folder (e.g. from `trainer data synth`)")
    return run.train(EvaluatorStage(run.cfg, data), {"data": str(data.resolve())}, lambda r: _summary(r, run.run_dir))
