"""The standard text-to-motion evaluator of Guo et al. (CVPR 2022, "Generating Diverse and Natural
3D Human Motions from Text"), rebuilt so that its published checkpoint loads unchanged.

Numbers from it are comparable with papers. Users bring their own copy of:

- the checkpoint `t2m/text_mot_match/model/finest.tar` (`kit/...` for KIT-ML): a torch file whose
  `text_encoder`, `motion_encoder` and `movement_encoder` entries are the three state dicts below;
  read with `torch.load(weights_only=True)`, so it cannot run code;
- its GloVe table: `our_vab_data.npy` (N, 300) plus `our_vab_words.pkl` / `our_vab_idx.pkl`
  (pickles: read only with `allow_pickle=True`, and then by an unpickler that refuses every class
  but plain numbers, so a doctored file cannot run code either) or, better, the `.npz` that
  `convert_glove` writes from them once;
- the statistics the evaluator expects motions to be normalised with (`mean.npy`/`std.npy` of
  Guo's `Comp_v6_KLD01/meta`; they differ from the dataset's `Mean.npy`/`Std.npy`).

Architecture (parameter names as in the published code):

    movement_encoder  Conv1d(D-4 -> 512, k4 s2) . Dropout . LeakyReLU . Conv1d(512 -> 512, k4 s2)
                      . Dropout . LeakyReLU, then Linear(512 -> 512): frames / 4 "movements"
    motion_encoder    Linear(512 -> 1024), BiGRU(1024) from a learned initial state, the two last
                      states -> Linear(2048 -> 1024) . LayerNorm . LeakyReLU . Linear(1024 -> 512)
    text_encoder      GloVe (300) + Linear(15 POS one-hot -> 300), Linear(300 -> 512), BiGRU(512),
                      last states -> Linear(1024 -> 512) . LayerNorm . LeakyReLU . Linear(512 -> 512)

Text comes as HumanML3D's `word/POS` tokens (spaCy's tags); a plain string (a generated caption)
is split into lower-case words tagged OTHER, which only approximates the original preprocessing.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from eval.embedder import TextInput, chunks, pad_motions
from eval.metrics.text import tokenize
from motionchat.data.dataset import Caption
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path
from motionchat.motion.normalizer import Normalizer

PADDED_FRAMES = 196  # the protocol pads every motion to HumanML3D's longest clip
CHECKPOINT_KEYS = ("text_encoder", "motion_encoder", "movement_encoder")
GLOVE_FILES = ("our_vab_data.npy", "our_vab_words.pkl", "our_vab_idx.pkl")

POS_TAGS = (
    "VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
    "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER",
)  # fmt: skip
# Words that override their POS tag with a "very important" class (from the published vectorizer).
VIP_WORDS = {
    "Loc_VIP": "left right clockwise counterclockwise anticlockwise forward back backward up down straight curve",
    "Body_VIP": "arm chin foot feet face hand mouth leg waist eye knee shoulder thigh",
    "Obj_VIP": "stair dumbbell chair window floor car ball handrail baseball basketball",
    "Act_VIP": "walk run swing pick bring kick put squat throw hop dance jump turn stumble stop sit lift lower "
    "raise wash stand kneel stroll rub bend balance flap jog shuffle lean rotate spin spread climb",
    "Desc_VIP": "slowly carefully fast careful slow quickly happy angry sad happily angrily sadly",
}
_VIP_OF_WORD = {word: tag for tag, words in VIP_WORDS.items() for word in words.split()}


@dataclass(frozen=True)
class GuoConfig:
    """Sizes of the published evaluator (the same for HumanML3D and KIT-ML but for feature_dim)."""

    feature_dim: int = 263
    word_dim: int = 300
    text_hidden: int = 512
    motion_hidden: int = 1024
    movement_hidden: int = 512
    movement_latent: int = 512
    embed_dim: int = 512
    max_text_words: int = 20
    frames_per_movement: int = 4

    @property
    def pos_dim(self) -> int:
        return len(POS_TAGS)


def _head(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.LayerNorm(hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, out_dim))


def _bigru_last_states(gru: nn.GRU, initial: nn.Parameter, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, H) padded inputs -> (B, 2H): the forward and backward final states."""
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    _, last = gru(packed, initial.expand(-1, inputs.shape[0], -1).contiguous())  # (2, B, H)
    return torch.cat([last[0], last[1]], dim=-1)


