"""Speed of text->motion generation on CPU: the tiny preset with random weights, or a trained bundle.

Prints
  1. the median latency of one text->motion request for a 196-frame motion, split into language
     model generation, VQ decode (codes -> normalised features), and features -> joints;
  2. the throughput ratio of 32 prompts answered in one batch vs one by one;
  3. with --compare-hf, the generation of 1 and of 32 prompts beside transformers' `generate` on
     the same weights with the same constraint (greedy, same tokens checked), as a ratio.

Every figure is given as wall-clock time and as the CPU time this process used. On a machine
shared with other jobs the wall clock includes waiting for a core; with --threads 1 the CPU time is
close to what an idle core would take. One thread is the default: token-by-token decoding is a
chain of small products that a second intra-op thread slows down (on a 2-core machine, about 2x
at batch size 1 when the machine was quiet, far more when it was busy).

By default the weights are random (speed does not depend on training): the text tokenizer is
trained on the shipped task templates, the VQ-VAE has the tiny stage-1 preset's architecture and
the normaliser is an identity one. With --bundle the trained bundle's language model, tokenizer,
VQ-VAE, normaliser and skeleton are timed instead. Either way the motion length is forced, so the
figures compare: the decoding bounds are min = max = 196 frames, i.e. <eom> is masked until code
49 and forced there.

    python benchmarks/generate.py [--bundle PATH] [--threads 1] [--repeats 15] [--batch-repeats 3] [--compare-hf]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from motionchat.bundle import LM_DIR, load_bundle
from motionchat.errors import friendly_errors
from motionchat.lm.constraints import OutputConstraint, banned_in_text
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.lm.model import TINY, build_lm
from motionchat.lm.runtime import load_runtime_lm
from motionchat.motion.features import features_to_joints_torch
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import HUMANML3D
from motionchat.motion.timing import MAX_FRAMES, frames_to_codes
from motionchat.tasks.families import load_families
from motionchat.vq import MotionVQVAE, VQConfig

BATCH = 32
# The tiny stage-1 preset's tokenizer (trainer/stage1.py, STAGE1_PRESETS["tiny"]).
TINY_VQ = VQConfig(codebook_size=512, code_dim=128, width=128, depth=3, dilation_growth=3, down_t=2)
FULL_LENGTH = DecodingConfig(min_motion_frames=MAX_FRAMES, max_motion_frames=MAX_FRAMES)
PROMPTS = [
    "Show me a person who walks forward and waves with the left hand.",
    "Generate a motion: someone jumps twice.",
    "a man turns around and sits down",
    "Can you animate a woman kicking with her right foot?",
]


class Timing(NamedTuple):
    wall_s: float
    cpu_s: float

    def __str__(self) -> str:
        return f"{self.wall_s * 1000:8.1f} ms wall {self.cpu_s * 1000:8.1f} ms cpu"


def median_time(fn, repeats: int, warm_up: bool = True) -> Timing:
    if warm_up:
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return Timing(statistics.median(wall), statistics.median(cpu))


def template_sentences() -> list[str]:
    families = load_families().values()
    return [t.text for family in families for t in (*family.instructions, *family.answers)]


def hf_generate(hf_lm, prompts, expected_ids):
    """transformers' `generate` with the same constraint, for comparison with our decoding loop."""
    from transformers import LogitsProcessorList

    codes, rows = frames_to_codes(MAX_FRAMES), len(prompts)
    banned = banned_in_text(hf_lm.tokenizer, hf_lm.vocab)
    constraint = OutputConstraint(hf_lm.vocab, hf_lm.vocab.size, ["motion"] * rows, [codes] * rows, [codes] * rows, banned)
    batch = hf_lm.tokenizer(prompts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        out = hf_lm.model.generate(
            **batch, logits_processor=LogitsProcessorList([constraint]), do_sample=False,
            max_new_tokens=codes + 3, use_cache=True,
        )
    for row, ids in zip(out.tolist(), expected_ids):
        assert row[1 : 1 + len(ids)] == ids, "transformers decoded differently"


def random_tiny_model(directory: Path):
    """The tiny preset's networks with random weights, the language model saved to `directory` as in
    a bundle: (language model dir, VQ-VAE, normaliser, skeleton, label)."""
    from motionchat.lm.storage import save_lm

    save_lm(directory, *build_lm(TINY, TINY_VQ.codebook_size, template_sentences()))
    torch.manual_seed(0)
    vq = MotionVQVAE(TINY_VQ).eval()
    normalizer = Normalizer(np.zeros(HUMANML3D.feature_dim, np.float32), np.ones(HUMANML3D.feature_dim, np.float32))
    return directory, vq, normalizer, HUMANML3D, "tiny preset, random weights"


def trained_model(path: Path):
    """A trained bundle's networks, in the same shape as `random_tiny_model`."""
    bundle = load_bundle(path)
    presets = "/".join(bundle.config.presets.get(stage, "?") for stage in ("stage1", "stage2", "stage3"))
    return path / LM_DIR, bundle.vq, bundle.normalizer, bundle.skeleton, f"bundle {path} (presets {presets})"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@friendly_errors
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="time a trained bundle instead of random tiny weights")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (see the note above)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per single-request figure (median)")
    parser.add_argument("--batch-repeats", type=int, default=3, help="timed runs per 32-prompt figure (median)")
    parser.add_argument("--compare-hf", action="store_true", help="also time transformers' model.generate")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {load_average()} ({os.cpu_count()} cores)")

    scratch = tempfile.TemporaryDirectory(prefix="motionchat-bench-")
    lm_dir, vq, normalizer, skeleton, label = (
        random_tiny_model(Path(scratch.name) / LM_DIR) if args.bundle is None else trained_model(args.bundle)
    )
    lm = load_runtime_lm(lm_dir)  # what chat and evaluation run: no transformers
    n_params = sum(p.numel() for p in lm.model.parameters())
    print(
        f"{label}: {n_params / 1e6:.2f} M parameters, vocabulary {lm.vocab.size} "
        f"({lm.vocab.text_size} text + {lm.vocab.codebook_size} motion + 4 specials); torch threads {args.threads}"
    )

    def lm_generate(prompts):
        answers = generate(lm.model, lm.tokenizer, lm.vocab, prompts, "motion", FULL_LENGTH)
        assert all(a[0].ok and a[0].frames == MAX_FRAMES for a in answers), "forced length not reached"
        return answers

    def vq_decode(codes):
        with torch.inference_mode():
            return vq.decode(codes, frames=MAX_FRAMES)

    def to_joints(features):
        with torch.inference_mode():
            return features_to_joints_torch(normalizer.denormalize(features), skeleton)

    def request(prompts):
        answers = lm_generate(prompts)
        joints = to_joints(vq_decode(torch.tensor([a[0].codes for a in answers])))
        assert joints.shape == (len(prompts), MAX_FRAMES, skeleton.n_joints, 3)

    one = PROMPTS[:1]
    answers = lm_generate(one)
    codes = torch.tensor([answers[0][0].codes])
    features = vq_decode(codes)
    print(f"one text->motion request, {MAX_FRAMES} frames (49 codes, length forced), median of {args.repeats}:")
    print(f"  generation {median_time(lambda: lm_generate(one), args.repeats)}   (LM alone, target <= 150 ms)")
    print(f"  VQ decode  {median_time(lambda: vq_decode(codes), args.repeats)}")
    print(f"  joints     {median_time(lambda: to_joints(features), args.repeats)}")
    print(f"  total      {median_time(lambda: request(one), args.repeats)}   (target <= 250 ms)")
    guided = dataclasses.replace(FULL_LENGTH, guidance=2.0)  # the prompt's and the null prompt's rows in one batch
    plain_s = median_time(lambda: lm_generate(one), args.repeats)
    guided_s = median_time(lambda: generate(lm.model, lm.tokenizer, lm.vocab, one, "motion", guided), args.repeats)
    print(f"  generation with guidance 2 {guided_s}   ({guided_s.wall_s / plain_s.wall_s:.2f}x the plain generation "
          f"{plain_s.wall_s * 1000:.0f} ms; a full request must stay <= 250 ms)")

    prompts = [PROMPTS[i % len(PROMPTS)] + f" ({i})" for i in range(BATCH)]
    repeats = args.batch_repeats  # the single-prompt shapes are warm already
    print(f"{BATCH} prompts, median of {repeats}:")
    for name, run_one in (("generation only", lm_generate), ("full requests  ", request)):
        sequential = median_time(lambda run_one=run_one: [run_one([p]) for p in prompts], repeats, warm_up=False)
        batched = median_time(lambda run_one=run_one: run_one(prompts), repeats)
        print(
            f"  {name}: one by one {sequential.wall_s:6.2f} s wall {sequential.cpu_s:6.2f} s cpu, "
            f"batched {batched.wall_s:6.2f} s wall {batched.cpu_s:6.2f} s cpu, "
            f"ratio {sequential.wall_s / batched.wall_s:5.1f}x wall {sequential.cpu_s / batched.cpu_s:5.1f}x cpu"
        )
    if args.compare_hf:
        from motionchat.lm.model import load_lm
        from motionchat.lm.motion_time import time_rows

        hf_lm = load_lm(lm_dir)
        timed = time_rows(hf_lm.model.config) > 0
        print(f"generation beside transformers' model.generate (same weights, same constraint, greedy), median of {repeats}:")
        if timed:
            print("  skipped: this model has a motion time table, whose rows transformers' cached generate cannot give "
                  "(it embeds one token at a time); compare a model without one (e.g. no --bundle: the random tiny model)")
        for rows in () if timed else (1, BATCH):
            chosen = prompts[:rows]
            expected = [a[0].token_ids for a in lm_generate(chosen)]
            ours = median_time(lambda chosen=chosen: lm_generate(chosen), repeats)
            theirs = median_time(lambda chosen=chosen, expected=expected: hf_generate(hf_lm, chosen, expected), repeats)
            print(f"  {rows:2} prompt(s): ours {ours}   transformers {theirs}   "
                  f"ratio {theirs.wall_s / ours.wall_s:4.2f}x wall {theirs.cpu_s / ours.cpu_s:4.2f}x cpu"
                  + ("   (target >= 2x)" if rows == BATCH else ""))  # fmt: skip
    print(f"load average after: {load_average()}   (throughput target: full requests >= 8x)")
    scratch.cleanup()


if __name__ == "__main__":
    main()
