"""`trainer stage1`: a small run end to end, and bad input refused before anything is written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from motionchat.motion.features import joints_to_features
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.rotations import quat_from_axis_angle
from motionchat.motion.skeleton import HUMANML3D, forward_kinematics
from motionchat.vq import load_vq
from trainer.cli import app
from trainer.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "vq.width=16", "--set", "vq.code_dim=16", "--set", "vq.codebook_size=32", "--set", "vq.depth=2",
         "--set", "train.batch_size=4", "--set", "train.log_every=2", "--set", "val_clips=2"]  # fmt: skip


def swinging_clip(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(frames, 263) features of a figure walking forward and swinging its limbs."""
    t = np.arange(frames + 1) / 20.0
    quats = np.zeros((frames + 1, 22, 4))
    quats[..., 0] = 1.0
    for joint in range(1, 22):
        axis = rng.normal(size=3)
        angle = 0.3 * np.sin(2 * np.pi * rng.uniform(0.3, 1.2) * t + rng.uniform(0, 6))
        quats[:, joint] = quat_from_axis_angle(axis / np.linalg.norm(axis) * angle[:, None])
    root = np.stack([0.1 * t, np.full_like(t, 0.95), 0.8 * t], axis=-1)
    return joints_to_features(forward_kinematics(quats, root, HUMANML3D))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    (root / "new_joint_vecs").mkdir()
    clips = []
    for split, count in {"train": 10, "val": 2, "test": 3}.items():
        ids = [f"{split}{i}" for i in range(count)]
        for clip_id in ids:
            clips.append(swinging_clip(rng, int(rng.integers(64, 100))))
            np.save(root / "new_joint_vecs" / f"{clip_id}.npy", clips[-1])
        (root / f"{split}.txt").write_text("\n".join(ids))
    frames = np.concatenate(clips)
    np.save(root / "Mean.npy", frames.mean(axis=0))
    np.save(root / "Std.npy", np.maximum(frames.std(axis=0), 1e-2))
    return root


def run_cli(*args: str):
    result = CliRunner().invoke(app, ["stage1", *args])
    return result.exit_code, result.output


