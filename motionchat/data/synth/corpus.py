"""The synthetic corpus on disk: many clips, their captions, labels, edit pairs and splits.

Clips come in *groups* that share a performer (`Style`) and a split: a source program and one
edited variant (two for the last group when the clip count is odd); both directions of every
edit are recorded, so every clip has an edit partner. Each group draws all of its randomness from
`SeedSequence([seed, group])`, so the corpus is the same whatever the number of worker processes,
and the same seed gives byte-identical files.

Besides the HumanML3D layout (see `motionchat.data.writer`) the folder holds:

    labels.jsonl            one clip a line: id, split, program, frames, segments, compositional
    edits.jsonl             source, target, kind, index, instruction, difference
    compositional_test.txt  the ordered action pairs only the test split contains ("a>b")
    corpus.json             generator, seed, counts

Splits: every corpus of at least 3 groups (6 clips) has all three, with as many groups each as
80/5/15 of the groups rounds to (at least one each). The first groups go in pairs to train and
test, each pair starting with one of `program.coverage_actions()`, as many pairs as the test
quota holds: every primitive and every parameter value is then in both splits once the test quota
holds all of them (at least 1,248 clips); a smaller corpus covers an evenly spread subset. The other
groups are dealt to the splits in an even interleave of the quotas left. Train and val never
contain a held-out ordered pair; about a third of the other test groups are built around one.

Version 2 (issue 18): exact split quotas (version 1 drew the splits of non-coverage groups at
random and had no val split up to 377 clips) and retries that draw afresh (see `make_group`).
Version 3 (issue 19): performers vary more, towards motion capture: wider resting postures
(`segment.Style`: lean, elbows, arms, head, a left/right difference, amplitude, arm swing), an
always-on movement of the trunk, head, hands and elbows that is larger and faster
(`compose.add_life`, scaled per performer), and a playing rate that drifts within a clip
(`compose.time_warp`).
"""

from __future__ import annotations

import json
import math
import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionchat.data.synth.captions import caption_line, write_captions
from motionchat.data.synth.compose import ClipTooLong, generate_clip
from motionchat.data.synth.edits import Edit, describe_edit, sample_edit
from motionchat.data.synth.program import adjacent_pairs, coverage_actions, held_out_pairs, sample_action, sample_program
from motionchat.data.synth.segment import Style
from motionchat.data.synth.vocabulary import Action, Program, program_to_dicts
from motionchat.data.writer import SPLITS, FeatureStats, clip_arrays, prepare_out_dir, write_clip, write_splits, write_statistics
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import EDITS_FILE, LABELS_FILE
from motionchat.motion.skeleton import HUMANML3D

GENERATOR_VERSION = 3
SPLIT_FRACTIONS = {"train": 0.80, "val": 0.05, "test": 0.15}
COMPOSITIONAL_SHARE = 0.3  # of the random test groups, built around a held-out pair
CAPTIONS_PER_CLIP = 3
_MAX_TRIES = 40
_BABBLE_STREAM = 7919  # the last entropy word of a group's `babble` draw


@dataclass
class GroupPlan:
    index: int
    first_clip: int
    size: int
    split: str
    first_action: Action | None  # a coverage group's first action


@dataclass
class ClipRecord:
    clip_id: str
    split: str
    program: Program
    frames: int
    spans: list[tuple[int, int]]
    compositional: bool
    captions: list[str]
    joints: np.ndarray | None = None  # the generator's joints (floor at y = 0), when asked for


@dataclass
class GroupResult:
    clips: list[ClipRecord]
    edits: list[dict]
    stats: tuple[int, np.ndarray, np.ndarray] | None = None


@dataclass
class CorpusSummary:
    root: Path
    clips: int
    splits: dict[str, int]
    edits: int
    held_out_pairs: list[tuple[str, str]] = field(default_factory=list)


def clip_id(index: int, n_clips: int) -> str:
    return f"{index:0{max(6, len(str(n_clips - 1)))}d}"


def split_quotas(n_groups: int) -> dict[str, int]:
    """Groups per split: SPLIT_FRACTIONS of `n_groups` rounded, at least one each from 3 groups
    (below that: train, then test)."""
    counts = {name: math.floor(SPLIT_FRACTIONS[name] * n_groups + 0.5) for name in ("val", "test")}
    if n_groups >= 3:
        counts = {name: max(1, count) for name, count in counts.items()}
    else:
        counts = {"val": 0, "test": n_groups - 1}
    return {"train": n_groups - counts["val"] - counts["test"], **counts}


