"""Action recogniser for the synthetic corpus: reads the program (actions, order, parameters) a
motion performs, so that generated motions can be checked against the program they were asked for.

Two small networks, trained together on the train split's labels (`labels.jsonl`: each clip's
program and the frame span of each action):

- the *frame tagger* labels every frame with the action it belongs to, or "between" (lead-ins,
  blends, padding): strided then dilated 1-D convolutions -> per-frame classes;
- the *segment reader* reads one action's parameters from that action's frames (plus a small
  margin): convolutions -> bidirectional GRU -> with the action's embedding and three summary
  numbers of the raw segment (log length, root path length, net turn) -> one head per parameter
  (side, speed, count, direction, distance), each restricted to the values the action allows.

Recognition: tag the frames, smooth the tags with a running majority, cut the tags into runs,
drop "between" and runs shorter than `min_segment_frames`, merge neighbouring runs of the same
action (a primitive never follows itself in a program), then read each run's parameters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from eval.embedder import chunks, pad_motions
from eval.storage import load_module_state, load_tensors, read_metadata, save_tensors
from motionchat.data.synth.vocabulary import ACTIONS, PARAM_NAMES, Action, Program
from motionchat.errors import MotionchatError
from motionchat.motion.features import feature_layout
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import skeleton_for_feature_dim

RECOGNIZER_FILE = "recognizer.safetensors"
FORMAT = "motionchat-recognizer/1"
RETRAIN = "train one with `motionchat-eval train-recognizer --data SYNTH_DIR --out DIR`"
BETWEEN = 0  # frame class of frames outside every action
FOOT_CONTACTS = 4
IGNORE = -100  # target of a parameter the action does not take


class ProgramRecognizer(Protocol):
    def recognise(self, motions: Sequence[np.ndarray]) -> list[Program]:
        """Raw (T, D) features -> the program each motion performs."""
        ...


@dataclass(frozen=True)
class Classes:
    """Class order of the networks' outputs, from the corpus vocabulary (saved with the weights,
    so a recogniser trained on another vocabulary is refused rather than misread).

    Args:
        actions: the primitives; frame class i + 1 is actions[i] (class 0 is "between").
        param_values: the values of each parameter, in head order.
    """

    actions: tuple[str, ...]
    param_values: dict[str, list]

    @classmethod
    def from_vocabulary(cls) -> Classes:
        values: dict[str, list] = {p: [] for p in PARAM_NAMES}
        for spec in ACTIONS.values():
            for param, allowed in spec.params.items():
                values[param].extend(v for v in allowed if v not in values[param])
        return cls(tuple(ACTIONS), values)

    def to_dict(self) -> dict:
        return {"actions": list(self.actions), "param_values": self.param_values}


@dataclass(frozen=True)
class RecognizerConfig:
    """Shape of the recogniser and its decoding.

    Args:
        feature_dim: values per feature frame (contacts included; they are not used).
        width: channels and GRU size of both networks.
        min_segment_frames: shorter runs of one action are dropped as noise.
        smooth_frames: window of the running majority over the frame tags.
        margin_frames: frames around an action that the segment reader also sees.
    """

    feature_dim: int = 263
    width: int = 128
    min_segment_frames: int = 16  # the corpus's shortest action spans 21 frames; blips are shorter
    smooth_frames: int = 7
    margin_frames: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


STRIDE = 4  # both networks run at a quarter of the frame rate (CPU training time)
TAGGER_DILATIONS = (1, 2, 4, 8, 1)  # receptive field of +-16 steps = +-64 frames


def _conv_stack(in_dim: int, width: int) -> nn.Sequential:
    """(B, D, T) -> (B, width, ceil(T / 4))."""
    return nn.Sequential(
        nn.Conv1d(in_dim, width, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
        nn.Conv1d(width, width, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
    )  # fmt: skip


def _steps(frames: torch.Tensor) -> torch.Tensor:
    return (frames + STRIDE - 1) // STRIDE


def _packed_gru(gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor):
    packed = pack_padded_sequence(x, lengths.cpu().clamp_min(1), batch_first=True, enforce_sorted=False)
    return gru(packed)


class _DilatedBlock(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.leaky_relu(self.conv(x), 0.2)


class FrameTagger(nn.Module):
    """Convolutions only: each frame's tag sees about +-3 s around it and nothing of the rest of
    the clip, so it does not learn which actions tend to follow which (the test split holds
    orders never seen in training)."""

    def __init__(self, cfg: RecognizerConfig, classes: Classes):
        super().__init__()
        self.convs = _conv_stack(cfg.feature_dim - FOOT_CONTACTS, cfg.width)
        self.blocks = nn.Sequential(*[_DilatedBlock(cfg.width, d) for d in TAGGER_DILATIONS])
        self.out = nn.Conv1d(cfg.width, len(classes.actions) + 1, 1)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D-4) normalised, (B,) frames -> (B, T, actions + 1) logits (each step's
        logits repeated over its 4 frames)."""
        x = self.convs(features.permute(0, 2, 1))  # (B, width, T/4)
        valid = (torch.arange(x.shape[-1], device=x.device)[None, :] < _steps(lengths).to(x.device)[:, None])[:, None, :]
        for block in self.blocks:
            x = block(x * valid)  # padding never leaks into the end of a shorter clip
        return self.out(x).permute(0, 2, 1).repeat_interleave(STRIDE, dim=1)[:, : features.shape[1]]


