"""Running an evaluation: inputs checked and loaded once, tasks run one after another or spread
over worker processes, then the report written.

Tasks are independent (each seeds its own random choices from --seed and its name), so spreading
them over processes changes no number beyond float rounding (a worker's torch runs on fewer
threads, which can reorder sums). Much of a task's time is Python-bound (the token loop, metrics),
where torch's threads do not help: on the 2-core machine two single-threaded workers get through
`all` in about 0.8 of the time one process takes (eval/README.md, Run time). Each worker loads
the data itself, so memory grows with the worker count (about one dataset's features each).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import platform
import queue
import shlex
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

from rich.console import Console

from motionchat import __version__
from motionchat.errors import MotionchatError

console = Console(stderr=True, highlight=False, soft_wrap=True)

# Longest first (measured on the 2-core machine, README Run time), so that workers finish together.
LONGEST_FIRST = ("t2m", "edit", "diff", "inbetween", "m2t", "predict", "duration", "prompt_gap", "tokenizer")


@dataclass(frozen=True)
class EvaluationInputs:
    """What an evaluation reads and how (the options of `motionchat-eval`); a worker process
    rebuilds its own `Evaluation` from it."""

    data: Path
    evaluator: Path | None = None
    guo_checkpoint: Path | None = None
    guo_glove: Path | None = None
    guo_stats: Path | None = None
    trust_glove: bool = False
    recognizer: Path | None = None
    bundle: Path | None = None
    vq: Path | None = None
    vq_stats: Path | None = None
    repeats: int = 20
    limit: int | None = None
    seed: int = 0
    mm_samples: int = 30
    mm_prompts: int = 100
    guidance: float | None = None  # None: the bundle's own (its config.json)
    temperature: float | None = None  # None: the bundle's own (its config.json)
    best_of: int | None = None  # None: the bundle's own (its config.json)
    device: str = "cpu"
    split: str = "test"


def with_shipped_networks(inputs: EvaluationInputs) -> EvaluationInputs:
    """On a synthetic corpus (it has labels.jsonl), the evaluator and recogniser shipped in
    eval/assets stand in for those not given; other data needs its own."""
    from eval.assets import SHIPPED_EVALUATOR, SHIPPED_RECOGNIZER
    from motionchat.filenames import LABELS_FILE

    if not (Path(inputs.data) / LABELS_FILE).is_file():
        return inputs
    changes = {}
    if inputs.evaluator is None and inputs.guo_checkpoint is None:
        changes["evaluator"] = SHIPPED_EVALUATOR
    if inputs.recognizer is None:
        changes["recognizer"] = SHIPPED_RECOGNIZER
    return dataclasses.replace(inputs, **changes)


def _embedder(inputs: EvaluationInputs):
    if inputs.guo_checkpoint is not None:
        if inputs.evaluator is not None:
            raise MotionchatError("pass either --evaluator or --guo-checkpoint, not both")
        if inputs.guo_glove is None or inputs.guo_stats is None:
            raise MotionchatError("--guo-checkpoint also needs --guo-glove (GloVe folder or .npz) and --guo-stats (mean.npy/std.npy folder)")
        from eval.guo import GuoEvaluator, load_glove
        from motionchat.motion.normalizer import Normalizer

        glove = load_glove(inputs.guo_glove, allow_pickle=inputs.trust_glove)
        embedder = GuoEvaluator(inputs.guo_checkpoint, glove, Normalizer.from_dir(inputs.guo_stats), inputs.device)
        return embedder, {"evaluator": f"Guo et al. ({inputs.guo_checkpoint})"}
    if inputs.evaluator is None:
        raise MotionchatError(
            "no evaluator: pass --evaluator (train one with `motionchat-eval train-evaluator --data DIR --out DIR`) "
            "or --guo-checkpoint with --guo-glove and --guo-stats"
        )
    from eval.evaluator import load_evaluator, read_evaluator_report

    described = {"evaluator": f"motionchat contrastive ({inputs.evaluator})"}
    report = read_evaluator_report(inputs.evaluator)
    if "r_precision_top1" in report:
        described["evaluator ground truth (its test split)"] = (
            f"R-Precision top-1/2/3 {report['r_precision_top1']:.3f}/{report['r_precision_top2']:.3f}/{report['r_precision_top3']:.3f}"
            + (f", FID val vs test {report['fid_val_vs_test']:.3f}" if "fid_val_vs_test" in report else "")
        )
    return load_evaluator(inputs.evaluator, inputs.device), described


def _model_generator(bundle: Path, device: str, guidance: float | None, temperature: float | None, best_of: int | None):
    """The Generator over a trained model bundle (eval.bundle_generator, written with the bundle)."""
    try:
        from eval.bundle_generator import BundleGenerator
    except ImportError:
        raise MotionchatError(
            f"{bundle}: this build cannot run model bundles yet (no eval.bundle_generator); evaluate the baselines without --bundle"
        ) from None
    return BundleGenerator(bundle, device=device, guidance=guidance, temperature=temperature, best_of=best_of)


def _vq_and_stats(vq_path: Path, stats: Path | None, device: str):
    from motionchat.motion.normalizer import Normalizer
    from motionchat.vq import VQ_FILE, load_vq

    vq_file = vq_path / VQ_FILE if vq_path.is_dir() else vq_path
    model = load_vq(vq_file, device)
    return model, Normalizer.from_dir(stats if stats is not None else vq_file.parent)


class Evaluation:
    """Everything the tasks of one evaluation share, checked before anything runs (the baselines,
    which read the train split, are built on first use)."""

    def __init__(self, tasks: list[str], inputs: EvaluationInputs):
        import torch

        from eval.cache import CachedEmbedder, CachedRecognizer
        from eval.data import EvalData
        from eval.protocols import ProtocolConfig
        from eval.recognizer import load_recognizer

        torch.manual_seed(inputs.seed)
        self.tasks, self.inputs = tasks, inputs
        self.data = EvalData(inputs.data, inputs.limit, inputs.split)
        if set(tasks) <= {"diff", "duration", "prompt_gap"}:  # judged by reading answers or losses: no embeddings
            self.embedder, self.described_evaluator = None, {"evaluator": f"none ({' and '.join(tasks)} need none)"}
        else:
            embedder, self.described_evaluator = _embedder(inputs)
            self.embedder = CachedEmbedder(embedder)
        for task in ("edit", "diff"):
            if task in tasks and not self.data.test_edit_pairs:
                raise MotionchatError(f"{inputs.data}: no edit pairs among the evaluated test clips; `{task}` needs the synthetic corpus's edits.jsonl")
        if "diff" in tasks and self.data.programs is None:
            raise MotionchatError(f"{inputs.data}: no labels.jsonl, so no true edits to judge differences by; `diff` needs the synthetic corpus")
        self.recognizer = CachedRecognizer(load_recognizer(inputs.recognizer, inputs.device)) if inputs.recognizer is not None else None
        if self.recognizer is not None and self.data.programs is None:
            raise MotionchatError(f"{inputs.data}: no labels.jsonl, so no programs to check; drop --recognizer for this dataset")
        self.model = _model_generator(inputs.bundle, inputs.device, inputs.guidance, inputs.temperature, inputs.best_of) if inputs.bundle is not None else None
        if "prompt_gap" in tasks and inputs.bundle is None:
            raise MotionchatError("`prompt_gap` needs --bundle (the model whose reading of its prompt is measured)")
        self.tokenizer = None
        if "tokenizer" in tasks:
            if inputs.vq is None and inputs.bundle is None:
                raise MotionchatError("`tokenizer` needs --vq (a vq.safetensors or the stage1 run folder) or --bundle")
            stats = inputs.vq_stats or (inputs.bundle if inputs.vq is None else None)
            self.tokenizer = _vq_and_stats(inputs.vq or inputs.bundle, stats, inputs.device)
        self.cfg = ProtocolConfig(repeats=inputs.repeats, seed=inputs.seed, mm_samples=inputs.mm_samples, mm_prompts=inputs.mm_prompts)

    @cached_property
    def baselines(self) -> dict[str, list]:
        """The baseline generators of each task; the retrieval index is built once and shared."""
        from eval.generators import ClipIndex, GroundTruthGenerator, HoldLastPoseGenerator, RetrievalGenerator, UnchangedGenerator

        tasks, data = [t for t in self.tasks if t != "tokenizer"], self.data
        test = ClipIndex(data.test)
        edit_targets = {p.pair_id: test.features(p.target) for p in data.test_edit_pairs}
        differences = {p.pair_id: p.difference for p in data.test_edit_pairs}
        shared = [GroundTruthGenerator(test, edit_targets, differences), HoldLastPoseGenerator(), UnchangedGenerator()]
        if any(task in RetrievalGenerator.tasks for task in tasks):
            train_ids = set(data.train.clip_ids)  # the two clips of a pair share a split
            train_pairs = [(p.source, p.target, p.difference) for p in data.edit_pairs or [] if p.source in train_ids] if "diff" in tasks else []
            shared.insert(1, RetrievalGenerator(data.train, data.normalizer, train_pairs))
        return {task: [g for g in shared if task in g.tasks] for task in tasks}

    def run(self, task: str, progress) -> list:
        """Evaluate one task -> its TaskResults (t2m: with the compositional split's when there is
        one); `progress.start(task, total)` and `progress.advance(task)` follow it."""
        from eval.protocols import (
            evaluate_completion,
            evaluate_diff,
            evaluate_duration,
            evaluate_edit,
            evaluate_m2t,
            evaluate_t2m,
            evaluate_tokenizer,
        )

        began = time.perf_counter()
        data, embedder, cfg = self.data, self.embedder, self.cfg
        if task == "tokenizer":
            progress.start(task, len(data.test_indices))
            produced = [evaluate_tokenizer(*self.tokenizer, data, embedder, advance=lambda: progress.advance(task))]
        elif task == "prompt_gap":
            from eval.prompt_gaps import evaluate_prompt_gaps

            progress.start(task, 1)
            produced = [evaluate_prompt_gaps(self.inputs.bundle, data)]
            progress.advance(task)
        else:
            generators = ([self.model] if self.model is not None and task in self.model.tasks else []) + self.baselines[task]
            progress.start(task, cfg.repeats * len(generators))
            advance = lambda: progress.advance(task)  # noqa: E731
            if task == "t2m":
                produced = evaluate_t2m(generators, data, embedder, cfg, self.recognizer, advance)
            elif task == "m2t":
                produced = [evaluate_m2t(generators, data, embedder, cfg, advance)]
            elif task == "edit":
                produced = [evaluate_edit(generators, data, embedder, cfg, self.recognizer, advance)]
            elif task == "diff":
                produced = [evaluate_diff(generators, data, cfg, advance)]
            elif task == "duration":
                produced = [evaluate_duration(generators, data, cfg, advance)]
            else:
                produced = [evaluate_completion(task, generators, data, embedder, cfg, advance)]
        produced[0].seconds = time.perf_counter() - began
        return produced


class _Bars:
    """One rich progress bar per task, added when the task starts."""

    def __init__(self, quiet: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=console, disable=quiet,
        )  # fmt: skip
        self.bars: dict[str, int] = {}

    def start(self, task: str, total: int) -> None:
        self.bars[task] = self.progress.add_task(task, total=total)

    def advance(self, task: str) -> None:
        self.progress.advance(self.bars[task])


class _QueuedProgress:
    """A worker's progress, sent to the parent's bars."""

    def __init__(self, queue):
        self.queue = queue

    def start(self, task: str, total: int) -> None:
        self.queue.put(("start", task, total))

    def advance(self, task: str) -> None:
        self.queue.put(("advance", task, None))


def _worker(tasks: list[str], inputs: EvaluationInputs, threads: int, todo, done) -> None:
    """A worker process: set up once, then run the tasks it takes from `todo` until None; results,
    progress and errors go to `done`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        import torch

        torch.set_num_threads(threads)
        evaluation, progress = Evaluation(tasks, inputs), _QueuedProgress(done)
        while (task := todo.get()) is not None:
            done.put(("result", task, evaluation.run(task, progress)))
    except MotionchatError as err:
        done.put(("error", None, err))
    except BaseException:
        done.put(("error", None, RuntimeError(f"an evaluation worker failed:\n{traceback.format_exc()}")))


