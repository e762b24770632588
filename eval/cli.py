"""The `motionchat-eval` command (also `python -m eval`).

Train the evaluation networks once per dataset (`train-evaluator`, and `train-recognizer` on the
synthetic corpus), then evaluate: one task (`t2m`, `m2t`, `predict`, `inbetween`, `edit`,
`diff`, `tokenizer`) or `all` of them. Every evaluation writes a report folder (report.json, report.md,
one PNG per task) with the baseline rows beside the model's. Heavy modules are imported inside
the commands so that `--help` is quick.
"""

from __future__ import annotations

import importlib
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from motionchat import __version__
from motionchat.cli_options import option_group
from motionchat.errors import MotionchatError, friendly_errors
from trainer.options import RUN_OPTIONS

app = typer.Typer(
    help="Evaluate motionchat models: text-to-motion, captioning, prediction, in-betweening, editing, differences, the tokenizer.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=True, highlight=False, soft_wrap=True)

DataOption = Annotated[Path, typer.Option("--data", help="HumanML3D-layout dataset folder (its test split is evaluated).")]
ReportOption = Annotated[Path, typer.Option("--out", help="Report folder: report.json, report.md and one PNG per task.")]
EvaluatorOption = Annotated[
    Optional[Path],
    typer.Option("--evaluator", help="Our evaluator: evaluator.safetensors or the train-evaluator folder holding it."),
]
GuoCheckpointOption = Annotated[
    Optional[Path],
    typer.Option("--guo-checkpoint", help="Use Guo et al.'s evaluator instead: its text_mot_match/model/finest.tar."),
]
GuoGloveOption = Annotated[
    Optional[Path],
    typer.Option("--guo-glove", help="Its GloVe folder (our_vab_*.npy/.pkl) or the .npz from convert-glove."),
]
GuoStatsOption = Annotated[
    Optional[Path],
    typer.Option("--guo-stats", help="Folder with the mean.npy/std.npy Guo's evaluator normalises with (Comp_v6_KLD01/meta)."),
]
TrustGloveOption = Annotated[
    bool, typer.Option("--trust-glove-pickles", help="Read the GloVe folder's .pkl word lists (plain data only is accepted).")
]
RecognizerOption = Annotated[
    Optional[Path],
    typer.Option("--recognizer", help="Action recogniser (train-recognizer) for program accuracy on the synthetic corpus."),
]
BundleOption = Annotated[Optional[Path], typer.Option("--bundle", help="Trained model bundle to evaluate (baselines only without it).")]
RepeatsOption = Annotated[int, typer.Option("--repeats", min=1, help="Repetitions; tables show mean ± 95% interval over them.")]
LimitOption = Annotated[Optional[int], typer.Option("--limit", min=2, help="Evaluate the first N test clips only (quick runs).")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seeds every random choice; the same seed gives the same report.")]
MMSamplesOption = Annotated[int, typer.Option("--mm-samples", min=2, help="Motions per caption for MultiModality (protocol: 30).")]
MMPromptsOption = Annotated[int, typer.Option("--mm-prompts", min=1, help="Captions for MultiModality (protocol: 100).")]
DeviceOption = Annotated[str, typer.Option("--device", help="torch device for the networks (cpu, cuda, cuda:1, ...).")]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
TrainOutOption = Annotated[Path, typer.Option("--out", help="Run folder: config, checkpoints, metrics and the trained network.")]

# Every evaluation option: parameter name (as `run_evaluation` takes it) -> (alias, default), in
# the --help order of the per-task commands; `tokenizer` and `all` pick theirs with `_options`.
EVALUATION_OPTIONS: dict[str, tuple[Any, Any]] = {
    "evaluator": (EvaluatorOption, None),
    "bundle": (BundleOption, None),
    "recognizer": (RecognizerOption, None),
    "guo_checkpoint": (GuoCheckpointOption, None),
    "guo_glove": (GuoGloveOption, None),
    "guo_stats": (GuoStatsOption, None),
    "trust_glove": (TrustGloveOption, False),
    "repeats": (RepeatsOption, 20),
    "limit": (LimitOption, None),
    "seed": (SeedOption, 0),
    "mm_samples": (MMSamplesOption, 30),
    "mm_prompts": (MMPromptsOption, 100),
    "device": (DeviceOption, "cpu"),
    "quiet": (QuietOption, False),
}
GUO_OPTIONS = ("guo_checkpoint", "guo_glove", "guo_stats", "trust_glove")


def _options(names: tuple[str, ...], **own: tuple[Any, Any]) -> dict[str, tuple[Any, Any]]:
    """The options `names`, in that order: the command's `own` where its option reads differently,
    else those of EVALUATION_OPTIONS."""
    return {name: own[name] if name in own else EVALUATION_OPTIONS[name] for name in names}


def _version(value: bool) -> None:
    if value:
        Console().print(f"motionchat-eval {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """motionchat-eval: the evaluation suite and its reports."""


# --- training the evaluation networks -----------------------------------------------------------


def _training_command(run: str, doc: str, data_help: str, preset_help: str):
    """A command that trains an evaluation network with `run` ("module.function", imported when the
    command runs so that --help stays quick), given --out, --data and every training option."""
    data = Annotated[Optional[Path], typer.Option("--data", help=data_help)]
    preset = Annotated[Optional[str], typer.Option("--preset", help=preset_help)]

    @friendly_errors
    @option_group("options", {"data": (data, None)} | RUN_OPTIONS | {"preset": (preset, None)})
    def command(out: TrainOutOption, *, options: dict[str, Any]) -> None:
        module, _, function = run.rpartition(".")
        getattr(importlib.import_module(module), function)(out=out, **options)

    command.__doc__ = doc
    return command


app.command("train-evaluator")(
    _training_command(
        "eval.train_evaluator.run_train_evaluator",
        """Train our contrastive text/motion evaluator on a dataset's train split.

    Example: [bold]motionchat-eval train-evaluator --data data/synth --out runs/evaluator[/]
    """,
        data_help="HumanML3D-layout dataset folder (its train split is used).",
        preset_help="'tiny' (CPU, synthetic corpus; the default) or 'base' (GPU, HumanML3D).",
    )
)
app.command("train-recognizer")(
    _training_command(
        "eval.train_recognizer.run_train_recognizer",
        """Train the action recogniser that checks programs on the synthetic corpus.

    Example: [bold]motionchat-eval train-recognizer --data data/synth --out runs/recognizer[/]
    """,
        data_help="Synthetic corpus folder (with labels.jsonl).",
        preset_help="'tiny' (the default).",
    )
)


@app.command("convert-glove")
@friendly_errors
def convert_glove_command(
    folder: Annotated[Path, typer.Argument(help="Guo et al.'s glove/ folder (our_vab_data.npy, our_vab_words.pkl, our_vab_idx.pkl).")],
    out: Annotated[Path, typer.Option("--out", help="The .npz to write (pickle-free).")],
) -> None:
    """Convert the evaluator's GloVe pickles once into a pickle-free .npz (only plain data is read)."""
    from eval.guo import convert_glove

    path = convert_glove(folder, out)
    console.print(f"wrote {path}")


# --- evaluation -------------------------------------------------------------------------------


def _embedder(evaluator, guo_checkpoint, guo_glove, guo_stats, trust_glove, device):
    if guo_checkpoint is not None:
        if evaluator is not None:
            raise MotionchatError("pass either --evaluator or --guo-checkpoint, not both")
        if guo_glove is None or guo_stats is None:
            raise MotionchatError("--guo-checkpoint also needs --guo-glove (GloVe folder or .npz) and --guo-stats (mean.npy/std.npy folder)")
        from eval.guo import GuoEvaluator, load_glove
        from motionchat.motion.normalizer import Normalizer

        embedder = GuoEvaluator(guo_checkpoint, load_glove(guo_glove, allow_pickle=trust_glove), Normalizer.from_dir(guo_stats), device)
        return embedder, {"evaluator": f"Guo et al. ({guo_checkpoint})"}
    if evaluator is None:
        raise MotionchatError(
            "no evaluator: pass --evaluator (train one with `motionchat-eval train-evaluator --data DIR --out DIR`) "
            "or --guo-checkpoint with --guo-glove and --guo-stats"
        )
    from eval.evaluator import load_evaluator, read_evaluator_report

    described = {"evaluator": f"motionchat contrastive ({evaluator})"}
    report = read_evaluator_report(evaluator)
    if "r_precision_top1" in report:
        described["evaluator ground truth (its test split)"] = (
            f"R-Precision top-1/2/3 {report['r_precision_top1']:.3f}/{report['r_precision_top2']:.3f}/{report['r_precision_top3']:.3f}"
            + (f", FID val vs test {report['fid_val_vs_test']:.3f}" if "fid_val_vs_test" in report else "")
        )
    return load_evaluator(evaluator, device), described


def _model_generator(bundle: Path, device: str):
    """The Generator over a trained model bundle (eval.bundle_generator, written with the bundle)."""
    try:
        from eval.bundle_generator import BundleGenerator
    except ImportError:
        raise MotionchatError(
            f"{bundle}: this build cannot run model bundles yet (no eval.bundle_generator); evaluate the baselines without --bundle"
        ) from None
    return BundleGenerator(bundle, device=device)


def _baselines(tasks: list[str], data) -> dict[str, list]:
    """The baseline generators of each task; the retrieval index is built once and shared."""
    from eval.generators import ClipIndex, GroundTruthGenerator, HoldLastPoseGenerator, RetrievalGenerator, UnchangedGenerator
    test = ClipIndex(data.test)
    edit_targets = {p.pair_id: test.features(p.target) for p in data.test_edit_pairs}
    differences = {p.pair_id: p.difference for p in data.test_edit_pairs}
    shared = [GroundTruthGenerator(test, edit_targets, differences), HoldLastPoseGenerator(), UnchangedGenerator()]
    if any(task in RetrievalGenerator.tasks for task in tasks):
        train_ids = set(data.train.clip_ids)  # the two clips of a pair share a split
        train_pairs = [(p.source, p.target, p.difference) for p in data.edit_pairs or [] if p.source in train_ids] if "diff" in tasks else []
        shared.insert(1, RetrievalGenerator(data.train, data.normalizer, train_pairs))
    return {task: [g for g in shared if task in g.tasks] for task in tasks}


def _vq_and_stats(vq_path: Path, stats: Path | None, device: str):
    from motionchat.motion.normalizer import Normalizer
    from motionchat.vq import VQ_FILE, load_vq

    vq_file = vq_path / VQ_FILE if vq_path.is_dir() else vq_path
    model = load_vq(vq_file, device)
    return model, Normalizer.from_dir(stats if stats is not None else vq_file.parent)


def _progress(quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
        TimeRemainingColumn(), console=console, disable=quiet,
    )  # fmt: skip


def run_evaluation(
    tasks: list[str],
    *,
    data: Path,
    out: Path,
    evaluator: Path | None = None,
    guo_checkpoint: Path | None = None,
    guo_glove: Path | None = None,
    guo_stats: Path | None = None,
    trust_glove: bool = False,
    recognizer: Path | None = None,
    bundle: Path | None = None,
    vq: Path | None = None,
    vq_stats: Path | None = None,
    repeats: int = 20,
    limit: int | None = None,
    seed: int = 0,
    mm_samples: int = 30,
    mm_prompts: int = 100,
    device: str = "cpu",
    quiet: bool = False,
) -> list[Path]:
    """Evaluate `tasks` and write the report; every input is checked before anything runs."""
    import torch

    from eval.cache import CachedEmbedder, CachedRecognizer
    from eval.data import EvalData
    from eval.protocols import ProtocolConfig, evaluate_completion, evaluate_diff, evaluate_edit, evaluate_m2t, evaluate_t2m, evaluate_tokenizer
    from eval.recognizer import load_recognizer
    from eval.report import write_report

    started = time.perf_counter()
    torch.manual_seed(seed)
    dataset = EvalData(data, limit)
    if tasks == ["diff"]:  # judged by reading the sentences: no embeddings
        embedder, meta_evaluator = None, {"evaluator": "none (diff needs none)"}
    else:
        embedder, meta_evaluator = _embedder(evaluator, guo_checkpoint, guo_glove, guo_stats, trust_glove, device)
        embedder = CachedEmbedder(embedder)
    for task in ("edit", "diff"):
        if task in tasks and not dataset.test_edit_pairs:
            raise MotionchatError(f"{data}: no edit pairs among the evaluated test clips; `{task}` needs the synthetic corpus's edits.jsonl")
    if "diff" in tasks and dataset.programs is None:
        raise MotionchatError(f"{data}: no labels.jsonl, so no true edits to judge differences by; `diff` needs the synthetic corpus")
    program_recognizer = CachedRecognizer(load_recognizer(recognizer, device)) if recognizer is not None else None
    if program_recognizer is not None and dataset.programs is None:
        raise MotionchatError(f"{data}: no labels.jsonl, so no programs to check; drop --recognizer for this dataset")
    model = _model_generator(bundle, device) if bundle is not None else None
    tokenizer = None
    if "tokenizer" in tasks:
        if vq is None and bundle is None:
            raise MotionchatError("`tokenizer` needs --vq (a vq.safetensors or the stage1 run folder) or --bundle")
        tokenizer = _vq_and_stats(vq or bundle, vq_stats or (bundle if vq is None else None), device)
    cfg = ProtocolConfig(repeats=repeats, seed=seed, mm_samples=mm_samples, mm_prompts=mm_prompts)
    console.print(dataset.describe())
    baselines = _baselines([t for t in tasks if t != "tokenizer"], dataset)

    results = []
    with _progress(quiet) as progress:
        for task in tasks:
            began = time.perf_counter()
            if task == "tokenizer":
                bar = progress.add_task(task, total=len(dataset.test_indices))
                produced = [evaluate_tokenizer(*tokenizer, dataset, embedder, advance=lambda b=bar: progress.advance(b))]
            else:
                generators = ([model] if model is not None and task in model.tasks else []) + baselines[task]
                bar = progress.add_task(task, total=repeats * len(generators))
                advance = lambda b=bar: progress.advance(b)  # noqa: E731
                if task == "t2m":  # with the compositional split's result when there is one
                    produced = evaluate_t2m(generators, dataset, embedder, cfg, program_recognizer, advance)
                elif task == "m2t":
                    produced = [evaluate_m2t(generators, dataset, embedder, cfg, advance)]
                elif task == "edit":
                    produced = [evaluate_edit(generators, dataset, embedder, cfg, program_recognizer, advance)]
                elif task == "diff":
                    produced = [evaluate_diff(generators, dataset, cfg, advance)]
                else:
                    produced = [evaluate_completion(task, generators, dataset, embedder, cfg, advance)]
            produced[0].seconds = time.perf_counter() - began
            results.extend(produced)

    meta = {
        "dataset": f"{dataset.root} ({len(dataset.test_indices)} of {len(dataset.test)} test clips)",
        "model": str(bundle) if bundle is not None else "none (baselines only)",
        **meta_evaluator,
        "recognizer": str(recognizer) if recognizer is not None else "none",
        "repeats": repeats,
        "seed": seed,
        "limit": limit,
        "command": shlex.join(["motionchat-eval", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": f"motionchat {__version__}, torch {torch.__version__}, python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
    }
    written = write_report(out, results, meta)
    console.print(f"wrote {', '.join(str(p) for p in written[:2])} and {len(written) - 2} plot(s) in {meta['seconds']:.0f} s")
    return written


def _task_command(task: str, doc: str):
    """One evaluation command per task, sharing every option."""

    @friendly_errors
    @option_group("options", EVALUATION_OPTIONS)
    def command(data: DataOption, out: ReportOption, *, options: dict[str, Any]) -> None:
        run_evaluation([task], data=data, out=out, **options)

    command.__doc__ = doc
    command.__name__ = task
    return command


app.command("t2m")(_task_command("t2m", "Text to motion: FID, R-Precision, MM-Dist, Diversity, MultiModality (+ program accuracy)."))
app.command("m2t")(_task_command("m2t", "Motion to text: BLEU@1/4, ROUGE-L, CIDEr-D, R-Precision, MM-Dist (+ program accuracy)."))
app.command("predict")(_task_command("predict", "Motion prediction from the first 20%: ADE/FDE (two definitions), FID, Diversity."))
app.command("inbetween")(_task_command("inbetween", "In-betweening from the first and last 25%: ADE/FDE, FID, Diversity."))
app.command("edit")(_task_command("edit", "Motion editing on the synthetic corpus's edit pairs: program accuracy, FID, R-Precision."))
app.command("diff")(_task_command("diff", "Motion difference on the synthetic corpus's edit pairs: correct descriptions, BLEU@4."))


@app.command("tokenizer")
@friendly_errors
@option_group(
    "options",
    _options(
        ("vq", "vq_stats", "bundle", "evaluator", *GUO_OPTIONS, "limit", "seed", "device", "quiet"),
        vq=(Annotated[Optional[Path], typer.Option("--vq", help="Tokenizer: vq.safetensors or the stage1 run folder holding it.")], None),
        vq_stats=(
            Annotated[Optional[Path], typer.Option("--vq-stats", help="Folder with the Mean/Std it was trained with (default: beside --vq).")],
            None,
        ),
    ),
)
def tokenizer_command(data: DataOption, out: ReportOption, *, options: dict[str, Any]) -> None:
    """Motion tokenizer: MPJPE (mm), reconstruction FID, codebook usage and perplexity."""
    run_evaluation(["tokenizer"], data=data, out=out, repeats=1, **options)


@app.command("all")
@friendly_errors
@option_group(
    "options",
    _options(
        ("bundle", "evaluator", "recognizer", "vq", *GUO_OPTIONS, "repeats", "limit", "seed", "mm_samples", "mm_prompts", "device", "quiet"),
        vq=(Annotated[Optional[Path], typer.Option("--vq", help="Also evaluate this tokenizer (a bundle's own is used by default).")], None),
    ),
)
def all_command(data: DataOption, out: ReportOption, *, options: dict[str, Any]) -> None:
    """Every task the data allows (edit and diff need the synthetic corpus; tokenizer a bundle or --vq), one report.

    Example: [bold]motionchat-eval all --bundle B --data data/synth --evaluator runs/evaluator --out report --limit 256[/]
    """
    from eval.data import EDITS_FILE

    tasks = ["t2m", "m2t", "predict", "inbetween"]
    if (data / EDITS_FILE).is_file():
        tasks += ["edit", "diff"]
    if options["bundle"] is not None or options["vq"] is not None:
        tasks.append("tokenizer")
    run_evaluation(tasks, data=data, out=out, **options)
