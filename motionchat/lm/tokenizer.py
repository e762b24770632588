"""Text tokenizers: a byte-pair model trained on the corpus (scratch backbone), or the tokenizer
shipped with a local pretrained T5 checkpoint.

The scratch tokenizer is a Hugging Face fast tokenizer with T5's conventions: `<pad>`=0, `</s>`=1,
`<unk>`=2, an `</s>` appended to every encoded text, and 100 sentinels `<extra_id_0..99>` for span
corruption, so code written for a pretrained T5 tokenizer works unchanged on the scratch one.
Text is NFKC-normalised both before training and inside the tokenizer, so the two agree.

Why byte-pair and not unigram: a motion corpus has a small closed vocabulary (about 1,500 words
in the synthetic one), and on such text unigram training (SentencePiece's and the `tokenizers`
one alike) maximises likelihood with a few hundred short pieces, splitting the commonest words
("▁per" "son", "▁a" "nd", "▁o" "f"). Byte-pair merges keep every frequent word whole. Digits are
single tokens, so every duration is spelled from the same ten.

`train_sentencepiece` (unigram, SentencePiece) stays for the evaluator's own text encoder.
"""

from __future__ import annotations

import io
import string
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from motionchat.errors import MotionchatError

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
NUM_SENTINELS = 100  # as in every T5 tokenizer
TOKENIZER_FILES = ("tokenizer.json", "spiece.model")


def _normalised(sentences: Iterable[str]) -> Iterator[str]:
    for sentence in sentences:
        text = unicodedata.normalize("NFKC", sentence).strip()
        if text:
            yield text


def train_sentencepiece(sentences: Iterable[str], vocab_size: int) -> bytes:
    """Train a unigram SentencePiece model; returns the serialised model.

    Deterministic for the same sentences (single-threaded, no sampling). `vocab_size` is an upper
    bound: a small corpus yields fewer pieces rather than an error.
    """
    texts = list(_normalised(sentences))
    if not texts:
        raise MotionchatError("cannot train the text tokenizer: the corpus has no captions or templates")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        normalization_rule_name="identity",  # NFKC is applied above and by the HF normaliser
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece=PAD,
        eos_piece=EOS,
        unk_piece=UNK,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def train_text_tokenizer(sentences: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-pair tokenizer in T5's layout, learnt from `sentences` (deterministic).

    `vocab_size` is an upper bound on the learnt pieces (specials and sentinels come on top).
    """
    texts = list(_normalised(sentences))
    if not texts:
        raise MotionchatError("cannot train the text tokenizer: the corpus has no captions or templates")
    backend = Tokenizer(BPE(unk_token=UNK))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
        pre_tokenizers.Digits(individual_digits=True),
    ])  # fmt: skip
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    # Every ASCII letter, digit and punctuation mark is a piece even if the corpus lacks it, so a
    # user's "2.75 seconds" or an unusual word never turns into <unk>; not "<" and ">", so that
    # text answers cannot spell a special token such as <motion_id_3>.
    alphabet = [c for c in string.ascii_letters + string.digits + string.punctuation if c not in "<>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, EOS, UNK], initial_alphabet=alphabet, show_progress=False)
    backend.train_from_iterator(texts, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single=["$A", EOS], pair=["$A", EOS, "$B", EOS], special_tokens=[(EOS, 1)]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    sentinels = [AddedToken(f"<extra_id_{i}>", special=True, normalized=False) for i in range(NUM_SENTINELS)]
    tokenizer.add_tokens(sentinels, special_tokens=True)
    return tokenizer


def load_text_tokenizer(directory: str | Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved in a local checkpoint directory (never downloads)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MotionchatError(f"{directory}: no such directory; point at a local T5 checkpoint folder")
    # Without these files transformers 5 quietly builds a near-empty default T5 tokenizer.
    if not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise MotionchatError(
            f"{directory}: no tokenizer files ({' or '.join(TOKENIZER_FILES)}); copy the checkpoint's tokenizer into it"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MotionchatError(
            f"{directory}: could not load its tokenizer ({first_line})"
        ) from None
    if tokenizer.pad_token_id is None or tokenizer.eos_token_id is None:
        raise MotionchatError(f"{directory}: its tokenizer has no pad or eos token; use a T5 checkpoint's tokenizer")
    return tokenizer
