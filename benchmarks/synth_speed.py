"""Print how fast the synthetic corpus is made: per-stage CPU time per clip on one core (CPU
time, so other processes on a shared machine do not inflate it), then the end-to-end wall-clock
rate of `synthesize_corpus` with all workers and the CPU time it used.

    python benchmarks/synth_speed.py [--clips 400] [--workers 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np

from motionchat.data.synth.captions import caption_line, write_captions
from motionchat.data.synth.compose import ClipTooLong, generate_clip
from motionchat.data.synth.corpus import synthesize_corpus
from motionchat.data.synth.program import sample_program
from motionchat.data.synth.segment import Style
from motionchat.data.writer import clip_arrays, prepare_out_dir, write_clip


def stages(n_clips: int) -> None:
    rng = np.random.default_rng(0)
    timings = {"generate": 0.0, "features": 0.0, "captions": 0.0, "write": 0.0}
    rejected = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = prepare_out_dir(Path(tmp) / "d", force=False)
        done = 0
        while done < n_clips:
            program = sample_program(rng)
            t0 = time.process_time()
            try:
                clip = generate_clip(program, Style.sample(rng), rng)
            except ClipTooLong:
                rejected += 1
                timings["generate"] += time.process_time() - t0
                continue
            t1 = time.process_time()
            new_joints, features = clip_arrays(clip.joints)
            t2 = time.process_time()
            lines = [caption_line(c) for c in write_captions(program, rng)]
            t3 = time.process_time()
            write_clip(root, f"{done:06d}", new_joints, features, lines)
            t4 = time.process_time()
            for key, dt in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                timings[key] += dt
            done += 1
    total = sum(timings.values())
    print(f"one core, CPU time, {n_clips} clips ({rejected} programs too long, redrawn):")
    for key, seconds in timings.items():
        print(f"  {key:9s} {seconds / n_clips * 1000:6.2f} ms/clip")
    print(f"  total     {total / n_clips * 1000:6.2f} ms/clip = {n_clips / total:.1f} clips/s")


def end_to_end(n_clips: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        synthesize_corpus(Path(tmp) / "corpus", n_clips, seed=0, workers=workers)
        elapsed, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    print(f"synthesize_corpus: {n_clips} clips with {workers} workers in {elapsed:.1f} s wall = {n_clips / elapsed:.1f} clips/s; "
          f"CPU {cpu / n_clips * 1000:.1f} ms/clip (all processes), so 20k clips need {20000 * cpu / n_clips / workers / 60:.1f} min "
          f"of {workers} free cores")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker pool)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()
    stages(max(args.clips // 4, 20))
    end_to_end(args.clips, args.workers)


if __name__ == "__main__":
    main()
