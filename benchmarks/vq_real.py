"""The motion tokenizer on real motion: encode -> decode MPJPE per clip, joint group and 2-s window;
optionally a corpus's own test MPJPE and its distance from real motion, and captions of CMU trials.

    python benchmarks/vq_real.py                                  # the 9 fixtures, shipped bundle
    python benchmarks/vq_real.py --vq RUN                         # a stage-1 run folder instead
    python benchmarks/vq_real.py --data DIR_OR_FILE ...           # any BVH / ASF+AMC / .npy motion
    python benchmarks/vq_real.py --corpus DIR                     # + synthetic test MPJPE, corpus-vs-real statistics
    python benchmarks/vq_real.py --captions                       # + CMU caption hit rate (needs a bundle)
    python benchmarks/vq_real.py --fit                            # codes fitted to the joints (MotionCodec.fit)

Clips are read with the project's importers (features from joints for BVH/AMC), cut to their
first --max-frames frames. MPJPE is root-aligned (the stage-1 and MotionGPT convention). Real
motion is a test set here: nothing this script reads is trained on.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eval.real_motion import (
    JOINT_GROUPS,
    REALDATA_FIXTURES,
    WINDOW_FRAMES,
    caption_hit,
    cmu_trial_name,
    error_sources,
    find_motion_files,
    load_real_clip,
    local_poses,
    nearest_pose_mm,
    pooled_statistics,
    read_cmu_descriptions,
    reconstruction,
    statistic_distances,
    summarise_errors,
)
from motionchat.motion.features import features_to_joints
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import HUMANML3D
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES
from motionchat.vq import VQ_FILE, load_vq
from motionchat.vq.codec import MotionCodec
from motionchat.vq.metrics import codebook_use

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT.parent / "shared" / "realdata"
DEFAULT_BUNDLE = ROOT / "motionchat" / "assets" / "default_bundle"


def load_codec(bundle: Path | None, vq_run: Path | None) -> MotionCodec:
    """The tokenizer and its statistics from a stage-1 run folder, else from a bundle (no LM load)."""
    folder = vq_run or bundle
    return MotionCodec(load_vq(folder / VQ_FILE), Normalizer.from_dir(folder), HUMANML3D)


def real_files(paths: list[str] | None) -> list[Path]:
    if not paths:
        missing = [f for f in REALDATA_FIXTURES if not (REALDATA / f).is_file()]
        if missing:
            sys.exit(f"real fixtures not found under {REALDATA} ({missing[0]}...); pass --data")
        return [REALDATA / f for f in REALDATA_FIXTURES]
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(find_motion_files(p) if p.is_dir() else [p])
    return files


def print_reconstructions(codec: MotionCodec, clips, fit: bool) -> None:
    groups = list(JOINT_GROUPS)
    head = f"{'clip':34s} {'frames':>6s} {'MPJPE':>7s}  " + " ".join(f"{g:>13s}" for g in groups)
    how = "codes fitted to the joints (MotionCodec.fit)" if fit else "encode"
    print(f"tokenizer {how} -> decode, root-aligned MPJPE (mm); {codec.codebook_size} codes, "
          f"{HUMANML3D_FPS / codec.frames_per_code:g} codes per second of motion")
    print(head)
    results, codes = [], []
    for clip in clips:
        r = reconstruction(codec, clip.features, fit)
        results.append(r)
        codes.extend(r.codes)
        print(f"{clip.name:34s} {r.frames:6d} {r.mpjpe_mm:7.1f}  " + " ".join(f"{r.groups_mm[g]:13.1f}" for g in groups))
    mean_of_clips = float(np.mean([r.mpjpe_mm for r in results]))
    pooled = summarise_errors(np.concatenate([r.errors_mm for r in results]))
    print(f"{'mean over the ' + str(len(results)) + ' clips':34s} {'':6s} {mean_of_clips:7.1f}  "
          + " ".join(f"{np.mean([r.groups_mm[g] for r in results]):13.1f}" for g in groups))
    print(f"{'all frames pooled':34s} {pooled.frames:6d} {pooled.mpjpe_mm:7.1f}  " + " ".join(f"{pooled.groups_mm[g]:13.1f}" for g in groups))

    print(f"\nover time: MPJPE (mm) per {WINDOW_FRAMES}-frame window ({WINDOW_FRAMES / HUMANML3D_FPS:g} s)")
    n_windows = max(len(r.windows_mm) for r in results)
    print(f"{'clip':34s} " + " ".join(f"{f'{i * WINDOW_FRAMES}-':>8s}" for i in range(n_windows)))
    for clip, r in zip(clips, results):
        print(f"{clip.name:34s} " + " ".join(f"{w:8.1f}" for w in r.windows_mm))
    per_window = [np.mean([r.windows_mm[i] for r in results if len(r.windows_mm) > i]) for i in range(n_windows)]
    print(f"{'mean over clips':34s} " + " ".join(f"{w:8.1f}" for w in per_window))
    use = codebook_use(codes, codec.codebook_size)
    print(f"\ncodes used by the real clips: {round(use.usage * use.codebook_size)}/{use.codebook_size} distinct of "
          f"{use.codes}, perplexity {use.perplexity:.1f}")
    print(f"REAL MPJPE mean over {len(results)} clips: {mean_of_clips:.1f} mm")

    print("\nwhere the error comes from: MPJPE (mm) as above, decoded without the codebook (the best any quantizer could\n"
          "do with this encoder and decoder), and given the clip's own root path (heading, ground velocity, pelvis height)")
    print(f"{'clip':34s} {'MPJPE':>7s} {'no codebook':>12s} {'own root':>9s}")
    sources = [error_sources(codec, clip.features) for clip in clips]
    for clip, s in zip(clips, sources):
        print(f"{clip.name:34s} {s.mpjpe_mm:7.1f} {s.unquantized_mm:12.1f} {s.own_root_mm:9.1f}")
    means = [np.mean([getattr(s, k) for s in sources]) for k in ("mpjpe_mm", "unquantized_mm", "own_root_mm")]
    print(f"{'mean over clips':34s} {means[0]:7.1f} {means[1]:12.1f} {means[2]:9.1f}")


def corpus_clips(corpus: Path, split: str, n: int, seed: int = 0) -> list[np.ndarray]:
    """Raw features of `n` clips of a HumanML3D-layout corpus split, chosen at random (seeded)."""
    from motionchat.data.dataset import MotionClips

    clips = MotionClips(corpus, split, HUMANML3D)
    order = np.random.default_rng(seed).permutation(len(clips))[:n]
    return [clips.features(int(i))[:MAX_FRAMES] for i in order]


def print_corpus(codec: MotionCodec, corpus: Path, real_clips, n: int, fit: bool) -> None:
    feats = corpus_clips(corpus, "test", n)
    errors = [reconstruction(codec, f, fit) for f in feats]
    codes = [c for r in errors for c in r.codes]
    use = codebook_use(codes, codec.codebook_size)
    print(f"\n{corpus} test split, {len(feats)} clips: MPJPE {np.mean([r.mpjpe_mm for r in errors]):.1f} mm "
          f"(mean over clips; {summarise_errors(np.concatenate([r.errors_mm for r in errors])).mpjpe_mm:.1f} over frames), "
          f"codebook use {100 * use.usage:.1f}%, perplexity {use.perplexity:.1f}")
    print(f"SYNTH MPJPE: {np.mean([r.mpjpe_mm for r in errors]):.1f} mm")

    print(f"\ncorpus vs real motion: Wasserstein-1 per statistic / the real clips' std "
          f"({len(feats)} corpus test clips, {len(real_clips)} real clips; 0 = same distribution)")
    synth = pooled_statistics(features_to_joints(f, HUMANML3D) for f in feats)
    real = pooled_statistics(features_to_joints(c.features, HUMANML3D) for c in real_clips)
    rows = statistic_distances(synth, real)
    print(f"{'statistic':34s} {'distance':>8s} {'corpus median':>14s} {'real median':>12s}")
    for row in rows:
        print(f"{row.name:34s} {row.distance:8.3f} {row.corpus_median:14.3f} {row.real_median:12.3f}")
    print(f"REAL-GAP mean over {len(rows)} statistics: {np.mean([r.distance for r in rows]):.3f}")
    covered = nearest_pose_mm(np.concatenate([local_poses(c.features) for c in real_clips]),
                              np.concatenate([local_poses(f) for f in feats]))
    print(f"pose coverage: each real frame's nearest pose among the {sum(len(f) for f in feats)} corpus frames, "
          f"mean per-joint distance in the facing frame: median {np.median(covered):.1f} mm, mean {covered.mean():.1f} mm")
    print(f"COVERAGE median {np.median(covered):.1f} mm")


def print_captions(bundle_dir: Path, real_clips, csv_path: Path, samples: int, seed: int, fit: bool) -> None:
    from motionchat.bundle import load_bundle
    from motionchat.lm.generation import DecodingConfig
    from motionchat.tasks.answering import TaskRequest, answer_questions, prepare

    descriptions = read_cmu_descriptions(csv_path)
    scored = [(c, descriptions[cmu_trial_name(c.path)]) for c in real_clips if cmu_trial_name(c.path) in descriptions]
    bundle = load_bundle(bundle_dir)
    codec = bundle.codec
    rng = random.Random(seed)
    questions = [
        prepare(TaskRequest("m2t", motions=[codec.fit(c.features) if fit else codec.encode(c.features)], motion_frames=[len(c.features)]), bundle.families,
                rng, codebook_size=codec.codebook_size, frames_per_code=codec.frames_per_code, fps=bundle.fps)
        for c, _ in scored
    ]  # fmt: skip
    config = DecodingConfig(do_sample=True, top_k=50, num_samples=samples, seed=seed, guidance=bundle.guidance)
    answers = answer_questions(bundle.lm, questions, config)
    print(f"\ncaptions of CMU trials ({bundle_dir.name}, guidance {bundle.guidance:g}, {samples} samples each, top-k 50): "
          "does the caption name the trial's action?")
    hits = total = 0
    for (clip, description), per_clip in zip(scored, answers):
        marks = [caption_hit(a.text or "", description) for a in per_clip]
        if marks[0] is None:
            print(f"  {clip.name}: '{description}' names no action the table knows; not scored")
            continue
        hits += sum(marks)
        total += len(marks)
        print(f"  {clip.name} '{description}': {sum(marks)}/{len(marks)}; e.g. \"{per_clip[0].text}\"")
    if total:
        print(f"CAPTION hit rate: {hits}/{total} = {hits / total:.2f}")
        # Chance: the same captions scored against the descriptions of the other trials.
        other = [caption_hit(a.text or "", d2) for (c1, _), per in zip(scored, answers) for a in per
                 for (c2, d2) in scored if cmu_trial_name(c2.path) != cmu_trial_name(c1.path)]
        other = [m for m in other if m is not None]
        print(f"  the same captions against the other trials' descriptions (chance): {sum(other)}/{len(other)} = "
              f"{sum(other) / max(len(other), 1):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="model bundle (its tokenizer; its LM for --captions)")
    parser.add_argument("--vq", type=Path, help="a stage-1 run folder (vq.safetensors + Mean/Std) instead of the bundle's tokenizer")
    parser.add_argument("--data", nargs="+", help="motion files or folders (default: the 9 fixtures of ../shared/realdata)")
    parser.add_argument("--max-frames", type=int, default=MAX_FRAMES, help="feature frames kept from the start of each clip")
    parser.add_argument("--corpus", type=Path, help="a synthetic (HumanML3D-layout) corpus: its test MPJPE and distance from the real clips")
    parser.add_argument("--corpus-clips", type=int, default=300, help="test clips of --corpus used")
    parser.add_argument("--captions", nargs="?", const=REALDATA / "cmu" / "cmu_trial_descriptions.csv", type=Path,
                        help="caption the CMU clips with the bundle and score them against this CSV of trial descriptions")
    parser.add_argument("--samples", type=int, default=5, help="captions per clip for --captions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fit", action="store_true", help="codes fitted to each clip's joints (MotionCodec.fit) instead of the encoder's")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    codec = load_codec(args.bundle, args.vq)
    clips = [load_real_clip(f, args.max_frames) for f in real_files(args.data)]
    print(f"tokenizer: {args.vq or args.bundle}; {len(clips)} real clips, first <= {args.max_frames} frames\n")
    print_reconstructions(codec, clips, args.fit)
    if args.corpus:
        print_corpus(codec, args.corpus, clips, args.corpus_clips, args.fit)
    if args.captions:
        print_captions(args.bundle, clips, args.captions, args.samples, args.seed, args.fit)
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
