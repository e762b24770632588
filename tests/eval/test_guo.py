"""Guo et al.'s evaluator: published parameter names and shapes, loading a checkpoint laid out like
the published one (random weights), GloVe handling without trusting pickles."""

import pickle

import numpy as np
import pytest
import torch

from eval.guo import (
    GLOVE_FILES,
    POS_TAGS,
    GuoConfig,
    GuoEvaluator,
    MotionEncoderBiGRUCo,
    MovementConvEncoder,
    TextEncoderBiGRUCo,
    convert_glove,
    load_glove,
)
from motionchat.data.dataset import Caption, read_captions
from motionchat.errors import MotionchatError
from motionchat.motion.arrays import load_npy_array
from motionchat.motion.normalizer import Normalizer


def _gru(prefix, inp, hidden):
    shapes = {}
    for suffix in ("", "_reverse"):
        shapes.update({
            f"{prefix}.weight_ih_l0{suffix}": (3 * hidden, inp), f"{prefix}.weight_hh_l0{suffix}": (3 * hidden, hidden),
            f"{prefix}.bias_ih_l0{suffix}": (3 * hidden,), f"{prefix}.bias_hh_l0{suffix}": (3 * hidden,),
        })  # fmt: skip
    return shapes


def _head(hidden, out):
    return {
        "output_net.0.weight": (hidden, 2 * hidden), "output_net.0.bias": (hidden,), "output_net.1.weight": (hidden,),
        "output_net.1.bias": (hidden,), "output_net.3.weight": (out, hidden), "output_net.3.bias": (out,),
    }  # fmt: skip


# What the published HumanML3D checkpoint holds (text_mot_match/model/finest.tar).
PUBLISHED = {
    "movement_encoder": {
        "main.0.weight": (512, 259, 4), "main.0.bias": (512,), "main.3.weight": (512, 512, 4), "main.3.bias": (512,),
        "out_net.weight": (512, 512), "out_net.bias": (512,),
    },
    "motion_encoder": {
        "input_emb.weight": (1024, 512), "input_emb.bias": (1024,), "hidden": (2, 1, 1024), **_gru("gru", 1024, 1024),
        **_head(1024, 512),
    },
    "text_encoder": {
        "pos_emb.weight": (300, 15), "pos_emb.bias": (300,), "input_emb.weight": (512, 300), "input_emb.bias": (512,),
        "hidden": (2, 1, 512), **_gru("gru", 512, 512), **_head(512, 512),
    },
}  # fmt: skip
MODULES = {"movement_encoder": MovementConvEncoder, "motion_encoder": MotionEncoderBiGRUCo, "text_encoder": TextEncoderBiGRUCo}
WORDS = ["sos", "eos", "unk", "a", "person", "walk", "forward", "wave", "left", "hand", "the"]


