"""The synthetic corpus on disk: determinism, layout, labels, edits, splits and coverage."""

import json
from pathlib import Path

import numpy as np
import pytest

from motionchat.data.dataset import MotionClips, read_captions, read_split
from motionchat.data.labels import read_labels
from motionchat.data.synth.captions import parse_caption
from motionchat.data.synth.compose import generate_clip
from motionchat.data.synth.corpus import SPLIT_FRACTIONS, make_group, plan_groups, synthesize_corpus
from motionchat.data.synth.program import adjacent_pairs, coverage_actions, held_out_pairs
from motionchat.data.synth.segment import Style
from motionchat.data.synth.vocabulary import Action, check_program, coverage_items, program_from_dicts
from motionchat.errors import MotionchatError
from motionchat.motion.normalizer import Normalizer


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "corpus"
    synthesize_corpus(root, 31, seed=3, workers=1)
    return root


def test_same_seed_gives_identical_files_whatever_the_worker_count(corpus, tmp_path):
    again = tmp_path / "again"
    synthesize_corpus(again, 31, seed=3, workers=2)
    assert _files(corpus) == _files(again)
    other = tmp_path / "other"
    synthesize_corpus(other, 31, seed=4, workers=1)
    assert _files(other)["labels.jsonl"] != _files(corpus)["labels.jsonl"]


def test_layout_loads_and_matches_its_labels(corpus):
    labels = read_labels(corpus)
    assert len(labels) == 31
    ids = sorted(labels)
    listed = [i for s in ("train", "val", "test") for i in (corpus / f"{s}.txt").read_text().split()]
    assert sorted(listed) == ids and read_split(corpus, "train")
    normalizer = Normalizer.from_dir(corpus)
    assert normalizer.dim == 263 and (normalizer.std > 0).all()
    for split in ("train", "test"):
        clips = MotionClips(corpus, split, with_captions=True)
        for i, clip_id in enumerate(clips.clip_ids):
            row = labels[clip_id]
            assert row["split"] == split
            assert clips.lengths[i] == row["frames"]
            joints = np.load(corpus / "new_joints" / f"{clip_id}.npy")
            assert joints.shape == (row["frames"], 22, 3) and joints.dtype == np.float32
            program = program_from_dicts(row["program"])
            check_program(program)
            assert len(row["segments"]) == len(program)
            captions = clips.captions[i]
            assert len(captions) == 3
            assert all(parse_caption(c.text) == program for c in captions)


