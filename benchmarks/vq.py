"""Motion tokenizer speed on CPU: encode + decode frames per second, batch 1 and batch 64.

Each request is 196-frame clips (the longest HumanML3D motion) encoded to codes and decoded back
to features. Weights are random (speed does not depend on training); the architectures are the
stage-1 presets' (`trainer/stage1.py`).

    python benchmarks/vq.py [--threads 2] [--repeats 10] [--preset tiny base]

On a machine shared with other jobs the figures depend on OpenMP's wait policy (spinning threads
starve each other); the header prints it. Importing motionchat before torch sets
OMP_WAIT_POLICY=PASSIVE unless told (motionchat/threads.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES
from motionchat.vq import MotionVQVAE
from trainer.stage1 import STAGE1_PRESETS


def frames_per_second(model: MotionVQVAE, batch: int, repeats: int) -> float:
    features = torch.randn(batch, MAX_FRAMES, model.cfg.feature_dim)
    model.decode(model.encode(features), MAX_FRAMES)  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.decode(model.encode(features), MAX_FRAMES)
        seconds.append(time.perf_counter() - start)
    return batch * MAX_FRAMES / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=10, help="timed repetitions (the median is reported)")
    parser.add_argument("--preset", nargs="+", default=["tiny", "base"], choices=sorted(STAGE1_PRESETS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    print(f"encode+decode of {MAX_FRAMES}-frame clips on CPU, {args.threads} thread(s), OMP_WAIT_POLICY {policy}, median of {args.repeats}")
    for name in args.preset:
        model = MotionVQVAE(STAGE1_PRESETS[name].vq).eval()
        params_m = sum(p.numel() for p in model.parameters()) / 1e6
        for batch in (1, 64):
            fps = frames_per_second(model, batch, args.repeats)
            print(f"  {name:5s} ({params_m:.1f} M parameters)  batch {batch:2d}: {fps:10,.0f} frames/s  ({fps / HUMANML3D_FPS:,.0f}x real time at {HUMANML3D_FPS:g} fps)")


if __name__ == "__main__":
    main()
