"""The evaluation Generator over a (random) bundle answers every task in the right shape, and
counts its malformed answers."""

import pytest
from random_bundle import save_random_bundle

from eval.bundle_generator import BundleGenerator
from eval.generators import CaptionRequest, DiffRequest, DurationRequest, EditRequest, InbetweenRequest, MotionPrompt, PredictRequest
from motionchat.data.dataset import MotionClips



@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    return BundleGenerator(save_random_bundle(tmp_path_factory.mktemp("evalbundle") / "bundle"))


def test_every_task_answers_in_shape(generator, tiny_corpus):
    clips = MotionClips(tiny_corpus, "test")
    a, b = clips.features(0), clips.features(1)
    dim = a.shape[1]
    motions = generator.text_to_motion([MotionPrompt("a person jumps", 48, "x")], n_samples=2, seed=0)
    assert len(motions[0]) == 2 and all(m.shape == (48, dim) for m in motions[0])
    assert isinstance(generator.motion_to_text([CaptionRequest(a, "x")], seed=0)[0], str)
    frames = len(a)
    predicted = generator.predict([PredictRequest(a[: frames // 5], frames, "x")], seed=0)[0]
    assert predicted.shape[1] == dim and len(predicted) <= frames + 3
    middle = generator.inbetween([InbetweenRequest(a[:12], a[-12:], frames, "x")], seed=0)[0]
    assert middle.shape == (frames, dim)
    edited = generator.edit([EditRequest(b, "do it faster", "x")], seed=0)[0]
    assert edited.ndim == 2 and edited.shape[1] == dim
    sentences = generator.difference([DiffRequest(a, b, "x"), DiffRequest(b, a, "y")], seed=0)
    assert len(sentences) == 2 and all(isinstance(s, str) for s in sentences)
    stated = generator.duration([DurationRequest(a, "x")], seed=0)
    assert len(stated) == 1 and (stated[0] is None or stated[0] > 0)
    tally = generator.tally
    assert tally.given == {"t2m": 2, "m2t": 1, "predict": 1, "inbetween": 1, "edit": 1, "diff": 2, "duration": 1}
    assert tally.malformed["duration"] == (stated[0] is None)
    assert all(0 <= tally.malformed[task] <= tally.given[task] for task in tally.given)


def test_difference_answers_lose_their_answer_template(generator):
    assert generator._difference_sentence("The difference: the second person waves more quickly.") == "the second person waves more quickly."
    assert generator._difference_sentence("Main change: The wave is faster in the second motion.") == "The wave is faster in the second motion."
    assert generator._difference_sentence("the second person bows") == "the second person bows"


def test_duration_answers_are_read_in_frames_or_seconds(generator):
    assert generator._stated_frames("It is 120 frames long.") == 120
    assert generator._stated_frames("The motion lasts 4.5 seconds.") == pytest.approx(90)  # 20 fps
    assert generator._stated_frames("a person walks forward") is None
    assert generator._stated_frames("It is 0 frames long.") is None


def test_input_motions_are_encoded_once(generator, monkeypatch, tiny_corpus):
    motion = MotionClips(tiny_corpus, "test").features(2)
    calls = []
    encode = generator.codec.encode_many
    monkeypatch.setattr(generator.codec, "encode_many", lambda motions: calls.append(len(motions)) or encode(motions))
    first = generator._encode([motion, motion.copy()])
    assert generator._encode([motion]) == first[:1] and first[0] == first[1]
    assert calls == [1]