def default_workers(tasks: list[str], device: str) -> int:
    """Two worker processes on a CPU with at least two cores and two tasks to share, else one."""
    return 2 if device == "cpu" and len(tasks) > 1 and (os.cpu_count() or 1) > 1 else 1


def _run_tasks(evaluation: Evaluation, workers: int, bars: _Bars) -> dict[str, list]:
    tasks = evaluation.tasks
    if workers <= 1:
        return {task: evaluation.run(task, bars) for task in tasks}
    context = multiprocessing.get_context("spawn")  # a fork would copy torch's thread pools mid-state
    todo, done = context.Queue(), context.Queue()
    for task in sorted(tasks, key=LONGEST_FIRST.index):
        todo.put(task)
    for _ in range(workers):
        todo.put(None)
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = [context.Process(target=_worker, args=(tasks, evaluation.inputs, threads, todo, done), daemon=True) for _ in range(workers)]
    for process in processes:
        process.start()
    results: dict[str, list] = {}
    try:
        while len(results) < len(tasks):
            if dead := [p.exitcode for p in processes if p.exitcode not in (None, 0)]:
                raise MotionchatError(f"an evaluation worker died (exit code {dead[0]}; out of memory?); run again with --workers 1")
            try:
                kind, task, payload = done.get(timeout=1.0)
            except queue.Empty:
                continue
            if kind == "error":
                raise payload
            if kind == "result":
                results[task] = payload
            elif kind == "start":
                bars.start(task, payload)
            else:
                bars.advance(task)
    finally:
        for process in processes:
            process.join(timeout=10 if len(results) == len(tasks) else 0)  # done: let them exit on their own
            process.terminate()
            process.join()
    return results


