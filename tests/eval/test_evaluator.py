"""Our contrastive evaluator: trains a few steps on a tiny corpus, round-trips through safetensors
exactly, embeds independently of batching, and its loss treats twin captions as non-negatives."""

import numpy as np
import pytest
import torch
from eval_fixtures import tiny_corpus, tiny_evaluator

from eval.evaluator import EVALUATOR_FILE, load_evaluator, read_evaluator_report
from eval.train_evaluator import REPORT_FILE, contrastive_loss
from motionchat.data.dataset import MotionClips
from motionchat.errors import MotionchatError


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    corpus = tiny_corpus()
    return corpus, tiny_evaluator(corpus, tmp_path_factory.mktemp("run") / "evaluator")


def test_train_save_load_round_trip(trained):
    corpus, run = trained
    assert (run / EVALUATOR_FILE).is_file() and (run / REPORT_FILE).is_file()
    report = read_evaluator_report(run)
    assert report["clips"] == 32 and 0.0 <= report["r_precision_top1"] <= report["r_precision_top3"] <= 1.0

    evaluator = load_evaluator(run)
    again = load_evaluator(run / EVALUATOR_FILE)
    for (name, a), (_, b) in zip(evaluator.model.state_dict().items(), again.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert evaluator.pieces.model_proto == again.pieces.model_proto
    np.testing.assert_array_equal(evaluator.normalizer.mean, np.load(corpus / "Mean.npy").astype(np.float32))

    clips = MotionClips(corpus, "test", with_captions=True)
    motions = [clips.features(i) for i in range(5)]
    emb = evaluator.embed_motions(motions)
    assert emb.shape == (5, 32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # A motion embeds the same alone as in a padded batch.
    np.testing.assert_allclose(np.concatenate([evaluator.embed_motions([m]) for m in motions]), emb, atol=1e-5)
    texts = evaluator.embed_texts([clips.captions[0][0], "a person does something never seen before"])
    assert texts.shape == (2, 32) and np.isfinite(texts).all()


def test_missing_or_foreign_files_are_one_line_errors(tmp_path):
    with pytest.raises(MotionchatError, match="train-evaluator"):
        load_evaluator(tmp_path)
    (tmp_path / EVALUATOR_FILE).write_bytes(b"not safetensors")
    with pytest.raises(MotionchatError, match="not a readable safetensors"):
        load_evaluator(tmp_path)


def test_contrastive_loss_does_not_push_twin_captions_apart():
    text = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=-1)
    motion = torch.nn.functional.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [0.0, 1.0]]), dim=-1)
    scale = torch.tensor(np.log(10.0))
    no_twins = torch.zeros(3, 3, dtype=torch.bool)
    twins = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    # Items 0 and 1 share a caption: without the mask each is the other's hard negative.
    assert contrastive_loss(text, motion, scale, twins) < contrastive_loss(text, motion, scale, no_twins)
    # With every pair distinct and perfectly matched the loss approaches zero as the scale grows.
    eye = torch.eye(3)
    assert contrastive_loss(eye, eye, torch.tensor(np.log(100.0)), no_twins) < 1e-3
