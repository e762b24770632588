"""The project's own `tokenizer.json` pipeline in plain Python, for answering without the
`tokenizers` library in memory.

`trainer` builds one kind of text tokenizer (`lm/tokenizer.py`): NFKC, whitespace split, a `▁`
before every word, digits split one by one, byte-pair merges, `</s>` appended, and special
unnormalised added tokens (sentinels, motion tokens). Loading the `tokenizers` library and that
file costs a cold `motionchat ask` about 9 MB of its memory (its code and its structures) for a
prompt of a few words, so `ProjectBPE` does the same steps here. It takes only the files that
pipeline wrote (`ProjectBPE.from_json` returns None for any other, e.g. a pretrained T5's
SentencePiece model, which `runtime.Tokenizer` hands to the library) and only ASCII text
(`encode` returns None otherwise: Unicode normalisation and whitespace are the library's to
define). Tests compare ids, tokens and decoded text with the library's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_METASPACE = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [{"type": "WhitespaceSplit"}, _METASPACE, {"type": "Digits", "individual_digits": True}],
}
_PLAIN_BPE = {"dropout": None, "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
              "byte_fallback": False, "ignore_merges": False}  # fmt: skip
_WHITESPACE = re.compile(r"[\t\n\x0b\x0c\r ]+")  # what Rust's char::is_whitespace calls whitespace in ASCII
_DIGIT_SPLIT = re.compile(r"([0-9])")
_SPACE = "\u2581"


@dataclass(frozen=True)
class AddedToken:
    """What `added_tokens_decoder` gives per id (the library's AddedToken has these fields)."""

    content: str
    special: bool = True
    normalized: bool = False
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False


class ProjectBPE:
    """Encode (ASCII) and decode as the `tokenizers` library does with the project's tokenizer.json."""

    def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], unk: str, added: dict[int, str],
                 appended: list[int]):  # fmt: skip
        self.vocab = vocab
        self.unk_id = vocab[unk]
        self.added = added  # id -> content, all special and unnormalised
        self.token_of = {i: t for t, i in vocab.items()} | added
        self.id_of = {t: i for i, t in self.token_of.items()}
        self.appended = appended
        # pair of ids -> (rank, merged id), as the library's BPE keys its merges
        self.merges = {(vocab[a], vocab[b]): (rank, vocab[a + b]) for rank, (a, b) in enumerate(merges)}
        # longest first, so that an alternation takes the longest token that starts at a place
        contents = sorted(added.values(), key=len, reverse=True)
        self.added_re = re.compile("|".join(re.escape(c) for c in contents)) if contents else None
        self.cache: dict[str, list[int]] = {}

    @classmethod
    def from_json(cls, data: dict) -> ProjectBPE | None:
        """The pipeline of a parsed tokenizer.json, or None if it is not the one this module does."""
        model = data.get("model") or {}
        if (data.get("normalizer") != {"type": "NFKC"} or data.get("pre_tokenizer") != _PRE_TOKENIZER
                or data.get("decoder") != _METASPACE or data.get("truncation") or data.get("padding")
                or model.get("type") != "BPE" or any(model.get(k) != v for k, v in _PLAIN_BPE.items())
                or model.get("unk_token") not in model.get("vocab", {})):  # fmt: skip
            return None
        added = {}
        for token in data.get("added_tokens", []):
            if not token.get("special") or token.get("normalized") or token.get("lstrip") or token.get("rstrip") \
                    or token.get("single_word"):  # fmt: skip
                return None
            added[token["id"]] = token["content"]
        appended = _appended_specials(data.get("post_processor"))
        if appended is None:
            return None
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]
        vocab = model["vocab"]
        if any(len(m) != 2 or m[0] not in vocab or m[1] not in vocab or m[0] + m[1] not in vocab for m in merges):
            return None
        return cls(vocab, merges, model["unk_token"], added, appended)

    def __len__(self) -> int:
        return len(self.token_of)

    def encode(self, text: str) -> list[int] | None:
        """The ids of `text` with `</s>` appended, or None if `text` is not ASCII."""
        if not text.isascii():
            return None
        ids: list[int] = []
        start = 0
        for match in self.added_re.finditer(text) if self.added_re else ():
            self._encode_plain(text[start : match.start()], ids)
            ids.append(self.id_of[match.group()])
            start = match.end()
        self._encode_plain(text[start:], ids)
        return ids + self.appended

    def _encode_plain(self, text: str, ids: list[int]) -> None:
        for word in _WHITESPACE.split(text):
            if word:
                for piece in _DIGIT_SPLIT.split(_SPACE + word):
                    if piece:
                        ids.extend(self._bpe(piece))

    def _bpe(self, piece: str) -> list[int]:
        """The merges applied lowest rank first (the leftmost of equal ones), as the library does."""
        if piece in self.cache:
            return self.cache[piece]
        symbols = [self.vocab.get(c, self.unk_id) for c in piece]
        while len(symbols) > 1:
            best = None
            for k, pair in enumerate(zip(symbols, symbols[1:])):
                merge = self.merges.get(pair)
                if merge is not None and (best is None or merge[0] < best[0]):
                    best = (merge[0], k, merge[1])
            if best is None:
                break
            _, k, merged = best
            symbols[k : k + 2] = [merged]
        self.cache[piece] = symbols
        return symbols

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """The Metaspace decoder: `▁` becomes a space, and disappears from the first token."""
        tokens = [self.token_of[i] for i in ids if i in self.token_of and not (skip_special_tokens and i in self.added)]
        return "".join(t.replace(_SPACE, "" if k == 0 else " ") for k, t in enumerate(tokens))


def _appended_specials(processor: dict | None) -> list[int] | None:
    """The ids a TemplateProcessing that writes `$A` then special tokens appends, else None."""
    if processor is None:
        return []
    if processor.get("type") != "TemplateProcessing":
        return None
    single = processor.get("single", [])
    if not single or "Sequence" not in single[0] or single[0]["Sequence"].get("id") != "A":
        return None
    appended = []
    for part in single[1:]:
        special = part.get("SpecialToken")
        if special is None or special["id"] not in processor.get("special_tokens", {}):
            return None
        appended += processor["special_tokens"][special["id"]]["ids"]
    return appended
