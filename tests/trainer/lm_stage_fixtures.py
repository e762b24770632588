"""Shared pieces for the stage-2/3 tests: a tiny synthetic corpus, a tiny tokenizer run, tiny settings."""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from motionchat.data.synth.corpus import synthesize_corpus
from trainer.checkpoint import list_checkpoints

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
CLIPS = 80  # train 64, val 4, test 12
TINY_VQ = ["vq.width=16", "vq.code_dim=16", "vq.codebook_size=32", "vq.depth=2", "train.batch_size=4", "train.eval_every=0"]
TINY_LM = ["lm.text_vocab_size=300", "lm.d_model=32", "lm.d_kv=8", "lm.d_ff=64", "lm.num_heads=4", "lm.num_encoder_layers=1",
           "lm.num_decoder_layers=1"]  # fmt: skip
STAGE2_SMALL = [*TINY_LM, "train.batch_size=4", "train.warmup_steps=2", "train.log_every=1", "train.eval_every=0", "test_examples=16"]
STAGE3_SMALL = ["train.batch_size=4", "train.warmup_steps=2", "train.log_every=1", "train.eval_every=0", "test_examples=30"]


def as_set(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@lru_cache(maxsize=1)
def tiny_corpus() -> Path:
    """One corpus shared (read-only) by every test of the session; removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="motionchat-lm-corpus-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    synthesize_corpus(root / "synth", CLIPS, seed=0, workers=1, force=True)
    return root / "synth"


@lru_cache(maxsize=1)
def tiny_vq_run() -> Path:
    """A stage-1 run of two steps on the tiny corpus (shared, read-only)."""
    from trainer.stage1 import run_stage1

    out = Path(tempfile.mkdtemp(prefix="motionchat-lm-vq-")) / "vq"
    atexit.register(shutil.rmtree, out.parent, ignore_errors=True)
    run_stage1(data=tiny_corpus(), out=out, preset=None, config_file=None, set_options=TINY_VQ, max_steps=2, resume=False, force=False)
    return out


@lru_cache(maxsize=1)
def tiny_stage2_run() -> Path:
    """A stage-2 run of three steps on the tiny corpus (shared, read-only)."""
    from trainer.stage2 import run_stage2

    out = Path(tempfile.mkdtemp(prefix="motionchat-lm-stage2-")) / "pretrain"
    atexit.register(shutil.rmtree, out.parent, ignore_errors=True)
    run_stage2(data=tiny_corpus(), vq=tiny_vq_run(), out=out, preset=None, config_file=None, set_options=STAGE2_SMALL, max_steps=3,
               resume=False, force=False)  # fmt: skip
    return out


def kill_after_first_checkpoint(command: list[str], run_dir: Path, timeout_s: float = 180) -> subprocess.Popen:
    """Start `command`, SIGKILL it as soon as `run_dir` holds a checkpoint; returns the dead process."""
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while not list_checkpoints(run_dir) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return process
