"""Our text–motion evaluator: two encoders trained contrastively into one embedding space.

The metrics of text-to-motion papers (FID, R-Precision, MM-Dist, Diversity, MultiModality) are
distances between embeddings of a fixed evaluator, so the evaluator must not depend on the model
under test. This one is trained once per dataset (`motionchat-eval train-evaluator`) and saved as
one self-contained safetensors file: the weights, the text tokenizer, the feature statistics
(tensors) and its `EvaluatorConfig` (JSON in the metadata).

- Motion encoder: normalised features without the 4 foot contacts (as Guo et al.'s evaluator:
  contacts are a by-product of positions, noisy in generated motion) -> two strided 1-D
  convolutions (time / 4) -> bidirectional GRU over the valid steps -> MLP -> unit vector.
  Distances between unit vectors are what the metrics use (Euclidean, as in the protocol).
- Text encoder: SentencePiece pieces -> embedding -> bidirectional GRU -> MLP -> unit vector.
  The pieces come from a SentencePiece model trained on the dataset's training captions with the
  project's own trainer (`motionchat.lm.tokenizer.train_sentencepiece`) and stored with the
  evaluator, not the language model's tokenizer: the evaluator has to stay fixed while models
  (and their tokenizers) change, and subword pieces still encode words it never saw.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from eval.embedder import TextInput, caption_text, chunks, pad_motions
from eval.storage import load_module_state, load_tensors, read_metadata, save_tensors
from motionchat.errors import MotionchatError
from motionchat.motion.normalizer import Normalizer

EVALUATOR_FILE = "evaluator.safetensors"
FORMAT = "motionchat-evaluator/1"
FOOT_CONTACTS = 4  # the last values of every feature frame
PAD_ID = 0  # SentencePiece models from motionchat.lm.tokenizer put <pad> at 0


@dataclass(frozen=True)
class EvaluatorConfig:
    """Shape of the evaluator.

    Args:
        feature_dim: values per frame of the dataset's features (contacts included).
        vocab_size: SentencePiece pieces (set from the trained tokenizer).
        width: channels of the convolutions and hidden size of both GRUs.
        embed_dim: size of the shared embedding.
        max_text_tokens: longer captions are cut.
    """

    feature_dim: int = 263
    vocab_size: int = 1000
    width: int = 256
    embed_dim: int = 512
    max_text_tokens: int = 48
    frames_per_step: int = 4  # the convolutions halve time twice

    def to_dict(self) -> dict:
        return asdict(self)


def _head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim))


def _bigru_last(gru: nn.GRU, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, H) padded, (B,) lengths -> (B, 2H) final forward and backward states."""
    packed = pack_padded_sequence(inputs, lengths.cpu().clamp_min(1), batch_first=True, enforce_sorted=False)
    _, last = gru(packed)  # (2, B, H)
    return torch.cat([last[0], last[1]], dim=-1)


class MotionEncoder(nn.Module):
    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.conv1 = nn.Conv1d(cfg.feature_dim - FOOT_CONTACTS, cfg.width, 4, 2, 1)
        self.conv2 = nn.Conv1d(cfg.width, cfg.width, 4, 2, 1)
        self.gru = nn.GRU(cfg.width, cfg.width, batch_first=True, bidirectional=True)
        self.head = _head(2 * cfg.width, cfg.width, cfg.embed_dim)
        self.frames_per_step = cfg.frames_per_step

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D-4) normalised features, (B,) frames -> (B, embed_dim) unit vectors.

        Steps past a motion's end are zeroed between the convolutions, so a motion embeds the same
        whatever it is batched (padded) with.
        """
        x = F.leaky_relu(self.conv1(features.permute(0, 2, 1)), 0.2)  # (B, width, T/2)
        valid = torch.arange(x.shape[-1], device=x.device)[None, :] < (lengths // 2).to(x.device)[:, None]
        x = F.leaky_relu(self.conv2(x * valid[:, None, :]), 0.2).permute(0, 2, 1)  # (B, T/4, width)
        return F.normalize(self.head(_bigru_last(self.gru, x, lengths // self.frames_per_step)), dim=-1)


class TextEncoder(nn.Module):
    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.width, padding_idx=PAD_ID)
        self.gru = nn.GRU(cfg.width, cfg.width, batch_first=True, bidirectional=True)
        self.head = _head(2 * cfg.width, cfg.width, cfg.embed_dim)

    def forward(self, token_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, L) piece ids (PAD_ID after the end), (B,) lengths -> (B, embed_dim) unit vectors."""
        return F.normalize(self.head(_bigru_last(self.gru, self.embedding(token_ids), lengths)), dim=-1)


