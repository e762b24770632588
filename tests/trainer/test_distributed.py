"""`trainer stage1` under a distributed launcher: 2 CPU processes (gloo) train one model."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motionchat.vq import load_vq
from trainer.checkpoint import load_checkpoint
from trainer.loop import state_sha256
from trainer.metrics import read_metrics

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
SMALL_RUN = [
    "--set", "vq.width=16", "--set", "vq.code_dim=16", "--set", "vq.codebook_size=32", "--set", "vq.depth=2",
    "--set", "train.batch_size=8", "--set", "train.log_every=1", "--set", "train.eval_every=0", "--max-steps", "3",
]  # fmt: skip


def write_dataset(root: Path) -> Path:
    rng = np.random.default_rng(0)
    (root / "new_joint_vecs").mkdir(parents=True)
    for split, count in {"train": 10, "test": 2}.items():
        ids = [f"{split}{i}" for i in range(count)]
        for clip_id in ids:
            np.save(root / "new_joint_vecs" / f"{clip_id}.npy", rng.normal(size=(70, 263)).astype(np.float32))
        (root / f"{split}.txt").write_text("\n".join(ids))
    np.save(root / "Mean.npy", np.zeros(263, np.float32))
    np.save(root / "Std.npy", np.ones(263, np.float32))
    return root


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


LAUNCHERS = {
    "accelerate": lambda port: ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                                "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", port],
    "torchrun": lambda port: [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port],
}  # fmt: skip


@pytest.mark.slow  # two training processes per launcher (~10 s each)
@pytest.mark.parametrize("launcher", ["accelerate", "torchrun"])
def test_two_cpu_processes_end_with_identical_weights_and_one_checkpoint(tmp_path, launcher):
    data, out = write_dataset(tmp_path / "data"), tmp_path / "run"
    command = LAUNCHERS[launcher](free_port()) + ["-m", "trainer", "stage1", "--data", str(data), "--out", str(out), *SMALL_RUN]
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es)" in result.stderr and "batch 8 = 2 x 1 x 4" in result.stderr

    # Each process hashed its own final weights (and codebook buffers): they agree ...
    hashes = json.loads((out / "ranks.json").read_text())["weights_sha256"]
    assert len(hashes) == 2 and hashes[0] == hashes[1]
    # ... and they are the weights the main process saved, once.
    checkpoints = sorted((out / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == ["step_00000003.pt"]
    state = load_checkpoint(checkpoints[0])
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    tokenizer = load_vq(out / "vq.safetensors")
    tokenizer.load_state_dict(state["model"])
    assert state_sha256(tokenizer) == hashes[0] == state_sha256(load_vq(out / "vq.safetensors"))
    # Only the main process logged: one record per step, not one per process.
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl") if r["split"] == "train"] == [1, 2, 3]
    assert result.stdout.count("codebook usage") == 1