def test_parameter_names_and_shapes_match_the_published_checkpoint():
    cfg = GuoConfig()
    for key, module in MODULES.items():
        state = {name: tuple(t.shape) for name, t in module(cfg).state_dict().items()}
        assert state == PUBLISHED[key], key


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A checkpoint and GloVe folder in the published layout, filled with random numbers."""
    root = tmp_path_factory.mktemp("t2m")
    torch.manual_seed(0)
    checkpoint = {key: module(GuoConfig()).state_dict() for key, module in MODULES.items()}
    for state in checkpoint.values():
        for tensor in state.values():
            tensor.normal_(0, 0.05)
    checkpoint.update(epoch=7, iter=1000)
    path = root / "text_mot_match" / "model" / "finest.tar"
    path.parent.mkdir(parents=True)
    torch.save(checkpoint, path)
    glove = root / "glove"
    glove.mkdir()
    rng = np.random.default_rng(0)
    np.save(glove / GLOVE_FILES[0], rng.normal(size=(len(WORDS), 300)).astype(np.float32))
    (glove / GLOVE_FILES[1]).write_bytes(pickle.dumps(WORDS))
    (glove / GLOVE_FILES[2]).write_bytes(pickle.dumps({w: i for i, w in enumerate(WORDS)}))
    stats = Normalizer(rng.normal(size=263), rng.uniform(0.5, 1.5, size=263))
    return path, glove, stats


def test_loads_the_published_layout_and_embeds(published, tmp_path):
    checkpoint, glove_dir, stats = published
    evaluator = GuoEvaluator(checkpoint, load_glove(glove_dir, allow_pickle=True), stats)
    rng = np.random.default_rng(1)
    motions = [rng.normal(size=(n, 263)).astype(np.float32) for n in (40, 61, 196)]
    emb = evaluator.embed_motions(motions)
    assert emb.shape == (3, 512) and np.isfinite(emb).all()
    # Batching does not change a motion's embedding (packed GRU, fixed padding to 196 frames).
    alone = np.concatenate([evaluator.embed_motions([m]) for m in motions])
    np.testing.assert_allclose(emb, alone, atol=1e-5)
    # A frame past the last multiple of 4 is dropped, as in the protocol.
    np.testing.assert_allclose(evaluator.embed_motions([motions[1][:60]]), emb[1:2], atol=1e-5)

    tagged = Caption("a person walks forward", ("a/DET", "person/NOUN", "walk/VERB", "forward/ADV"), 0.0, 0.0)
    texts = evaluator.embed_texts([tagged, "a person waves the left hand", "qwerty"])
    assert texts.shape == (3, 512)
    # VIP words override the tagged POS ('forward' becomes Loc_VIP), unknown words become unk/OTHER.
    vectors, onehots, length = evaluator._word_inputs(("forward/ADV", "qwerty/NOUN"))
    assert length == 4 and vectors.shape == (22, 300)
    assert onehots[1].argmax() == 9 and onehots[2].argmax() == 14
    np.testing.assert_array_equal(vectors[2], evaluator.glove.vector("unk"))

    # The pickle-free .npz gives the same evaluator.
    npz = convert_glove(glove_dir, tmp_path / "glove.npz")
    again = GuoEvaluator(checkpoint, load_glove(npz), stats)
    np.testing.assert_allclose(again.embed_texts([tagged]), texts[:1], atol=1e-6)


def test_glove_pickles_need_an_opt_in_and_must_be_plain_data(published, tmp_path):
    _, glove_dir, _ = published
    with pytest.raises(MotionchatError, match="trust-glove-pickles"):
        load_glove(glove_dir)
    evil = tmp_path / "evil"
    evil.mkdir()
    for name in GLOVE_FILES:
        (evil / name).write_bytes((glove_dir / name).read_bytes())

    class Boom:
        def __reduce__(self):
            return (print, ("should never run",))

    (evil / GLOVE_FILES[1]).write_bytes(pickle.dumps(Boom()))
    with pytest.raises(MotionchatError, match="refusing"):
        load_glove(evil, allow_pickle=True)


def test_bad_checkpoints_are_one_line_errors(published, tmp_path):
    checkpoint, glove_dir, stats = published
    glove = load_glove(glove_dir, allow_pickle=True)
    with pytest.raises(MotionchatError, match="not found"):
        GuoEvaluator(tmp_path / "missing.tar", glove, stats)
    partial = tmp_path / "partial.tar"
    torch.save({"text_encoder": {}}, partial)
    with pytest.raises(MotionchatError, match="expected entries"):
        GuoEvaluator(partial, glove, stats)
    kit_stats = Normalizer(np.zeros(251), np.ones(251))  # 251-d KIT features against the 263-d checkpoint
    with pytest.raises(MotionchatError, match="movement_encoder does not fit"):
        GuoEvaluator(checkpoint, glove, kit_stats)
    unsafe = tmp_path / "unsafe.tar"
    torch.save({"text_encoder": Caption("x", (), 0.0, 0.0)}, unsafe)  # an arbitrary class: weights_only refuses it
    with pytest.raises(MotionchatError, match="plain-weights"):
        GuoEvaluator(unsafe, glove, stats)


def test_real_humanml3d_captions_and_features(published, realdata):
    checkpoint, glove_dir, stats = published
    evaluator = GuoEvaluator(checkpoint, load_glove(glove_dir, allow_pickle=True), stats)
    caption = read_captions(realdata("humanml3d/texts/000000.txt"))[0]  # a man kicks ... with his left leg.
    vectors, onehots, length = evaluator._word_inputs(caption.tokens)
    assert length == len(caption.tokens) + 2
    tags = [POS_TAGS[i] for i in onehots[:length].argmax(1)]
    # "a" is in the small test GloVe (tag kept), "man" is not (unk/OTHER), "left" is a location word.
    assert tags[0] == "OTHER" and tags[1] == "DET" and tags[2] == "OTHER"
    assert tags[caption.tokens.index("left/ADJ") + 1] == "Loc_VIP"
    features = load_npy_array(realdata("humanml3d/new_joint_vecs/000000.npy"))  # float64, 116 frames
    assert evaluator.embed_motions([features]).shape == (1, 512)