class MovementConvEncoder(nn.Module):
    def __init__(self, cfg: GuoConfig):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(cfg.feature_dim - 4, cfg.movement_hidden, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(cfg.movement_hidden, cfg.movement_latent, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(cfg.movement_latent, cfg.movement_latent)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, D-4) normalised features without contacts -> (B, T/4, latent)."""
        return self.out_net(self.main(features.permute(0, 2, 1)).permute(0, 2, 1))


class MotionEncoderBiGRUCo(nn.Module):
    def __init__(self, cfg: GuoConfig):
        super().__init__()
        self.input_emb = nn.Linear(cfg.movement_latent, cfg.motion_hidden)
        self.gru = nn.GRU(cfg.motion_hidden, cfg.motion_hidden, batch_first=True, bidirectional=True)
        self.output_net = _head(2 * cfg.motion_hidden, cfg.motion_hidden, cfg.embed_dim)
        self.hidden = nn.Parameter(torch.zeros(2, 1, cfg.motion_hidden))

    def forward(self, movements: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, N, latent) movements, (B,) valid lengths -> (B, embed_dim)."""
        return self.output_net(_bigru_last_states(self.gru, self.hidden, self.input_emb(movements), lengths))


class TextEncoderBiGRUCo(nn.Module):
    def __init__(self, cfg: GuoConfig):
        super().__init__()
        self.pos_emb = nn.Linear(cfg.pos_dim, cfg.word_dim)
        self.input_emb = nn.Linear(cfg.word_dim, cfg.text_hidden)
        self.gru = nn.GRU(cfg.text_hidden, cfg.text_hidden, batch_first=True, bidirectional=True)
        self.output_net = _head(2 * cfg.text_hidden, cfg.text_hidden, cfg.embed_dim)
        self.hidden = nn.Parameter(torch.zeros(2, 1, cfg.text_hidden))

    def forward(self, word_vectors: torch.Tensor, pos_onehot: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, L, 300) GloVe vectors, (B, L, 15) POS one-hots, (B,) lengths -> (B, embed_dim)."""
        inputs = self.input_emb(word_vectors + self.pos_emb(pos_onehot))
        return self.output_net(_bigru_last_states(self.gru, self.hidden, inputs, lengths))


# --- GloVe ------------------------------------------------------------------------------------


class _PlainDataUnpickler(pickle.Unpickler):
    """Rebuilds lists, dicts, strings and numbers only; any class or function is refused."""

    _ALLOWED = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_plain_pickle(path: Path):
    try:
        return _PlainDataUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as err:
        raise MotionchatError(f"{path}: not a plain word list/index pickle ({err}); use the files published with the evaluator") from None


@dataclass(frozen=True)
class Glove:
    """Word -> 300-d vector table; unknown words take the vector of 'unk'."""

    index: dict[str, int]
    vectors: np.ndarray  # (N, 300) float32

    def vector(self, word: str) -> np.ndarray | None:
        i = self.index.get(word)
        return None if i is None else self.vectors[i]


def _check_glove(words: list, vectors: np.ndarray, where: str) -> Glove:
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise MotionchatError(f"{where}: {len(words)} words but vectors of shape {vectors.shape}; the GloVe files do not belong together")
    if "unk" not in words:
        raise MotionchatError(f"{where}: the GloVe table has no 'unk' entry; use the table published with the evaluator")
    return Glove({str(w): i for i, w in enumerate(words)}, vectors.astype(np.float32))


def load_glove(path: str | os.PathLike, allow_pickle: bool = False) -> Glove:
    """Read a `.npz` (arrays `words`, `vectors`) or the published folder of three files.

    The folder's word list and index are pickles: pass allow_pickle=True to read them (only plain
    data is accepted even then), or convert them once with `convert_glove`.
    """
    path = Path(path)
    if path.suffix == ".npz":
        if not path.is_file():
            raise MotionchatError(f"{path}: GloVe file not found; pass the .npz written by `motionchat-eval convert-glove`")
        try:
            with np.load(path, allow_pickle=False) as data:
                words, vectors = data["words"].tolist(), data["vectors"]
        except (OSError, KeyError, ValueError) as err:
            raise MotionchatError(f"{path}: not a GloVe .npz with 'words' and 'vectors' ({err}); rewrite it with convert-glove") from None
        return _check_glove(words, vectors, str(path))
    if not path.is_dir():
        raise MotionchatError(f"{path}: no such GloVe folder or .npz; point at the folder holding {', '.join(GLOVE_FILES)}")
    missing = [name for name in GLOVE_FILES if not (path / name).is_file()]
    if missing:
        raise MotionchatError(f"{path}: missing {', '.join(missing)}; point at the evaluator's glove/ folder")
    if not allow_pickle:
        raise MotionchatError(
            f"{path}: the GloVe word list and index are pickle files; pass --trust-glove-pickles to read them "
            "(plain data only) or convert them once with `motionchat-eval convert-glove`"
        )
    from motionchat.motion.arrays import load_npy_array

    vectors = load_npy_array(path / GLOVE_FILES[0], "GloVe vectors")
    words = _read_plain_pickle(path / GLOVE_FILES[1])
    index = _read_plain_pickle(path / GLOVE_FILES[2])
    if not isinstance(words, list) or not isinstance(index, dict):
        raise MotionchatError(f"{path}: expected a word list and a word -> row dict; use the files published with the evaluator")
    try:
        ordered = [vectors[int(index[w])] for w in words]
    except (KeyError, IndexError, TypeError, ValueError):
        raise MotionchatError(f"{path}: the word index does not match the word list and vectors") from None
    return _check_glove(words, np.stack(ordered), str(path))


def convert_glove(folder: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Turn the published pickle + npy GloVe folder into one pickle-free `.npz` (atomically)."""
    glove = load_glove(folder, allow_pickle=True)
    out = Path(out)
    if out.suffix != ".npz":
        raise MotionchatError(f"{out}: the converted GloVe file must end in .npz")
    words = np.array(sorted(glove.index, key=glove.index.get))
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, words=words, vectors=glove.vectors)
    return out


