import sentencepiece as spm
import pytest
from lm_fixtures import captions

from motionchat.errors import MotionchatError
from motionchat.lm.tokenizer import (
    NUM_SENTINELS,
    load_text_tokenizer,
    train_sentencepiece,
    train_text_tokenizer,
)


def test_training_is_deterministic_and_bounded():
    first = train_sentencepiece(captions(), 300)
    assert first == train_sentencepiece(captions(), 300)
    sp = spm.SentencePieceProcessor(model_proto=first)
    assert 20 < sp.get_piece_size() <= 300
    assert [sp.id_to_piece(i) for i in range(3)] == ["<pad>", "</s>", "<unk>"]
    assert train_sentencepiece(captions()[:10], 300) != first


def test_text_tokenizer_keeps_frequent_words_whole_and_spells_numbers_by_digit():
    tokenizer = train_text_tokenizer(captions(), 300)
    assert train_text_tokenizer(captions(), 300).get_vocab() == tokenizer.get_vocab()  # deterministic
    for word in ("person", "and", "forward", "walks"):  # unigram training split these ("▁per" "son")
        assert tokenizer.convert_ids_to_tokens(tokenizer(word)["input_ids"]) == [f"▁{word}", "</s>"]
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("walks 4.25 slowly")["input_ids"])
    assert pieces[-6:] == ["4", ".", "2", "5", "▁slowly", "</s>"]
    for text in ["a person walks forward slowly", "the woman  jumps   twice for 4.25 seconds"]:
        assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == " ".join(text.split())
    assert tokenizer.unk_token_id not in tokenizer("quixotic zebra, 0.5?")["input_ids"]  # ASCII the corpus lacks
    assert tokenizer.unk_token_id in tokenizer("жж")["input_ids"]
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)


def test_text_is_nfkc_normalised_and_sentinels_exist():
    tokenizer = train_text_tokenizer(captions(), 300)
    assert tokenizer("ｗａｌｋｓ")["input_ids"] == tokenizer("walks")["input_ids"]  # full-width letters
    sentinels = tokenizer.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(NUM_SENTINELS)])
    assert len(set(sentinels)) == NUM_SENTINELS and tokenizer.unk_token_id not in sentinels
    ids = tokenizer("a person <extra_id_0> forward")["input_ids"]
    assert sentinels[0] in ids


def test_saved_tokenizer_loads_back_identically(tmp_path):
    tokenizer = train_text_tokenizer(captions(), 300)
    tokenizer.save_pretrained(tmp_path)
    loaded = load_text_tokenizer(tmp_path)
    text = "ｔhe man <extra_id_3> kicks with the right foot"
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert len(loaded) == len(tokenizer)


def test_empty_corpus_and_missing_folder_are_user_errors(tmp_path):
    for train in (train_sentencepiece, train_text_tokenizer):
        with pytest.raises(MotionchatError, match="no captions"):
            train(["", "   "], 100)
    with pytest.raises(MotionchatError, match="no such directory"):
        load_text_tokenizer(tmp_path / "nope")
    with pytest.raises(MotionchatError, match="no tokenizer files"):
        load_text_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(MotionchatError, match="could not load its tokenizer"):
        load_text_tokenizer(tmp_path)
