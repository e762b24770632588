"""Print the synthetic corpus's plausibility, coverage and caption round trip over N clips.

    python benchmarks/synth_quality.py [--clips 1000] [--seed 0] [--workers 2]

Clips are generated exactly as `trainer data synth` makes them (same groups, splits and seeds)
but kept in memory; plausibility is measured on the generator's joints (floor at y = 0).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import Counter

from motionchat.data.synth.captions import parse_caption
from motionchat.data.synth.corpus import make_group, plan_groups
from motionchat.data.synth.plausibility import measure
from motionchat.data.synth.program import adjacent_pairs, held_out_pairs
from motionchat.data.synth.vocabulary import coverage_items


def _group(args):
    plan, seed, n_clips, held = args
    return make_group(plan, seed, n_clips, held, root=None, keep_joints=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=multiprocessing.cpu_count())
    args = parser.parse_args()

    held = held_out_pairs(args.seed)
    jobs = [(plan, args.seed, args.clips, held) for plan in plan_groups(args.clips)]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        clips = [c for result in pool.imap(_group, jobs, chunksize=4) for c in result.clips]
    print(f"generated {len(clips)} clips in {time.perf_counter() - start:.1f} s with {args.workers} workers")

    print("\n-- plausibility (generator joints, floor y = 0)")
    report = measure([c.joints for c in clips])
    for line in report.lines():
        print("  " + line)
    print(f"  all within limits: {report.passes()}")
    frames = [c.frames for c in clips]
    print(f"  clip length: {min(frames)}..{max(frames)} frames (limit 40..196)")

    print("\n-- coverage")
    seen = {split: set() for split in ("train", "val", "test")}
    for clip in clips:
        for action in clip.program:
            seen[clip.split].add((action.name, "", None))
            seen[clip.split].update((action.name, p, v) for p, v in action.params().items())
    items = set(coverage_items())
    for split in ("train", "test"):
        missing = sorted(items - seen[split], key=str)
        print(f"  {split}: {len(items) - len(missing)}/{len(items)} (action, parameter, value) items" + (f"; missing {missing[:8]}" if missing else ""))
    splits = Counter(c.split for c in clips)
    print(f"  splits: {dict(splits)}")
    train_pairs = set().union(*(adjacent_pairs(c.program) for c in clips if c.split != "test"))
    test_compositional = [c for c in clips if c.split == "test" and c.compositional]
    print(f"  held-out ordered pairs: {len(held)}; in train/val: {len(train_pairs & held)}; "
          f"test clips built on one: {len(test_compositional)}")

    print("\n-- captions")
    total = ok = 0
    for clip in clips:
        for caption in clip.captions:
            total += 1
            ok += parse_caption(caption) == clip.program
    print(f"  parser round trip: {ok}/{total} = {ok / total:.4f} (limit 0.99)")


if __name__ == "__main__":
    main()