def _interleave(quotas: dict[str, int]) -> list[str]:
    """The splits in an even mix: each position goes to the split furthest behind its share."""
    total = sum(quotas.values())
    dealt = dict.fromkeys(quotas, 0)
    order = []
    for position in range(1, total + 1):
        name = max(quotas, key=lambda n: (quotas[n] * position / total - dealt[n], quotas[n]))
        dealt[name] += 1
        order.append(name)
    return order


def plan_groups(n_clips: int) -> list[GroupPlan]:
    """Groups of two clips (the last of three when `n_clips` is odd) with their splits; the first
    ones pair up train and test around the coverage actions (see the module docstring)."""
    if n_clips < 2:
        raise MotionchatError(f"--clips {n_clips}: the corpus needs at least 2 clips (each clip has an edited partner)")
    n_groups = n_clips // 2
    quotas = split_quotas(n_groups)
    coverage = coverage_actions()
    n_pairs = min(len(coverage), quotas["train"], quotas["test"])
    firsts = [coverage[k * len(coverage) // n_pairs] for k in range(n_pairs)]  # evenly spread
    left = dict(quotas, train=quotas["train"] - n_pairs, test=quotas["test"] - n_pairs)
    splits = [("train", "test")[g % 2] for g in range(2 * n_pairs)] + _interleave(left)
    plans, first_clip = [], 0
    for g, split in enumerate(splits):
        size = 3 if (g == n_groups - 1 and n_clips % 2) else 2
        plans.append(GroupPlan(g, first_clip, size, split, firsts[g // 2] if g < 2 * n_pairs else None))
        first_clip += size
    return plans


def _source_program(rng: np.random.Generator, plan: GroupPlan, split: str, held: frozenset, too_long: Program | None) -> Program:
    """The group's first program; after one that did not fit (`too_long`), a shorter one."""
    avoid = held if split != "test" else frozenset()
    n_actions = max(1, len(too_long) - 1) if too_long else None
    if plan.first_action is None and split == "test" and rng.random() < COMPOSITIONAL_SHARE and n_actions is None:
        a, b = sorted(held)[rng.integers(len(held))]
        rest = sample_program(rng, first=sample_action(b, rng), n_actions=int(rng.integers(1, 3)))
        return (sample_action(a, rng),) + rest
    return sample_program(rng, first=plan.first_action, n_actions=n_actions, avoid=avoid)


def make_group(
    plan: GroupPlan, seed: int, n_clips: int, held: frozenset, root: Path | None, keep_joints: bool = False, babble: float = 0.0
) -> GroupResult:
    """Generate (and, with `root`, write) one group of clips; pure function of (seed, plan).

    A program that does not fit a clip is tried again with other random timings: the clip's
    random draws depend on how often that program failed before, as a retry with the same draws
    would fail the same way (a coverage group's forced first action is drawn again and again).
    `keep_joints` keeps each clip's generated joints in its record (benchmarks and tests).
    `babble` is the chance that the group's clips get free upper-body movement (`synth.babble`),
    drawn from a stream of its own, so the rest of the group is as without it.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, plan.index]))
    style = Style.sample(rng)
    split = plan.split
    avoid = held if split != "test" else frozenset()
    failures: Counter[Program] = Counter()
    babbling = babble > 0 and np.random.default_rng(np.random.SeedSequence([seed, plan.index, _BABBLE_STREAM])).random() < babble

    def try_clip(program: Program, k: int):
        draws = np.random.default_rng(np.random.SeedSequence([seed, plan.index, k + 1, failures[program]]))
        try:
            return generate_clip(program, style, draws, babble=babbling)
        except ClipTooLong:
            failures[program] += 1
            return None

    too_long = None
    for _ in range(_MAX_TRIES):
        source = _source_program(rng, plan, split, held, too_long)
        clip = try_clip(source, 0)
        if clip is None:
            too_long = source
            continue
        clips = [clip]
        edits: list[Edit] = []
        for k in range(1, plan.size):
            for _ in range(_MAX_TRIES):
                edit = sample_edit(source, rng, avoid)
                if edit is None or any(edit.target == e.target for e in edits):
                    continue
                clip = try_clip(edit.target, k)
                if clip is None:
                    continue
                clips.append(clip)
                edits.append(edit)
                break
        if len(clips) == plan.size:
            break
    else:
        raise RuntimeError(f"group {plan.index}: no program fitted in {_MAX_TRIES} tries")

    programs = [source] + [e.target for e in edits]
    ids = [clip_id(plan.first_clip + k, n_clips) for k in range(plan.size)]
    stats = FeatureStats(HUMANML3D.feature_dim) if split == "train" else None
    records = []
    for k, (program, clip) in enumerate(zip(programs, clips)):
        new_joints, features = clip_arrays(clip.joints)
        captions = write_captions(program, rng, CAPTIONS_PER_CLIP)
        if root is not None:
            write_clip(root, ids[k], new_joints, features, [caption_line(c) for c in captions])
        if stats is not None:
            stats.add(features)
        records.append(ClipRecord(ids[k], split, program, len(features), clip.spans, bool(adjacent_pairs(program) & held),
                                  captions, clip.joints if keep_joints else None))
    edit_rows = []
    for k, edit in enumerate(edits, start=1):
        for forward in (edit, edit.inverse()):
            instruction, difference = describe_edit(forward, rng)
            source_id, target_id = (ids[0], ids[k]) if forward is edit else (ids[k], ids[0])
            edit_rows.append({"source": source_id, "target": target_id, "kind": forward.kind, "index": forward.index,
                              "instruction": instruction, "difference": difference})
    return GroupResult(records, edit_rows, (stats.count, stats.total, stats.total_sq) if stats else None)


def _work(args) -> GroupResult:
    return make_group(*args)


def synthesize_corpus(
    out_dir: str | Path,
    n_clips: int,
    seed: int = 0,
    workers: int | None = None,
    force: bool = False,
    on_clips: Callable[[int], None] | None = None,
    babble: float = 0.0,
) -> CorpusSummary:
    """Write an `n_clips` corpus into `out_dir` (see the module docstring); `on_clips(k)` reports progress.

    `babble` (0..1): the share of groups given free upper-body movement their captions do not
    describe (`synth.babble`), for a tokenizer's training data; recorded in corpus.json."""
    if not 0.0 <= babble <= 1.0:
        raise MotionchatError(f"--babble {babble}: give a share between 0 and 1")
    plans = plan_groups(n_clips)
    root = prepare_out_dir(out_dir, force)
    held = held_out_pairs(seed)
    workers = max(1, workers or multiprocessing.cpu_count())
    jobs = [(plan, seed, n_clips, held, root, False, babble) for plan in plans]
    stats = FeatureStats(HUMANML3D.feature_dim)
    clips: list[ClipRecord] = []
    edits: list[dict] = []

    def collect(result: GroupResult) -> None:
        clips.extend(result.clips)
        edits.extend(result.edits)
        if result.stats is not None:
            stats.merge(*result.stats)
        if on_clips:
            on_clips(len(result.clips))

    if workers == 1:
        for job in jobs:
            collect(_work(job))
    else:
        # forkserver, not fork: forking a process that already runs threads (torch, a chat engine
        # loading a model) can copy a held lock into the child and hang it.
        with multiprocessing.get_context("forkserver").Pool(workers) as pool:
            for result in pool.imap(_work, jobs, chunksize=4):  # in order: sums add up the same way
                collect(result)

    splits = {name: [c.clip_id for c in clips if c.split == name] for name in SPLITS}
    write_splits(root, splits)
    write_statistics(root, stats)
    _write_jsonl(root / LABELS_FILE, [_label_row(c) for c in clips])
    _write_jsonl(root / EDITS_FILE, edits)
    atomic_write_text(root / "compositional_test.txt", "".join(f"{a}>{b}\n" for a, b in sorted(held)))
    meta = {"generator": "motionchat.data.synth", "version": GENERATOR_VERSION, "seed": seed, "clips": n_clips,
            "splits": {k: len(v) for k, v in splits.items()}, "edits": len(edits), "fps": HUMANML3D.fps,
            "captions_per_clip": CAPTIONS_PER_CLIP}
    if babble:
        meta["babble"] = babble  # captions do not describe that movement: tokenizer data
    atomic_write_text(root / "corpus.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return CorpusSummary(root, len(clips), meta["splits"], len(edits), sorted(held))


def describe_corpus(root: str | Path) -> str:
    """How a dataset folder came about, for model cards: the `trainer data synth` command and seed
    of a synthetic corpus (from its corpus.json), else the folder's name (never a full local path)."""
    root = Path(root)
    try:
        meta = json.loads((root / "corpus.json").read_text(encoding="utf-8"))
        clips, seed, version, splits = int(meta["clips"]), int(meta["seed"]), meta["version"], meta["splits"]
        counts = "/".join(str(splits.get(name, 0)) for name in SPLITS)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return f"the dataset folder `{root.name}`"
    babble = f" --babble {meta['babble']:g}" if isinstance(meta.get("babble"), (int, float)) and meta["babble"] else ""
    return (f"`trainer data synth --out {root.name} --clips {clips} --seed {seed}{babble}` (synthetic corpus, generator "
            f"version {version}, corpus seed {seed}; train/val/test {counts} clips)")


def _label_row(clip: ClipRecord) -> dict:
    return {"id": clip.clip_id, "split": clip.split, "program": program_to_dicts(clip.program), "frames": clip.frames,
            "segments": [list(s) for s in clip.spans], "compositional": clip.compositional}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