SUMMARY_SIZE = 3  # log frames, root path length (m), net turn (rad)


class SegmentReader(nn.Module):
    def __init__(self, cfg: RecognizerConfig, classes: Classes):
        super().__init__()
        self.convs = _conv_stack(cfg.feature_dim - FOOT_CONTACTS, cfg.width)
        self.gru = nn.GRU(cfg.width, cfg.width, batch_first=True, bidirectional=True)
        self.action_embedding = nn.Embedding(len(classes.actions), cfg.width)
        self.trunk = nn.Sequential(nn.Linear(3 * cfg.width + SUMMARY_SIZE, 2 * cfg.width), nn.LayerNorm(2 * cfg.width), nn.LeakyReLU(0.2))
        self.heads = nn.ModuleDict({p: nn.Linear(2 * cfg.width, len(values)) for p, values in classes.param_values.items()})

    def forward(self, crops: torch.Tensor, lengths: torch.Tensor, actions: torch.Tensor, summary: torch.Tensor) -> dict[str, torch.Tensor]:
        """(S, L, D-4) segment crops, (S,) frames, (S,) action classes, (S, 3) summaries ->
        {parameter: (S, values) logits}."""
        x = self.convs(crops.permute(0, 2, 1)).permute(0, 2, 1)  # (S, L/4, width)
        _, last = _packed_gru(self.gru, x, _steps(lengths))  # (2, S, W)
        h = self.trunk(torch.cat([last[0], last[1], self.action_embedding(actions), summary], dim=-1))
        return {p: head(h) for p, head in self.heads.items()}


class RecognizerModel(nn.Module):
    def __init__(self, cfg: RecognizerConfig, classes: Classes | None = None):
        super().__init__()
        self.cfg = cfg
        self.classes = classes or Classes.from_vocabulary()
        self.tagger = FrameTagger(cfg, self.classes)
        self.reader = SegmentReader(cfg, self.classes)
        # allowed_<param>[a, v]: whether action a takes value v of the parameter
        for p, values in self.classes.param_values.items():
            allowed = torch.tensor([[v in ACTIONS[a].params.get(p, ()) for v in values] for a in self.classes.actions])
            self.register_buffer(f"allowed_{p}", allowed, persistent=False)

    def allowed(self, param: str) -> torch.Tensor:
        return getattr(self, f"allowed_{param}")


def segment_summary(raw: np.ndarray) -> np.ndarray:
    """(T, D) raw features of a segment -> (log frames, root path length in metres, net turn in rad)."""
    layout = feature_layout(skeleton_for_feature_dim(raw.shape[-1]))
    path_m = np.linalg.norm(raw[:, layout.root_xz_velocity], axis=-1).sum()
    turn_rad = 2.0 * raw[:, layout.root_yaw_velocity.start].sum()  # features store half-angle velocities
    return np.array([np.log(len(raw)), path_m, turn_rad], dtype=np.float32)


def segment_crop(length: int, start: int, end: int, margin: int) -> slice:
    return slice(max(0, start - margin), min(length, end + margin))


