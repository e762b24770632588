"""Text tokenizers: a SentencePiece unigram model trained on the corpus (scratch backbone), or the
tokenizer shipped with a local pretrained T5 checkpoint.

The SentencePiece model is trained in memory and turned into a Hugging Face fast tokenizer with
T5's conventions: `<pad>`=0, `</s>`=1, `<unk>`=2, an `</s>` appended to every encoded text, and
100 sentinels `<extra_id_0..99>` for span corruption, so code written for a pretrained T5 tokenizer
works unchanged on the scratch one. Text is NFKC-normalised both before training and inside the
tokenizer, so the two agree.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
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


def text_tokenizer_from_sentencepiece(model_proto: bytes) -> PreTrainedTokenizerFast:
    """Wrap a SentencePiece unigram model as a Hugging Face fast tokenizer in T5's layout."""
    sp = spm.SentencePieceProcessor(model_proto=model_proto)
    if [sp.id_to_piece(i) for i in range(3)] != [PAD, EOS, UNK]:
        raise ValueError("the SentencePiece model must have <pad>, </s>, <unk> at ids 0, 1, 2")
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    backend = Tokenizer(Unigram(pieces, unk_id=2, byte_fallback=False))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
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
