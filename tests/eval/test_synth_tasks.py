"""The diff task and the compositional split on a tiny corpus: the truth each pair is judged by,
the baselines' answers, the malformed-answer column, and MultiModality spread over repeats."""

import json
import shutil

import pytest
from eval_fixtures import tiny_corpus

from eval.data import EvalData
from eval.generators import AnswerTally, ClipIndex, DiffRequest, GroundTruthGenerator, RetrievalGenerator
from eval.metrics.differences import difference_accuracy
from eval.protocols import ProtocolConfig, _mm_prompts, evaluate_diff
from eval.synth_data import HELD_OUT_FILE, compositional_positions, true_differences
from motionchat.data.synth.edits import Difference, parse_difference
from motionchat.data.synth.program import adjacent_pairs
from motionchat.errors import MotionchatError


@pytest.fixture(scope="module")
def data():
    return EvalData(tiny_corpus())


def test_difference_accuracy_counts_sentences_that_name_the_true_edit():
    faster_wave, slower_kick = Difference("speed", "wave", "faster"), Difference("speed", "kick", "slower")
    more_claps = Difference("count", "clap", 3, 1)
    accuracy = difference_accuracy(
        ["the second person waves more quickly", "the second person waves more quickly", "not a difference",
         "the clapping is repeated three times in the second motion and once in the first"],
        [faster_wave, slower_kick, faster_wave, more_claps],
    )  # fmt: skip
    assert accuracy.correct == 0.5 and accuracy.n == 4
    assert accuracy.per_kind == {"count": 1.0, "speed": pytest.approx(1 / 3)}
    with pytest.raises(ValueError):
        difference_accuracy(["x"], [])


def test_every_corpus_pair_is_judged_by_its_written_edit(data):
    rows = [json.loads(line) for line in (data.root / "edits.jsonl").read_text().splitlines()]
    programs = data.programs
    pairs = data.edit_pairs
    assert len(rows) == len(pairs)
    for row, pair in zip(rows, pairs):
        source, target = programs[row["source"]], programs[row["target"]]
        first_change = next((i for i, (a, b) in enumerate(zip(source, target)) if a != b), min(len(source), len(target)))
        assert (pair.index, pair.difference) == (row["index"], row["difference"]) == (first_change, row["difference"])
    for pair, truth in zip(pairs, true_differences(pairs, programs)):
        assert truth.kind == pair.kind
        assert parse_difference(pair.difference).agrees_with(truth), pair.difference


def _diff_generators(data):
    sentences = {p.pair_id: p.difference for p in data.edit_pairs}
    train_ids = set(data.train.clip_ids)
    train_pairs = [(p.source, p.target, p.difference) for p in data.edit_pairs if p.source in train_ids]
    return GroundTruthGenerator(ClipIndex(data.test), differences=sentences), RetrievalGenerator(data.train, data.normalizer, train_pairs)


class _Mumbler:
    """A model that answers every other pair with an unfinished, malformed sentence."""

    name, tasks, samples_differ = "mumbler", ("diff",), True

    def __init__(self):
        self.tally = AnswerTally({"diff": "scored as it stands"})

    def difference(self, requests, seed):
        ok = [k % 2 == 0 for k in range(len(requests))]
        self.tally.count("diff", ok)
        return ["the second person" if good else "" for good in ok]


def test_diff_rows_ground_truth_retrieval_and_the_malformed_column(data):
    truth_row, retrieval = _diff_generators(data)
    mumbler = _Mumbler()
    result = evaluate_diff([mumbler, truth_row, retrieval], data, ProtocolConfig(repeats=2))
    assert result.rows["ground truth"]["diff_correct"] == [1.0, 1.0] and result.rows["ground truth"]["bleu4"] == [1.0, 1.0]
    assert 0.0 <= result.rows["retrieval"]["diff_correct"][0] <= 1.0
    assert result.rows["mumbler"]["diff_correct"] == [0.0, 0.0]
    pairs = len(data.test_edit_pairs)
    assert result.rows["mumbler"]["malformed"] == [(pairs // 2) / pairs] * 2
    assert "malformed" not in result.rows["ground truth"]
    assert f"mumbler: {pairs // 2 * 2} of {pairs * 2} answers malformed; scored as it stands" in result.notes
    assert set(result.breakdowns["ground truth"]["per_kind"]) == {p.kind for p in data.test_edit_pairs}


def test_retrieval_answers_a_training_pair_with_its_own_sentence(data):
    _, retrieval = _diff_generators(data)
    pair = next(p for p in data.edit_pairs if p.source in set(data.train.clip_ids))
    train = ClipIndex(data.train)
    request = DiffRequest(train.features(pair.source), train.features(pair.target), "x")
    assert retrieval.difference([request], seed=0) == [pair.difference]


def test_compositional_positions_follow_the_held_out_pairs(data, tmp_path):
    assert compositional_positions(data) == []  # the tiny corpus's test clips are all coverage groups
    root = tmp_path / "corpus"
    shutil.copytree(data.root, root)
    programs = [data.programs[clip_id] for clip_id in data.test_ids]
    pair = sorted(next(adjacent_pairs(p) for p in programs if len(p) > 1))[0]
    (root / HELD_OUT_FILE).write_text(f"{pair[0]}>{pair[1]}\n")
    expected = [k for k, p in enumerate(programs) if pair in adjacent_pairs(p)]
    assert compositional_positions(EvalData(root)) == expected and expected
    (root / HELD_OUT_FILE).write_text("walk-jump\n")
    with pytest.raises(MotionchatError, match="not an action pair"):
        compositional_positions(EvalData(root))


def test_multimodality_captions_are_spread_evenly_over_the_repeats():
    for repeats, prompts in ((20, 100), (3, 10), (5, 2)):
        cfg = ProtocolConfig(repeats=repeats, mm_prompts=prompts)
        shares = [_mm_prompts(cfg, r) for r in range(repeats)]
        assert sum(shares) == prompts and max(shares) - min(shares) <= 1
