"""Save and load the language model: the `lm/` folder of a bundle.

    lm/
      config.json               T5 architecture (Hugging Face `save_pretrained`)
      generation_config.json    written by `save_pretrained`; motionchat decodes with its own settings
      model.safetensors         weights
      tokenizer.json            the joint tokenizer: text pieces + motion tokens + specials
      tokenizer_config.json
      vocab_layout.json         `VocabLayout`, checked against the tokenizer on load

The folder is written beside its final place and renamed into it, so a reader never sees half of
it. Loading reads model.safetensors and never contacts the hub: `load_lm` into transformers'
modules (training, `model.load_lm`), `runtime.load_runtime_lm` into this project's own (answering, no transformers).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from motionchat.errors import MotionchatError
from motionchat.lm.vocab import VocabLayout

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, T5ForConditionalGeneration

VOCAB_LAYOUT_FILE = "vocab_layout.json"


class LanguageModel(NamedTuple):
    """Backbone, tokenizer and vocabulary layout: transformers' T5 and tokenizer (training), or
    `t5.T5` and `Tokenizer` (answering)."""

    model: Any
    tokenizer: Any
    vocab: VocabLayout


def save_lm(
    directory: str | os.PathLike,
    model: T5ForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    vocab: VocabLayout,
) -> Path:
    """Write model, tokenizer and vocabulary layout to `directory` (replacing it whole)."""
    from transformers.utils import logging as hf_logging

    vocab.check(tokenizer)
    if model.config.vocab_size != vocab.size:
        raise ValueError(f"the model has {model.config.vocab_size} embedding rows, the vocabulary {vocab.size}")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        hf_logging.disable_progress_bar()  # its "Writing model shards" bar would break into our own output
        # the stacks' embed_tokens are the shared embedding; transformers drops their weight's aliases
        # itself but not those of a motion time table (motion_time.py)
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("embed_tokens.time.weight")}
        model.save_pretrained(staging, state_dict=state, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        (staging / VOCAB_LAYOUT_FILE).write_text(json.dumps(vocab.to_dict(), indent=2) + "\n")
        replace_directory(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def replace_directory(new: Path, target: Path) -> None:
    """Move `new` to `target`; an existing `target` is set aside first and removed after."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_vocab_layout(directory: str | os.PathLike) -> VocabLayout:
    path = Path(directory) / VOCAB_LAYOUT_FILE
    if not path.is_file():
        raise MotionchatError(f"{path}: missing; this folder was not saved by motionchat's save_lm")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MotionchatError(f"{path}: not valid JSON; re-save the model") from None
    return VocabLayout.from_dict(data, source=str(path))


def checked_lm(directory: str | os.PathLike, load_tokenizer, load_model) -> LanguageModel:
    """Vocabulary layout, `load_tokenizer(dir)` and `load_model(dir)` of a saved language model,
    checked against each other (either backbone: transformers' or `t5.T5`)."""
    from motionchat.lm.t5 import vocab_rows

    directory = Path(directory)
    if not directory.is_dir():
        raise MotionchatError(f"{directory}: no such folder; pass the lm/ folder of a saved model")
    vocab = read_vocab_layout(directory)
    tokenizer = load_tokenizer(directory)
    vocab.check(tokenizer, source=str(directory / "tokenizer.json"))
    model = load_model(directory)
    if vocab_rows(model) != vocab.size:
        raise MotionchatError(
            f"{directory}: the weights have {vocab_rows(model)} token rows but the vocabulary "
            f"{vocab.size}; re-save the model"
        )
    return LanguageModel(model, tokenizer, vocab)
