import json

import pytest
import torch
from lm_fixtures import CODEBOOK, small_lm
from transformers import T5Config, T5ForConditionalGeneration

from motionchat.errors import MotionchatError
from motionchat.lm.generation import generate
from motionchat.lm.model import LanguageModel, resize_embeddings
from motionchat.lm.model import load_lm
from motionchat.lm.storage import VOCAB_LAYOUT_FILE, save_lm


def _assert_same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    for name in sa:
        torch.testing.assert_close(sa[name], sb[name], rtol=0, atol=0, msg=name)
    # same computation too (e.g. the decoder-output scaling flag survives the config round trip)
    assert a.config.scale_decoder_outputs == b.config.scale_decoder_outputs
    ids = torch.randint(3, a.config.vocab_size, (2, 6), generator=torch.Generator().manual_seed(0))
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(input_ids=ids, decoder_input_ids=ids).logits,
                                   b(input_ids=ids, decoder_input_ids=ids).logits, rtol=0, atol=0)


def test_exact_round_trip(tmp_path):
    lm = small_lm()
    with torch.no_grad():  # as after training: weights no longer at their initial values
        for p in lm.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_lm(tmp_path / "lm", *lm)
    loaded = load_lm(tmp_path / "lm")
    _assert_same_model(lm.model, loaded.model)
    assert loaded.vocab == lm.vocab and not loaded.model.training
    text = "describe <som><motion_id_3><motion_id_31><eom> with ｆｕｌｌ width"
    assert loaded.tokenizer(text)["input_ids"] == lm.tokenizer(text)["input_ids"]
    prompts = ["a person walks", "describe <som><motion_id_1><eom>"]
    assert [a[0].token_ids for a in generate(*loaded, prompts, "motion")] == [
        a[0].token_ids for a in generate(*lm, prompts, "motion")
    ]


def test_untied_head_round_trip_and_overwrite(tmp_path):
    """A flan-like model keeps its separate output head through save/load; saving replaces the folder."""
    lm = small_lm()
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(vocab_size=lm.vocab.text_size, d_model=32, d_kv=8, d_ff=64,
                                                num_layers=1, num_heads=4, tie_word_embeddings=False))
    model.set_output_embeddings(torch.nn.Linear(32, lm.vocab.text_size, bias=False))
    resize_embeddings(model, lm.vocab, torch.Generator().manual_seed(0))
    untied = LanguageModel(model, lm.tokenizer, lm.vocab)
    save_lm(tmp_path / "lm", *lm)
    save_lm(tmp_path / "lm", *untied)
    loaded = load_lm(tmp_path / "lm")
    assert loaded.model.lm_head.weight is not loaded.model.shared.weight
    _assert_same_model(model, loaded.model)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lm"]  # no staging folders left


def test_broken_folders_are_user_errors(tmp_path):
    lm = small_lm()
    with pytest.raises(MotionchatError, match="no such folder"):
        load_lm(tmp_path / "missing")
    folder = save_lm(tmp_path / "lm", *lm)
    layout = json.loads((folder / VOCAB_LAYOUT_FILE).read_text())
    # a consistent layout, but for one code fewer than the tokenizer has
    smaller = {"codebook_size": CODEBOOK - 1} | {k: layout[k] - 1 for k in ("som_id", "eom_id", "mask_id", "sep_id")}
    (folder / VOCAB_LAYOUT_FILE).write_text(json.dumps(layout | smaller))
    with pytest.raises(MotionchatError, match="do not match the saved vocabulary layout"):
        load_lm(folder)
    (folder / VOCAB_LAYOUT_FILE).unlink()
    with pytest.raises(MotionchatError, match="missing"):
        load_lm(folder)
