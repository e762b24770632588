"""The evaluation Generator over a (barely trained) bundle answers every task in the right shape,
and counts its malformed answers."""

import sys
from pathlib import Path

import pytest

from eval.bundle_generator import BundleGenerator
from eval.generators import CaptionRequest, DiffRequest, EditRequest, InbetweenRequest, MotionPrompt, PredictRequest
from motionchat.data.dataset import MotionClips

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "trainer"))
from lm_stage_fixtures import STAGE3_SMALL, tiny_corpus, tiny_stage2_run  # noqa: E402


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    from trainer.stage3 import run_stage3

    out = tmp_path_factory.mktemp("evalbundle") / "bundle"
    run_stage3(data=tiny_corpus(), init=tiny_stage2_run(), out=out, run_dir=None, preset=None, config_file=None,
               set_options=STAGE3_SMALL, max_steps=1, resume=False, force=False)  # fmt: skip
    return BundleGenerator(out)


def test_every_task_answers_in_shape(generator):
    clips = MotionClips(tiny_corpus(), "test")
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
    tally = generator.tally
    assert tally.given == {"t2m": 2, "m2t": 1, "predict": 1, "inbetween": 1, "edit": 1, "diff": 2}
    assert all(0 <= tally.malformed[task] <= tally.given[task] for task in tally.given)


def test_difference_answers_lose_their_answer_template(generator):
    assert generator._difference_sentence("The difference: the second person waves more quickly.") == "the second person waves more quickly."
    assert generator._difference_sentence("Main change: The wave is faster in the second motion.") == "The wave is faster in the second motion."
    assert generator._difference_sentence("the second person bows") == "the second person bows"


def test_input_motions_are_encoded_once(generator, monkeypatch):
    motion = MotionClips(tiny_corpus(), "test").features(2)
    calls = []
    encode = generator.codec.encode_many
    monkeypatch.setattr(generator.codec, "encode_many", lambda motions: calls.append(len(motions)) or encode(motions))
    first = generator._encode([motion, motion.copy()])
    assert generator._encode([motion]) == first[:1] and first[0] == first[1]
    assert calls == [1]
