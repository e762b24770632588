"""From a program to joints: build each action's segment, chain and cross-fade them, add life.

Segments are placed one after the other, each starting where the previous one left the body
(position and heading); consecutive segments overlap by 6..14 frames (0.3..0.7 s) in which both
keep their feet planted where they stand, and every channel is cross-faded across the overlap,
so one action's end and the next one's start may run together as in a person's movement. Then
slow, small, smooth variations (breathing, postural sway, head and hand drift) make the
performer alive, the pelvis is lowered wherever a planted foot would be out of reach, and
inverse kinematics gives the joints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionchat.data.synth import gestures, jumping, postures, stepping
from motionchat.data.synth.body import PoseTrack, fit_pelvis_to_feet, pose_to_joints, trunk_offsets, yaw_matrix
from motionchat.data.synth.segment import FPS, Segment, Style, smoothstep
from motionchat.data.synth.vocabulary import ACTIONS, Program
from motionchat.motion.timing import MAX_FRAMES, MIN_FRAMES

PRIMITIVES = {
    name: getattr(module, name)
    for module in (stepping, jumping, gestures, postures)
    for name in ACTIONS
    if hasattr(module, name)
}
assert set(PRIMITIVES) == set(ACTIONS), sorted(set(ACTIONS) - set(PRIMITIVES))

MIN_BLEND_FRAMES, MAX_BLEND_FRAMES = 6, 14
TIME_WARP_DEPTH = 0.12  # largest change of a clip's playing rate (see `time_warp`)


@dataclass
class Clip:
    """A generated motion.

    Args:
        joints: (frames + 1, 22, 3) positions in metres (one more than the feature frames).
        spans: [start, end) frame range of each action's own movement, in feature frames.
    """

    joints: np.ndarray
    spans: list[tuple[int, int]]

    @property
    def frames(self) -> int:
        return len(self.joints) - 1


class ClipTooLong(ValueError):
    """The program does not fit in the longest clip HumanML3D allows."""


def build_segments(program: Program, style: Style, rng: np.random.Generator, max_len: int | None = None) -> list[Segment]:
    """One segment per action; stops early (ClipTooLong) once they cannot fit in `max_len` frames."""
    segments, shortest = [], 0
    for action in program:
        segments.append(PRIMITIVES[action.name](action, style, rng))
        shortest += len(segments[-1]) - (MAX_BLEND_FRAMES if len(segments) > 1 else 0)
        if max_len is not None and shortest > max_len:
            raise ClipTooLong(f"at least {shortest - 1} frames > {max_len - 1}")
    return segments


def _pad_start(segment: Segment, frames: int) -> Segment:
    """Hold the first (settled) frame a little longer."""
    if frames <= 0:
        return segment
    index = np.concatenate([np.zeros(frames, dtype=int), np.arange(len(segment))])
    track = PoseTrack(**{k: v[index] for k, v in segment.track.channels().items()})
    return Segment(track, segment.lead_in + frames, segment.lead_out, segment.end_ref)


def _pad_end(segment: Segment, frames: int) -> Segment:
    if frames <= 0:
        return segment
    index = np.concatenate([np.arange(len(segment)), np.full(frames, len(segment) - 1)])
    track = PoseTrack(**{k: v[index] for k, v in segment.track.channels().items()})
    return Segment(track, segment.lead_in, segment.lead_out + frames, segment.end_ref)


def _planted(track: PoseTrack, at_end: bool = False) -> int:
    """How many frames at the start (or end) of a track keep both feet exactly where they stand."""
    edge = -1 if at_end else 0
    ankle, pitch = track.ankle[::-1] if at_end else track.ankle, track.foot_pitch[::-1] if at_end else track.foot_pitch
    still = (np.abs(ankle - track.ankle[edge]).max(axis=(1, 2)) < 1e-6) & (np.abs(pitch - track.foot_pitch[edge]).max(1) < 1e-6)
    return len(still) if still.all() else int(np.argmin(still))


def _chain_ref(ref: tuple[float, float, float], step: tuple[float, float, float]) -> tuple[float, float, float]:
    """The stance `step` (given in the frame of `ref`) in world coordinates."""
    x, z, yaw = ref
    offset = yaw_matrix(np.float64(yaw)) @ np.array([step[0], 0.0, step[1]])
    return (x + offset[0], z + offset[2], yaw + step[2])


def compose(segments: list[Segment], max_len: int | None = None) -> tuple[PoseTrack, list[tuple[int, int]]]:
    """Chain segments with cross-fades; returns the track and each segment's active frame span.

    Raises ClipTooLong (before doing the blending work) when the track would exceed `max_len`.
    """
    segments = list(segments)
    for k in range(len(segments) - 1):  # every boundary gets at least the minimum blend
        short = MIN_BLEND_FRAMES - min(_planted(segments[k].track, at_end=True), _planted(segments[k + 1].track))
        if short > 0:
            segments[k] = _pad_end(segments[k], short)
            segments[k + 1] = _pad_start(segments[k + 1], short)
    starts = [0]
    for previous, segment in zip(segments[:-1], segments[1:]):
        # Overlap as far as both keep their feet where they stand (a gesture may start while the
        # previous action settles), up to the longest blend.
        overlap = min(_planted(previous.track, at_end=True), _planted(segment.track), MAX_BLEND_FRAMES)
        starts.append(starts[-1] + len(previous) - overlap)
    total = starts[-1] + len(segments[-1])
    if max_len is not None and total > max_len:
        raise ClipTooLong(f"{total - 1} frames > {max_len - 1}")
    ref, placed = (0.0, 0.0, 0.0), []
    for segment in segments:  # each starts where the previous one left the body
        placed.append(segment.track.moved(*ref))
        ref = _chain_ref(ref, segment.end_ref)
    # Fade weights: each segment fades in over its overlap with the previous one and out over
    # the next; in an overlap the two weights sum to one.
    weights = []
    for k, (track, begin) in enumerate(zip(placed, starts)):
        n = len(track)
        weight = np.ones(n)
        if k > 0:
            overlap = starts[k - 1] + len(placed[k - 1]) - begin
            weight[:overlap] = smoothstep((np.arange(overlap) + 1) / (overlap + 1))
        if k < len(placed) - 1:
            overlap = begin + n - starts[k + 1]
            weight[n - overlap :] = 1 - smoothstep((np.arange(overlap) + 1) / (overlap + 1))
        weights.append(weight)
    channels = {}
    per_track = [track.channels() for track in placed]
    for name, first in per_track[0].items():
        out = np.zeros((total,) + first.shape[1:])
        for values, weight, begin in zip(per_track, weights, starts):
            out[begin : begin + len(weight)] += weight.reshape((-1,) + (1,) * (first.ndim - 1)) * values[name]
        channels[name] = out
    spans = [(begin + seg.lead_in, begin + len(seg) - seg.lead_out) for begin, seg in zip(starts, segments)]
    return PoseTrack(**channels), spans


def _drift(rng: np.random.Generator, n: int, amplitude: float, shape=(), hz=(0.15, 0.7)) -> np.ndarray:
    """Smooth random variation: a few sines with random frequencies (in `hz`) and phases."""
    t = np.arange(n) / FPS
    freq = rng.uniform(*hz, size=(3,) + shape)
    phase = rng.uniform(0, 2 * np.pi, size=(3,) + shape)
    weight = rng.uniform(0.5, 1.0, size=(3,) + shape)
    waves = np.sin(2 * np.pi * freq[None] * t.reshape((n, 1) + (1,) * len(shape)) + phase[None]) * weight[None]
    return amplitude * waves.sum(1) / 2.0


def add_life(track: PoseTrack, rng: np.random.Generator, liveliness: float = 1.0) -> None:
    """Breathing, postural sway, head and hand drift and a little fidgeting (in place); feet stay
    where they are. `liveliness` scales it all (a performer's `Style.liveliness`).

    Version 3 made it larger and faster where motion capture moves more than the corpus did:
    the trunk (pelvis roll and yaw, spine), the head, the hands and the elbows."""
    n = len(track)
    t = np.arange(n) / FPS
    level = rng.uniform(0.6, 1.4) * liveliness
    track.spine[:, 0] += rng.uniform(0.012, 0.025) * np.sin(2 * np.pi * t / rng.uniform(3.0, 4.5) + rng.uniform(0, 2 * np.pi))
    track.root[:, [0, 2]] += _drift(rng, n, 0.008 * level, (2,))
    track.root[:, 1] += _drift(rng, n, 0.003 * level)
    track.pelvis += _drift(rng, n, 0.02 * level, (3,))
    track.spine += _drift(rng, n, 0.03 * level, (3,)) + _drift(rng, n, 0.008 * level, (3,), hz=(0.8, 2.0))
    track.head += _drift(rng, n, 0.07 * level, (3,)) + _drift(rng, n, 0.015 * level, (3,), hz=(0.8, 2.0))
    track.hand += _drift(rng, n, 0.02 * level, (2, 3)) + _drift(rng, n, 0.006 * level, (2, 3), hz=(0.8, 2.5))
    track.elbow_pole += _drift(rng, n, 0.15 * level, (2, 3))


def time_warp(track: PoseTrack, spans: list[tuple[int, int]], rng: np.random.Generator, depth: float):
    """The track played at a smoothly varying rate (1 +- up to `depth`), same length and same
    average speed: real people do not keep a metronome's time within an action. Spans move with
    the frames they mark. Linear in time between frames, so planted feet stay exactly planted."""
    n = len(track)
    if n < 3 or depth <= 0:
        return track, spans
    rate = 1.0 + depth * _drift(rng, n - 1, 1.0, hz=(0.1, 0.5)).clip(-1.0, 1.0)
    source = np.concatenate([[0.0], np.cumsum(rate)])
    source *= (n - 1) / source[-1]  # (n,) source frame of each output frame, 0 .. n-1
    low = np.minimum(source.astype(int), n - 2)
    frac = source - low
    channels = {}
    for name, values in track.channels().items():
        w = frac.reshape((-1,) + (1,) * (values.ndim - 1))
        channels[name] = (1 - w) * values[low] + w * values[low + 1]
    mapped = [(int(np.searchsorted(source, a)), int(np.searchsorted(source, b))) for a, b in spans]
    return PoseTrack(**channels), mapped


def generate_clip(
    program: Program, style: Style, rng: np.random.Generator, min_frames: int = MIN_FRAMES, babble: bool = False
) -> Clip:
    """Joints for a program performed by `style`, 40..196 feature frames (raises ClipTooLong).

    Too-short clips are padded with standing at both ends (split at random). `babble` overlays
    free upper-body movement the program does not describe (`synth.babble`; tokenizer data).
    """
    track, spans = compose(build_segments(program, style, rng, MAX_FRAMES + 1), max_len=MAX_FRAMES + 1)
    needed = min_frames + 1 - len(track)
    if needed > 0:
        before = int(rng.integers(needed + 1))
        index = np.concatenate([np.zeros(before, dtype=int), np.arange(len(track)), np.full(needed - before, len(track) - 1)])
        track = PoseTrack(**{k: v[index] for k, v in track.channels().items()})
        spans = [(a + before, b + before) for a, b in spans]
    track, spans = time_warp(track, spans, rng, TIME_WARP_DEPTH)
    add_life(track, rng, style.liveliness)
    if babble:
        from motionchat.data.synth.babble import babble as overlay

        overlay(track, rng)
    fit_pelvis_to_feet(track)
    joints = pose_to_joints(track, trunk_offsets(style.trunk_shape) if style.trunk_shape else None)
    frames = len(joints) - 1
    spans = [(max(0, a), min(frames, b)) for a, b in spans]
    return Clip(joints, spans)
