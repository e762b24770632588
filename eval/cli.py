"""The `motionchat-eval` command (also `python -m eval`).

Train the evaluation networks once per dataset (`train-evaluator`, and `train-recognizer` on the
synthetic corpus), then evaluate: one task (`t2m`, `m2t`, `predict`, `inbetween`, `edit`,
`diff`, `duration`, `tokenizer`) or `all` of them. Every evaluation writes a report folder (report.json, report.md,
one PNG per task) with the baseline rows beside the model's. Heavy modules are imported inside
the commands so that `--help` is quick.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from motionchat import __version__
from motionchat.chat.session import MAX_BEST_OF, MAX_GUIDANCE, TEMPERATURE_RANGE
from motionchat.cli_options import option_group
from motionchat.errors import friendly_errors
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
GuidanceOption = Annotated[
    Optional[float],
    typer.Option("--guidance", min=0, max=MAX_GUIDANCE, help="Classifier-free guidance scale of the model's answers (1 = off; default: the bundle's own)."),
]
TemperatureOption = Annotated[
    Optional[float],
    typer.Option("--temperature", min=TEMPERATURE_RANGE[0], max=TEMPERATURE_RANGE[1], help="Sampling temperature of the model's answers (default: the bundle's own, else 1)."),
]
BestOfOption = Annotated[
    Optional[int],
    typer.Option("--best-of", min=1, max=MAX_BEST_OF, help="Motions drawn per text-to-motion answer, keeping the one the model captions back likeliest as the request (1 = off; default: the bundle's own)."),
]
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
    "guidance": (GuidanceOption, None),
    "temperature": (TemperatureOption, None),
    "best_of": (BestOfOption, None),
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


def _task_command(task: str, doc: str):
    """One evaluation command per task, sharing every option."""

    @friendly_errors
    @option_group("options", EVALUATION_OPTIONS)
    def command(data: DataOption, out: ReportOption, *, options: dict[str, Any]) -> None:
        from eval.runner import run_evaluation

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
app.command("prompt-gap")(_task_command("prompt_gap", "How much the model reads its prompt: the prompt gap of each task family (needs --bundle)."))
app.command("duration")(_task_command("duration", "Duration questions: answers within 10% of each test motion's length, relative error."))


@app.command("judge")
@friendly_errors
def judge_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="Trained model bundle (or a stage-3 snapshot of one).")],
    data: Annotated[Path, typer.Option("--data", help="HumanML3D-layout dataset folder.")],
    clips: Annotated[int, typer.Option("--clips", min=2, help="The first N clips of the split are asked about (R-Precision needs 32).")] = 128,
    split: Annotated[str, typer.Option("--split", help="The split asked about: val (during training) or test.")] = "val",
    guidance: GuidanceOption = None,
    temperature: TemperatureOption = None,
    best_of: BestOfOption = None,
    seed: SeedOption = 0,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the scores to this JSON file.")] = None,
) -> None:
    """A quick reading of what a model does (text-to-motion R-Precision and program accuracy, caption program accuracy,
    durations): what stage 3 watches during training.

    Example: [bold]motionchat-eval judge --bundle B --data data/synth --clips 128[/]
    """
    import json

    from eval.judge import judge
    from motionchat.fileio import atomic_write_text

    scores = judge(bundle, data, clips=clips, split=split, guidance=guidance, temperature=temperature, best_of=best_of, seed=seed)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(scores, indent=2) + "\n")
    Console(soft_wrap=True).print(", ".join(f"{name} {value:.3f}" if isinstance(value, float) else f"{name} {value}" for name, value in scores.items()))


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
    from eval.runner import run_evaluation

    run_evaluation(["tokenizer"], data=data, out=out, repeats=1, **options)


@app.command("all")
@friendly_errors
@option_group(
    "options",
    _options(
        ("bundle", "evaluator", "recognizer", "vq", *GUO_OPTIONS, "repeats", "limit", "seed", "mm_samples", "mm_prompts", "guidance", "temperature",
         "best_of", "device", "workers", "quiet"),
        vq=(Annotated[Optional[Path], typer.Option("--vq", help="Also evaluate this tokenizer (a bundle's own is used by default).")], None),
        workers=(
            Annotated[Optional[int], typer.Option("--workers", min=1, help="Processes to spread the tasks over, each with its own copy "
                      "of the data (default: 2 on a CPU with 2+ cores, else 1).")],
            None,
        ),
    ),
)
def all_command(data: DataOption, out: ReportOption, *, options: dict[str, Any]) -> None:
    """Every task the data allows (edit and diff need the synthetic corpus; tokenizer a bundle or --vq), one report.

    Example: [bold]motionchat-eval all --bundle B --data data/synth --evaluator runs/evaluator --out report --limit 256[/]
    """
    from eval.runner import run_evaluation
    from motionchat.filenames import EDITS_FILE

    tasks = ["t2m", "m2t", "predict", "inbetween", "duration"]
    if (data / EDITS_FILE).is_file():
        tasks += ["edit", "diff"]
    if options["bundle"] is not None:
        tasks.append("prompt_gap")
    if options["bundle"] is not None or options["vq"] is not None:
        tasks.append("tokenizer")
    run_evaluation(tasks, data=data, out=out, **options)
