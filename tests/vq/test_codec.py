"""MotionCodec: raw features <-> codes <-> joints, with the tokenizer's own statistics."""

import numpy as np
import pytest
import torch

from motionchat.errors import MotionchatError
from motionchat.motion.features import features_to_joints
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import HUMANML3D, KITML
from motionchat.vq import MotionVQVAE, VQConfig
from motionchat.vq.codec import ONEDNN_MIN_ROWS, MotionCodec


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    normalizer = Normalizer(rng.normal(size=263).astype(np.float32), rng.uniform(0.5, 2, 263).astype(np.float32))
    return MotionCodec(MotionVQVAE(VQConfig(codebook_size=32, code_dim=16, width=16, depth=1)).eval(), normalizer, HUMANML3D)


def raw(codec, frames, seed):
    return codec.normalizer.denormalize(np.random.default_rng(seed).normal(size=(frames, 263)).astype(np.float32))


def test_codes_are_normalised_features_through_the_tokenizer(codec):
    features = raw(codec, 37, 1)
    codes = codec.encode(features)
    expected = codec.vq.encode(torch.from_numpy(codec.normalizer.normalize(features))[None])[0].tolist()
    assert codes == expected and len(codes) == 10
    assert codec.frames_per_code == codec.vq.cfg.frames_per_code == 4


def test_batched_encoding_equals_one_at_a_time(codec):
    motions = [raw(codec, n, seed) for seed, n in enumerate([40, 13, 40, 5, 40, 13])]
    assert codec.encode_many(motions, batch_size=2) == [codec.encode(m) for m in motions]
    assert codec.encode_many([]) == []


def test_decoding_denormalises_and_trims_to_the_frames_asked_for(codec):
    codes = [3, 1, 4, 1, 5]
    whole = codec.decode(codes)
    assert whole.features.shape == (20, 263) and whole.joints.shape == (20, 22, 3)
    decoded = codec.vq.decode(torch.tensor([codes]))[0].numpy()
    np.testing.assert_allclose(whole.features, codec.normalizer.denormalize(decoded), rtol=0, atol=0)
    np.testing.assert_allclose(whole.joints, features_to_joints(whole.features, HUMANML3D), rtol=0, atol=0)
    cut = codec.decode(codes, 7)
    assert cut.features.shape == (7, 263) and np.array_equal(cut.features, whole.features[:7])
    assert codec.decode(codes, 500).features.shape == (20, 263)  # never longer than the codes hold


def test_batched_decoding_equals_one_at_a_time(codec):
    code_lists = [[3, 1, 4], [1, 5], [9, 2, 6], [5, 3, 5], [8, 9]]
    frames = [12, None, 9, 500, 5]
    batched = codec.decode_many(code_lists, frames, batch_size=2)
    for codes, n, motion in zip(code_lists, frames, batched):
        single = codec.decode(codes, n)
        np.testing.assert_allclose(motion.features, single.features, rtol=0, atol=1e-5)
        assert motion.joints.shape == (len(single.features), 22, 3)
    assert codec.decode_many([]) == []


def test_few_and_many_motions_give_the_same_codes_and_motions_whichever_kernels_run(codec):
    """Batches under ONEDNN_MIN_ROWS run torch's own convolutions, larger ones oneDNN's."""
    motions = [raw(codec, 40, seed) for seed in range(ONEDNN_MIN_ROWS)]
    assert codec.encode_many(motions) == [codec.encode(m) for m in motions]
    code_lists = [[seed % 32, 3, 7, 1] for seed in range(ONEDNN_MIN_ROWS)]
    for many, one in zip(codec.decode_many(code_lists), [codec.decode(c) for c in code_lists]):
        np.testing.assert_allclose(many.features, one.features, rtol=0, atol=1e-4)
    assert torch.backends.mkldnn.enabled  # restored after a small batch


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c.encode(np.zeros((10, 251), np.float32)), r"shape \(10, 251\); expected \(frames >= 1, 263\)"),
        (lambda c: c.encode(np.zeros((0, 263), np.float32)), "expected"),
        (lambda c: c.decode([]), "empty motion"),
        (lambda c: c.decode([1, 32]), "code 32 is outside the codebook"),
        (lambda c: c.decode([1], 0), "at least 1"),
        (lambda c: MotionCodec(c.vq, c.normalizer, KITML), "disagree on values per frame"),
    ],
)
def test_bad_input_is_a_one_line_error(codec, call, message):
    with pytest.raises(MotionchatError, match=message):
        call(codec)
