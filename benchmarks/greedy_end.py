"""Do greedy motions end? Text-to-motion requests without a duration (the captions of the first
validation clips), decoded greedily with each end rule and, for reference, sampled: the share that
ran to the length limit and how the lengths compare with the clips' own.

    python benchmarks/greedy_end.py --data synth20k [--bundle B] [--clips 64] [--guidance 1 2]
"""

import argparse
import random
from pathlib import Path

import numpy as np

from eval.data import EvalData
from motionchat.bundle import load_bundle
from motionchat.lm.generation import DecodingConfig
from motionchat.motion.timing import MAX_FRAMES
from motionchat.tasks.answering import TaskRequest, answer_questions, prepare

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "motionchat" / "assets" / "default_bundle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (its validation captions are asked)")
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    parser.add_argument("--clips", type=int, default=64)
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0])
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    data = EvalData(args.data, limit=args.clips, split="val")
    rng = random.Random(0)
    requests = [TaskRequest("t2m", caption=data.test.captions[i][0].text) for i in data.test_indices]
    questions = [
        prepare(r, bundle.families, rng, codebook_size=bundle.codec.codebook_size, frames_per_code=bundle.codec.frames_per_code, fps=bundle.fps)
        for r in requests
    ]
    truth = np.array([data.test.lengths[i] for i in data.test_indices], dtype=np.float64)
    print(f"{args.bundle}: {len(questions)} validation captions, no duration asked (limit {MAX_FRAMES} frames)")
    print("guidance | decoding | at the limit | median length / clip's | within 25% of the clip's")
    for guidance in args.guidance:
        for name, config in (
            ("greedy, median end", DecodingConfig(guidance=guidance)),
            ("greedy, argmax end", DecodingConfig(guidance=guidance, greedy_end="argmax")),
            ("sampled (top-k 50)", DecodingConfig(guidance=guidance, do_sample=True, top_k=50, seed=0)),
        ):
            answers = [a[0] for a in answer_questions(bundle.lm, questions, config)]
            frames = np.array([a.frames if a.ok else MAX_FRAMES for a in answers], dtype=np.float64)
            ratio = frames / truth
            at_limit = np.mean(frames >= MAX_FRAMES - 3)
            print(f"{guidance:g} | {name} | {at_limit:.0%} | {np.median(ratio):.2f} | {np.mean(np.abs(ratio - 1) <= 0.25):.0%}")


if __name__ == "__main__":
    main()
