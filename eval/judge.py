"""The judge: what a model does, read quickly, for training to watch (and stop on).

Text to motion (R-Precision top-3 through the evaluator, program accuracy through the
recogniser), captions (program accuracy of the caption read back by the corpus's parser) and
duration questions (answers within 10% of the length), on the first `clips` clips of the
validation split, once, for the model alone: the protocols of `motionchat-eval` on fewer clips,
one repeat and no baselines. Stage 3 runs it on a snapshot of the model at each evaluation
(`--set judge_clips=128`) as `motionchat-eval judge`, a process of its own, so that training
never imports the evaluation code.
"""

from __future__ import annotations

import time
from pathlib import Path

# what the judge reports -> (task, metric of its report)
JUDGED = {
    "t2m_r_precision_top3": ("t2m", "r_precision_top3"),
    "t2m_program_exact": ("t2m", "program_exact"),
    "caption_program_exact": ("m2t", "program_exact"),
    "duration_within_10": ("duration", "duration_within_10"),
    "duration_unreadable": ("duration", "malformed"),  # answers that state no length: the task not understood
}


def judge(bundle: Path, data: Path, *, clips: int = 128, split: str = "val", guidance: float | None = None,
          temperature: float | None = None, best_of: int | None = None, seed: int = 0) -> dict[str, float]:
    """The `JUDGED` scores (program accuracies only on the synthetic corpus, R-Precision only from
    32 clips on), the guidance scales and temperatures used (`BundleGenerator.settings`) and the
    seconds taken, of the model in `bundle` on `data`."""
    from eval.protocols import evaluate_duration, evaluate_m2t, evaluate_t2m
    from eval.runner import Evaluation, EvaluationInputs, with_shipped_networks

    began = time.perf_counter()
    inputs = EvaluationInputs(data=Path(data), bundle=Path(bundle), repeats=1, limit=clips, seed=seed, guidance=guidance,
                              temperature=temperature, best_of=best_of, split=split, mm_prompts=0)
    evaluation = Evaluation(sorted({task for task, _ in JUDGED.values()}), with_shipped_networks(inputs))
    model, data_, embedder, cfg = [evaluation.model], evaluation.data, evaluation.embedder, evaluation.cfg
    results = {
        "t2m": evaluate_t2m(model, data_, embedder, cfg, evaluation.recognizer)[0],
        "m2t": evaluate_m2t(model, data_, embedder, cfg),
        "duration": evaluate_duration(model, data_, cfg),
    }
    rows = {task: result.rows["model"] for task, result in results.items()}
    scores = {name: float(rows[task][metric][0]) for name, (task, metric) in JUDGED.items() if metric in rows[task]}
    return scores | evaluation.model.settings() | {"seconds": round(time.perf_counter() - began, 1)}
