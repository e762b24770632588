"""`trainer data ...`: make and inspect datasets.

Heavy modules are imported inside the commands so that `trainer data --help` stays quick.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from motionchat.errors import MotionchatError, friendly_errors

app = typer.Typer(
    help="Make and inspect datasets (synthetic corpus, your own BVH files).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

OutDirOption = Annotated[Path, typer.Option("--out", help="Dataset folder to write (HumanML3D layout); must be empty unless --force.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Write into a non-empty --out, replacing the dataset files already there.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives byte-identical files.")]


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), transient=False)


@app.command("synth")
@friendly_errors
def synth(
    out: OutDirOption,
    clips: Annotated[int, typer.Option("--clips", help="Number of clips (at least 2; 376+ puts every action and value in train and test).")] = 20000,
    seed: SeedOption = 0,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Worker processes (default: one per CPU core).")] = None,
    force: ForceOption = False,
    babble: Annotated[float, typer.Option("--babble", help="Share of clips (0..1) given free arm and trunk movement their captions do not describe: more varied poses for training a tokenizer (stage 1) only.")] = 0.0,
) -> None:
    """Generate the synthetic motion-language corpus: clips, 3 captions each, labels, edit pairs, splits, Mean/Std.

    Example: [bold]trainer data synth --out data/synth --clips 20000 --seed 0[/]
    """
    from rich.console import Console

    from motionchat.data.synth.corpus import synthesize_corpus
    from motionchat.data.writer import check_out_dir

    check_out_dir(out, force)
    if clips < 2:
        raise MotionchatError(f"--clips {clips}: the corpus needs at least 2 clips (each clip has an edited partner)")
    if not 0.0 <= babble <= 1.0:
        raise MotionchatError(f"--babble {babble}: give a share between 0 and 1")
    if workers is not None and workers < 1:
        raise MotionchatError(f"--workers {workers}: use at least 1 worker process")
    console = Console(stderr=True)
    start = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task("clips", total=clips)
        summary = synthesize_corpus(out, clips, seed=seed, workers=workers, force=force,
                                    on_clips=lambda n: progress.advance(task, n), babble=babble)
    elapsed = time.perf_counter() - start
    split_text = ", ".join(f"{k} {v}" for k, v in summary.splits.items())
    console.print(f"wrote {summary.clips} clips ({split_text}) and {summary.edits} edit pairs to {summary.root}")
    console.print(f"time {elapsed:.1f} s ({summary.clips / elapsed:.1f} clips/s); next: trainer data preview {summary.root} -o sheet.gif")


@app.command("preview")
@friendly_errors
def preview(
    dataset: Annotated[Path, typer.Argument(help="A HumanML3D-layout dataset folder.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Sheet to write: .gif (animated grid) or .png (stills, a row per clip).")],
    clips: Annotated[int, typer.Option("--clips", min=1, help="How many clips (ignored with --ids or --per-action).")] = 12,
    ids: Annotated[Optional[str], typer.Option("--ids", help="Comma-separated clip ids to show.")] = None,
    per_action: Annotated[bool, typer.Option("--per-action", help="Synthetic corpus: one single-action clip per primitive.")] = False,
    split: Annotated[str, typer.Option("--split", help="Split to take clips from (without --ids).")] = "test",
    size: Annotated[int, typer.Option("--size", min=64, help="Panel size in pixels.")] = 240,
) -> None:
    """Render a grid of clips with their captions.

    Example: [bold]trainer data preview data/synth -o sheet.gif --per-action[/]
    """
    from motionchat.data.dataset import check_dataset_dir, read_split
    from motionchat.data.sheet import write_sheet

    root = check_dataset_dir(dataset)
    if ids:
        chosen = [i.strip() for i in ids.split(",") if i.strip()]
    elif per_action:
        chosen = _one_clip_per_action(root)
    else:
        chosen = read_split(root, split)[:clips]
    path = write_sheet(root, chosen, output, size_px=size)
    typer.echo(f"wrote {path} ({len(chosen)} clips)")


def _one_clip_per_action(root: Path) -> list[str]:
    from motionchat.data.labels import read_labels
    from motionchat.data.synth.vocabulary import ACTIONS

    first: dict[str, str] = {}
    for clip_id, row in sorted(read_labels(root).items()):
        program = row["program"]
        if len(program) == 1:
            first.setdefault(program[0]["action"], clip_id)
    missing = [name for name in ACTIONS if name not in first]
    if missing:
        typer.echo(f"note: no single-action clip for {', '.join(missing)}", err=True)
    return [first[name] for name in ACTIONS if name in first]


@app.command("build")
@friendly_errors
def build(
    bvh_dir: Annotated[Path, typer.Option("--bvh-dir", help="Folder with your .bvh files (searched recursively).")],
    captions: Annotated[Path, typer.Option("--captions", help="CSV with a header and columns file,caption[,split]; one row per caption.")],
    out: OutDirOption,
    seed: SeedOption = 0,
    joint_map: Annotated[Optional[Path], typer.Option("--joint-map", help="JSON {smpl joint name: your rig's joint name} when names are not recognised.")] = None,
    force: ForceOption = False,
) -> None:
    """Turn your BVH files and captions into a HumanML3D-layout dataset (20 fps, 22 joints, splits, Mean/Std).

    Example: [bold]trainer data build --bvh-dir mocap/ --captions captions.csv --out data/mine[/]
    """
    from motionchat.data.bvh_corpus import build_from_bvh
    from motionchat.data.writer import check_out_dir

    check_out_dir(out, force)
    start = time.perf_counter()
    summary = build_from_bvh(bvh_dir, captions, out, seed=seed, force=force, joint_map=joint_map,
                             on_file=lambda path: typer.echo(f"read {path}", err=True))
    for note in summary.skipped:
        typer.echo(f"skipped {note}", err=True)
    split_text = ", ".join(f"{k} {v}" for k, v in summary.splits.items())
    typer.echo(f"wrote {summary.clips} clips from {summary.files} files ({split_text}) to {summary.root} "
               f"in {time.perf_counter() - start:.1f} s")
