"""What the evaluation asks of a model, and the baselines that answer the same questions.

A `Generator` turns requests into motions or captions. The model bundle implements it over the
language model; the baselines here implement it from the dataset, and give every report its
reference rows:

- `GroundTruthGenerator`: the test clip itself (its motion, one of its captions, the edited clip,
  the edit pair's own difference sentence);
- `RetrievalGenerator`: the nearest training clip (by caption words for text, by motion otherwise),
  or for a pair of motions the difference sentence of the nearest training edit pair;
- `HoldLastPoseGenerator`: prediction / in-betweening that freezes the last known pose;
- `UnchangedGenerator`: editing that returns the source motion as it is.

Motions, in and out, are raw (unnormalised) (T, D) features of the dataset's representation.
Requests carry the test clip's id: baselines use it to look things up; a model must ignore it.
A generator that stands something in for a malformed answer (the model) keeps an `AnswerTally`
as `tally`, so that reports can say how often that happened.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from eval.cache import motion_key
from eval.metrics.text import tokenize
from motionchat.data.dataset import MotionClips
from motionchat.errors import MotionchatError
from motionchat.motion.features import feature_layout
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import skeleton_for_feature_dim

TASKS = ("t2m", "m2t", "predict", "inbetween", "edit", "diff", "duration")


@dataclass(frozen=True)
class MotionPrompt:
    """Text to motion: a caption and the length of the clip it describes (the protocol gives it)."""

    caption: str
    frames: int
    clip_id: str


@dataclass(frozen=True)
class CaptionRequest:
    """Motion to text."""

    motion: np.ndarray  # (T, D)
    clip_id: str


@dataclass(frozen=True)
class PredictRequest:
    """Continue `prefix` (the clip's first frames) to `frames` frames in all."""

    prefix: np.ndarray  # (k, D)
    frames: int
    clip_id: str


@dataclass(frozen=True)
class InbetweenRequest:
    """Fill the gap between `start` and `end` so that the whole motion has `frames` frames."""

    start: np.ndarray  # (k, D)
    end: np.ndarray  # (k', D)
    frames: int
    clip_id: str


@dataclass(frozen=True)
class EditRequest:
    """Change `source` as `instruction` says."""

    source: np.ndarray  # (T, D)
    instruction: str
    clip_id: str  # the edit pair's id


@dataclass(frozen=True)
class DiffRequest:
    """Say in one sentence how `second` differs from `first`."""

    first: np.ndarray  # (T, D)
    second: np.ndarray  # (T', D)
    clip_id: str  # the edit pair's id


@dataclass(frozen=True)
class DurationRequest:
    """How long is `motion`?"""

    motion: np.ndarray  # (T, D)
    clip_id: str


@dataclass
class AnswerTally:
    """How many answers a generator gave per task, and how many of them were malformed.

    Args:
        stand_ins: per task, what is scored in place of a malformed answer (said in the report).
    """

    stand_ins: dict[str, str]
    given: Counter = field(default_factory=Counter)
    malformed: Counter = field(default_factory=Counter)

    def count(self, task: str, ok: Sequence[bool]) -> None:
        self.given[task] += len(ok)
        self.malformed[task] += sum(not k for k in ok)


@runtime_checkable
class Generator(Protocol):
    """A model (or baseline) under evaluation. Methods of tasks it does not support may raise
    NotImplementedError; `tasks` lists those it does. Every call is deterministic given `seed`.

    Returned motions: raw features; the whole motion for predict/inbetween (known frames
    included), ideally `frames` long (a shorter or longer one is cut or padded by holding its
    last frame before distances are taken).
    """

    name: str
    tasks: tuple[str, ...]
    # Whether repeated samples for one prompt can differ (MultiModality is skipped otherwise).
    samples_differ: bool

    def text_to_motion(self, prompts: Sequence[MotionPrompt], n_samples: int, seed: int) -> list[list[np.ndarray]]:
        """-> for each prompt, `n_samples` motions."""
        ...

    def motion_to_text(self, requests: Sequence[CaptionRequest], seed: int) -> list[str]: ...

    def predict(self, requests: Sequence[PredictRequest], seed: int) -> list[np.ndarray]: ...

    def inbetween(self, requests: Sequence[InbetweenRequest], seed: int) -> list[np.ndarray]: ...

    def edit(self, requests: Sequence[EditRequest], seed: int) -> list[np.ndarray]: ...

    def difference(self, requests: Sequence[DiffRequest], seed: int) -> list[str]:
        """-> for each pair, one sentence saying how the second motion differs from the first."""
        ...

    def duration(self, requests: Sequence[DurationRequest], seed: int) -> list[float | None]:
        """-> for each motion, its length in frames as the generator states it (None: unreadable)."""
        ...


class _Unsupported:
    """Default methods for baselines that answer only some tasks."""

    name = "baseline"
    tasks: tuple[str, ...] = ()
    samples_differ = False

    def _refuse(self, task: str):
        raise NotImplementedError(f"{self.name} does not do {task}")

    def text_to_motion(self, prompts, n_samples, seed):
        self._refuse("t2m")

    def motion_to_text(self, requests, seed):
        self._refuse("m2t")

    def predict(self, requests, seed):
        self._refuse("predict")

    def inbetween(self, requests, seed):
        self._refuse("inbetween")

    def edit(self, requests, seed):
        self._refuse("edit")

    def difference(self, requests, seed):
        self._refuse("diff")

    def duration(self, requests, seed):
        self._refuse("duration")


class ClipIndex:
    """Clips of a split by id, with their captions."""

    def __init__(self, clips: MotionClips):
        self.clips = clips
        self.position = {clip_id: i for i, clip_id in enumerate(clips.clip_ids)}

    def features(self, clip_id: str) -> np.ndarray:
        return self.clips.features(self.position[clip_id])

    def captions(self, clip_id: str) -> list[str]:
        return [c.text for c in self.clips.captions[self.position[clip_id]]]


class GroundTruthGenerator(_Unsupported):
    """Answers with the test data itself: the reference row of every table.

    Captions: one of the clip's own, drawn from the seed; the protocol then scores it against the
    clip's other captions (`caption_from_references`). Edits: the edited clip of the pair.
    Differences: the pair's own sentence of the corpus.
    """

    name = "ground truth"
    tasks = TASKS
    caption_from_references = True

    def __init__(self, test: ClipIndex, edit_targets: dict[str, np.ndarray] | None = None, differences: dict[str, str] | None = None):
        self.test = test
        self.edit_targets = edit_targets or {}
        self.differences = differences or {}

    def text_to_motion(self, prompts, n_samples, seed):
        return [[self.test.features(p.clip_id)] * n_samples for p in prompts]

    def motion_to_text(self, requests, seed):
        rng = np.random.default_rng(seed)
        return [str(rng.choice(self.test.captions(r.clip_id))) for r in requests]

    def predict(self, requests, seed):
        return [self.test.features(r.clip_id) for r in requests]

    def inbetween(self, requests, seed):
        return [self.test.features(r.clip_id) for r in requests]

    def edit(self, requests, seed):
        return [self.edit_targets[r.clip_id] for r in requests]

    def difference(self, requests, seed):
        return [self.differences[r.clip_id] for r in requests]

    def duration(self, requests, seed):
        return [float(len(r.motion)) for r in requests]


class _BagOfWords:
    """TF-IDF vectors of captions (sparse: HumanML3D has ~70k training captions), for nearest-caption search."""

    def __init__(self, documents: Sequence[str]):
        from scipy import sparse

        tokens = [tokenize(d) for d in documents]
        self.vocab = {w: i for i, w in enumerate(sorted({w for t in tokens for w in t}))}
        rows = [row for row, words in enumerate(tokens) for _ in words]
        cols = [self.vocab[w] for words in tokens for w in words]
        counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(tokens), len(self.vocab)))  # duplicates add up
        self.idf = np.log((1 + len(tokens)) / (1 + np.bincount(counts.indices, minlength=len(self.vocab)))) + 1
        weighted = counts.multiply(self.idf[None, :]).tocsr()
        norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
        self.matrix = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted

    def similarities(self, text: str) -> np.ndarray:
        query = np.zeros(len(self.vocab))
        for w in tokenize(text):
            if w in self.vocab:
                query[self.vocab[w]] += 1
        query *= self.idf
        return self.matrix @ (query / max(np.linalg.norm(query), 1e-12))


