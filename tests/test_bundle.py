"""The model bundle: exact save/load round trip, atomic replacement, one-line errors for bad bundles."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from random_bundle import random_parts, save_random_bundle

from motionchat.bundle import CARD_FILE, CONFIG_FILE, PARTS, BundleConfig, load_bundle, read_bundle_config, save_bundle
from motionchat.errors import MotionchatError
from motionchat.motion.skeleton import HUMANML3D
from motionchat.tasks.families import default_families
from motionchat.vq import MotionVQVAE, VQConfig, save_vq

def assert_same_state(a: torch.nn.Module, b: torch.nn.Module, skip: tuple[str, ...] = ()) -> None:
    """Equal state dicts; `skip`: names only one side has (transformers' aliases of the embedding)."""
    sa, sb = ({k: v for k, v in m.state_dict().items() if k not in skip} for m in (a, b))
    assert sa.keys() == sb.keys()
    for name in sa:
        torch.testing.assert_close(sa[name], sb[name], rtol=0, atol=0, msg=name)


def test_exact_round_trip(tmp_path):
    original = random_parts()
    save_bundle(tmp_path / "b", card="# test model\n", presets={"stage1": "tiny"}, training={"steps": 3}, **original)
    bundle = load_bundle(tmp_path / "b")

    assert_same_state(bundle.vq, original["vq"])
    aliases = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
    assert_same_state(bundle.lm.model, original["lm"].model, skip=aliases)
    assert bundle.vq.cfg == original["vq"].cfg and not bundle.vq.training and not bundle.lm.model.training
    assert np.array_equal(bundle.normalizer.mean, original["normalizer"].mean)
    assert np.array_equal(bundle.normalizer.std, original["normalizer"].std)
    assert bundle.lm.vocab == original["lm"].vocab == bundle.config.vocab_layout
    text = "describe <som><motion_id_3><motion_id_31><eom> please"
    assert bundle.lm.tokenizer(text)["input_ids"] == original["lm"].tokenizer(text)["input_ids"]
    assert bundle.families == dict(default_families()) and bundle.skeleton is HUMANML3D and bundle.fps == 20.0
    assert bundle.config == BundleConfig(
        skeleton="humanml3d", fps=20.0, feature_dim=263, frames_per_code=4, codebook_size=32, vocab_layout=original["lm"].vocab,
        families=tuple(sorted(default_families())), presets={"stage1": "tiny"}, training={"steps": 3},
    )  # fmt: skip
    assert read_bundle_config(tmp_path / "b") == bundle.config
    assert (tmp_path / "b" / CARD_FILE).read_text() == "# test model\n"

    # The documented tree, and nothing that would need unpickling.
    names = {p.name for p in (tmp_path / "b").iterdir()}
    assert names == set(PARTS) | {CARD_FILE}
    assert not [p for p in (tmp_path / "b").rglob("*") if p.suffix in (".bin", ".pt", ".pkl", ".pickle")]
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no staging folder left behind

    # The codec of a bundle turns features into codes and back.
    features = original["normalizer"].denormalize(np.random.default_rng(1).normal(size=(30, 263)).astype(np.float32))
    codes = bundle.codec.encode(features)
    assert len(codes) == 8 and bundle.codec.frames_per_code == bundle.config.frames_per_code
    decoded = bundle.codec.decode(codes, 30)
    assert decoded.features.shape == (30, 263) and decoded.joints.shape == (30, 22, 3)


def test_sampling_follows_the_settings_the_bundle_records(tmp_path):
    save_bundle(tmp_path / "plain", card="# t\n", presets={}, training={}, **random_parts())
    save_bundle(tmp_path / "tuned", card="# t\n", presets={}, training={"guidance": 2, "temperature": 0.6}, **random_parts())
    plain = load_bundle(tmp_path / "plain").sampling(3, seed=5)
    assert (plain.do_sample, plain.top_k, plain.temperature, plain.guidance, plain.num_samples, plain.seed) == (True, 50, 1.0, 1.0, 3, 5)
    tuned = load_bundle(tmp_path / "tuned")
    assert (tuned.sampling(1, 0).temperature, tuned.sampling(1, 0).guidance) == (0.6, 2.0)
    assert tuned.sampling(1, 0, guidance=3.0).guidance == 3.0
    # Text answers keep the motion settings unless the bundle records their own.
    assert (tuned.sampling(1, 0, output="text").temperature, tuned.sampling(1, 0, output="text").guidance) == (0.6, 2.0)


def test_text_answers_follow_their_own_recorded_settings_unless_the_user_sets_one(tmp_path):
    training = {"guidance": 2, "temperature": 0.6, "text_guidance": 1, "text_temperature": 0.1}
    save_bundle(tmp_path / "b", card="# t\n", presets={}, training=training, **random_parts())
    bundle = load_bundle(tmp_path / "b")
    text, motion = bundle.sampling(2, 0, output="text"), bundle.sampling(2, 0, output="motion")
    assert (text.temperature, text.guidance, motion.temperature, motion.guidance) == (0.1, 1.0, 0.6, 2.0)
    chosen = bundle.sampling(2, 0, guidance=3.0, temperature=0.8, output="text")
    assert (chosen.temperature, chosen.guidance) == (0.8, 3.0)


def test_saving_again_replaces_the_bundle_whole_and_a_failed_save_changes_nothing(tmp_path):
    target = save_random_bundle(tmp_path / "b")
    (target / "stray.txt").write_text("left from before")
    save_random_bundle(target, **random_parts(codebook_size=16, seed=5))
    assert not (target / "stray.txt").exists() and load_bundle(target).config.codebook_size == 16

    before = {p: p.read_bytes() for p in target.rglob("*") if p.is_file()}
    broken = tmp_path / "broken_templates"
    broken.mkdir()
    (broken / "t2m.json").write_text("{not json")
    with pytest.raises(MotionchatError, match="not valid JSON"):
        save_random_bundle(target, templates_dir=broken)
    assert {p: p.read_bytes() for p in target.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "broken_templates"]
    with pytest.raises(ValueError, match="codes"):
        # a tokenizer that does not fit the vocabulary
        save_random_bundle(tmp_path / "c", vq=random_parts(codebook_size=16)["vq"])


def damage(kind: str, root: Path, tmp_path: Path) -> None:
    config_path = root / CONFIG_FILE
    config = json.loads(config_path.read_text())
    if kind == "no config":
        config_path.unlink()
    elif kind == "missing part":
        shutil.rmtree(root / "lm")
    elif kind == "newer":
        config_path.write_text(json.dumps({**config, "format_version": 99}))
    elif kind == "older":
        config_path.write_text(json.dumps({**config, "format_version": 0}))
    elif kind == "foreign":
        config_path.write_text(json.dumps({"model_type": "t5"}))
    elif kind == "lacks key":
        config_path.write_text(json.dumps({k: v for k, v in config.items() if k != "fps"}))
    elif kind == "other tokenizer":
        vq = MotionVQVAE(VQConfig(codebook_size=64, code_dim=16, width=16, depth=1))
        save_vq(vq, root / "vq.safetensors")
    elif kind == "other statistics":
        np.save(root / "mean.npy", np.zeros(251, np.float32))
        np.save(root / "std.npy", np.ones(251, np.float32))
    elif kind == "families":
        (root / "templates" / "diff.json").unlink()
    elif kind == "pickled stats":
        np.save(root / "mean.npy", np.array([object()]), allow_pickle=True)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("no config", "not a model bundle (no config.json)"),
        ("missing part", "incomplete bundle, 'lm' is missing"),
        ("newer", "bundle format version 99, this motionchat reads version 1; upgrade motionchat"),
        ("older", "re-save the bundle with this version"),
        ("foreign", "not a motionchat bundle config"),
        ("lacks key", "lacks 'fps'"),
        ("other tokenizer", "the tokenizer has 64 codes of 4 frames, the config says 32 of 4"),
        ("other statistics", "values per frame differ"),
        ("families", "templates/ holds families"),
        ("pickled stats", "mean.npy"),
    ],
)
def test_a_bad_bundle_is_one_line_naming_it(tmp_path, kind, message):
    root = save_random_bundle(tmp_path / "b")
    damage(kind, root, tmp_path)
    with pytest.raises(MotionchatError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        load_bundle(root)
    assert "\n" not in str(err.value) and str(root) in str(err.value)


def test_a_missing_folder_says_what_to_pass(tmp_path):
    with pytest.raises(MotionchatError, match="no such folder; pass a model bundle"):
        load_bundle(tmp_path / "nowhere")
