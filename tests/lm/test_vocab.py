import pytest
from lm_fixtures import CODEBOOK, captions

from motionchat.errors import MotionchatError
from motionchat.lm.tokenizer import train_text_tokenizer
from motionchat.lm.vocab import (
    EOM,
    SOM,
    SPECIAL_TOKENS,
    VocabLayout,
    add_joint_tokens,
    motion_token,
    motion_tokens_to_text,
    text_to_motion_codes,
)


@pytest.fixture(scope="module")
def tokenizer_and_vocab():
    tokenizer = train_text_tokenizer(captions(), 300)
    text_size = len(tokenizer)
    vocab = add_joint_tokens(tokenizer, CODEBOOK)
    assert vocab.text_size == text_size
    return tokenizer, vocab


def test_motion_ids_are_contiguous_and_follow_the_text_ids(tokenizer_and_vocab):
    tokenizer, vocab = tokenizer_and_vocab
    ids = tokenizer.convert_tokens_to_ids([motion_token(c) for c in range(CODEBOOK)])
    assert ids == list(range(vocab.text_size, vocab.text_size + CODEBOOK))
    assert [vocab.motion_id(c) for c in range(CODEBOOK)] == ids
    assert all(vocab.is_motion_id(i) and vocab.code_of(i) == c for c, i in enumerate(ids))
    assert not vocab.is_motion_id(vocab.text_size - 1) and not vocab.is_motion_id(vocab.som_id)


def test_specials_present_after_the_motion_tokens(tokenizer_and_vocab):
    tokenizer, vocab = tokenizer_and_vocab
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    assert ids == [vocab.som_id, vocab.eom_id, vocab.mask_id, vocab.sep_id]
    assert vocab.som_id == vocab.text_size + CODEBOOK
    assert vocab.size == len(tokenizer) == vocab.sep_id + 1
    assert (vocab.pad_id, vocab.eos_id) == (0, 1)


def test_codes_text_round_trip_and_tokenizer_sees_one_token_per_code(tokenizer_and_vocab):
    tokenizer, vocab = tokenizer_and_vocab
    codes = [0, 5, 5, CODEBOOK - 1, 17]
    text = motion_tokens_to_text(codes, CODEBOOK)
    assert text == SOM + "".join(motion_token(c) for c in codes) + EOM
    assert text_to_motion_codes(f"describe {text} please", CODEBOOK) == codes
    ids = tokenizer(f"describe {text} please")["input_ids"]
    start = ids.index(vocab.som_id)
    assert ids[start + 1 : start + 1 + len(codes)] == [vocab.motion_id(c) for c in codes]
    assert ids[start + 1 + len(codes)] == vocab.eom_id


@pytest.mark.parametrize(
    "text",
    [
        "no motion here",
        f"{SOM}<motion_id_1>",
        f"{SOM}{EOM}",
        f"{SOM}<motion_id_1> walk {EOM}",
        f"{SOM}<motion_id_{CODEBOOK}>{EOM}",
        f"{SOM}<motion_id_1>{EOM}{SOM}<motion_id_2>{EOM}",
    ],
)
def test_malformed_motion_text_is_refused(text):
    with pytest.raises(MotionchatError):
        text_to_motion_codes(text, CODEBOOK)


def test_codes_outside_the_codebook_are_refused():
    with pytest.raises(ValueError):
        motion_tokens_to_text([CODEBOOK], CODEBOOK)
    with pytest.raises(ValueError):
        motion_tokens_to_text([], CODEBOOK)


def test_layout_json_round_trip_and_validation(tokenizer_and_vocab):
    tokenizer, vocab = tokenizer_and_vocab
    assert VocabLayout.from_dict(vocab.to_dict()) == vocab
    broken = vocab.to_dict() | {"eom_id": vocab.som_id}
    with pytest.raises(MotionchatError, match="invalid vocabulary layout"):
        VocabLayout.from_dict(broken)
    with pytest.raises(MotionchatError, match="exactly the keys"):
        VocabLayout.from_dict({k: v for k, v in vocab.to_dict().items() if k != "sep_id"})


def test_check_detects_a_tokenizer_with_another_layout(tokenizer_and_vocab):
    tokenizer, vocab = tokenizer_and_vocab
    vocab.check(tokenizer)
    other = train_text_tokenizer(captions(), 300)
    add_joint_tokens(other, CODEBOOK + 1)
    with pytest.raises(MotionchatError, match="do not match"):
        vocab.check(other)


def test_joint_tokens_are_added_only_once(tokenizer_and_vocab):
    tokenizer, _ = tokenizer_and_vocab
    with pytest.raises(ValueError, match="only once"):
        add_joint_tokens(tokenizer, CODEBOOK)
