"""A stage-1 run killed with SIGKILL after a checkpoint resumes exactly where it was."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from trainer.checkpoint import list_checkpoints, load_checkpoint
from trainer.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
STEPS = 80
SMALL_RUN = [
    "--set", "vq.width=16", "--set", "vq.code_dim=16", "--set", "vq.codebook_size=32", "--set", "vq.depth=2",
    "--set", "train.batch_size=4", "--set", "train.steps=400", "--set", "train.warmup_steps=20",
    "--set", "train.log_every=1", "--set", "train.checkpoint_every=5", "--set", "train.eval_every=30",
    "--set", "val_clips=2", "--max-steps", str(STEPS),
]  # fmt: skip


def write_dataset(root: Path) -> Path:
    rng = np.random.default_rng(0)
    (root / "new_joint_vecs").mkdir(parents=True)
    splits = {"train": 12, "val": 2, "test": 2}
    for split, count in splits.items():
        ids = [f"{split}{i}" for i in range(count)]
        for clip_id in ids:
            walk = np.cumsum(rng.normal(scale=0.1, size=(int(rng.integers(64, 90)), 263)), axis=0)
            np.save(root / "new_joint_vecs" / f"{clip_id}.npy", walk.astype(np.float32))
        (root / f"{split}.txt").write_text("\n".join(ids))
    np.save(root / "Mean.npy", np.zeros(263, np.float32))
    np.save(root / "Std.npy", np.ones(263, np.float32))
    return root


def stage1(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", "stage1", *args]


def train_losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_metrics(run / "metrics.jsonl") if r["split"] == "train"}


@pytest.mark.slow  # three training processes (~12 s), like stage 2 and 3's resume tests
def test_sigkill_after_a_checkpoint_then_resume_matches_an_uninterrupted_run(tmp_path):
    data = write_dataset(tmp_path / "data")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(stage1("--data", str(data), "--out", str(whole), *SMALL_RUN), env=ENV, check=True, capture_output=True)

    process = subprocess.Popen(
        stage1("--data", str(data), "--out", str(killed), *SMALL_RUN), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not list_checkpoints(killed) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    interrupted_at = max(train_losses(killed), default=0)
    assert 5 <= interrupted_at < STEPS, "the run must die between its first checkpoint and its end"
    assert not (killed / "vq.safetensors").exists()

    resumed = subprocess.run(
        stage1("--out", str(killed), "--resume", "--max-steps", str(STEPS)), env=ENV, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from step_" in resumed.stderr

    expected, got = train_losses(whole), train_losses(killed)
    assert sorted(got) == list(range(1, STEPS + 1)) == sorted(expected)
    for step in expected:
        assert abs(got[step] - expected[step]) <= 1e-6, (step, got[step], expected[step])
    val = lambda run: [r["mpjpe_mm"] for r in read_metrics(run / "metrics.jsonl") if r["split"] == "val"]  # noqa: E731
    assert len(val(killed)) == STEPS // 30 and np.allclose(val(killed), val(whole), rtol=0, atol=1e-6)

    # Same final tokenizer, no half-written file anywhere, every checkpoint loads.
    final_a, final_b = load_file(str(whole / "vq.safetensors")), load_file(str(killed / "vq.safetensors"))
    assert all(torch.allclose(final_a[k], final_b[k], rtol=0, atol=1e-6) for k in final_a)
    assert json.loads((whole / "eval.json").read_text())["mpjpe_mm"] == pytest.approx(
        json.loads((killed / "eval.json").read_text())["mpjpe_mm"], abs=1e-6
    )
    assert not [p for p in killed.rglob("*") if ".tmp" in p.name]
    checkpoints = list_checkpoints(killed)
    assert [step for step, _ in checkpoints] == [STEPS - 5, STEPS]
    for step, path in checkpoints:
        assert load_checkpoint(path)["step"] == step
