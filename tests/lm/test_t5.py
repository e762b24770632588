"""The transformers-free T5 (motionchat/lm/t5.py, runtime.py) computes what transformers computes:
the same encoder output, step logits, greedy tokens and, on a small random bundle, the same sampled
answers for every task family."""

import random
import subprocess
import sys

import pytest
import torch
from lm_fixtures import CODEBOOK, small_lm
from transformers import (
    LogitsProcessorList,
    T5Config,
    T5ForConditionalGeneration,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from motionchat.lm import generation, t5
from motionchat.errors import MotionchatError
from motionchat.lm import warpers
from motionchat.lm.constraints import OutputConstraint, banned_in_text
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.lm.runtime import load_runtime_lm
from motionchat.lm.model import load_lm
from motionchat.lm.storage import save_lm
from motionchat.lm.t5 import WIDE_ROWS, T5, encoder_output, load_t5, start_decoder
from motionchat.lm.vocab import VocabLayout
from motionchat.tasks.examples import TaskValues, build_prompt
from motionchat.tasks.families import load_families

V = 120


def _model(flan_like: bool, decoder_layers: int = 3) -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=V, d_model=48, d_kv=12, d_ff=96, num_layers=2, num_decoder_layers=decoder_layers, num_heads=4,
        feed_forward_proj="gated-gelu" if flan_like else "relu",
        # transformers 5 always ties; False means "do not scale the decoder output" (T5 1.1 / flan)
        tie_word_embeddings=not flan_like,
        relative_attention_num_buckets=8, relative_attention_max_distance=16, decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    if flan_like:  # a separate output head, as flan-t5 checkpoints have
        model.set_output_embeddings(torch.nn.Linear(48, V, bias=False))
    for p in model.parameters():  # norms away from 1, so that folding them into projections is tested
        if p.dim() == 1:
            torch.nn.init.uniform_(p, 0.5, 1.5)
    return model.eval()


def _inputs():
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(2, V, (3, 9), generator=generator)
    mask = torch.ones_like(input_ids)
    mask[1, 6:] = 0  # a padded prompt
    mask[2, 3:] = 0
    decoder_ids = torch.cat([torch.zeros(3, 1, dtype=torch.long), torch.randint(2, V, (3, 39), generator=generator)], 1)
    return input_ids, mask, decoder_ids


@pytest.mark.parametrize("flan_like", [False, True])
def test_saved_weights_load_into_our_modules_and_give_transformers_logits(flan_like, tmp_path):
    hf = _model(flan_like)
    assert (hf.lm_head.weight is hf.shared.weight) != flan_like
    hf.save_pretrained(tmp_path, safe_serialization=True)
    ours = load_t5(tmp_path)
    assert isinstance(ours, T5) and not ours.training
    assert (ours.lm_head.weight is ours.shared.weight) != flan_like
    input_ids, mask, decoder_ids = _inputs()
    with torch.no_grad():
        reference = hf(input_ids=input_ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        hf_hidden = hf.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
    batch = {"input_ids": input_ids, "attention_mask": mask}
    hidden = encoder_output(ours, batch)
    real = mask.bool()  # the padding's outputs are 0 here (they only ever meet masked attention)
    torch.testing.assert_close(hidden[real], hf_hidden[real], atol=1e-6, rtol=1e-6)
    assert not hidden[~real].any()
    for model in (ours, hf):  # the fused decoder runs on either backbone
        decoder = start_decoder(model, hidden, mask, max_steps=decoder_ids.shape[1])
        steps = torch.stack([decoder.step(decoder_ids[:, t]) for t in range(decoder_ids.shape[1])], 1)
        # 40 positions: beyond relative_attention_max_distance, so the log-spaced buckets are exercised
        torch.testing.assert_close(steps, reference, atol=1e-5, rtol=1e-5)
        with pytest.raises(IndexError):
            decoder.step(decoder_ids[:, 0])


def test_fused_weights_follow_changed_parameters(tmp_path):
    _model(flan_like=False).save_pretrained(tmp_path, safe_serialization=True)
    model = load_t5(tmp_path)
    first = model.fused_weights()
    assert model.fused_weights() is first
    with torch.no_grad():
        model.decoder.block[0].layer[0].layer_norm.weight.mul_(2)
    assert model.fused_weights() is not first


def test_greedy_loop_equals_transformers_generate_with_the_same_constraint():
    from motionchat.lm.generation import _decode

    # equal depths: transformers 5.23's generate sizes its cache by the encoder depth
    model = _model(flan_like=True, decoder_layers=2)
    vocab = VocabLayout(text_size=80, codebook_size=36, motion_start=80, som_id=116, eom_id=117, mask_id=118,
                        sep_id=119, pad_id=0, eos_id=1)
    input_ids = torch.randint(2, 80, (4, 7), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(input_ids)
    mask[3, 4:] = 0
    kinds = ["motion", "text", "motion", "text"]
    min_codes, max_codes = [1, 1, 5, 1], [12, 12, 5, 12]

    def constraint():
        return OutputConstraint(vocab, V, kinds, min_codes, max_codes, text_banned=[0, 2, *range(80, 120)])

    budget = 15
    with torch.no_grad():
        reference = model.generate(
            input_ids=input_ids, attention_mask=mask, logits_processor=LogitsProcessorList([constraint()]),
            do_sample=False, max_new_tokens=budget, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
        )
        encoder_hidden = model.get_encoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
        ours = _decode(model, encoder_hidden, mask, vocab, [budget] * 4, [constraint()], uniforms=None)
    for row, ids in zip(reference.tolist(), ours):
        assert row[1 : 1 + len(ids)] == ids
        assert all(t == 0 for t in row[1 + len(ids) :])  # generate pads finished rows
    assert ours[2][0] == vocab.som_id and len(ours[2]) == 1 + 5 + 2  # <som> 5 codes <eom> </s>


def test_warpers_equal_transformers_warpers():
    scores = torch.randn(6, 50, generator=torch.Generator().manual_seed(3))
    scores[0, :10] = scores[0, 10]  # ties at the cut
    scores[1, 5:] = -float("inf")  # fewer finite scores than k
    pairs = [
        (warpers.TemperatureLogitsWarper(0.7), TemperatureLogitsWarper(0.7)),
        (warpers.TopKLogitsWarper(8), TopKLogitsWarper(8)),
        (warpers.TopKLogitsWarper(80), TopKLogitsWarper(80)),
        (warpers.TopPLogitsWarper(0.9), TopPLogitsWarper(0.9)),
        (warpers.TopPLogitsWarper(0.01), TopPLogitsWarper(0.01)),
    ]
    for ours, theirs in pairs:
        assert torch.equal(ours(None, scores), theirs(None, scores)), type(ours).__name__


@pytest.fixture(scope="module")
def both_loaded(tmp_path_factory):
    """A small random language model saved as in a bundle, loaded both ways: (transformers, ours)."""
    directory = tmp_path_factory.mktemp("lm") / "lm"
    save_lm(directory, *small_lm(seed=3))
    return load_lm(directory), load_runtime_lm(directory)


def _family_prompts(codebook_size: int) -> tuple[list[str], list[str]]:
    """Two prompts of every task family, built as chat builds them."""
    codes = random.Random(0)
    prompts, outputs = [], []
    for fid, family in sorted(load_families().items()):
        for k in range(2):
            motion = [codes.randrange(codebook_size) for _ in range(6 + 5 * k)]
            values = TaskValues(
                caption="a person waves with the right hand", captions=["a person jumps", "someone sits down"],
                motion=motion, motion_b=motion[::-1], frames=40 + 20 * k, edit="make it slower",
            )
            prompts.append(build_prompt(family, values, random.Random(f"{fid}{k}"), codebook_size=codebook_size))
            outputs.append(family.output)
    return prompts, outputs


def test_tokenizers_agree(both_loaded):
    hf, ours = both_loaded
    prompts, _ = _family_prompts(CODEBOOK)
    prompts += ["", "  odd   spacing ", "ünïcödé ﬁ <extra_id_3> text", "<som><motion_id_1><eom><sep><mask>"]
    for name in ("input_ids", "attention_mask"):
        assert torch.equal(hf.tokenizer(prompts, padding=True, return_tensors="pt")[name],
                           ours.tokenizer(prompts, padding=True, return_tensors="pt")[name])  # fmt: skip
    assert hf.tokenizer(prompts[0])["input_ids"] == ours.tokenizer(prompts[0])["input_ids"]
    assert len(hf.tokenizer) == len(ours.tokenizer) == hf.vocab.size
    assert banned_in_text(hf.tokenizer, hf.vocab) == banned_in_text(ours.tokenizer, ours.vocab)
    ids = list(range(len(ours.tokenizer)))
    for skip in (False, True):
        assert ours.tokenizer.decode(ids, skip_special_tokens=skip) == hf.tokenizer.decode(ids, skip_special_tokens=skip)
    assert ours.tokenizer.convert_ids_to_tokens(ids) == hf.tokenizer.convert_ids_to_tokens(ids)


class _TransformersForward:
    """Reference decoder: transformers' full forward over every token so far (no cache), last
    position; a narrowed head is a selection of the full logits, a fed token only joins the ids,
    precomputed first-layer rows are ignored. A model with a motion time table places the codes
    itself from the ids (its embedding module), so it is not `timed`: it needs no time rows."""

    timed = False

    def __init__(self, model, encoder_hidden, encoder_mask, max_steps):
        self.model, self.hidden, self.mask, self.ids = model, encoder_hidden, encoder_mask, None

    def feed(self, tokens, first=None, times=None):
        self.ids = tokens[:, None] if self.ids is None else torch.cat([self.ids, tokens[:, None]], 1)

    def head_rows(self, columns):
        return columns

    def first_layer_rows(self, ids):
        return torch.zeros(len(ids), 0)  # not used: this decoder runs every layer itself

    def step(self, tokens, head=None, first=None, times=None):
        self.feed(tokens)
        out = self.model(encoder_outputs=(self.hidden,), attention_mask=self.mask, decoder_input_ids=self.ids)
        return out.logits[:, -1] if head is None else out.logits[:, -1, head]


@pytest.mark.parametrize("config", [
    DecodingConfig(do_sample=True, top_k=50, num_samples=2, seed=0),  # what chat uses
    DecodingConfig(do_sample=True, temperature=0.8, top_p=0.9, num_samples=2, seed=7, max_text_tokens=20),
    DecodingConfig(max_motion_frames=80, max_text_tokens=20),  # greedy
], ids=["chat", "warped", "greedy"])
def test_answers_are_those_of_transformers_on_every_family(both_loaded, config, monkeypatch):
    hf, ours = both_loaded
    prompts, outputs = _family_prompts(ours.vocab.codebook_size)
    answers = generate(ours.model, ours.tokenizer, ours.vocab, prompts, outputs, config)
    assert answers == generate(hf.model, hf.tokenizer, hf.vocab, prompts, outputs, config)
    monkeypatch.setattr(generation, "start_decoder", _TransformersForward)
    assert answers == generate(hf.model, hf.tokenizer, hf.vocab, prompts, outputs, config)
    assert {a.ok for per_prompt in answers for a in per_prompt} >= {True}  # not all failures


def test_answering_never_imports_transformers_nor_the_tokenizers_library():
    code = (
        "import sys\n"
        "from motionchat.bundle import load_bundle\n"
        "from motionchat.chat.engine import default_bundle_path\n"
        "from motionchat.lm.generation import DecodingConfig, generate\n"
        "lm = load_bundle(default_bundle_path()).lm\n"
        "answer = generate(lm.model, lm.tokenizer, lm.vocab, ['a person jumps'], 'motion', DecodingConfig())\n"
        "assert answer[0][0].token_ids, answer\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformers', 'scipy', 'tokenizers')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unreadable_or_mismatched_weights_are_named(tmp_path):
    _model(flan_like=False).save_pretrained(tmp_path / "ok", safe_serialization=True)
    (tmp_path / "ok" / "model.safetensors").rename(tmp_path / "weights")
    with pytest.raises(MotionchatError, match="no model.safetensors"):
        load_t5(tmp_path / "ok")
    (tmp_path / "ok" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(MotionchatError, match="could not read the weights"):
        load_t5(tmp_path / "ok")
    config = (tmp_path / "ok" / "config.json").read_text()
    (tmp_path / "ok" / "config.json").write_text(config.replace('"d_ff": 96', '"d_ff": 64'))
    (tmp_path / "weights").rename(tmp_path / "ok" / "model.safetensors")
    with pytest.raises(MotionchatError, match="do not fit config.json"):
        load_t5(tmp_path / "ok")


@pytest.mark.parametrize("threads", sorted({1, torch.get_num_threads()}))
@pytest.mark.parametrize("dim", [64, 192, 768])
def test_wide_products_and_the_narrowed_head_round_as_the_plain_ones(dim, threads):
    """What decoding WIDE_ROWS rows or more relies on to give the same answers: a product through
    weights stored (in, out), and one over a subset of the head's rows, are bitwise those through
    the (out, in) weights with every column."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(dim)
        for out_features in (2616, 3 * dim, 4 * dim):
            weight = torch.randn(out_features, dim, generator=gen)
            columns = torch.tensor([1, *range(out_features // 2, out_features - 2)])
            wide, narrow = weight.t().contiguous(), weight[columns].t().contiguous()
            for rows in (WIDE_ROWS, 17, 31, 32, 33, 64, 100, 256):
                x = torch.randn(rows, dim, generator=gen) * 3
                plain = torch.nn.functional.linear(x, weight)
                assert torch.equal(plain, x @ wide), (out_features, rows)
                assert torch.equal(plain[:, columns], x @ narrow), (out_features, rows)
    finally:
        torch.set_num_threads(previous)


def test_encoding_the_prompt_tokens_alone_gives_the_padded_batchs_numbers(both_loaded, monkeypatch):
    _, ours = both_loaded
    words = "a person walks forward and then turns around to wave with both hands while jumping twice".split()
    prompts = [" ".join(words[: 1 + (7 * i) % len(words)]) for i in range(12)]
    batch = ours.tokenizer(prompts, padding=True, return_tensors="pt")
    real = batch["attention_mask"].bool()
    assert WIDE_ROWS <= int(real.sum()) < real.numel()
    packed = ours.model.encode(batch["input_ids"], batch["attention_mask"])
    monkeypatch.setattr(t5, "WIDE_ROWS", real.numel() + 1)  # the whole padded batch through every layer
    padded = ours.model.encode(batch["input_ids"], batch["attention_mask"])
    assert torch.equal(packed[real], padded[real])
    assert not packed[~real].any()


@pytest.mark.parametrize("flan_like", [False, True])
def test_wide_decoding_shortcuts_give_the_plain_steps_logits_bit_for_bit(flan_like, tmp_path):
    """First-layer rows looked up, a fed token, a narrowed head: the numbers of plain steps."""
    _model(flan_like).save_pretrained(tmp_path, safe_serialization=True)
    model = load_t5(tmp_path)
    gen = torch.Generator().manual_seed(5)
    rows = WIDE_ROWS + 4
    hidden, mask = torch.randn(rows, 7, 48, generator=gen), torch.ones(rows, 7, dtype=torch.long)
    mask[3, 5:] = 0
    ids = torch.arange(0, V, 3)  # the ids the rows may feed
    tokens = ids[torch.randint(len(ids), (6, rows), generator=gen)]
    columns = torch.tensor([1, *range(40, 60), 99, 119])  # 16 or more: as generation narrows the head
    plain, quick = (start_decoder(model, hidden, mask, max_steps=6) for _ in range(2))
    assert quick.wide
    table, head = quick.first_layer_rows(ids), quick.head_rows(columns)
    for t in range(6):
        full = plain.step(tokens[t])
        first = table[torch.searchsorted(ids, tokens[t])]
        if t == 2:
            quick.feed(tokens[t], first)  # its logits not wanted; its keys and values are
            continue
        assert torch.equal(quick.step(tokens[t], head, first), full[:, columns]), t
