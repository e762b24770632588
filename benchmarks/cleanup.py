"""What the skeleton clean-up (`motionchat.motion.cleanup`) changes on a bundle's motions.

Two sets of motions, each measured raw (joints straight from the decoded features) and cleaned:

1. Reconstructions: the first N clips of a corpus's test split through the bundle's tokenizer
   (encode -> decode), compared with the clips' own joints (MPJPE, global and root-aligned).
2. Generations: text->motion answers of the bundle to the same clips' first captions.

For each set it prints the mean over clips of the largest bone-length deviation from the clip's
median, and the mean foot slide per frame between two frames in which the decoded contacts say the
foot joint is planted; the corpus clips themselves, with their own contact labels, give the
reference ("the corpus's own" slide by the same measure).

    python benchmarks/cleanup.py --data DATASET_DIR [--bundle PATH] [--clips 256]
"""

from __future__ import annotations

import argparse

import numpy as np

from motionchat.bundle import load_bundle
from motionchat.chat.engine import default_bundle_path
from motionchat.data.dataset import MotionClips
from motionchat.errors import friendly_errors
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.motion.cleanup import clean_generated, planted_mask, skeleton_figures
from motionchat.motion.features import feature_layout, features_to_joints
from motionchat.tasks.examples import TaskValues, build_prompt


def _summary(name: str, motions: list[np.ndarray], planted: list[np.ndarray], skeleton) -> None:
    figures = [skeleton_figures(joints, mask, skeleton) for joints, mask in zip(motions, planted)]
    deviation = np.mean([f["bone_deviation_m"] for f in figures])
    steps = sum(f["contact_steps"] for f in figures)
    slide = sum(f["foot_slide_m"] * f["contact_steps"] for f in figures) / max(steps, 1)
    print(f"  {name:<28} bone-length deviation {deviation * 100:6.2f} cm   foot slide in contact "
          f"{slide * 100:5.2f} cm/frame ({steps} contact steps)")


def _mpjpe(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """(global, root-aligned) mean per-joint position error in metres over all frames."""
    errors, aligned = [], []
    for ours, truth in pairs:
        errors.append(np.linalg.norm(ours - truth, axis=-1).ravel())
        aligned.append(np.linalg.norm((ours - ours[:, :1]) - (truth - truth[:, :1]), axis=-1).ravel())
    return float(np.concatenate(errors).mean()), float(np.concatenate(aligned).mean())


@friendly_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a synthetic corpus folder (its test split)")
    parser.add_argument("--bundle", default=None, help="a trained bundle (default: the shipped one)")
    parser.add_argument("--clips", type=int, default=256)
    args = parser.parse_args()

    bundle = load_bundle(args.bundle or default_bundle_path())
    skeleton = bundle.skeleton
    contacts = feature_layout(skeleton).foot_contacts
    clips = MotionClips(args.data, "test", with_captions=True)
    n = min(args.clips, len(clips))
    truth = [clips.features(i) for i in range(n)]
    truth_joints = [features_to_joints(f, skeleton) for f in truth]
    print(f"{n} test clips of {args.data}; bundle {args.bundle or default_bundle_path()}")

    print("\n-- the corpus's own clips (their contact labels)")
    _summary("corpus", truth_joints, [planted_mask(j, f[:, contacts], skeleton) for j, f in zip(truth_joints, truth)],
             skeleton)

    decoded = bundle.codec.decode_many(bundle.codec.encode_many(truth), [len(f) for f in truth])
    _compare("tokenizer reconstructions (encode -> decode)", decoded, contacts, skeleton, truth_joints)

    family = bundle.families["t2m"]
    prompts = [build_prompt(family, TaskValues(caption=clips.captions[i][0].text), np.random.default_rng(i),
                            codebook_size=bundle.codec.codebook_size, fps=bundle.fps) for i in range(n)]
    answers = generate(bundle.lm.model, bundle.lm.tokenizer, bundle.lm.vocab, prompts, ["motion"] * n,
                       DecodingConfig(do_sample=True, top_k=50, seed=0))
    codes = [a[0].codes for a in answers if a[0].ok]
    _compare(f"text->motion answers to the clips' first captions ({len(codes)} of {n} well formed)",
             bundle.codec.decode_many(codes), contacts, skeleton)


def _compare(title: str, decoded, contacts: slice, skeleton, truth_joints=None) -> None:
    raw = [d.joints for d in decoded]
    planted = [planted_mask(j, d.features[:, contacts], skeleton) for j, d in zip(raw, decoded)]
    cleaned = [clean_generated(d.features, j, skeleton) for j, d in zip(raw, decoded)]
    print(f"\n-- {title}")
    _summary("raw", raw, planted, skeleton)
    _summary("cleaned", cleaned, planted, skeleton)
    if truth_joints is not None:
        for name, motions in (("raw", raw), ("cleaned", cleaned)):
            global_m, aligned_m = _mpjpe(list(zip(motions, truth_joints)))
            print(f"  {name:<28} MPJPE {global_m * 1000:6.1f} mm global, {aligned_m * 1000:6.1f} mm root-aligned")


if __name__ == "__main__":
    main()