def test_every_clip_has_an_edit_partner_in_its_split(corpus):
    labels = read_labels(corpus)
    rows = [json.loads(line) for line in (corpus / "edits.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == set(labels)
    pairs = {(r["source"], r["target"]) for r in rows}
    for row in rows:
        assert row["target"] in labels and (row["target"], row["source"]) in pairs
        assert labels[row["source"]]["split"] == labels[row["target"]]["split"]
        assert row["instruction"] and row["difference"]
        source, target = (program_from_dicts(labels[row[k]]["program"]) for k in ("source", "target"))
        assert source != target
        if row["kind"] == "add":
            assert len(target) == len(source) + 1
        if row["kind"] in ("speed", "side", "count", "distance"):
            i = row["index"]
            assert getattr(source[i], row["kind"]) != getattr(target[i], row["kind"])


def test_held_out_pairs_only_in_test(corpus):
    held = held_out_pairs(3)
    assert (corpus / "compositional_test.txt").read_text().splitlines() == [f"{a}>{b}" for a, b in sorted(held)]
    for row in read_labels(corpus).values():
        pairs = adjacent_pairs(program_from_dicts(row["program"]))
        assert row["compositional"] == bool(pairs & held)
        if row["split"] != "test":
            assert not pairs & held


def test_coverage_plan_puts_every_value_in_train_and_test():
    # The test split holds 15% of the groups, so all 94 coverage pairs fit from 624 groups on.
    assert len(coverage_actions()) == 94
    assert sum(p.first_action is not None for p in plan_groups(1246)) < 2 * 94
    plans = plan_groups(1248)
    for split in ("train", "test"):
        covered = set()
        for plan in plans:
            if plan.split == split and plan.first_action is not None:
                action = plan.first_action
                covered.add((action.name, "", None))
                covered.update((action.name, p, v) for p, v in action.params().items())
        assert covered == set(coverage_items()), split


def test_captions_in_texts_are_tagged(corpus):
    for path in sorted((corpus / "texts").glob("*.txt"))[:5]:
        for caption in read_captions(path):
            assert caption.tokens and all("/" in t for t in caption.tokens)


def test_refuses_a_non_empty_folder_unless_forced(corpus, tmp_path):
    with pytest.raises(MotionchatError, match="not empty"):
        synthesize_corpus(corpus, 4, seed=0, workers=1)
    root = tmp_path / "forced"
    synthesize_corpus(root, 6, seed=0, workers=1)
    (root / "notes.txt").write_text("mine")
    synthesize_corpus(root, 4, seed=0, workers=1, force=True)
    assert len(read_labels(root)) == 4 and len(list((root / "new_joints").iterdir())) == 4
    assert (root / "notes.txt").read_text() == "mine"
    with pytest.raises(MotionchatError, match="at least 2 clips"):
        synthesize_corpus(tmp_path / "tiny", 1)


def _shares(n_clips: int) -> dict[str, float]:
    counts = dict.fromkeys(SPLIT_FRACTIONS, 0)
    for plan in plan_groups(n_clips):
        counts[plan.split] += plan.size
    return {name: count / n_clips for name, count in counts.items()}


@pytest.mark.parametrize("n_clips", [*range(20, 64), 99, 300, 301, 1000, 2001, 20000])
def test_every_corpus_of_20_clips_or_more_has_all_three_splits_near_80_5_15(n_clips):
    shares = _shares(n_clips)
    assert all(share > 0 for share in shares.values()), shares
    # Groups of two clips make the shares of a 20-clip corpus 70/10/20; from 100 clips they are within 1.5%.
    tolerance = 0.1 if n_clips < 100 else 0.015
    for name, share in shares.items():
        assert abs(share - SPLIT_FRACTIONS[name]) <= tolerance + 1e-9, (name, shares)


def test_small_coverage_plans_spread_over_the_vocabulary():
    plans = plan_groups(60)
    firsts = [p.first_action.name for p in plans if p.first_action is not None]
    assert len(firsts) == 2 * 5 and len(set(firsts)) == 5  # five coverage pairs, five primitives
    assert [p.split for p in plans[:10]] == ["train", "test"] * 5


def test_every_coverage_action_fits_a_clip_alone_even_for_the_slowest_performer():
    """A lone action always fits, so a group's retries (which shorten the program) always end."""
    slowest = Style(tempo=0.88, step_scale=1.1)
    for action in coverage_actions():
        for seed in range(3):
            generate_clip((action,), slowest, np.random.default_rng(seed))


def test_the_slow_circle_coverage_group_fits_for_every_seed():
    """Seed 7's group 20 (a slow circle) used to fail 40 identical retries: "no program fitted"."""
    held = held_out_pairs(7)
    slow_circle = Action("walk_circle", speed="slow", direction="clockwise")
    plans = [p for p in plan_groups(2000) if p.first_action == slow_circle]
    assert [p.index for p in plans] == [20, 21]
    for seed in range(40):
        result = make_group(plans[seed % 2], seed, 2000, held, None)
        assert len(result.clips) == 2 and result.clips[0].program[0] == slow_circle


@pytest.mark.parametrize("n_clips", [20, 21, 60])
def test_small_corpora_fit_for_many_seeds(n_clips):
    plans = plan_groups(n_clips)
    for seed in range(12):
        held = held_out_pairs(seed)
        for plan in plans:
            assert len(make_group(plan, seed, n_clips, held, None).clips) == plan.size


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(51))
def test_a_2000_clip_corpus_fits_for_seeds_0_to_50(seed):
    held = held_out_pairs(seed)
    for plan in plan_groups(2000):
        assert len(make_group(plan, seed, 2000, held, None).clips) == plan.size


def test_babble_share_is_recorded_and_leaves_programs_alone(tmp_path):
    plain = synthesize_corpus(tmp_path / "plain", 8, seed=3, workers=1)
    babbled = synthesize_corpus(tmp_path / "babble", 8, seed=3, workers=1, babble=1.0)
    assert "babble" not in json.loads((plain.root / "corpus.json").read_text())
    assert json.loads((babbled.root / "corpus.json").read_text())["babble"] == 1.0
    from motionchat.data.synth.corpus import describe_corpus

    assert "--babble 1`" in describe_corpus(babbled.root) and "--babble" not in describe_corpus(plain.root)
    assert (plain.root / "labels.jsonl").read_text() == (babbled.root / "labels.jsonl").read_text()
    assert (plain.root / "texts").is_dir() and sorted(p.name for p in (plain.root / "texts").iterdir()) == sorted(
        p.name for p in (babbled.root / "texts").iterdir())
    first = sorted((plain.root / "new_joint_vecs").iterdir())[0].name
    assert not np.array_equal(np.load(plain.root / "new_joint_vecs" / first), np.load(babbled.root / "new_joint_vecs" / first))
