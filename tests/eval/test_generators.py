"""Baseline generators and the content caches, on a tiny corpus."""

import numpy as np
import pytest
from eval_fixtures import tiny_corpus

from eval.cache import CachedEmbedder, motion_key
from eval.generators import (
    ClipIndex,
    GroundTruthGenerator,
    HoldLastPoseGenerator,
    InbetweenRequest,
    MotionPrompt,
    PredictRequest,
    RetrievalGenerator,
    fit_length,
    held_pose,
)
from motionchat.data.dataset import MotionClips
from motionchat.motion.features import feature_layout, features_to_joints
from motionchat.motion.normalizer import Normalizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tiny_corpus()
    return root, MotionClips(root, "train", with_captions=True), MotionClips(root, "test", with_captions=True)


def test_fit_length_cuts_or_holds():
    motion = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert fit_length(motion, 2).tolist() == [[0, 1], [2, 3]]
    assert fit_length(motion, 5)[3:].tolist() == [[4, 5], [4, 5]]


def test_held_pose_stands_still(corpus):
    _, _, test = corpus
    clip = test.features(0)
    held = held_pose(clip[10], 30)
    layout = feature_layout()
    assert (held[:, layout.velocities] == 0).all() and (held[:, layout.foot_contacts] == 1).all()
    np.testing.assert_array_equal(held[:, layout.positions], np.repeat(clip[10:11, layout.positions], 30, axis=0))
    # Continuing a clip with the held pose: the joints no longer move after the prefix.
    motion = HoldLastPoseGenerator().predict([PredictRequest(clip[:20], 50, "x")], seed=0)[0]
    joints = features_to_joints(motion)
    assert motion.shape == (50, clip.shape[1])
    np.testing.assert_allclose(joints[21:], np.repeat(joints[20:21], 29, axis=0), atol=1e-5)
    between = HoldLastPoseGenerator().inbetween([InbetweenRequest(clip[:10], clip[40:50], 50, "x")], seed=0)[0]
    np.testing.assert_array_equal(between[40:], clip[40:50])


def test_retrieval_finds_the_training_clip_a_caption_comes_from(corpus):
    root, train, test = corpus
    retrieval = RetrievalGenerator(train, Normalizer.from_dir(root))
    caption = train.captions[7][0].text
    samples = retrieval.text_to_motion([MotionPrompt(caption, 100, "x")], n_samples=3, seed=0)[0]
    owners = [next(i for i in range(len(train)) if np.array_equal(train.features(i), s)) for s in samples]
    assert len(set(owners)) == 3  # three different clips
    assert any(c.text == caption for c in train.captions[owners[0]])
    # The opening of a training clip retrieves that clip's own continuation.
    clip = train.features(5)
    predicted = retrieval.predict([PredictRequest(clip[:12], len(clip), "x")], seed=0)[0]
    np.testing.assert_array_equal(predicted, clip)



def test_ground_truth_answers_with_the_test_clip(corpus):
    _, _, test = corpus
    ground_truth = GroundTruthGenerator(ClipIndex(test))
    samples = ground_truth.text_to_motion([MotionPrompt("anything", 1, test.clip_ids[3])], 2, seed=0)[0]
    assert len(samples) == 2 and all(np.array_equal(s, test.features(3)) for s in samples)


class CountingEmbedder:
    name, dim, min_frames = "counting", 2, 1

    def __init__(self):
        self.motions = 0

    def embed_motions(self, motions):
        self.motions += len(motions)
        return np.array([[m.sum(), len(m)] for m in motions], dtype=np.float64)

    def embed_texts(self, texts):
        return np.array([[len(t), 0.0] for t in texts])


def test_cached_embedder_encodes_each_distinct_motion_once():
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    a, b = np.ones((4, 3), np.float32), np.zeros((5, 3), np.float32)
    first = cached.embed_motions([a, b, a.copy()])
    again = cached.embed_motions([b, a])
    assert inner.motions == 2
    np.testing.assert_array_equal(first, inner.embed_motions([a, b, a]))
    np.testing.assert_array_equal(again, first[[1, 0]])
    assert motion_key(a) != motion_key(a[:3]) and motion_key(a) == motion_key(a.astype(np.float64))