def runs_of(tags: np.ndarray) -> list[tuple[int, int, int]]:
    """(T,) tags -> [(tag, start, end)] maximal runs."""
    cuts = np.flatnonzero(np.diff(tags)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(tags)]])
    return [(int(tags[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def smooth_tags(tags: np.ndarray, window: int, n_classes: int) -> np.ndarray:
    """Running majority over `window` frames (ties to the lower class)."""
    onehot = np.eye(n_classes)[tags]  # (T, C)
    kernel = np.ones(window)
    votes = np.stack([np.convolve(onehot[:, c], kernel, mode="same") for c in range(n_classes)], axis=1)
    return votes.argmax(1)


def action_segments(tags: np.ndarray, min_frames: int) -> list[tuple[int, int, int]]:
    """Smoothed frame tags -> [(action class >= 1, start, end)] in order (see the module docstring)."""
    segments: list[tuple[int, int, int]] = []
    for tag, start, end in runs_of(tags):
        if tag == BETWEEN or end - start < min_frames:
            continue
        if segments and segments[-1][0] == tag:
            segments[-1] = (tag, segments[-1][1], end)
        else:
            segments.append((tag, start, end))
    return segments


class ActionRecognizer:
    """A trained `RecognizerModel` with its feature statistics, as a `ProgramRecognizer`."""

    def __init__(self, model: RecognizerModel, normalizer: Normalizer, device: str = "cpu", batch_size: int = 64):
        self.model = model.to(device).eval()
        self.cfg = model.cfg
        self.classes = model.classes
        self.normalizer = normalizer
        self.device = torch.device(device)
        self.batch_size = batch_size

    def _inputs(self, normalised: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        return pad_motions([m[:, :-FOOT_CONTACTS] for m in normalised])

    @torch.no_grad()
    def segments(self, motions: Sequence[np.ndarray]) -> list[list[tuple[int, int, int]]]:
        """Raw motions -> per motion [(action class, start, end)]."""
        out = []
        n_classes = len(self.classes.actions) + 1
        for part in chunks(len(motions), self.batch_size):
            normalised = [self.normalizer.normalize(np.asarray(m, dtype=np.float32)) for m in motions[part]]
            features, lengths = self._inputs(normalised)
            tags = self.model.tagger(features.to(self.device), lengths).argmax(-1).cpu().numpy()
            for row, length in zip(tags, lengths.tolist()):
                smoothed = smooth_tags(row[:length], self.cfg.smooth_frames, n_classes)
                out.append(action_segments(smoothed, self.cfg.min_segment_frames))
        return out

    @torch.no_grad()
    def read_parameters(self, motions: Sequence[np.ndarray], segments: Sequence[tuple[int, int, int, int]]) -> list[Action]:
        """(motion index, action class, start, end) segments -> actions with their parameters."""
        actions = []
        for part in chunks(len(segments), self.batch_size):
            crops, classes, summaries = [], [], []
            for motion_index, cls, start, end in segments[part]:
                raw = np.asarray(motions[motion_index], dtype=np.float32)
                window = raw[segment_crop(len(raw), start, end, self.cfg.margin_frames)]
                crops.append(self.normalizer.normalize(window))
                classes.append(cls - 1)
                summaries.append(segment_summary(raw[start:end]))
            x, lengths = self._inputs(crops)
            cls_tensor = torch.tensor(classes, device=self.device)
            logits = self.model.reader(x.to(self.device), lengths, cls_tensor, torch.from_numpy(np.stack(summaries)).to(self.device))
            for i, cls in enumerate(classes):
                name = self.classes.actions[cls]
                params = {}
                for p in ACTIONS[name].params:
                    scores = logits[p][i].masked_fill(~self.model.allowed(p)[cls], float("-inf"))
                    params[p] = self.classes.param_values[p][int(scores.argmax())]
                actions.append(Action(name, **params))
        return actions

    def recognise(self, motions: Sequence[np.ndarray]) -> list[Program]:
        per_motion = self.segments(motions)
        flat = [(i, cls, start, end) for i, segs in enumerate(per_motion) for cls, start, end in segs]
        actions = self.read_parameters(motions, flat) if flat else []
        programs: list[list[Action]] = [[] for _ in motions]
        for (i, *_), action in zip(flat, actions):
            programs[i].append(action)
        return [tuple(p) for p in programs]


def save_recognizer(recognizer: ActionRecognizer, path: str | os.PathLike, report: dict | None = None) -> Path:
    tensors = {f"model.{k}": v for k, v in recognizer.model.state_dict().items()}
    tensors["mean"] = torch.from_numpy(recognizer.normalizer.mean.copy())
    tensors["std"] = torch.from_numpy(recognizer.normalizer.std.copy())
    return save_tensors(path, tensors, FORMAT, recognizer.cfg, classes=recognizer.classes.to_dict(), report=report or {})


def recognizer_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path / RECOGNIZER_FILE if path.is_dir() else path


def load_recognizer(path: str | os.PathLike, device: str = "cpu") -> ActionRecognizer:
    path = recognizer_file(path)
    cfg, notes = read_metadata(path, FORMAT, RecognizerConfig, RETRAIN)
    classes = Classes.from_vocabulary()
    if notes.get("classes") != classes.to_dict():
        raise MotionchatError(f"{path}: trained on another action vocabulary than this version's; {RETRAIN}")
    tensors = load_tensors(path)
    try:
        normalizer = Normalizer(tensors.pop("mean").numpy(), tensors.pop("std").numpy(), source=str(path))
    except KeyError as err:
        raise MotionchatError(f"{path}: recognizer file lacks {err}; {RETRAIN}") from None
    model = RecognizerModel(cfg, classes)
    load_module_state(model, {k.removeprefix("model."): v for k, v in tensors.items()}, path, RETRAIN)
    return ActionRecognizer(model, normalizer, device)


def frame_targets(frames: int, program: Program, spans: Sequence[Sequence[int]], actions: Sequence[str]) -> np.ndarray:
    """(frames,) class per frame: 1 + the action's index inside its span, BETWEEN elsewhere."""
    tags = np.full(frames, BETWEEN, dtype=np.int64)
    for action, (start, end) in zip(program, spans):
        tags[start:end] = 1 + actions.index(action.name)
    return tags


def parameter_targets(action: Action, param_values: dict[str, list]) -> dict[str, int]:
    return {p: (param_values[p].index(getattr(action, p)) if getattr(action, p) is not None else IGNORE) for p in param_values}


def reader_loss(logits: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean cross-entropy over the parameters each segment's action takes."""
    losses = [F.cross_entropy(logits[p], targets[p], ignore_index=IGNORE, reduction="sum") for p in logits]
    count = sum((targets[p] != IGNORE).sum() for p in logits).clamp_min(1)
    return torch.stack(losses).sum() / count
