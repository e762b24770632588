"""Backbone building, including the path a user's flan-t5-base takes (a local folder)."""

import json

import pytest
import sentencepiece as spm
import torch
from lm_fixtures import CODEBOOK, SMALL, captions, small_lm
from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

from motionchat.errors import MotionchatError
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.lm.model import TINY, LMConfig, base_preset, build_lm, load_pretrained_t5
from motionchat.lm.tokenizer import train_sentencepiece

PADDED_ROWS = 8  # T5 checkpoints carry more embedding rows than tokens (flan-t5: 32128 vs 32100)


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A tiny random flan-like T5: real T5Tokenizer, gated-gelu, untied output head, padded rows."""
    folder = tmp_path_factory.mktemp("tiny-flan-t5")
    sp = spm.SentencePieceProcessor(model_proto=train_sentencepiece(captions(), 300))
    tokenizer = T5Tokenizer(vocab=[(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())])
    rows = len(tokenizer) + PADDED_ROWS
    torch.manual_seed(3)
    model = T5ForConditionalGeneration(
        T5Config(vocab_size=rows, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                 feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0)
    )
    model.set_output_embeddings(torch.nn.Linear(64, rows, bias=False))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_pretrained_folder_loads_resizes_and_generates(pretrained_dir):
    original = T5ForConditionalGeneration.from_pretrained(pretrained_dir)
    assert original.lm_head.weight is not original.shared.weight
    lm = build_lm(base_preset(pretrained_dir), CODEBOOK)
    assert type(lm.tokenizer).__name__ == "T5Tokenizer"  # the checkpoint's own tokenizer class
    model, vocab = lm.model, lm.vocab
    assert vocab.text_size == original.shared.weight.shape[0] - PADDED_ROWS
    assert model.shared.weight.shape[0] == model.lm_head.weight.shape[0] == vocab.size == model.config.vocab_size
    text = slice(0, vocab.text_size)
    assert torch.equal(model.shared.weight[text], original.shared.weight[text])
    # the untied pretrained head survives (transformers' own resize would tie it to the embeddings)
    assert model.lm_head.weight is not model.shared.weight
    assert torch.equal(model.lm_head.weight[text], original.lm_head.weight[text])
    new_rows = model.shared.weight[vocab.text_size :]
    assert not torch.equal(new_rows[:PADDED_ROWS], original.shared.weight[vocab.text_size :])  # padding not reused
    assert torch.isfinite(new_rows).all() and new_rows.std() > 0

    motion, text_answer = generate(model, lm.tokenizer, vocab, ["a person jumps", "describe the motion"],
                                   ["motion", "text"], DecodingConfig(max_text_tokens=8))
    assert motion[0].ok and 1 <= len(motion[0].codes) <= 49
    assert not any(vocab.is_motion_id(i) for i in text_answer[0].token_ids)


def test_build_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, second, other = small_lm(seed=0), small_lm(seed=0), small_lm(seed=1)
    assert torch.equal(torch.get_rng_state(), before)
    for name, weight in first.model.state_dict().items():
        assert torch.equal(weight, second.model.state_dict()[name]), name
    assert not torch.equal(first.model.shared.weight, other.model.shared.weight)
    assert first.model.config.vocab_size == first.vocab.size and not first.model.training
    assert first.model.lm_head.weight is first.model.shared.weight  # scratch: tied, output scaled
    assert first.model.config.scale_decoder_outputs


def test_tiny_preset_size():
    lm = build_lm(TINY, 512, captions())
    config = lm.model.config
    assert (config.d_model, config.num_layers, config.num_decoder_layers, config.num_heads, config.d_ff) == (
        256, 4, 4, 4, 1024)
    n_params = sum(p.numel() for p in lm.model.parameters())
    assert 7_000_000 < n_params < 9_000_000


def test_config_validation():
    with pytest.raises(ValueError, match="positive"):
        LMConfig(d_model=0)
    with pytest.raises(ValueError, match="feed_forward_proj"):
        LMConfig(feed_forward_proj="swish")
    with pytest.raises(ValueError, match="sentences"):
        build_lm(SMALL, CODEBOOK)


def test_bad_pretrained_folders_are_one_line_errors(tmp_path, pretrained_dir):
    with pytest.raises(MotionchatError, match="no config.json"):
        load_pretrained_t5(tmp_path / "missing")
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(MotionchatError, match="not T5"):
        load_pretrained_t5(tmp_path / "bert")
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text((pretrained_dir / "config.json").read_text())
    with pytest.raises(MotionchatError, match="could not load the T5 weights") as err:
        load_pretrained_t5(tmp_path / "noweights")
    assert "\n" not in str(err.value)
    with pytest.raises(MotionchatError, match="no tokenizer files"):
        build_lm(base_preset(tmp_path / "noweights"), CODEBOOK)
