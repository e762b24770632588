"""Stage 2 on a tiny corpus: the encoded-dataset cache, the four example kinds, the run's outputs."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import sentencepiece as spm
import torch
from lm_stage_fixtures import (
    ENV,
    STAGE2_SMALL,
    as_set,
    kill_after_first_checkpoint,
    tiny_corpus,
    tiny_stage2_run,
    tiny_vq_run,
)
from test_distributed import LAUNCHERS, free_port
from test_stage1_resume import train_losses
from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

from motionchat.data.dataset import MotionClips
from motionchat.errors import MotionchatError
from motionchat.lm.model import load_lm
from motionchat.lm.tokenizer import train_sentencepiece
from motionchat.lm.vocab import motion_tokens_to_text
from motionchat.motion.normalizer import Normalizer
from trainer.checkpoint import list_checkpoints
from trainer.lm_inputs import load_codec_dir
from trainer.loop import state_sha256
from trainer.motion_codes import PIECES, cache_key, load_or_encode
from trainer.rundir import read_run_config
from trainer.stage2 import KINDS, PretrainExamples, Stage2Config, run_stage2


@pytest.fixture(scope="module")
def run():
    return tiny_stage2_run()


@pytest.fixture(scope="module")
def train_clips():
    return MotionClips(tiny_corpus(), "train", with_captions=True)


def test_the_run_leaves_a_language_model_the_tokenizer_and_a_report(run):
    lm = load_lm(run / "lm")
    assert lm.vocab.codebook_size == 32 and lm.model.config.d_model == 32
    assert (run / "vq.safetensors").read_bytes() == (tiny_vq_run() / "vq.safetensors").read_bytes()
    stats, source = Normalizer.from_dir(run), Normalizer.from_dir(tiny_vq_run())
    assert np.array_equal(stats.mean, source.mean) and np.array_equal(stats.std, source.std)
    report = json.loads((run / "eval.json").read_text())
    assert report["split"] == "test" and report["loss"] > 0 and 0 <= report["token_acc"] <= 1
    # the tiny preset trains on paired examples only (no span corruption), and reports their prompt gaps
    assert {"text_to_motion_loss", "motion_to_text_loss", "gap_t2m", "gap_m2t"} <= set(report)
    assert not {"text_spans_loss", "motion_spans_loss"} & set(report)
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["stage1"]["steps"] == 2 and provenance["stage2"]["steps"] == 3
    assert provenance["stage1"]["test"]["mpjpe_mm"] > 0 and provenance["stage2"]["test"] == report
    recorded = read_run_config(run)
    assert recorded["vq"] == str(tiny_vq_run().resolve()) and len(recorded["tokenizer_sha256"]) == 64
    # Every template's words were in the tokenizer's training text: no <unk> in any filled template.
    from motionchat.tasks.families import default_families

    unk = lm.tokenizer.unk_token_id
    for family in default_families().values():
        for template in family.instructions[:10]:
            text = re.sub(r"\{[a-z_]+\}", "", template.text)
            assert unk not in lm.tokenizer(text)["input_ids"], text


def test_codes_are_cached_once_and_keyed_by_what_they_depend_on(run, train_clips, tmp_path):
    codec = load_codec_dir(tiny_vq_run(), train_clips.skeleton, "--vq")
    codes, path, encoded = load_or_encode(train_clips, codec, tiny_vq_run() / "vq.safetensors", run)
    assert not encoded and path.parent == run / "codes"  # written by the run, read back here
    fresh, _, encoded = load_or_encode(train_clips, codec, tiny_vq_run() / "vq.safetensors", tmp_path, [run])
    assert not encoded and not (tmp_path / "codes").exists()  # found beside the stage-2 run
    assert fresh.clip_ids == train_clips.clip_ids and sorted(fresh.pieces) == sorted(PIECES)
    index = 3
    features = train_clips.features(index)
    assert codes.codes("full", index) == codec.encode(features)
    head = int(len(features) * 0.2)
    assert codes.codes("predict_head", index) == codec.encode(features[:head])
    assert codes.codes("predict_rest", index) == codec.encode(features[head:])
    keep = int(len(features) * 0.25)
    assert codes.codes("inbetween_tail", index) == codec.encode(features[-keep:])

    changed = tmp_path / "other_vq.safetensors"
    changed.write_bytes((tiny_vq_run() / "vq.safetensors").read_bytes() + b" ")
    assert cache_key(train_clips, changed, codec) != cache_key(train_clips, tiny_vq_run() / "vq.safetensors", codec)


def test_the_four_kinds_of_examples(run, train_clips):
    lm = load_lm(run / "lm")
    codec = load_codec_dir(tiny_vq_run(), train_clips.skeleton, "--vq")
    codes, _, _ = load_or_encode(train_clips, codec, tiny_vq_run() / "vq.safetensors", run)
    dataset = PretrainExamples(train_clips, codes, lm, Stage2Config())
    v, sentinel0 = lm.vocab, lm.tokenizer.convert_tokens_to_ids("<extra_id_0>")
    by_kind = {}
    for seed in range(200):
        by_kind.setdefault(dataset.kind(seed), (0, seed))
    assert sorted(by_kind) == sorted(KINDS)
    motion_string = lm.tokenizer(motion_tokens_to_text(codes.codes("full", 0), 32))["input_ids"]

    text_in, text_out = dataset[by_kind["text_spans"]].input_ids, dataset[by_kind["text_spans"]].labels
    assert sentinel0 in text_in and text_out[0] == sentinel0 and text_out[-1] == v.eos_id
    assert not set(text_in + text_out) & set(v.joint_ids())
    motion = dataset[by_kind["motion_spans"]]
    assert motion.input_ids[0] == v.som_id and motion.input_ids[-2:] == [v.eom_id, v.eos_id] and sentinel0 in motion.input_ids
    hidden = [i for i in motion.labels if v.is_motion_id(i)]
    shown = [i for i in motion.input_ids if v.is_motion_id(i)]
    assert len(hidden) + len(shown) == len(codes.codes("full", 0))
    # The supervised pairs hold the motion exactly as a prompt's token string is tokenised.
    assert dataset[by_kind["text_to_motion"]].labels == motion_string
    assert dataset[by_kind["motion_to_text"]].input_ids == motion_string
    caption = dataset[by_kind["text_to_motion"]].input_ids
    assert caption[-1] == v.eos_id and not set(caption) & set(v.joint_ids())
    with pytest.raises(ValueError, match="mix_"):
        Stage2Config(mix_text_spans=0, mix_motion_spans=0, mix_text_to_motion=0, mix_motion_to_text=0)


def test_the_base_preset_starts_from_a_local_t5_checkpoint(tmp_path):
    checkpoint = tmp_path / "tiny-t5"
    sp = spm.SentencePieceProcessor(model_proto=train_sentencepiece(["a person walks forward and waves", "someone jumps"] * 20, 100))
    tokenizer = T5Tokenizer(vocab=[(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())])
    torch.manual_seed(0)
    T5ForConditionalGeneration(T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4,
                                        decoder_start_token_id=0)).save_pretrained(checkpoint)  # fmt: skip
    tokenizer.save_pretrained(checkpoint)
    base = ["train.mixed_precision=no", "train.num_workers=0", "train.batch_size=4", "train.eval_every=0", "test_examples=8"]
    common = {"data": tiny_corpus(), "vq": tiny_vq_run(), "preset": "base", "config_file": None, "max_steps": 2, "resume": False, "force": False}
    with pytest.raises(MotionchatError, match="lm.pretrained_dir"):
        run_stage2(out=tmp_path / "refused", set_options=base, **common)
    run_stage2(out=tmp_path / "run", set_options=[*base, f"lm.pretrained_dir={checkpoint}"], **common)
    lm = load_lm(tmp_path / "run" / "lm")
    assert lm.vocab.text_size == len(tokenizer) and lm.vocab.codebook_size == 32
    assert lm.tokenizer("someone jumps")["input_ids"] == tokenizer("someone jumps")["input_ids"]
    assert lm.model.config.d_model == 32 and read_run_config(tmp_path / "run")["preset"] == "base"


STEPS = 10
RESUME_RUN = [*as_set([*STAGE2_SMALL, "train.steps=100", "train.checkpoint_every=4"]), "--max-steps", str(STEPS)]


def stage2(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", "stage2", *args]


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    common = ["--data", str(tiny_corpus()), "--vq", str(tiny_vq_run())]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(stage2(*common, "--out", str(whole), *RESUME_RUN), env=ENV, check=True, capture_output=True)
    process = kill_after_first_checkpoint(stage2(*common, "--out", str(killed), *RESUME_RUN), killed)
    assert process.returncode < 0 and not (killed / "lm").exists()
    assert 4 <= max(train_losses(killed), default=0) < STEPS, "the run must die between its first checkpoint and its end"
    resumed = subprocess.run(stage2("--out", str(killed), "--resume", "--max-steps", str(STEPS)), env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    expected, got = train_losses(whole), train_losses(killed)
    assert sorted(got) == sorted(expected) == list(range(1, STEPS + 1))
    assert all(abs(got[s] - expected[s]) <= 1e-5 for s in expected), (got, expected)
    assert state_sha256(load_lm(whole / "lm").model) == state_sha256(load_lm(killed / "lm").model)
    assert [s for s, _ in list_checkpoints(killed)] == [8, 10]


@pytest.mark.slow
def test_two_processes_under_torchrun(tmp_path):
    out = tmp_path / "run"
    command = LAUNCHERS["torchrun"](free_port()) + [
        "-m", "trainer", "stage2", "--data", str(tiny_corpus()), "--vq", str(tiny_vq_run()), "--out", str(out),
        *as_set([*STAGE2_SMALL, "train.batch_size=8"]), "--max-steps", "3",
    ]  # fmt: skip
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es)" in result.stderr
    hashes = json.loads((out / "ranks.json").read_text())["weights_sha256"]
    assert len(hashes) == 2 and hashes[0] == hashes[1] == state_sha256(load_lm(out / "lm").model)
