"""The language model as chat and evaluation use it: loaded without importing transformers.

`load_runtime_lm(lm_dir)` reads what `storage.save_lm` wrote: the T5 weights into `t5.T5` and the
tokenizer into `Tokenizer`, a thin layer over the `tokenizers` library (the backend that
transformers' fast tokenizer wraps, so ids and decoded text are the same) with the handful of
methods `generation.py` uses. Training keeps transformers' modules (`model.py`, `storage.load_lm`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from motionchat.errors import MotionchatError
from motionchat.lm.storage import LanguageModel, checked_lm


class Batch(dict):
    """Tokenised prompts: "input_ids" and "attention_mask", (B, S) each."""

    def to(self, device: str | torch.device) -> Batch:
        return Batch({k: v.to(device) for k, v in self.items()})


class Tokenizer:
    """The saved `tokenizer.json` with the interface of transformers' fast tokenizer that answering
    needs: batch encoding with right padding, decoding, token/id look-ups, the special ids.

    Args:
        path: the `tokenizer.json`.
        special_tokens: the pad, eos and unk tokens (from `tokenizer_config.json`).
    """

    def __init__(self, path: Path, special_tokens: dict[str, str]):
        from tokenizers import Tokenizer as Backend

        self.backend = Backend.from_file(str(path))
        ids = {name: self.backend.token_to_id(token) for name, token in special_tokens.items()}
        if ids.get("pad_token") is None or ids.get("eos_token") is None:
            raise MotionchatError(f"{path}: no pad or eos token; re-save the model")
        self.pad_token_id, self.eos_token_id = ids["pad_token"], ids["eos_token"]
        self.all_special_ids = sorted(i for i in ids.values() if i is not None)
        self.added_tokens_decoder = self.backend.get_added_tokens_decoder()

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def __call__(self, texts: str | list[str], padding: bool = False, return_tensors: str | None = None) -> dict:
        """`{"input_ids", "attention_mask"}`: lists, or (B, S) tensors padded on the right."""
        single = isinstance(texts, str)
        ids = [e.ids for e in self.backend.encode_batch([texts] if single else list(texts))]
        if return_tensors is None:
            masks = [[1] * len(row) for row in ids]
            return {"input_ids": ids[0], "attention_mask": masks[0]} if single else {"input_ids": ids, "attention_mask": masks}
        if return_tensors != "pt" or not (padding or len({len(i) for i in ids}) == 1):
            raise ValueError("Tokenizer returns torch tensors ('pt') of equal-length rows; pass padding=True")
        width = max(len(i) for i in ids)
        input_ids = torch.full((len(ids), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, row_ids in enumerate(ids):
            input_ids[row, : len(row_ids)] = torch.tensor(row_ids)
            attention_mask[row, : len(row_ids)] = 1
        return Batch(input_ids=input_ids, attention_mask=attention_mask)

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def convert_ids_to_tokens(self, ids):
        return self.backend.id_to_token(ids) if isinstance(ids, int) else [self.backend.id_to_token(i) for i in ids]

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.backend.token_to_id(tokens)
        return [self.backend.token_to_id(t) for t in tokens]

    def get_vocab(self) -> dict[str, int]:
        return self.backend.get_vocab(with_added_tokens=True)


def load_runtime_tokenizer(directory: Path) -> Tokenizer:
    path, config_path = directory / "tokenizer.json", directory / "tokenizer_config.json"
    if not path.is_file():
        raise MotionchatError(f"{directory}: no tokenizer.json; re-save the model with this version of motionchat")
    try:
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        names = ("pad_token", "eos_token", "unk_token")
        special = {n: config.get(n, d) for n, d in zip(names, ("<pad>", "</s>", "<unk>"))}
        special = {n: t["content"] if isinstance(t, dict) else t for n, t in special.items()}
        return Tokenizer(path, special)
    except MotionchatError:
        raise
    except Exception as err:  # noqa: BLE001  json, OS, and the tokenizers library's errors (plain Exception)
        raise MotionchatError(f"{directory}: could not load its tokenizer ({type(err).__name__}: {err})") from None


def load_runtime_lm(directory: str | os.PathLike, device: str | torch.device = "cpu") -> LanguageModel:
    """The language model saved by `save_lm`, for answering: `t5.T5` + `Tokenizer`, checked against
    the saved vocabulary layout, without importing transformers."""
    from motionchat.lm.t5 import load_t5

    return checked_lm(directory, load_runtime_tokenizer, lambda d: load_t5(d, device))
