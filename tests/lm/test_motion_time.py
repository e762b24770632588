"""The motion time table (motionchat/lm/motion_time.py): where each code sits in its clip, the same
in training's forward pass, the transformers-free encoder and the step-by-step decoder; saved and
loaded with the model; a zero table changes nothing."""

import dataclasses

import pytest
import torch
from lm_fixtures import CODEBOOK, SMALL, captions

from test_t5 import _TransformersForward

from motionchat.lm import generation
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.lm.model import build_lm, load_lm
from motionchat.lm.motion_time import MotionClock, add_motion_time, motion_time
from motionchat.lm.runtime import load_runtime_lm
from motionchat.lm.storage import save_lm
from motionchat.lm.t5 import encoder_output, start_decoder


def _timed_lm(seed: int = 0):
    lm = build_lm(dataclasses.replace(SMALL, motion_time=True), CODEBOOK, captions(), seed=seed)
    with torch.no_grad():  # a trained-looking table: rows differ, so a wrong index changes the numbers
        table = lm.model.shared.time.weight
        table[1:] = torch.randn(table[1:].shape, generator=torch.Generator().manual_seed(seed)) * 0.5
    return lm


def _clip(vocab, codes):
    return [vocab.som_id, *(vocab.motion_start + c for c in codes), vocab.eom_id]


def test_codes_count_from_their_clips_start_and_the_end_carries_the_length():
    lm = _timed_lm()
    v = lm.vocab
    ids = torch.tensor([[5, *_clip(v, [3, 4, 4]), v.sep_id, *_clip(v, [1]), v.eos_id]])
    # text 0; <som> 0; codes 1, 2, 3; <eom> after 3 codes 4; <sep> 0; <som> 0; code 1; <eom> 2; </s> 0
    assert motion_time(ids, v, rows=51).tolist() == [[0, 0, 1, 2, 3, 4, 0, 0, 1, 2, 0]]
    long = torch.tensor([_clip(v, [0] * 60)])
    assert motion_time(long, v, rows=51)[0, -2:].tolist() == [50, 50]  # past the table: its last row
    both = torch.cat([torch.nn.functional.pad(ids, (0, long.shape[1] - ids.shape[1]), value=v.pad_id), long])
    clock = MotionClock(v, rows=51, batch=2)  # the decoding loop's column-by-column count: the same rows
    assert torch.stack([clock.next(both[:, t]) for t in range(both.shape[1])], 1).tolist() == motion_time(both, v, 51).tolist()


def test_the_table_adds_to_codes_only_and_the_head_stays_tied():
    lm = build_lm(SMALL, CODEBOOK, captions(), seed=0)
    v = lm.vocab
    text = torch.tensor([[7, 8, 9, v.eos_id]])
    ids = torch.tensor([[7, *_clip(v, [1, 2, 3]), v.eos_id]])
    with torch.no_grad():
        before = [lm.model(input_ids=x, decoder_input_ids=x).logits for x in (text, ids)]
        table = add_motion_time(lm.model, v).time.weight
        assert torch.equal(lm.model(input_ids=text, decoder_input_ids=text).logits, before[0])  # no code, no change
        assert not torch.equal(lm.model(input_ids=ids, decoder_input_ids=ids).logits, before[1])
        distances = torch.cdist(table[1:], table[1:]) + torch.eye(len(table) - 1)
        assert not table[0].any() and distances.min() > 0.1  # every index its own row
        table.zero_()  # a zero table is the plain model
        assert torch.equal(lm.model(input_ids=ids, decoder_input_ids=ids).logits, before[1])
    assert lm.model.lm_head.weight is lm.model.shared.weight
    assert lm.model.encoder.embed_tokens is lm.model.shared is lm.model.decoder.embed_tokens


def test_saved_table_loads_into_both_backbones(tmp_path):
    lm = _timed_lm()
    save_lm(tmp_path / "lm", lm.model, lm.tokenizer, lm.vocab)
    again = load_lm(tmp_path / "lm")
    assert torch.equal(again.model.shared.time.weight, lm.model.shared.time.weight)
    assert again.model.lm_head.weight is again.model.shared.weight
    runtime = load_runtime_lm(tmp_path / "lm")
    assert torch.equal(runtime.model.shared.time.weight, lm.model.shared.time.weight)