def motion_descriptor(normalised: np.ndarray) -> np.ndarray:
    """A fixed-size summary of a normalised (T, D) motion: per-dimension mean and std over time,
    and the log of its length."""
    return np.concatenate([normalised.mean(0), normalised.std(0), [np.log(len(normalised))]])


def fit_length(motion: np.ndarray, frames: int) -> np.ndarray:
    """Cut `motion` to `frames`, or extend it by holding its last frame."""
    if len(motion) >= frames:
        return motion[:frames]
    return np.concatenate([motion, np.repeat(motion[-1:], frames - len(motion), axis=0)])


class RetrievalGenerator(_Unsupported):
    """Nearest neighbours in the training split.

    Text to motion: the clips whose captions share the most (TF-IDF weighted) words with the
    prompt, sample s being the (s+1)-th nearest clip. Motion to text: the first caption of the
    clip with the nearest motion descriptor. Prediction / in-betweening: the clip whose opening
    frames are nearest to the known start (root and joint positions, normalised); its
    continuation fills the unknown frames. Difference: the sentence of the training edit pair
    (`train_differences`: source id, target id, sentence) whose change of motion descriptor
    (second minus first) is nearest to the requested pair's; on a 3k-clip corpus this reads twice
    as many edits right as comparing the two descriptors themselves. Duration: the length of the
    clip with the nearest motion descriptor. All deterministic (the seed is not used).
    """

    name = "retrieval"
    tasks = ("t2m", "m2t", "predict", "inbetween", "diff", "duration")
    samples_differ = True
    OPENING_FRAMES = 64  # longest known start compared (in-betweening keeps 25% of <= 196 frames)
    OPENING_STEP = 4  # every 4th frame of it: HumanML3D's ~23k training clips stay ~100 MB

    def __init__(self, train: MotionClips, normalizer: Normalizer, train_differences: Sequence[tuple[str, str, str]] = ()):
        self.train = train
        self.normalizer = normalizer
        self.caption_owner = [i for i, captions in enumerate(train.captions) for _ in captions]
        self.words = _BagOfWords([c.text for captions in train.captions for c in captions])
        layout = feature_layout(train.skeleton)
        self.pose_dims = np.r_[layout.root, layout.positions]
        descriptors, openings = [], []
        for i in range(len(train)):
            normalised = normalizer.normalize(train.features(i))
            descriptors.append(motion_descriptor(normalised))
            openings.append(self._opening(normalised))
        self.descriptors = np.stack(descriptors)
        self.openings = np.stack(openings)  # (N, OPENING_FRAMES / OPENING_STEP, pose dims)
        position = {clip_id: i for i, clip_id in enumerate(train.clip_ids)}
        self.pair_sentences = [sentence for _, _, sentence in train_differences]
        self.pair_changes = np.array([self.descriptors[position[b]] - self.descriptors[position[a]] for a, b, _ in train_differences])
        self._nearest: dict = {}  # answers are deterministic: repeats reuse them

    def _opening(self, normalised: np.ndarray) -> np.ndarray:
        return fit_length(normalised, self.OPENING_FRAMES)[:: self.OPENING_STEP, self.pose_dims].astype(np.float32)

    def _nearest_clips(self, caption: str, n: int) -> list[int]:
        order = np.argsort(-self.words.similarities(caption), kind="stable")
        clips: list[int] = []
        for row in order:
            clip = self.caption_owner[row]
            if clip not in clips:
                clips.append(clip)
                if len(clips) == n:
                    break
        return clips

    def _memo(self, key: tuple, search, *args):
        """`search(*args)`, or its answer from an earlier call with the same `key`."""
        if key not in self._nearest:
            self._nearest[key] = search(*args)
        return self._nearest[key]

    def text_to_motion(self, prompts, n_samples, seed):
        nearest = [self._memo(("t2m", p.caption, n_samples), self._nearest_clips, p.caption, n_samples) for p in prompts]
        return [[self.train.features(c) for c in clips] for clips in nearest]

    def _descriptor(self, motion: np.ndarray) -> np.ndarray:
        return self._memo(("descriptor", *motion_key(motion)), lambda m: motion_descriptor(self.normalizer.normalize(m)), motion)

    def _nearest_descriptor(self, motion: np.ndarray) -> int:
        return int(np.argmin(np.linalg.norm(self.descriptors - self._descriptor(motion), axis=1)))

    def _nearest_clip(self, motion: np.ndarray) -> int:
        return self._memo(("nearest", *motion_key(motion)), self._nearest_descriptor, motion)

    def motion_to_text(self, requests, seed):
        return [self.train.captions[self._nearest_clip(r.motion)][0].text for r in requests]

    def duration(self, requests, seed):
        return [float(self.train.lengths[self._nearest_clip(r.motion)]) for r in requests]

    def _nearest_opening_index(self, start: np.ndarray) -> int:
        steps = -(-min(len(start), self.OPENING_FRAMES) // self.OPENING_STEP)  # sampled frames inside the start
        query = self._opening(self.normalizer.normalize(start))[:steps]
        return int(np.argmin(((self.openings[:, :steps] - query) ** 2).sum(axis=(1, 2))))

    def _nearest_opening(self, start: np.ndarray) -> np.ndarray:
        return self.train.features(self._memo(("opening", *motion_key(start)), self._nearest_opening_index, start))

    def predict(self, requests, seed):
        out = []
        for r in requests:
            neighbour = fit_length(self._nearest_opening(r.prefix), r.frames)
            out.append(np.concatenate([r.prefix, neighbour[len(r.prefix) :]]))
        return out

    def inbetween(self, requests, seed):
        out = []
        for r in requests:
            neighbour = fit_length(self._nearest_opening(r.start), r.frames)
            out.append(np.concatenate([r.start, neighbour[len(r.start) : r.frames - len(r.end)], r.end]))
        return out

    def difference(self, requests, seed):
        if not self.pair_sentences:
            raise MotionchatError("retrieval: no training edit pairs to take difference sentences from; diff needs the synthetic corpus")
        keys = [("diff", *motion_key(r.first), *motion_key(r.second)) for r in requests]
        return [self.pair_sentences[self._memo(key, self._nearest_pair, r.first, r.second)] for key, r in zip(keys, requests)]

    def _nearest_pair(self, first: np.ndarray, second: np.ndarray) -> int:
        change = self._descriptor(second) - self._descriptor(first)
        return int(np.argmin(np.linalg.norm(self.pair_changes - change, axis=1)))


def held_pose(frame: np.ndarray, frames: int) -> np.ndarray:
    """`frames` copies of one raw feature frame standing still: root and joint velocities zero,
    both feet in contact; position, height and rotations as they were."""
    layout = feature_layout(skeleton_for_feature_dim(frame.shape[-1]))
    still = np.array(frame, dtype=np.float32, copy=True)
    for part in (layout.root_yaw_velocity, layout.root_xz_velocity, layout.velocities):
        still[part] = 0.0
    still[layout.foot_contacts] = 1.0
    return np.repeat(still[None], frames, axis=0)


class HoldLastPoseGenerator(_Unsupported):
    """Prediction and in-betweening by freezing the last known frame (the classic trivial baseline)."""

    name = "hold last pose"
    tasks = ("predict", "inbetween")

    def predict(self, requests, seed):
        return [np.concatenate([r.prefix, held_pose(r.prefix[-1], r.frames - len(r.prefix))]) for r in requests]

    def inbetween(self, requests, seed):
        gap = lambda r: r.frames - len(r.start) - len(r.end)  # noqa: E731
        return [np.concatenate([r.start, held_pose(r.start[-1], gap(r)), r.end]) for r in requests]


class UnchangedGenerator(_Unsupported):
    """Editing that ignores the instruction: how far the untouched source is from the request."""

    name = "unchanged"
    tasks = ("edit",)

    def edit(self, requests, seed):
        return [r.source for r in requests]