class ContrastiveModel(nn.Module):
    """Both encoders and the learned temperature of the contrastive loss."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.cfg = cfg
        self.motion_encoder = MotionEncoder(cfg)
        self.text_encoder = TextEncoder(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))  # CLIP's initial temperature


class PieceEncoder:
    """Caption -> SentencePiece ids, with the normalisation the tokenizer was trained with."""

    def __init__(self, model_proto: bytes, max_tokens: int):
        self.model_proto = model_proto
        self.processor = spm.SentencePieceProcessor(model_proto=model_proto)
        self.max_tokens = max_tokens

    @staticmethod
    def normalise(text: str) -> str:
        return unicodedata.normalize("NFKC", text).strip().lower()

    def encode(self, text: str) -> list[int]:
        ids = self.processor.encode(self.normalise(text))[: self.max_tokens]
        return ids or [self.processor.unk_id()]

    def batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (B, L) ids padded with PAD_ID, (B,) lengths."""
        encoded = [self.encode(t) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded])
        ids = torch.full((len(encoded), int(lengths.max())), PAD_ID, dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = torch.tensor(e)
        return ids, lengths


def motion_inputs(normalised: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (T, D) features -> padded (B, T_max, D-4) without contacts, (B,) lengths."""
    return pad_motions([np.asarray(m)[:, :-FOOT_CONTACTS] for m in normalised])


class ContrastiveEvaluator:
    """A trained `ContrastiveModel` with its tokenizer and statistics, as an `Embedder`."""

    name = "motionchat"

    def __init__(self, model: ContrastiveModel, pieces: PieceEncoder, normalizer: Normalizer, device: str = "cpu", batch_size: int = 128):
        self.model = model.to(device).eval()
        self.pieces = pieces
        self.normalizer = normalizer
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.dim = model.cfg.embed_dim
        self.min_frames = model.cfg.frames_per_step

    @torch.no_grad()
    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        out = []
        for part in chunks(len(motions), self.batch_size):
            batch = []
            for motion in motions[part]:
                if len(motion) < self.min_frames:
                    raise ValueError(f"a motion of {len(motion)} frames is too short for the evaluator (needs {self.min_frames})")
                batch.append(self.normalizer.normalize(np.asarray(motion, dtype=np.float32)))
            features, lengths = motion_inputs(batch)
            out.append(self.model.motion_encoder(features.to(self.device), lengths).double().cpu().numpy())
        return np.concatenate(out)

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[TextInput]) -> np.ndarray:
        out = []
        for part in chunks(len(texts), self.batch_size):
            ids, lengths = self.pieces.batch([caption_text(t) for t in texts[part]])
            out.append(self.model.text_encoder(ids.to(self.device), lengths).double().cpu().numpy())
        return np.concatenate(out)


RETRAIN = "train one with `motionchat-eval train-evaluator --data DIR --out DIR`"


def save_evaluator(evaluator: ContrastiveEvaluator, path: str | os.PathLike, report: dict | None = None) -> Path:
    """One safetensors file: weights, `text_tokenizer` (bytes), `mean`/`std`; config + report in metadata."""
    tensors = {f"model.{k}": v for k, v in evaluator.model.state_dict().items()}
    tensors["text_tokenizer"] = torch.frombuffer(bytearray(evaluator.pieces.model_proto), dtype=torch.uint8)
    tensors["mean"] = torch.from_numpy(evaluator.normalizer.mean.copy())
    tensors["std"] = torch.from_numpy(evaluator.normalizer.std.copy())
    return save_tensors(path, tensors, FORMAT, evaluator.model.cfg, report=report or {})


def evaluator_file(path: str | os.PathLike) -> Path:
    """The evaluator file itself, or the one inside a run folder."""
    path = Path(path)
    return path / EVALUATOR_FILE if path.is_dir() else path


def read_evaluator_report(path: str | os.PathLike) -> dict:
    """The test-split report stored with an evaluator (ground truth R-Precision, ...)."""
    _, notes = read_metadata(evaluator_file(path), FORMAT, EvaluatorConfig, RETRAIN)
    return notes.get("report", {})


def load_evaluator(path: str | os.PathLike, device: str = "cpu") -> ContrastiveEvaluator:
    """Rebuild the evaluator saved at `path` (a file or the folder holding evaluator.safetensors)."""
    path = evaluator_file(path)
    cfg, _ = read_metadata(path, FORMAT, EvaluatorConfig, RETRAIN)
    tensors = load_tensors(path)
    try:
        proto = tensors.pop("text_tokenizer").numpy().tobytes()
        normalizer = Normalizer(tensors.pop("mean").numpy(), tensors.pop("std").numpy(), source=str(path))
    except KeyError as err:
        raise MotionchatError(f"{path}: evaluator file lacks {err}; {RETRAIN}") from None
    model = ContrastiveModel(cfg)
    load_module_state(model, {k.removeprefix("model."): v for k, v in tensors.items()}, path, RETRAIN)
    return ContrastiveEvaluator(model, PieceEncoder(proto, cfg.max_text_tokens), normalizer, device)
