"""Shared pieces for tests/eval: a tiny synthetic corpus and tiny evaluation networks on it."""

import atexit
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from motionchat.data.synth.corpus import synthesize_corpus

CLIPS = 214  # train 172, val 10, test 32: enough for one R-Precision batch of 32
TINY_EVALUATOR = ["model.width=32", "model.embed_dim=32", "train.eval_every=0", "train.batch_size=16", "text_vocab_size=120"]
TINY_RECOGNIZER = ["model.width=24", "train.eval_every=0", "train.batch_size=8"]


@lru_cache(maxsize=1)
def tiny_corpus() -> Path:
    """One corpus shared (read-only) by every test of the session; removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="motionchat-eval-corpus-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    synthesize_corpus(root / "synth", CLIPS, seed=0, workers=1, force=True)
    return root / "synth"


def tiny_evaluator(corpus: Path, out: Path, steps: int = 3) -> Path:
    from eval.train_evaluator import run_train_evaluator

    run_train_evaluator(data=corpus, out=out, preset=None, config_file=None, set_options=TINY_EVALUATOR, max_steps=steps, resume=False, force=False)
    return out


def tiny_recognizer(corpus: Path, out: Path, steps: int = 3) -> Path:
    from eval.train_recognizer import run_train_recognizer

    run_train_recognizer(data=corpus, out=out, preset=None, config_file=None, set_options=TINY_RECOGNIZER, max_steps=steps, resume=False, force=False)
    return out
