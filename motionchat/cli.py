"""The `motionchat` command line.

Heavy modules (torch, matplotlib, the readers) are imported inside the commands so that
`motionchat --help` and the REPL start quickly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from motionchat import __version__
from motionchat.cli_options import option_group
from motionchat.errors import MotionchatError, friendly_errors

app = typer.Typer(
    help="Chat with a motion-language model: text to 3D human motion, captions, edits, previews.",
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(highlight=False)
smpl_app = typer.Typer(help="SMPL body-model files: check and convert.", no_args_is_help=True)
app.add_typer(smpl_app, name="smpl")

JointMapOption = Annotated[
    Optional[Path],
    typer.Option("--joint-map", help="JSON file mapping SMPL joint names to your rig's joint names (BVH/ASF input)."),
]
NormalizeOption = Annotated[
    Optional[Path],
    typer.Option("--normalize", help="Folder with Mean.npy/Std.npy (or a bundle): reads normalised features, writes normalised features."),
]
SmplDirOption = Annotated[
    Optional[Path],
    typer.Option("--smpl-dir", help="Folder with your SMPL/SMPL-H/SMPL-X model files (or set MOTIONCHAT_SMPL_DIR)."),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"motionchat {__version__}")
        raise typer.Exit()


# The options that set up the chat engine, shared by the chat session, `ask` and `run`.
ENGINE_OPTIONS = {
    "bundle": (Annotated[Optional[Path], typer.Option("--bundle", help="A trained model folder (default: the shipped model).")], None),
    "out": (Annotated[Path, typer.Option("--out", help="Folder for the files made (never overwritten).")], Path("motionchat_out")),
    "output_format": (Annotated[str, typer.Option("--format", help="Preview written with each motion: gif, mp4 or none.")], "gif"),
    "samples": (Annotated[int, typer.Option("--samples", min=1, max=16, help="Motions (or captions) per request.")], 1),
    "seed": (Annotated[Optional[int], typer.Option("--seed", min=0, help="Sampling seed; same seed, same answers.")], None),
    "guidance": (
        Annotated[Optional[float], typer.Option("--guidance", help="Classifier-free guidance scale (1 = off; higher follows the request more; default: the model's own, one for motions and one for text answers).")],
        None,
    ),
    "temperature": (
        Annotated[Optional[float], typer.Option("--temperature", help="Sampling temperature (lower keeps to likelier answers; default: the model's own, one for motions and one for text answers).")],
        None,
    ),
    "best_of": (
        Annotated[Optional[int], typer.Option("--best-of", help="Motions drawn per text-to-motion answer; the one the model reads back likeliest as the request is kept (1 = off; default: the model's own).")],
        None,
    ),
    "raw": (Annotated[bool, typer.Option("--raw", help="Keep generated motions as decoded: no skeleton clean-up (rigid bones, planted feet).")], False),
}


@app.callback(invoke_without_command=True)
@option_group("engine", ENGINE_OPTIONS)
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    *,
    engine: dict[str, Any],
) -> None:
    """motionchat: text to 3D human motion and back. With no command, starts a chat session."""
    if ctx.invoked_subcommand is None:
        friendly_errors(_chat)(**engine)


def _engine(
    bundle: Path | None, out: Path, output_format: str, samples: int, seed: int | None, guidance: float | None,
    temperature: float | None, best_of: int | None, raw: bool,
):  # fmt: skip
    from motionchat.chat.engine import Engine
    from motionchat.chat.session import Session, best_of_count, guidance_scale, sampling_temperature

    session = Session(out_dir=out, samples=samples, seed=seed)
    if best_of is not None:
        session.best_of = best_of_count(best_of)
    if guidance is not None:
        session.guidance = guidance_scale(guidance)
    if temperature is not None:
        session.temperature = sampling_temperature(temperature)
    session.check_out_dir()  # before the model loads, not after the first answer
    return Engine(session, bundle, output_format.lower(), raw=raw)


def _chat(**engine) -> None:
    from motionchat.chat.repl import Repl

    Repl(_engine(**engine), console).run()


@app.command()
@friendly_errors
@option_group("engine", ENGINE_OPTIONS)
def ask(
    request: Annotated[str, typer.Argument(help='What you want, e.g. "a person jumps twice" or "caption clip.npy".')],
    *,
    engine: dict[str, Any],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show the description the model got.")] = False,
) -> None:
    """Answer one request and exit (non-zero if it failed)."""
    from motionchat.chat.replies import show_reply

    chat = _engine(**engine)
    try:
        if as_json:
            reply = chat.ask(request)
        else:
            with console.status("loading model…"):  # drawn on a terminal only
                reply = chat.ask(request)
    except KeyboardInterrupt:
        dropped = chat.session.rollback((0, 0))  # a fresh session: everything in it is this request's
        removed = f" ({', '.join(dropped)} and {'its' if len(dropped) == 1 else 'their'} files removed)" if dropped else ""
        Console(stderr=True, highlight=False).print(f"cancelled; nothing kept{removed}")
        raise typer.Exit(code=130) from None
    if as_json:
        print(json.dumps(reply.as_dict()))
    else:
        show_reply(console, reply, verbose=verbose)
    if not reply.ok:
        raise typer.Exit(code=2 if reply.family is None else 1)


@app.command()
@friendly_errors
@option_group("engine", ENGINE_OPTIONS)
def run(
    script: Annotated[Path, typer.Argument(help="A text file with one request per line (# comments, blank lines skipped).")],
    *,
    engine: dict[str, Any],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON result per line.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show the description the model got.")] = False,
) -> None:
    """Run a script of requests; exit 1 if any line failed (the other lines' files are kept)."""
    from motionchat.chat.batch import run_script

    failed = run_script(script, _engine(**engine), console, as_json=as_json, verbose=verbose)
    if failed:
        raise typer.Exit(code=1)


@app.command()
@friendly_errors
def actions(
    bundle: Annotated[Optional[Path], typer.Option("--bundle", help="A trained model folder (default: the shipped model).")] = None,
) -> None:
    """The words of motion the model has learnt (from the bundle's own vocabulary)."""
    from motionchat.chat.engine import _check_bundle_dir, default_bundle_path
    from motionchat.chat.vocabulary import describe_known_actions

    console.print(describe_known_actions(_check_bundle_dir(bundle or default_bundle_path())))


def _normalizer(stats: Path | None):
    if stats is None:
        return None
    from motionchat.motion.normalizer import Normalizer

    return Normalizer.from_dir(stats)


def _load(path: Path, joint_map: Path | None = None, normalizer=None):
    from motionchat.motion.io import load_motion

    return load_motion(path, joint_map=joint_map, normalizer=normalizer)


@app.command()
@friendly_errors
def info(
    inputs: Annotated[list[Path], typer.Argument(help="Motion files (.npy features or joints, .bvh, .amc).")],
    joint_map: JointMapOption = None,
    normalize: NormalizeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per file.")] = False,
) -> None:
    """Frames, seconds, format, head height and distance travelled."""
    from motionchat.motion.summary import summarize

    for path in inputs:
        motion = _load(path, joint_map, _normalizer(normalize))
        summary = summarize(motion.joints, motion.skeleton)
        if as_json:
            print(json.dumps({"file": str(path), "format": motion.description, **summary.as_dict()}))
            continue
        console.print(f"[bold]{path}[/]")
        console.print(f"  format     {motion.description}")
        console.print(f"  frames     {summary.frames} ({summary.seconds:.2f} s at {motion.skeleton.fps:g} fps)")
        console.print(f"  head       {summary.head_height_m:.2f} m above the floor (head joint, median)")
        console.print(f"  travelled  {summary.distance_m:.2f} m (root path on the floor)")


@app.command()
@friendly_errors
def render(
    inputs: Annotated[list[Path], typer.Argument(help="One or more motion files, drawn side by side.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output .gif or .mp4.")],
    caption: Annotated[Optional[str], typer.Option("--caption", help="Title shown above the figure(s).")] = None,
    size: Annotated[int, typer.Option("--size", min=64, max=2048, help="Pixel size of each panel.")] = 480,
    body: Annotated[str, typer.Option("--body", help="'skeleton' (stick figure) or 'smpl' (shaded mesh; needs --smpl-dir).")] = "skeleton",
    smpl_dir: SmplDirOption = None,
    joint_map: JointMapOption = None,
    normalize: NormalizeOption = None,
) -> None:
    """Write a GIF or MP4 preview (20 fps, floor grid, root trajectory)."""
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise MotionchatError(f"{out}: previews are .gif or .mp4")
    if body not in ("skeleton", "smpl"):
        raise MotionchatError(f"--body {body}: use 'skeleton' or 'smpl'")
    normalizer = _normalizer(normalize)
    motions = [_load(path, joint_map, normalizer) for path in inputs]
    if body == "smpl":
        from motionchat.motion.smpl import fit_smpl, load_body_model, render_mesh_video

        if len(motions) != 1:
            raise MotionchatError("--body smpl renders one motion at a time; pass a single input")
        model = load_body_model(smpl_dir)
        fit = fit_smpl(motions[0].joints, model)
        render_mesh_video(fit, model, out, caption=caption, size_px=size)
    else:
        from motionchat.motion.render import render_motions

        titles = [path.stem for path in inputs] if len(inputs) > 1 else None
        render_motions(
            [m.joints for m in motions], out, titles=titles, caption=caption, size_px=size,
            skeleton=motions[0].skeleton,
        )
    console.print(f"wrote [bold]{out}[/]")


@app.command()
@friendly_errors
def convert(
    source: Annotated[Path, typer.Argument(help="Motion file (.npy, .bvh, .amc).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Output file (or folder for --to obj).")],
    to: Annotated[
        Optional[str],
        typer.Option("--to", help="joints | features | bvh | smpl | obj (default: from the output extension)."),
    ] = None,
    normalize: NormalizeOption = None,
    joint_map: JointMapOption = None,
    smpl_dir: SmplDirOption = None,
) -> None:
    """Convert between joints .npy, 263-d features .npy (raw unless --normalize), BVH, SMPL .npz and OBJ."""
    from motionchat.motion.io import check_output_suffix, infer_output_kind

    kind = infer_output_kind(out, to)
    check_output_suffix(out, kind)
    normalizer = _normalizer(normalize)
    motion = _load(source, joint_map, normalizer)
    joints = motion.joints
    if kind == "features":
        from motionchat.motion.arrays import write_npy
        from motionchat.motion.features import joints_to_features

        features = joints_to_features(joints, motion.skeleton)
        if normalizer is not None:
            features = normalizer.normalize(features)
        write_npy(out, features.astype("float32"))
    elif kind in ("joints", "bvh"):
        from motionchat.motion.io import save_motion

        save_motion(joints, out, skeleton=motion.skeleton)
    else:
        from motionchat.motion.smpl import fit_smpl, load_body_model, write_obj_sequence, write_smpl_npz

        model = load_body_model(smpl_dir)
        fit = fit_smpl(joints, model)
        if kind == "smpl":
            write_smpl_npz(out, fit)
        else:
            write_obj_sequence(out, fit, model)
    console.print(f"wrote [bold]{out}[/] ({kind}, {len(joints)} frames from {motion.description})")


@app.command()
@friendly_errors
def play(
    source: Annotated[Path, typer.Argument(help="Motion file (.npy, .bvh, .amc).")],
    loop: Annotated[int, typer.Option("--loop", min=1, help="How many times to play it.")] = 1,
    joint_map: JointMapOption = None,
    normalize: NormalizeOption = None,
) -> None:
    """Animate a motion right here in the terminal (braille stick figure)."""
    from motionchat.motion.terminal import play_in_terminal

    motion = _load(source, joint_map, _normalizer(normalize))
    if not console.is_terminal:  # play_in_terminal then draws a single frame
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"not a terminal, so one frame only; for the animation: motionchat render {source} "
            f"-o {source.with_suffix('.gif').name}"
        )
    play_in_terminal(motion.joints, skeleton=motion.skeleton, console=console, fps=motion.skeleton.fps, loop=loop)


@smpl_app.command("convert-model")
@friendly_errors
def smpl_convert_model(
    pkl: Annotated[Path, typer.Argument(help="An official SMPL/SMPL-H/SMPL-X .pkl model file.")],
    out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Output .npz (default: beside the .pkl).")] = None,
    trust_pickle: Annotated[
        bool, typer.Option("--trust-pickle", help="Confirm the .pkl comes from the official website (unpickling can run code).")
    ] = False,
) -> None:
    """Convert a .pkl body model to .npz once; motionchat then reads only the .npz (no pickle)."""
    from motionchat.motion.smpl import convert_model_pickle

    written = convert_model_pickle(pkl, out, trust_pickle=trust_pickle)
    console.print(f"wrote [bold]{written}[/]; point --smpl-dir (or MOTIONCHAT_SMPL_DIR) at its folder")
