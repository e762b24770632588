import sentencepiece as spm
import pytest
from lm_fixtures import captions

from motionchat.errors import MotionchatError
from motionchat.lm.tokenizer import (
    NUM_SENTINELS,
    load_text_tokenizer,
    text_tokenizer_from_sentencepiece,
    train_sentencepiece,
)


def test_training_is_deterministic_and_bounded():
    first = train_sentencepiece(captions(), 300)
    assert first == train_sentencepiece(captions(), 300)
    sp = spm.SentencePieceProcessor(model_proto=first)
    assert 20 < sp.get_piece_size() <= 300
    assert [sp.id_to_piece(i) for i in range(3)] == ["<pad>", "</s>", "<unk>"]
    assert train_sentencepiece(captions()[:10], 300) != first


def test_hf_tokenizer_segments_like_sentencepiece_and_appends_eos():
    proto = train_sentencepiece(captions(), 300)
    sp = spm.SentencePieceProcessor(model_proto=proto)
    tokenizer = text_tokenizer_from_sentencepiece(proto)
    for text in ["a person walks forward slowly", "the woman  jumps   twice", "someone waves slowly"]:
        expected = sp.encode(" ".join(text.split()))
        assert tokenizer(text)["input_ids"] == expected + [tokenizer.eos_token_id]
        assert tokenizer.decode(expected) == " ".join(text.split())
    unseen = "quixotic zebra"  # characters the corpus never had: <unk> in both
    assert tokenizer(unseen)["input_ids"] == sp.encode(unseen) + [tokenizer.eos_token_id]
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)


def test_text_is_nfkc_normalised_and_sentinels_exist():
    tokenizer = text_tokenizer_from_sentencepiece(train_sentencepiece(captions(), 300))
    assert tokenizer("ｗａｌｋｓ")["input_ids"] == tokenizer("walks")["input_ids"]  # full-width letters
    sentinels = tokenizer.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(NUM_SENTINELS)])
    assert len(set(sentinels)) == NUM_SENTINELS and tokenizer.unk_token_id not in sentinels
    ids = tokenizer("a person <extra_id_0> forward")["input_ids"]
    assert sentinels[0] in ids


def test_saved_tokenizer_loads_back_identically(tmp_path):
    tokenizer = text_tokenizer_from_sentencepiece(train_sentencepiece(captions(), 300))
    tokenizer.save_pretrained(tmp_path)
    loaded = load_text_tokenizer(tmp_path)
    text = "ｔhe man <extra_id_3> kicks with the right foot"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert len(loaded) == len(tokenizer)


def test_empty_corpus_and_missing_folder_are_user_errors(tmp_path):
    with pytest.raises(MotionchatError, match="no captions"):
        train_sentencepiece(["", "   "], 100)
    with pytest.raises(MotionchatError, match="no such directory"):
        load_text_tokenizer(tmp_path / "nope")
    with pytest.raises(MotionchatError, match="no tokenizer files"):
        load_text_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(MotionchatError, match="could not load its tokenizer"):
        load_text_tokenizer(tmp_path)
