"""Stage 1: train the motion tokenizer (VQ-VAE) on random crops of normalised features.

Loss = smooth-L1 reconstruction + velocity_weight * smooth-L1 of the frame-to-frame differences
+ commit_weight * commitment (T2M-GPT's weights). The run folder ends with::

    OUT/
      vq.safetensors     the tokenizer (weights, codebook, VQConfig in its metadata)
      Mean.npy Std.npy   the normaliser it was trained with (the dataset's)
      eval.json          test split: MPJPE (mm), codebook usage and perplexity
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

from motionchat.data.dataset import FeatureCrops, MotionClips
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import EVAL_FILE
from motionchat.motion.features import features_to_joints, features_to_joints_torch
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import SkeletonSpec
from motionchat.vq import VQ_FILE, MotionVQVAE, VQConfig, save_vq
from motionchat.vq.metrics import codebook_use, mpjpe_mm
from trainer.config import TrainConfig
from trainer.loop import RunResult
from trainer.run_config import RunOptions, StageRun


@dataclass(frozen=True)
class Stage1Config:
    """Tokenizer training.

    Args:
        vq: the architecture (vq.feature_dim is taken from the data).
        train: the optimisation loop.
        crop_frames: length of the training windows; shorter clips are left out of training.
        commit_weight: weight of the commitment loss.
        velocity_weight: weight of the loss on frame-to-frame differences.
        val_clips: validation clips used by each periodic evaluation (the first ones of the split).
        joint_weight: weight of the root-aligned mean joint distance (metres) between the joints
            the reconstruction and the input decode to: the features' loss weighs every value
            alike, while a small error in the root's yaw velocity turns every later frame.
    """

    vq: VQConfig = field(default_factory=VQConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    crop_frames: int = 64
    commit_weight: float = 0.02
    velocity_weight: float = 0.5
    val_clips: int = 256
    joint_weight: float = 0.0

    def __post_init__(self):
        if self.crop_frames < self.vq.frames_per_code or self.crop_frames % self.vq.frames_per_code:
            raise ValueError(f"crop_frames must be a positive multiple of {self.vq.frames_per_code}, got {self.crop_frames}")
        if self.commit_weight < 0 or self.velocity_weight < 0 or self.joint_weight < 0 or self.val_clips < 1:
            raise ValueError("commit_weight, velocity_weight and joint_weight must be >= 0 and val_clips >= 1")


STAGE1_PRESETS: dict[str, Stage1Config] = {
    # For 2 CPU cores and the synthetic corpus. A step (64 crops of 64 frames) took about 0.2 s on
    # an idle machine (3000 steps: ~10 min) and 0.55 s beside other jobs (3000 steps: 28 min).
    # Measured on a 2k-clip corpus: test MPJPE 20.8 mm after 3000 steps, 27.7 mm after 2000.
    # The joint loss (weight 4), 3000 steps on the 20k-clip version-1 corpus: own test MPJPE 25.9 ->
    # 16.5 mm, the nine real fixtures 143.6 -> 133.6 mm (README, Real motion).
    "tiny": Stage1Config(
        vq=VQConfig(codebook_size=512, code_dim=128, width=128, depth=3, dilation_growth=3, down_t=2),
        joint_weight=4.0,
        train=TrainConfig(
            steps=3000, batch_size=64, lr=1e-3, warmup_steps=200, lr_schedule="cosine", min_lr_ratio=0.05,
            log_every=25, checkpoint_every=500, eval_every=1000,
        ),
    ),
    # MotionGPT / T2M-GPT: 512 x 512 codebook, width 512, 3 blocks with growth 3, x4, 64-frame crops,
    # AdamW 2e-4 (0.9, 0.99), batch 256, 300k steps with the lr cut by 0.05 after 200k.
    "base": Stage1Config(
        vq=VQConfig(),
        train=TrainConfig(
            steps=300_000, batch_size=256, lr=2e-4, warmup_steps=1000, lr_schedule="step", min_lr_ratio=0.05,
            decay_start_frac=2 / 3, log_every=100, checkpoint_every=5000, eval_every=10_000, mixed_precision="bf16",
            num_workers=4,
        ),
    ),
}


def reconstruction_report(
    model: MotionVQVAE, clips: MotionClips, normalizer: Normalizer, skeleton: SkeletonSpec, max_clips: int | None = None
) -> dict[str, float]:
    """Encode and decode whole clips; compare joints recovered from decoded vs original features.

    mpjpe_mm is root-aligned (MotionGPT's convention for tokenizers); global_mpjpe_mm also counts
    the drift of the reconstructed root path. Both average over all frames of all clips.
    """
    device = next(model.parameters()).device
    count = len(clips) if max_clips is None else min(max_clips, len(clips))
    all_codes, aligned_mm, global_mm, frames = [], 0.0, 0.0, 0
    loss_sum = 0.0
    for index in range(count):
        raw = clips.features(index)  # (T, D), not normalised
        normalised = torch.from_numpy(normalizer.normalize(raw))
        codes = model.encode(normalised[None].to(device))  # (1, N)
        decoded = model.decode(codes, len(raw))[0].float().cpu()  # (T, D)
        all_codes.append(codes.view(-1).cpu().numpy())
        loss_sum += F.smooth_l1_loss(decoded, normalised, reduction="sum").item()
        truth = features_to_joints(raw, skeleton)  # (T, J, 3)
        recon = features_to_joints(normalizer.denormalize(decoded.numpy()), skeleton)
        aligned_mm += mpjpe_mm(recon, truth, root_aligned=True, root=skeleton.chains[0][0]) * len(raw)
        global_mm += mpjpe_mm(recon, truth, root_aligned=False) * len(raw)
        frames += len(raw)
    use = codebook_use(np.concatenate(all_codes), model.cfg.codebook_size)
    return {
        "clips": count,
        "mpjpe_mm": aligned_mm / frames,
        "global_mpjpe_mm": global_mm / frames,
        "recon_loss": loss_sum / (frames * model.cfg.feature_dim),
        "codebook_usage": use.usage,
        "perplexity": use.perplexity,
    }


class VQStage:
    """Stage 1 for `trainer.loop.run_training`."""

    name = "stage1"

    def __init__(self, cfg: Stage1Config, data_dir: Path):
        """Load and check everything the run needs (reads only; raises MotionchatError)."""
        self.data_dir = Path(data_dir)
        self.train_data = MotionClips(self.data_dir, "train", min_frames=cfg.crop_frames)
        self.skeleton = self.train_data.skeleton
        self.test_data = MotionClips(self.data_dir, "test", self.skeleton)
        self.val_data = MotionClips(self.data_dir, "val", self.skeleton) if cfg.train.eval_every else None
        self.normalizer = Normalizer.from_dir(self.data_dir)
        if self.normalizer.dim != self.skeleton.feature_dim:
            raise MotionchatError(
                f"{self.normalizer.source}: statistics have {self.normalizer.dim} values per frame but the "
                f"{self.skeleton.name} features have {self.skeleton.feature_dim}; use the dataset's own Mean/Std"
            )
        self.train_data.frames = self.normalizer.normalize(self.train_data.frames).astype(np.float32)
        self.stats = tuple(torch.from_numpy(a) for a in (self.normalizer.mean, self.normalizer.std))  # for the joint loss
        self.cfg = dataclasses.replace(cfg, vq=dataclasses.replace(cfg.vq, feature_dim=self.skeleton.feature_dim))
        self.train = self.cfg.train

    def describe(self) -> str:
        t = self.train_data
        return (
            f"{self.data_dir}: {len(t)} training clips ({t.skeleton.name}, {t.frames.shape[0]} frames; "
            f"{t.n_too_short} shorter than {self.cfg.crop_frames} left out), {len(self.test_data)} test clips"
        )

    def build_model(self) -> nn.Module:
        return MotionVQVAE(self.cfg.vq)

    def train_dataset(self) -> FeatureCrops:
        return FeatureCrops(self.train_data, self.cfg.crop_frames)

    def collate(self, items: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(items)  # (B, crop, D)

    def train_step(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = model(batch)
        recon = F.smooth_l1_loss(out.reconstruction, batch)
        velocity = F.smooth_l1_loss(out.reconstruction.diff(dim=1), batch.diff(dim=1))
        loss = recon + self.cfg.velocity_weight * velocity + self.cfg.commit_weight * out.commit_loss
        metrics = {"recon": recon, "velocity": velocity, "commit": out.commit_loss, "perplexity": out.perplexity}
        if self.cfg.joint_weight > 0:
            metrics["joints"] = self._joint_distance(out.reconstruction, batch)
            loss = loss + self.cfg.joint_weight * metrics["joints"]
        return loss, {k: v.detach() for k, v in metrics.items()}

    def _joint_distance(self, reconstruction: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """Mean root-aligned distance (metres) between the joints of two normalised feature batches."""
        mean, std = (a.to(batch.device) for a in self.stats)
        joints = [features_to_joints_torch(x * std + mean, self.skeleton) for x in (reconstruction, batch)]
        aligned = [j - j[..., :1, :] for j in joints]
        return (aligned[0] - aligned[1]).norm(dim=-1).mean()

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return reconstruction_report(model, self.val_data, self.normalizer, self.skeleton, self.cfg.val_clips)

    def finish(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        save_vq(model, run_dir / VQ_FILE)
        self.normalizer.save(run_dir)
        report = reconstruction_report(model, self.test_data, self.normalizer, self.skeleton)
        report = {"split": "test", **report}
        atomic_write_text(run_dir / EVAL_FILE, json.dumps(report, indent=2) + "\n")
        return report


def _summary(r: dict[str, Any], codebook_size: int, out: Path) -> str:
    used = round(r["codebook_usage"] * codebook_size)
    return (
        f"test split ({r['clips']} clips): MPJPE {r['mpjpe_mm']:.1f} mm (root-aligned; {r['global_mpjpe_mm']:.1f} mm global), "
        f"codebook usage {100 * r['codebook_usage']:.1f}% ({used}/{codebook_size} codes), "
        f"perplexity {r['perplexity']:.1f}\nwrote {out / VQ_FILE}, {out / EVAL_FILE}"
    )


def run_stage1(*, data: Path | None, **options: Any) -> RunResult:
    """`trainer stage1` (`options`: the fields of `RunOptions`): validate every input, then train."""
    run = StageRun(RunOptions(**options), stage=VQStage.name, presets=STAGE1_PRESETS, default=Stage1Config())
    data = run.input_dir(data, "data", "--data is required: a HumanML3D-layout dataset folder (e.g. from `trainer data synth`)")
    stage = VQStage(run.cfg, data)
    return run.train(stage, {"data": str(data.resolve())}, lambda r: _summary(r, stage.cfg.vq.codebook_size, run.run_dir))
