"""The backbone: a Hugging Face `T5ForConditionalGeneration`, built from scratch (tiny preset) or
loaded from a local T5 checkpoint directory (base preset: e.g. a user's flan-t5-base), with its
embeddings resized for the joint vocabulary.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import T5Config, T5ForConditionalGeneration
from transformers.utils import logging as hf_logging

from motionchat.errors import MotionchatError
from motionchat.lm.motion_time import TIME_WEIGHT, add_motion_time, time_rows
from motionchat.lm.storage import LanguageModel, checked_lm
from motionchat.lm.tokenizer import load_text_tokenizer, train_text_tokenizer
from motionchat.lm.vocab import VocabLayout, add_joint_tokens


@dataclass(frozen=True)
class LMConfig:
    """Which backbone to build.

    Args:
        pretrained_dir: a local T5 checkpoint directory (config.json, weights, tokenizer). When set,
            the backbone and its tokenizer come from there and the sizes below are ignored.
        text_vocab_size: upper bound on byte-pair pieces of the scratch tokenizer.
        d_model, d_kv, d_ff, num_heads: T5 widths (d_kv is per head).
        num_encoder_layers, num_decoder_layers: depths. The decoder runs once per generated token,
            so its depth sets the generation latency.
        feed_forward_proj: "relu" (T5 1.0) or "gated-gelu" (T5 1.1 / flan); relu is cheaper per token.
        dropout_rate: used in training only.
        motion_time: give the model a motion time table (`motion_time.py`): the place of each
            motion code in its clip, which plain T5 cannot count.
    """

    pretrained_dir: str | None = None
    text_vocab_size: int = 2000
    d_model: int = 256
    d_kv: int = 64
    d_ff: int = 1024
    num_heads: int = 4
    num_encoder_layers: int = 4
    num_decoder_layers: int = 4
    feed_forward_proj: str = "relu"
    dropout_rate: float = 0.1
    motion_time: bool = False

    def __post_init__(self):
        sizes = {k: getattr(self, k) for k in ("text_vocab_size", "d_model", "d_kv", "d_ff", "num_heads")}
        sizes |= {k: getattr(self, k) for k in ("num_encoder_layers", "num_decoder_layers")}
        bad = {k: v for k, v in sizes.items() if not (isinstance(v, int) and v >= 1)}
        if bad:
            raise ValueError(f"LMConfig sizes must be positive integers, got {bad}")
        if self.feed_forward_proj not in ("relu", "gated-gelu"):
            raise ValueError(f"feed_forward_proj must be 'relu' or 'gated-gelu', got {self.feed_forward_proj!r}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}")


TINY = LMConfig()


def base_preset(pretrained_dir: str | Path) -> LMConfig:
    """The base preset: the user's local T5 checkpoint (e.g. flan-t5-base)."""
    return LMConfig(pretrained_dir=str(pretrained_dir))


def build_lm(
    config: LMConfig, codebook_size: int, sentences: Iterable[str] | None = None, seed: int = 0
) -> LanguageModel:
    """Tokenizer + joint vocabulary + backbone: the starting point of stage-2 training.

    `sentences` (captions and filled templates) train the scratch tokenizer; they are not used when
    `config.pretrained_dir` is set.
    """
    if config.pretrained_dir is not None:
        tokenizer = load_text_tokenizer(config.pretrained_dir)
    else:
        if sentences is None:
            raise ValueError("a scratch backbone needs `sentences` to train its tokenizer")
        tokenizer = train_text_tokenizer(sentences, config.text_vocab_size)
    vocab = add_joint_tokens(tokenizer, codebook_size)
    model = build_model(config, vocab, seed)
    if config.motion_time:
        add_motion_time(model, vocab)
    return LanguageModel(model, tokenizer, vocab)


def build_model(config: LMConfig, vocab: VocabLayout, seed: int = 0) -> T5ForConditionalGeneration:
    """A scratch T5 sized for `vocab`, or the pretrained one with its embeddings resized to it.

    Initialisation is seeded locally; the global torch RNG is left as it was. The model comes back
    in eval mode, like `from_pretrained` gives it; call `.train()` before training.
    """
    with torch.random.fork_rng(devices=[]):
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        if config.pretrained_dir is None:
            model = T5ForConditionalGeneration(_scratch_t5_config(config, vocab))
        else:
            model = load_pretrained_t5(config.pretrained_dir)
            resize_embeddings(model, vocab, generator)
    model.config.pad_token_id = vocab.pad_id
    model.config.eos_token_id = vocab.eos_id
    model.config.decoder_start_token_id = vocab.pad_id  # T5 starts decoding from <pad>
    return model.eval()


