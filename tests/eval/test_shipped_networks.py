"""The evaluator and recogniser shipped in eval/assets: they load, and they judge ground truth well
on a synthetic corpus of another seed than the one they were trained on (seed 0)."""

import dataclasses

import numpy as np
import pytest

from eval.assets import SHIPPED_EVALUATOR, SHIPPED_RECOGNIZER
from eval.data import EvalData
from eval.evaluator import load_evaluator
from eval.metrics.embedding import r_precision
from eval.metrics.programs import program_accuracy
from eval.recognizer import load_recognizer
from eval.runner import EvaluationInputs, with_shipped_networks
from motionchat.data.synth.corpus import synthesize_corpus


@pytest.fixture(scope="module")
def other_seed_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed5") / "synth"
    synthesize_corpus(root, 214, seed=5, workers=1, force=True)  # test split: 32 clips
    return root


def test_shipped_networks_score_ground_truth_of_another_seed(other_seed_corpus):
    data = EvalData(other_seed_corpus)
    motions = [data.test.features(i) for i in data.test_indices]
    captions = [data.test.captions[i][0] for i in data.test_indices]
    evaluator = load_evaluator(SHIPPED_EVALUATOR)
    texts, embedded = evaluator.embed_texts(captions), evaluator.embed_motions(motions)
    rng = np.random.default_rng(0)
    tops = [r_precision(texts[order], embedded[order]).top[2] for order in (rng.permutation(len(texts)) for _ in range(5))]
    assert len(texts) >= 32 and np.mean(tops) >= 0.95
    predicted = load_recognizer(SHIPPED_RECOGNIZER).recognise(motions)
    requested = [data.programs[clip_id] for clip_id in data.test_ids]
    assert program_accuracy(predicted, requested).exact >= 0.85


def test_shipped_networks_stand_in_on_synthetic_corpora_only(other_seed_corpus, tmp_path):
    filled = with_shipped_networks(EvaluationInputs(data=other_seed_corpus))
    assert (filled.evaluator, filled.recognizer) == (SHIPPED_EVALUATOR, SHIPPED_RECOGNIZER)
    given = EvaluationInputs(data=other_seed_corpus, evaluator=tmp_path / "mine", recognizer=tmp_path / "other")
    assert with_shipped_networks(given) == given
    not_synthetic = dataclasses.replace(given, data=tmp_path, evaluator=None, recognizer=None)
    assert with_shipped_networks(not_synthetic) == not_synthetic
