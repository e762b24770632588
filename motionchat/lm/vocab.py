"""The joint vocabulary: a text tokenizer's ids, then one token per motion code, then four specials.

Layout, in id order (contiguous, appended after whatever the text tokenizer already has):

    [0, text_size)                          the text tokenizer (pad, eos, unk, pieces, sentinels)
    [motion_start, motion_start + K)        <motion_id_0> ... <motion_id_{K-1}>
    som_id, eom_id, mask_id, sep_id         <som> <eom> <mask> <sep>

A motion is written `<som><motion_id_a><motion_id_b>...<eom>`; `<sep>` separates two motions and
`<mask>` stands for hidden content. `VocabLayout` is what a bundle's `config.json` stores, so a
loaded tokenizer can be checked against the ids the model was trained with.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from motionchat.errors import MotionchatError

SOM = "<som>"
EOM = "<eom>"
MASK = "<mask>"
SEP = "<sep>"
SPECIAL_TOKENS = (SOM, EOM, MASK, SEP)


def motion_token(code: int) -> str:
    return f"<motion_id_{code}>"


_MOTION_TOKEN_RE = re.compile(r"<motion_id_(\d+)>")


@dataclass(frozen=True)
class VocabLayout:
    """Ids of the joint tokens in a tokenizer.

    Args:
        text_size: number of ids the text tokenizer had before the joint tokens were appended.
        codebook_size: K, the motion tokenizer's number of codes.
        motion_start: id of `<motion_id_0>`; code c has id `motion_start + c`.
        som_id, eom_id, mask_id, sep_id: ids of `<som>`, `<eom>`, `<mask>`, `<sep>`.
        pad_id, eos_id: the text tokenizer's padding and end-of-sequence ids (T5: 0 and 1).
    """

    text_size: int
    codebook_size: int
    motion_start: int
    som_id: int
    eom_id: int
    mask_id: int
    sep_id: int
    pad_id: int
    eos_id: int

    def __post_init__(self):
        expected = [self.motion_start + self.codebook_size + i for i in range(len(SPECIAL_TOKENS))]
        if (
            self.codebook_size < 1
            or self.motion_start != self.text_size
            or [self.som_id, self.eom_id, self.mask_id, self.sep_id] != expected
            or not (0 <= self.pad_id < self.text_size and 0 <= self.eos_id < self.text_size)
        ):
            raise ValueError(f"inconsistent vocabulary layout: {self}")

    @property
    def size(self) -> int:
        """Total number of ids: the model's embedding rows."""
        return self.sep_id + 1

    def motion_id(self, code: int) -> int:
        return self.motion_start + code

    def is_motion_id(self, token_id: int) -> bool:
        return self.motion_start <= token_id < self.motion_start + self.codebook_size

    def code_of(self, token_id: int) -> int:
        return token_id - self.motion_start

    def joint_ids(self) -> range:
        """Every id this layout adds (motion tokens and the four specials)."""
        return range(self.motion_start, self.size)

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config.json") -> VocabLayout:
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise MotionchatError(
                f"{source}: the vocabulary layout must have exactly the keys {sorted(names)}; "
                "re-save the model with this version of motionchat"
            )
        try:
            return cls(**{name: int(data[name]) for name in names})
        except (TypeError, ValueError) as err:
            raise MotionchatError(f"{source}: invalid vocabulary layout ({err}); re-save the model") from None

    def check(self, tokenizer, source: str = "the tokenizer") -> None:
        """Raise if `tokenizer` does not map the joint tokens to these ids (a mismatched bundle)."""
        tokens = [motion_token(c) for c in range(self.codebook_size)] + list(SPECIAL_TOKENS)
        ids = tokenizer.convert_tokens_to_ids(tokens)
        if list(ids) != list(self.joint_ids()) or len(tokenizer) != self.size:
            raise MotionchatError(
                f"{source}: its motion tokens do not match the saved vocabulary layout "
                f"(expected {self.codebook_size} codes from id {self.motion_start}); re-save the bundle"
            )
        if tokenizer.pad_token_id != self.pad_id or tokenizer.eos_token_id != self.eos_id:
            raise MotionchatError(
                f"{source}: its pad/eos ids differ from the saved vocabulary layout; re-save the bundle"
            )


def add_joint_tokens(tokenizer, codebook_size: int) -> VocabLayout:
    """Append `<motion_id_0..K-1>`, `<som>`, `<eom>`, `<mask>`, `<sep>` to `tokenizer` (in place).

    The tokens are added as special, unnormalised tokens so they are matched verbatim inside text and
    dropped by `decode(..., skip_special_tokens=True)`.
    """
    text_size = len(tokenizer)
    tokens = [motion_token(c) for c in range(codebook_size)] + list(SPECIAL_TOKENS)
    vocab = tokenizer.get_vocab()
    already = [t for t in tokens if t in vocab]
    if already:
        raise ValueError(f"the tokenizer already has joint tokens ({already[0]}, ...); add them only once")
    from tokenizers import AddedToken  # (training only; answering does not load the library)

    added = tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in tokens], special_tokens=True)
    if added != len(tokens):
        raise ValueError(f"added {added} of {len(tokens)} joint tokens")
    if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
        raise ValueError("the text tokenizer needs a pad and an eos token (T5 tokenizers have both)")
    layout = VocabLayout(
        text_size=text_size,
        codebook_size=codebook_size,
        motion_start=text_size,
        som_id=text_size + codebook_size,
        eom_id=text_size + codebook_size + 1,
        mask_id=text_size + codebook_size + 2,
        sep_id=text_size + codebook_size + 3,
        pad_id=tokenizer.pad_token_id,
        eos_id=tokenizer.eos_token_id,
    )
    layout.check(tokenizer)
    return layout


def motion_tokens_to_text(codes: Sequence[int], codebook_size: int) -> str:
    """`[3, 7]` -> `"<som><motion_id_3><motion_id_7><eom>"`, the form templates put into prompts."""
    bad = [c for c in codes if not 0 <= int(c) < codebook_size]
    if bad:
        raise ValueError(f"motion code {bad[0]} is outside the codebook (0..{codebook_size - 1})")
    if len(codes) == 0:
        raise ValueError("a motion needs at least one code")
    return SOM + "".join(motion_token(int(c)) for c in codes) + EOM


def text_to_motion_codes(text: str, codebook_size: int) -> list[int]:
    """Inverse of `motion_tokens_to_text` for a string holding exactly one `<som>...<eom>` span."""
    start, end = text.find(SOM), text.find(EOM)
    if start < 0 or end < start or text.count(SOM) != 1 or text.count(EOM) != 1:
        raise MotionchatError(f"expected one {SOM}...{EOM} motion in the text, got {text[:60]!r}")
    inner = text[start + len(SOM) : end]
    codes = [int(m) for m in _MOTION_TOKEN_RE.findall(inner)]
    leftover = _MOTION_TOKEN_RE.sub("", inner).strip()
    if leftover:
        raise MotionchatError(f"the motion holds something other than motion tokens: {leftover[:40]!r}")
    if not codes:
        raise MotionchatError(f"the motion {SOM}{EOM} is empty")
    bad = [c for c in codes if c >= codebook_size]
    if bad:
        raise MotionchatError(f"motion code {bad[0]} is outside the codebook (0..{codebook_size - 1})")
    return codes
