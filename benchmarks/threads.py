"""Compute threads and OpenMP waiting, on an idle machine and with another process holding a core.

For each setting (torch threads 1 or all cores; OpenMP's default waiting or OMP_WAIT_POLICY=PASSIVE)
a fresh process (the policy is read when torch loads) times the shipped model's generation of
196-frame motions for 1 prompt and for 32 prompts (median of --repeats, wall clock), once alone
and once beside a process that keeps one core busy. Each figure is printed with its ratio to
torch's defaults (all cores, default waiting) in the same condition.

    python benchmarks/threads.py [--bundle PATH] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_MEASURE = r"""
import json, statistics, sys, time
import torch
torch.set_num_threads(int(sys.argv[2]))
from motionchat.bundle import load_bundle
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.motion.timing import MAX_FRAMES
lm = load_bundle(sys.argv[1]).lm
config = DecodingConfig(min_motion_frames=MAX_FRAMES, max_motion_frames=MAX_FRAMES)
prompts = [f"a person walks forward and waves ({i})" for i in range(32)]
out = {}
for rows in (1, 32):
    run = lambda: generate(lm.model, lm.tokenizer, lm.vocab, prompts[:rows], "motion", config)
    run()
    times = []
    for _ in range(int(sys.argv[3])):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    out[rows] = statistics.median(times)
print(json.dumps(out))
"""

_BUSY = "while True: pass"


def measure(bundle: Path, threads: int, policy: str | None, repeats: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(bundle), str(threads), str(repeats)],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from motionchat.chat.engine import default_bundle_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    bundle = args.bundle or default_bundle_path()
    cores = os.cpu_count() or 1
    settings = [(cores, None), (cores, "PASSIVE"), (1, None), (1, "PASSIVE")]
    print(f"{cores} cores, load average {os.getloadavg()[0]:.2f}; generation of 196-frame motions, median wall seconds")
    for busy in (False, True):
        hog = subprocess.Popen([sys.executable, "-c", _BUSY]) if busy else None
        try:
            figures = {s: measure(bundle, *s, args.repeats) for s in settings}
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
        base = figures[(cores, None)]
        print("with one core held by another process:" if busy else "alone:")
        for (threads, policy), figure in figures.items():
            cells = "   ".join(
                f"{rows:>2} prompts {figure[rows]:6.3f} s ({base[rows] / figure[rows]:5.2f}x torch's default)"
                for rows in ("1", "32")
            )
            print(f"  threads {threads}, waiting {policy or 'default':7}: {cells}")


if __name__ == "__main__":
    main()