def _scratch_t5_config(config: LMConfig, vocab: VocabLayout) -> T5Config:
    # Tied input/output embeddings with the decoder output scaled by d_model**-0.5 (T5 1.0 style),
    # so a freshly initialised model starts with unit-scale logits.
    return T5Config(
        vocab_size=vocab.size,
        d_model=config.d_model,
        d_kv=config.d_kv,
        d_ff=config.d_ff,
        num_layers=config.num_encoder_layers,
        num_decoder_layers=config.num_decoder_layers,
        num_heads=config.num_heads,
        feed_forward_proj=config.feed_forward_proj,
        dropout_rate=config.dropout_rate,
        pad_token_id=vocab.pad_id,
        eos_token_id=vocab.eos_id,
        decoder_start_token_id=vocab.pad_id,
    )


def load_pretrained_t5(directory: str | Path) -> T5ForConditionalGeneration:
    """`T5ForConditionalGeneration.from_pretrained` on a local folder only (never the hub), in eval mode."""
    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise MotionchatError(f"{directory}: not a model folder (no config.json); point at a local T5 checkpoint")
    try:
        config = json.loads(config_path.read_text())
        model_type = config.get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        raise MotionchatError(f"{config_path}: not valid JSON; re-download or re-save the checkpoint") from None
    if model_type != "t5":
        raise MotionchatError(
            f"{directory}: holds a {model_type!r} model, not T5; use a T5 checkpoint (e.g. flan-t5-base)"
        )
    hf_logging.disable_progress_bar()  # its "Loading weights" bar would break into our own output
    # transformers reports the time table's weight as unexpected (`load_lm` attaches it); only then is the report silenced
    verbosity = hf_logging.get_verbosity()
    if time_rows(config):
        hf_logging.set_verbosity_error()
    try:
        # safetensors when present; a legacy .bin goes through torch.load(weights_only=True)
        model = T5ForConditionalGeneration.from_pretrained(directory, local_files_only=True, weights_only=True)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MotionchatError(f"{directory}: could not load the T5 weights ({first_line})") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    return model.eval()


@torch.no_grad()
def resize_embeddings(model: T5ForConditionalGeneration, vocab: VocabLayout, generator: torch.Generator) -> None:
    """Give `model` exactly `vocab.size` embedding rows: text rows kept, joint-token rows new.

    Written out rather than `model.resize_token_embeddings`, which in transformers 5.x re-ties the
    output head to the input embeddings and so throws away an untied pretrained head (flan-t5). Rows
    past the tokenizer's text ids (T5 checkpoints pad their matrices to 32128) are not reused: every
    new row is drawn from a normal with the per-dimension mean and std of the text rows.
    """
    old_in = model.get_input_embeddings().weight
    old_out = model.get_output_embeddings().weight
    tied = old_out is old_in
    if old_in.shape[0] < vocab.text_size:
        raise MotionchatError(
            f"the checkpoint has {old_in.shape[0]} embedding rows but its tokenizer {vocab.text_size} tokens; "
            "tokenizer and weights do not belong together"
        )

    def grown(old: torch.Tensor) -> torch.Tensor:
        text_rows = old[: vocab.text_size].float()
        new_rows = torch.randn(vocab.size - vocab.text_size, old.shape[1], generator=generator)
        new_rows = new_rows * text_rows.std(0) + text_rows.mean(0)
        return torch.cat([text_rows, new_rows]).to(old.dtype)

    embedding = torch.nn.Embedding(vocab.size, old_in.shape[1], device=old_in.device, dtype=old_in.dtype)
    embedding.weight.copy_(grown(old_in))
    model.set_input_embeddings(embedding)
    if tied:
        model.lm_head.weight = embedding.weight
    else:
        head = torch.nn.Linear(old_out.shape[1], vocab.size, bias=False, device=old_out.device, dtype=old_out.dtype)
        head.weight.copy_(grown(old_out))
        model.set_output_embeddings(head)
    model.config.vocab_size = vocab.size


def load_lm(directory: str | Path) -> LanguageModel:
    """The language model saved by `save_lm` as transformers' model and tokenizer (to train on), in
    eval mode, with its tokenizer checked against the layout."""
    lm = checked_lm(directory, load_text_tokenizer, load_pretrained_t5)
    rows = time_rows(lm.model.config)
    if rows:  # transformers' T5 has no place for the time table: it is attached and read here
        from safetensors import safe_open

        with safe_open(str(Path(directory) / "model.safetensors"), framework="pt") as weights:
            if TIME_WEIGHT not in weights.keys():
                raise MotionchatError(f"{directory}: config.json records a motion time table but the weights have none; re-save the model")
            table = weights.get_tensor(TIME_WEIGHT)
        embedding = add_motion_time(lm.model, lm.vocab, rows)
        with torch.no_grad():
            embedding.time.weight.copy_(table)
    return lm
