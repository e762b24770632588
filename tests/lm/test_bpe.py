"""The plain-Python tokenizer answers as the `tokenizers` library does with the same tokenizer.json."""

import json
import random
import string

import pytest
from lm_fixtures import small_lm
from tokenizers import Tokenizer as Library

from motionchat.filenames import LM_DIR
from motionchat.chat.engine import default_bundle_path
from motionchat.lm.runtime import load_runtime_tokenizer
from motionchat.lm.storage import save_lm

PIECES = [
    "a", "person", "walks", "jumps", "twice", "<som>", "<motion_id_3>", "<eom>", "<sep>", "<mask>", "</s>", "<pad>",
    "<unk>", "<extra_id_5>", "12", "3.5", "seconds", "m2", "(7)", "don't", "x", "ZZZ", "qqq", "!!", "<motion_id_31>",
    "<motion_id_99", "<som", "motion_id_4>", "hello-world", "m1's", "`~", "\\", "A", "Walks", "5th", "0", "00", "e.g.",
    "<<som>>", "\t", "\n", "\x0b", "\x1c",
]  # fmt: skip


@pytest.fixture(scope="module", params=["shipped", "small"])
def tokenizers(request, tmp_path_factory):
    """(ours, the library's) for the shipped model's tokenizer and a freshly built one."""
    if request.param == "shipped":
        directory = default_bundle_path() / LM_DIR
    else:
        directory = tmp_path_factory.mktemp("lm") / "lm"
        save_lm(directory, *small_lm())
    ours = load_runtime_tokenizer(directory)
    assert ours.fast is not None  # the plain-Python path, not the library
    return ours, Library.from_file(str(directory / "tokenizer.json"))


def test_encoding_is_the_librarys(tokenizers):
    ours, library = tokenizers
    rng = random.Random(0)
    texts = ["", " ", "a person jumps", "  walk\t 12 steps\n", "<som><motion_id_1><eom>", "m1 and m2, 4 s"]
    for _ in range(3000):
        if rng.random() < 0.2:
            texts.append("".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30))))
        else:
            texts.append("".join(rng.choice(PIECES) + rng.choice(["", " ", "  ", "\t"]) for _ in range(rng.randint(0, 12))))
    texts += ["ünïcödé ﬁ <extra_id_3> text", "caf\u00e9 \u2581x", "\u3000wide space"]  # not ASCII: the library's turn
    batch = ours(texts)["input_ids"]
    assert batch == [e.ids for e in library.encode_batch(texts)]
    assert ours(texts[2])["input_ids"] == library.encode(texts[2]).ids


def test_decoding_and_look_ups_are_the_librarys(tokenizers):
    ours, library = tokenizers
    rng = random.Random(1)
    ids = list(range(len(ours) + 3))  # and a few ids past the end
    for _ in range(2000):
        sample = [rng.choice(ids) for _ in range(rng.randint(0, 15))]
        for skip in (False, True):
            assert ours.decode(sample, skip_special_tokens=skip) == library.decode(sample, skip_special_tokens=skip)
    assert len(ours) == library.get_vocab_size(with_added_tokens=True)
    assert ours.get_vocab() == library.get_vocab(with_added_tokens=True)
    assert ours.convert_ids_to_tokens(ids) == [library.id_to_token(i) for i in ids]
    tokens = [*library.get_vocab(with_added_tokens=True), "<nope>"]
    assert ours.convert_tokens_to_ids(tokens) == [library.token_to_id(t) for t in tokens]
    theirs = library.get_added_tokens_decoder()
    assert ours.added_tokens_decoder.keys() == theirs.keys()
    assert all((ours.added_tokens_decoder[i].content, ours.added_tokens_decoder[i].special)
               == (theirs[i].content, theirs[i].special) for i in theirs)  # fmt: skip


def test_another_kind_of_tokenizer_goes_to_the_library(tmp_path):
    directory = default_bundle_path() / LM_DIR
    data = json.loads((directory / "tokenizer.json").read_text())
    data["normalizer"] = {"type": "Lowercase"}
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    (tmp_path / "tokenizer_config.json").write_text((directory / "tokenizer_config.json").read_text())
    ours = load_runtime_tokenizer(tmp_path)
    assert ours.fast is None
    assert ours("A Person JUMPS")["input_ids"] == Library.from_file(str(tmp_path / "tokenizer.json")).encode("A Person JUMPS").ids