def test_a_small_run_writes_the_tokenizer_its_normaliser_and_its_evaluation(dataset, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    args = ["--data", str(dataset), "--out", str(out), *SMALL, "--set", "train.eval_every=3", "--max-steps", "6"]
    done = subprocess.run([sys.executable, "-m", "trainer", "stage1", *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "MPJPE" in done.stdout and "codebook usage" in done.stdout and "perplexity" in done.stdout
    assert "10 training clips (humanml3d" in done.stderr

    tokenizer = load_vq(out / "vq.safetensors")
    assert tokenizer.cfg.feature_dim == 263 and tokenizer.cfg.codebook_size == 32
    saved, source = Normalizer.from_dir(out), Normalizer.from_dir(dataset)
    assert np.array_equal(saved.mean, source.mean) and np.array_equal(saved.std, source.std)

    report = json.loads((out / "eval.json").read_text())
    assert report["split"] == "test" and report["clips"] == 3
    assert report["mpjpe_mm"] > 0 and report["global_mpjpe_mm"] >= 0 and 0 < report["codebook_usage"] <= 1
    assert 1 <= report["perplexity"] <= 32
    assert f"perplexity {report['perplexity']:.1f}" in done.stdout

    config = json.loads((out / "config.json").read_text())
    assert config["stage"] == "stage1" and config["preset"] == "tiny" and config["data"] == str(dataset.resolve())
    assert config["config"]["vq"]["width"] == 16 and config["config"]["train"]["eval_every"] == 3
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records if r["split"] == "train"] == [2, 4, 6]
    assert [r["step"] for r in records if r["split"] == "val"] == [3]
    assert {"loss", "recon", "velocity", "commit", "perplexity", "lr", "steps_per_s"} <= set(records[0])
    assert records[-1]["split"] == "final" and records[-1]["mpjpe_mm"] == report["mpjpe_mm"]

    # The saved tokenizer reproduces the evaluation's codes on a test clip.
    clip = torch.from_numpy(source.normalize(np.load(dataset / "new_joint_vecs" / "test0.npy")))[None]
    assert tokenizer.decode(tokenizer.encode(clip), clip.shape[1]).shape == clip.shape


def previous_run(out: Path) -> dict[Path, bytes]:
    """A folder holding an earlier run's files; returns their contents to compare afterwards."""
    (out / "checkpoints").mkdir(parents=True)
    files = {out / "config.json": b'{"stage": "stage1"}', out / "metrics.jsonl": b'{"step": 1}\n',
             out / "checkpoints" / "step_00000001.pt": b"weights", out / "vq.safetensors": b"tokenizer"}  # fmt: skip
    for path, content in files.items():
        path.write_bytes(content)
    return files


def broken_copy(dataset: Path, tmp_path: Path, damage) -> Path:
    copy = tmp_path / "broken"
    copy.mkdir()
    for item in dataset.iterdir():
        (copy / item.name).symlink_to(item)
    damage(copy)
    return copy


def replace_stats(copy: Path):
    for name in ("Mean.npy", "Std.npy"):
        (copy / name).unlink()
        np.save(copy / name, np.ones(100, np.float32))


def replace_clip(copy: Path):
    (copy / "new_joint_vecs").unlink()
    (copy / "new_joint_vecs").mkdir()
    np.save(copy / "new_joint_vecs" / "train0.npy", np.zeros((70, 263), np.float32))  # the other clips are missing


@pytest.mark.parametrize(
    "args, message",
    [
        (lambda d, t: ["--data", str(t / "nowhere")], "dataset folder not found"),
        (lambda d, t: ["--data", str(t)], "no 'new_joint_vecs/' folder"),
        (lambda d, t: ["--data", str(broken_copy(d, t, replace_stats))], "statistics have 100 values per frame but the humanml3d features have 263"),
        (lambda d, t: ["--data", str(broken_copy(d, t, replace_clip))], "listed in the 'train' split but missing"),
        (lambda d, t: ["--data", str(d), "--set", "train.lrr=1"], "unknown config key 'train.lrr'"),
        (lambda d, t: ["--data", str(d), "--set", "vq.width=wide"], "bad value for 'vq.width'"),
        (lambda d, t: ["--data", str(d), "--preset", "huge"], "unknown preset 'huge'"),
        (lambda d, t: ["--data", str(d), "--config", str(t / "none.toml")], "config file not found"),
        (lambda d, t: [], "--data is required"),
        (lambda d, t: ["--data", str(d), "--resume"], "no config.json, so no run to resume"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(dataset, tmp_path, args, message):
    args = args(dataset, tmp_path)
    fresh = tmp_path / "fresh"
    code, output = run_cli("--out", str(fresh), *SMALL, *args)
    assert code == 2, output
    assert message in output and output.count("error:") == 1 and "Traceback" not in output
    assert not fresh.exists()

    kept = tmp_path / "kept"
    files = previous_run(kept)
    force = [] if "--resume" in args else ["--force"]
    code, output = run_cli("--out", str(kept), *SMALL, *args, *force)
    assert code == 2, output
    assert {path: path.read_bytes() for path in files} == files
    assert sorted(p for p in kept.rglob("*") if p.is_file()) == sorted(files)


def test_an_existing_run_is_neither_overwritten_nor_resumed_by_accident(dataset, tmp_path):
    out = tmp_path / "run"
    files = previous_run(out)
    code, output = run_cli("--data", str(dataset), "--out", str(out), *SMALL)
    assert code == 2 and "folder is not empty; pass --resume to continue its run or --force to start over" in output
    code, output = run_cli("--out", str(out), "--resume", "--set", "train.lr=1")
    assert code == 2 and "drop --preset/--config/--set" in output
    code, output = run_cli("--out", str(out), "--resume", "--force")
    assert code == 2 and "pass only one" in output
    assert {path: path.read_bytes() for path in files} == files


def test_the_joint_loss_measures_root_aligned_joint_distance_and_is_logged(dataset, tmp_path):
    from trainer.stage1 import Stage1Config, VQStage

    stage = VQStage(Stage1Config(joint_weight=4.0), dataset)
    raw = np.load(dataset / "new_joint_vecs" / "test0.npy")
    moved = raw.copy()
    moved[:, 4:67:3] += 0.01  # every joint but the root 1 cm along its facing frame's x
    batch, shifted = (torch.from_numpy(stage.normalizer.normalize(x))[None] for x in (raw, moved))
    assert float(stage._joint_distance(batch, batch)) == 0.0
    assert float(stage._joint_distance(shifted, batch)) == pytest.approx(0.01 * 21 / 22, rel=1e-4)

    out = tmp_path / "run"
    code, output = run_cli("--data", str(dataset), "--out", str(out), *SMALL, "--set", "joint_weight=4",
                           "--set", "train.eval_every=0", "--max-steps", "2")  # fmt: skip
    assert code == 0, output
    first = read_metrics(out / "metrics.jsonl")[0]
    assert first["joints"] > 0 and first["loss"] > first["recon"] + 4 * first["joints"] - 1e-6
