"""The generic loop with a toy stage (linear regression), in process."""

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from motionchat.errors import MotionchatError
from trainer.config import TrainConfig, lr_factor
from trainer.loop import run_training
from trainer.metrics import read_metrics


class Pairs(Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(40, 3, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(40, generator=g)

    def __len__(self):
        return 40

    def __getitem__(self, key):
        index, seed = key
        noise = torch.randn(3, generator=torch.Generator().manual_seed(seed)) * 0.01  # per-sample randomness
        return self.x[index] + noise, self.y[index]


class ToyStage:
    name = "toy"

    def __init__(self, train: TrainConfig):
        self.train = train
        self.finished = False

    def describe(self):
        return "toy data"

    def build_model(self):
        return nn.Linear(3, 1)

    def train_dataset(self):
        return Pairs()

    def collate(self, items):
        return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])

    def train_step(self, model, batch):
        x, y = batch
        loss = ((model(x).squeeze(-1) - y) ** 2).mean()
        return loss, {"mse": loss.detach()}

    def evaluate(self, model):
        assert not model.training
        return {"weight_norm": model.weight.norm().item()}

    def finish(self, model, run_dir):
        self.finished = True
        return {"weight_norm": model.weight.norm().item()}


BASE = TrainConfig(steps=20, batch_size=8, lr=0.1, warmup_steps=3, log_every=1, checkpoint_every=4, eval_every=5)


def train(tmp_path: Path, name: str, cfg: TrainConfig, **kwargs):
    stage = ToyStage(cfg)
    result = run_training(stage, tmp_path / name, config_snapshot={"stage": "toy"}, **{"resume": False, **kwargs})
    return stage, result, read_metrics(tmp_path / name / "metrics.jsonl")


def final_weights(run: Path) -> torch.Tensor:
    state = torch.load(sorted((run / "checkpoints").iterdir())[-1], weights_only=True)
    return state["model"]["weight"]


def test_runs_logs_evaluates_checkpoints_and_finishes(tmp_path):
    stage, result, records = train(tmp_path, "run", BASE)
    assert result.step == 20 and result.is_main and stage.finished
    train_records = [r for r in records if r["split"] == "train"]
    assert [r["step"] for r in train_records] == list(range(1, 21))
    assert train_records[-1]["loss"] < 0.5 * train_records[0]["loss"]
    for r in train_records:  # the lr used at each step follows the schedule
        assert r["lr"] == pytest.approx(BASE.lr * lr_factor(r["step"] - 1, BASE))
    assert [r["step"] for r in records if r["split"] == "val"] == [5, 10, 15]
    assert [p.name for p in sorted((tmp_path / "run" / "checkpoints").iterdir())] == ["step_00000016.pt", "step_00000020.pt"]
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {"stage": "toy"}


def test_gradient_accumulation_matches_the_full_batch(tmp_path):
    train(tmp_path, "full", replace(BASE, eval_every=0))
    train(tmp_path, "accumulated", replace(BASE, eval_every=0, grad_accum_steps=2))
    torch.testing.assert_close(final_weights(tmp_path / "accumulated"), final_weights(tmp_path / "full"), rtol=0, atol=1e-6)


def test_max_steps_stops_early_on_the_same_schedule_and_resume_goes_on(tmp_path):
    _, _, records = train(tmp_path, "stopped", BASE, max_steps=6)
    assert [r["step"] for r in records if r["split"] == "train"][-1] == 6
    assert (tmp_path / "stopped" / "checkpoints" / "step_00000006.pt").is_file()
    _, result, records = train(tmp_path, "stopped", BASE, resume=True)
    assert result.step == 20 and [r["step"] for r in records if r["split"] == "train"] == list(range(1, 21))
    train(tmp_path, "straight", BASE)
    torch.testing.assert_close(final_weights(tmp_path / "stopped"), final_weights(tmp_path / "straight"), rtol=0, atol=0)
    with pytest.raises(MotionchatError, match="already at step 20"):
        train(tmp_path, "stopped", BASE, resume=True)


def test_a_batch_that_does_not_split_is_refused_before_writing(tmp_path):
    with pytest.raises(MotionchatError, match="batch_size=9 is not divisible by 1 processes x 2 accumulation steps"):
        train(tmp_path, "bad", replace(BASE, batch_size=9, grad_accum_steps=2))
    assert not (tmp_path / "bad").exists()


def test_lr_schedules():
    cosine = TrainConfig(steps=110, warmup_steps=10, lr_schedule="cosine", min_lr_ratio=0.1)
    assert [lr_factor(s, cosine) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_factor(60, cosine) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(109, cosine) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.99)))
    step = TrainConfig(steps=300, warmup_steps=0, lr_schedule="step", min_lr_ratio=0.05, decay_start_frac=2 / 3)
    assert [lr_factor(s, step) for s in (0, 199, 200, 299)] == pytest.approx([1, 1, 0.05, 0.05])
    assert lr_factor(250, TrainConfig(lr_schedule="constant", warmup_steps=5)) == 1.0


def test_tensorboard_is_optional(tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(MotionchatError, match="needs the tensorboard package"):
            train(tmp_path, "tb", replace(BASE, tensorboard=True))
        assert not (tmp_path / "tb").exists()
    else:
        train(tmp_path, "tb", replace(BASE, tensorboard=True, steps=2))
        assert list((tmp_path / "tb" / "tensorboard").iterdir())


def test_stop_when_ends_the_run_at_the_evaluation_that_meets_it(tmp_path):
    stage, result, records = train(tmp_path, "run", replace(BASE, stop_when="weight_norm>=0"))
    assert result.step == 5 and stage.finished  # the first evaluation (step 5) meets it
    assert [r["step"] for r in records if r["split"] == "train"][-1] == 5
    assert (tmp_path / "run" / "checkpoints" / "step_00000005.pt").is_file()
    assert json.loads((tmp_path / "run" / "ranks.json").read_text())["step"] == 5