def run_evaluation(tasks: list[str], *, out: Path, workers: int | None = None, quiet: bool = False, **inputs) -> list[Path]:
    """Evaluate `tasks` and write the report; every input is checked before anything runs.

    Args:
        workers: processes to spread the tasks over (None: `default_workers`).
        inputs: the fields of `EvaluationInputs`.
    """
    import torch

    from eval.report import write_report

    started = time.perf_counter()
    inputs = with_shipped_networks(EvaluationInputs(**inputs))
    evaluation = Evaluation(tasks, inputs)
    workers = min(len(tasks), workers or default_workers(tasks, inputs.device))
    console.print(evaluation.data.describe() + (f"; {workers} worker processes" if workers > 1 else ""))
    bars = _Bars(quiet)
    with bars.progress:
        by_task = _run_tasks(evaluation, workers, bars)
    results = [result for task in tasks for result in by_task[task]]

    data = evaluation.data
    meta = {
        "dataset": f"{data.root} ({len(data.test_indices)} of {len(data.test)} test clips)",
        "model": str(inputs.bundle) if inputs.bundle is not None else "none (baselines only)",
        **(evaluation.model.settings() if evaluation.model is not None else {"guidance": "-", "temperature": "-"}),
        **evaluation.described_evaluator,
        "recognizer": str(inputs.recognizer) if inputs.recognizer is not None else "none",
        "repeats": inputs.repeats,
        "seed": inputs.seed,
        "limit": inputs.limit,
        "command": shlex.join(["motionchat-eval", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": f"motionchat {__version__}, torch {torch.__version__}, python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
    }
    written = write_report(out, results, meta)
    console.print(f"wrote {', '.join(str(p) for p in written[:2])} and {len(written) - 2} plot(s) in {meta['seconds']:.0f} s")
    return written