def test_step_by_step_decoding_gives_the_teacher_forced_logits(tmp_path):
    """Training's forward pass (times from the whole sequence) and the decoder fed one token at a
    time (times from the tokens so far) agree, on either backbone."""
    lm = _timed_lm()
    v = lm.vocab
    save_lm(tmp_path / "lm", lm.model, lm.tokenizer, lm.vocab)
    runtime = load_runtime_lm(tmp_path / "lm").model
    prompt = torch.tensor([[9, 12, *_clip(v, [5, 6, 7, 8]), v.eos_id]])
    decoder_ids = torch.tensor([[v.pad_id, 11, *_clip(v, [1, 2, 3, 4, 5, 6])]])  # a tag, then a motion
    mask = torch.ones_like(prompt)
    with torch.no_grad():
        reference = lm.model(input_ids=prompt, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    for model in (runtime, lm.model):
        hidden = encoder_output(model, {"input_ids": prompt, "attention_mask": mask}, v)
        decoder = start_decoder(model, hidden, mask, max_steps=decoder_ids.shape[1])
        times = motion_time(decoder_ids, v, model.shared.time.weight.shape[0])
        steps = torch.stack([decoder.step(decoder_ids[:, t], times=times[:, t]) for t in range(decoder_ids.shape[1])], 1)
        torch.testing.assert_close(steps, reference, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="vocabulary layout"):
        encoder_output(runtime, {"input_ids": prompt, "attention_mask": mask})


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_answers_are_the_same_from_both_backbones_and_one_by_one_or_batched(tmp_path, guidance, monkeypatch):
    lm = _timed_lm()
    v = lm.vocab
    save_lm(tmp_path / "lm", lm.model, lm.tokenizer, v)
    runtime = load_runtime_lm(tmp_path / "lm")
    clip = "".join(lm.tokenizer.convert_ids_to_tokens(_clip(v, [3, 1, 4, 1, 5])))
    prompts = [f"walk {clip}", "a person jumps twice", f"describe {clip}"] * 6  # 18 rows: the wide path
    outputs = ["motion", "motion", "text"] * 6
    config = DecodingConfig(do_sample=True, seed=4, guidance=guidance)
    batched = generate(runtime.model, runtime.tokenizer, v, prompts, outputs, config, answer_prefixes=["tag:"] * 18)
    trained = generate(lm.model, lm.tokenizer, v, prompts, outputs, config, answer_prefixes=["tag:"] * 18)
    alone = [generate(runtime.model, runtime.tokenizer, v, [p], [o], config, answer_prefixes=["tag:"])[0] for p, o in zip(prompts[:3], outputs[:3])]
    tokens = lambda answers: [a[0].token_ids for a in answers]  # noqa: E731
    assert tokens(batched) == tokens(trained)
    assert tokens(batched[:3]) == tokens(alone)
    # transformers' full forward pass at every step (times from all ids so far), no cache
    monkeypatch.setattr(generation, "start_decoder", _TransformersForward)
    assert tokens(generate(lm.model, lm.tokenizer, v, prompts, outputs, config, answer_prefixes=["tag:"] * 18)) == tokens(batched)


def test_a_table_in_the_config_but_not_in_the_weights_is_named(tmp_path):
    from safetensors.torch import load_file, save_file

    from motionchat.errors import MotionchatError

    lm = _timed_lm()
    save_lm(tmp_path / "lm", lm.model, lm.tokenizer, lm.vocab)
    weights = tmp_path / "lm" / "model.safetensors"
    state = load_file(weights)
    del state["shared.time.weight"]
    save_file(state, weights, metadata={"format": "pt"})
    with pytest.raises(MotionchatError, match="motion time table"):
        load_lm(tmp_path / "lm")
    with pytest.raises(MotionchatError, match="shared.time.weight"):
        load_runtime_lm(tmp_path / "lm")