# --- the evaluator ----------------------------------------------------------------------------


def load_checkpoint_state(path: str | os.PathLike) -> dict[str, dict[str, torch.Tensor]]:
    path = Path(path)
    if not path.is_file():
        raise MotionchatError(f"{path}: checkpoint not found; pass text_mot_match/model/finest.tar from the evaluator download")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for unreadable or unsafe files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MotionchatError(f"{path}: cannot read it as a plain-weights torch file ({first[:160]})") from None
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in CHECKPOINT_KEYS):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise MotionchatError(f"{path}: expected entries {', '.join(CHECKPOINT_KEYS)}, found {found}; is this text_mot_match/model/finest.tar?")
    return {key: checkpoint[key] for key in CHECKPOINT_KEYS}


class GuoEvaluator:
    """The published evaluator as an `Embedder` (see `eval.embedder`)."""

    name = "guo"

    def __init__(self, checkpoint: str | os.PathLike, glove: Glove, normalizer: Normalizer, device: str = "cpu", batch_size: int = 64):
        self.cfg = GuoConfig(feature_dim=normalizer.dim)
        self.dim = self.cfg.embed_dim
        self.min_frames = self.cfg.frames_per_movement
        self.glove = glove
        self.normalizer = normalizer
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.movement_encoder = MovementConvEncoder(self.cfg)
        self.motion_encoder = MotionEncoderBiGRUCo(self.cfg)
        self.text_encoder = TextEncoderBiGRUCo(self.cfg)
        state = load_checkpoint_state(checkpoint)
        for key in CHECKPOINT_KEYS:
            module = getattr(self, key)
            try:
                module.load_state_dict(state[key], strict=True)
            except RuntimeError as err:
                detail = " ".join(str(err).split())[:200]
                raise MotionchatError(f"{checkpoint}: {key} does not fit the evaluator for {normalizer.dim}-d features ({detail})") from None
            module.to(self.device).eval()
        if glove.vectors.shape[1] != self.cfg.word_dim:
            raise MotionchatError(f"GloVe vectors have {glove.vectors.shape[1]} values, the evaluator needs {self.cfg.word_dim}")

    def _word_inputs(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """`word/POS` tokens -> (L, 300) vectors, (L, 15) one-hots, length; the published layout:
        sos + up to 20 words + eos, padded with unk to 22."""
        words = list(tokens[: self.cfg.max_text_words])
        sequence = ["sos/OTHER", *words, "eos/OTHER"]
        length = len(sequence)
        sequence += ["unk/OTHER"] * (self.cfg.max_text_words + 2 - length)
        vectors = np.zeros((len(sequence), self.cfg.word_dim), dtype=np.float32)
        onehots = np.zeros((len(sequence), self.cfg.pos_dim), dtype=np.float32)
        for i, token in enumerate(sequence):
            word, _, pos = token.rpartition("/") if "/" in token else (token, "", "OTHER")
            vector = self.glove.vector(word)
            if vector is None:
                vector, pos = self.glove.vector("unk"), "OTHER"
            else:
                pos = _VIP_OF_WORD.get(word, pos)
            vectors[i] = vector
            onehots[i, POS_TAGS.index(pos) if pos in POS_TAGS else POS_TAGS.index("OTHER")] = 1.0
        return vectors, onehots, length

    @staticmethod
    def _tokens(text: TextInput) -> tuple[str, ...]:
        if isinstance(text, Caption) and text.tokens:
            return text.tokens
        plain = text.text if isinstance(text, Caption) else text
        return tuple(f"{word}/OTHER" for word in tokenize(plain))

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[TextInput]) -> np.ndarray:
        out = []
        for part in chunks(len(texts), self.batch_size):
            inputs = [self._word_inputs(self._tokens(t)) for t in texts[part]]
            vectors = torch.from_numpy(np.stack([i[0] for i in inputs])).to(self.device)
            onehots = torch.from_numpy(np.stack([i[1] for i in inputs])).to(self.device)
            lengths = torch.tensor([i[2] for i in inputs])
            out.append(self.text_encoder(vectors, onehots, lengths).double().cpu().numpy())
        return np.concatenate(out)

    @torch.no_grad()
    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        """Raw features; as in the protocol's loader, each is cut to a multiple of 4 frames and
        zero-padded (after normalisation) to at least 196 frames."""
        unit = self.cfg.frames_per_movement
        out = []
        for part in chunks(len(motions), self.batch_size):
            batch = []
            for motion in motions[part]:
                if len(motion) < unit:
                    raise ValueError(f"a motion of {len(motion)} frames is too short for the evaluator (needs {unit})")
                batch.append(self.normalizer.normalize(np.asarray(motion[: len(motion) // unit * unit], dtype=np.float32))[:, :-4])
            padded, lengths = pad_motions(batch, min_frames=PADDED_FRAMES)
            movements = self.movement_encoder(padded.to(self.device))
            out.append(self.motion_encoder(movements, lengths // unit).double().cpu().numpy())
        return np.concatenate(out)
