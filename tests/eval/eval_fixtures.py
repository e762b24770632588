"""Shared pieces for tests/eval: a tiny synthetic corpus and tiny evaluation networks on it."""

from pathlib import Path

from corpora import tiny_corpus  # noqa: F401  (re-exported for the tests here)

TINY_EVALUATOR = ["model.width=32", "model.embed_dim=32", "train.eval_every=0", "train.batch_size=16", "text_vocab_size=120"]
TINY_RECOGNIZER = ["model.width=24", "train.eval_every=0", "train.batch_size=8"]


def tiny_evaluator(corpus: Path, out: Path, steps: int = 3) -> Path:
    from eval.train_evaluator import run_train_evaluator

    run_train_evaluator(data=corpus, out=out, preset=None, config_file=None, set_options=TINY_EVALUATOR, max_steps=steps, resume=False, force=False)
    return out


def tiny_recognizer(corpus: Path, out: Path, steps: int = 3) -> Path:
    from eval.train_recognizer import run_train_recognizer

    run_train_recognizer(data=corpus, out=out, preset=None, config_file=None, set_options=TINY_RECOGNIZER, max_steps=steps, resume=False, force=False)
    return out
