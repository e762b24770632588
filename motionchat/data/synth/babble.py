"""Free upper-body movement over a clip: poses no primitive makes, for tokenizer training.

Real people use their arms and trunk for far more than the corpus's gestures (a racket, a push,
a ball, a balance), and a tokenizer trained only on the corpus cannot represent those poses.
`babble` overlays slow random keyframed targets for both hands, the elbows, the spine and the
head on a clip, mixed in by a random weight per keyframe. The captions do not describe this
movement, so a corpus made with it (`trainer data synth --babble F`) is meant for stage 1 only.
Legs and feet are left to the primitives, so the plausibility checks still hold.
"""

from __future__ import annotations

import numpy as np

from scipy.ndimage import gaussian_filter1d

from motionchat.data.synth.body import ARM_M, SHOULDER_IN_CHEST, SIDE_SIGN, PoseTrack
from motionchat.data.synth.segment import FPS, keyframes

SMOOTHING_FRAMES = 2.5  # sigma of the smoothing of the added hand movement


def _key_times(rng: np.random.Generator, n_frames: int, gap_s: tuple[float, float]) -> np.ndarray:
    """Keyframe times from 0 past the end of the clip, `gap_s` apart."""
    end_s = n_frames / FPS
    times = [0.0]
    while times[-1] < end_s:
        times.append(times[-1] + rng.uniform(*gap_s))
    return np.array(times)


def _hand_targets(rng: np.random.Generator, side: int, k: int) -> np.ndarray:
    """(k, 3) chest-frame wrist targets: random directions from the shoulder (mostly below it and
    in front, some overhead or across the body), at 0.55..0.98 of the arm's reach."""
    direction = rng.normal(size=(k, 3)) * [0.7, 0.8, 0.8] + [0.25, -0.35, 0.45]
    direction[:, 0] *= SIDE_SIGN[side]
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    reach = rng.uniform(0.55, 0.98, size=(k, 1)) * ARM_M[side]
    return SHOULDER_IN_CHEST[side] + direction * reach


def babble(track: PoseTrack, rng: np.random.Generator) -> None:
    """Overlay random upper-body movement on `track` (in place)."""
    n = len(track)
    t = np.arange(n) / FPS
    for side in (0, 1):
        times = _key_times(rng, n, (0.6, 1.5))
        k = len(times)
        weight = keyframes(times, rng.uniform(0.0, 1.0, size=k) ** 0.7, t)[:, None]  # (T, 1)
        target = keyframes(times, _hand_targets(rng, side, k), t)  # (T, 3); monotone cubic between keys
        shoulder = SHOULDER_IN_CHEST[side]
        # Blend directions and reaches from the shoulder, so the hand goes around it, not through it.
        own, new = track.hand[:, side] - shoulder, target - shoulder
        own_r, new_r = np.linalg.norm(own, axis=-1, keepdims=True), np.linalg.norm(new, axis=-1, keepdims=True)
        direction = (1 - weight) * own / own_r + weight * new / np.maximum(new_r, 1e-9)
        direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
        babbled = shoulder + direction * ((1 - weight) * own_r + weight * new_r)
        # Smooth what was added: where the two directions nearly oppose, their blend turns fast.
        track.hand[:, side] += gaussian_filter1d(babbled - track.hand[:, side], SMOOTHING_FRAMES, axis=0, mode="nearest")
        pole = rng.normal(size=(k, 3)) * 0.5 + [SIDE_SIGN[side] * 0.5, -0.4, -0.8]
        track.elbow_pole[:, side] = (1 - weight) * track.elbow_pole[:, side] + weight * keyframes(times, pole, t)
    times = _key_times(rng, n, (0.6, 1.6))
    k = len(times)
    trunk = rng.uniform(0.0, 1.0) ** 0.5
    spine = np.stack([rng.uniform(-0.15, 0.55, k), rng.uniform(-0.5, 0.5, k), rng.uniform(-0.25, 0.25, k)], axis=-1)
    track.spine += trunk * keyframes(times, spine, t)
    track.head += trunk * keyframes(times, rng.uniform(-0.35, 0.35, size=(k, 3)), t)
