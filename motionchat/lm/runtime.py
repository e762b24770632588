"""The language model as chat and evaluation use it: loaded without importing transformers.

`load_runtime_lm(lm_dir)` reads what `storage.save_lm` wrote: the T5 weights into `t5.T5` and the
tokenizer into `Tokenizer`, with the handful of methods `generation.py` uses: the project's own
tokenizer in plain Python (`bpe.py`), any other through the `tokenizers` library (the backend
that transformers' fast tokenizer wraps, so ids and decoded text are the same). Training keeps
transformers' modules (`model.py`, `storage.load_lm`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from motionchat.errors import MotionchatError
from motionchat.lm.bpe import AddedToken, ProjectBPE
from motionchat.lm.storage import LanguageModel, checked_lm


class Batch(dict):
    """Tokenised prompts: "input_ids" and "attention_mask", (B, S) each."""

    def to(self, device: str | torch.device) -> Batch:
        return Batch({k: v.to(device) for k, v in self.items()})


class Tokenizer:
    """The saved `tokenizer.json` with the interface of transformers' fast tokenizer that answering
    needs: batch encoding with right padding, decoding, token/id look-ups, the special ids.

    The project's own tokenizer (`bpe.ProjectBPE`) runs in plain Python; any other tokenizer, and
    text that is not ASCII, goes through the `tokenizers` library, loaded when first needed.

    Args:
        path: the `tokenizer.json`.
        special_tokens: the pad, eos and unk tokens (from `tokenizer_config.json`).
    """

    def __init__(self, path: Path, special_tokens: dict[str, str]):
        self.path = path
        self.fast = ProjectBPE.from_json(json.loads(path.read_text(encoding="utf-8")))
        self._backend = None
        if self.fast is None:
            self.backend  # noqa: B018  a file the library cannot read fails here, at load time
        ids = {name: self.convert_tokens_to_ids(token) for name, token in special_tokens.items()}
        if ids.get("pad_token") is None or ids.get("eos_token") is None:
            raise MotionchatError(f"{path}: no pad or eos token; re-save the model")
        self.pad_token_id, self.eos_token_id = ids["pad_token"], ids["eos_token"]
        self.all_special_ids = sorted(i for i in ids.values() if i is not None)
        if self.fast is not None:
            self.added_tokens_decoder = {i: AddedToken(content) for i, content in sorted(self.fast.added.items())}
        else:
            self.added_tokens_decoder = self.backend.get_added_tokens_decoder()

    @property
    def backend(self):
        """The `tokenizers` library's tokenizer of the same file."""
        if self._backend is None:
            from tokenizers import Tokenizer as Backend

            self._backend = Backend.from_file(str(self.path))
        return self._backend

    def __len__(self) -> int:
        return len(self.fast) if self.fast is not None else self.backend.get_vocab_size(with_added_tokens=True)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        ids = [self.fast.encode(text) for text in texts] if self.fast is not None else [None] * len(texts)
        rest = [k for k, row in enumerate(ids) if row is None]
        if rest:
            for k, encoding in zip(rest, self.backend.encode_batch([texts[k] for k in rest])):
                ids[k] = encoding.ids
        return ids

    def __call__(self, texts: str | list[str], padding: bool = False, return_tensors: str | None = None) -> dict:
        """`{"input_ids", "attention_mask"}`: lists, or (B, S) tensors padded on the right."""
        single = isinstance(texts, str)
        ids = self._encode([texts] if single else list(texts))
        if return_tensors is None:
            masks = [[1] * len(row) for row in ids]
            return {"input_ids": ids[0], "attention_mask": masks[0]} if single else {"input_ids": ids, "attention_mask": masks}
        if return_tensors != "pt" or not (padding or len({len(i) for i in ids}) == 1):
            raise ValueError("Tokenizer returns torch tensors ('pt') of equal-length rows; pass padding=True")
        width = max(len(i) for i in ids)
        input_ids = torch.tensor([row + [self.pad_token_id] * (width - len(row)) for row in ids], dtype=torch.long)
        attention_mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids], dtype=torch.long)
        return Batch(input_ids=input_ids, attention_mask=attention_mask)

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        if self.fast is not None:
            return self.fast.decode(list(ids), skip_special_tokens=skip_special_tokens)
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def _id_to_token(self, i: int) -> str | None:
        return self.fast.token_of.get(i) if self.fast is not None else self.backend.id_to_token(i)

    def _token_to_id(self, token: str) -> int | None:
        return self.fast.id_of.get(token) if self.fast is not None else self.backend.token_to_id(token)

    def convert_ids_to_tokens(self, ids):
        return self._id_to_token(ids) if isinstance(ids, int) else [self._id_to_token(i) for i in ids]

    def convert_tokens_to_ids(self, tokens):
        return self._token_to_id(tokens) if isinstance(tokens, str) else [self._token_to_id(t) for t in tokens]

    def get_vocab(self) -> dict[str, int]:
        return dict(self.fast.id_of) if self.fast is not None else self.backend.get_vocab(with_added_tokens=True)


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
