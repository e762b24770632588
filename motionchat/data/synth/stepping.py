"""Primitives that step over the floor: walking (forward, backward, sideways, in a circle), turning,
jogging, running, spinning and a step-touch dance.

Each one only draws a pelvis path and a heading over time and chooses a `Gait`; the footsteps and
the body's response come from `gait.gait_segment`.
"""

from __future__ import annotations

import numpy as np

from motionchat.data.synth.body import SIDE_INDEX
from motionchat.data.synth.gait import Gait, gait_segment, swing_hands, travel_profile
from motionchat.data.synth.segment import FPS, SETTLE_FRAMES, SPEED_FACTOR, Segment, Style, minjerk
from motionchat.data.synth.vocabulary import Action
from motionchat.motion.timing import MAX_FRAMES

# Cruise speeds (m/s) for slow / normal / fast.
WALK_MPS = {"slow": 0.75, "normal": 1.2, "fast": 1.7}
BACKWARD_MPS = {"slow": 0.45, "normal": 0.7, "fast": 0.95}
SIDESTEP_MPS = {"slow": 0.35, "normal": 0.5, "fast": 0.7}
CIRCLE_MPS = {"slow": 0.65, "normal": 0.95, "fast": 1.25}
JOG_MPS = {"slow": 1.7, "normal": 2.2, "fast": 2.7}
RUN_MPS = {"slow": 2.6, "normal": 3.2, "fast": 3.8}

_START_F = SETTLE_FRAMES + 4  # frames of stillness before the root starts to move
_TAIL_F = 60  # the path is held this long after it stops, for the closing steps


def _step_along(style: Style, path_xz: np.ndarray, yaw: np.ndarray, gait: Gait, first_side: int, early_f: float = 0.0) -> Segment:
    """Step along a moving path, padded with stillness before and after; returns the segment.

    `early_f` lets the first step start that many frames before the root moves (turning in place).
    """
    xz = np.concatenate([np.repeat(path_xz[:1], _START_F, 0), path_xz, np.repeat(path_xz[-1:], _TAIL_F, 0)])
    yaw = np.concatenate([np.repeat(yaw[:1], _START_F), yaw, np.repeat(yaw[-1:], _TAIL_F)])
    return gait_segment(style, xz, yaw, _START_F - early_f, _START_F + len(path_xz) - 1, gait, first_side)


def _straight(distance_m: float, speed_mps: float, direction_xz, ramp_s: float) -> tuple[np.ndarray, np.ndarray]:
    covered = travel_profile(distance_m, speed_mps, ramp_s)
    return covered[:, None] * np.asarray(direction_xz, dtype=np.float64), np.zeros(len(covered))


def walk(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    speed = WALK_MPS[action.speed] * style.tempo
    path, yaw = _straight(action.distance, speed, (0.0, 1.0), ramp_s=0.7)
    step_m = (0.36 + 0.22 * speed) * style.step_scale
    period = step_m / speed
    gait = Gait(period, 0.8 * period, lift_m=0.09, toe_off=0.45, heel_strike=0.25, arm_swing=0.55, lean=0.03 * speed)
    return _step_along(style, path, yaw, gait, first_side=int(rng.integers(2)))


def walk_backward(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    speed = BACKWARD_MPS[action.speed] * style.tempo
    path, yaw = _straight(action.distance, speed, (0.0, -1.0), ramp_s=0.6)
    period = (0.3 + 0.15 * speed) * style.step_scale / speed
    gait = Gait(period, 0.75 * period, lift_m=0.07, toe_off=0.15, heel_strike=0.0, arm_swing=0.35, lean=-0.02)
    return _step_along(style, path, yaw, gait, first_side=int(rng.integers(2)))


def sidestep(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    speed = SIDESTEP_MPS[action.speed] * style.tempo
    sign = 1.0 if action.direction == "left" else -1.0
    path, yaw = _straight(action.distance, speed, (sign, 0.0), ramp_s=0.5)
    # The root moves less than the stance width per step, so the feet never cross.
    period = min(0.17 / speed, 0.6)
    gait = Gait(period, 0.7 * period, lift_m=0.06, toe_off=0.15, heel_strike=0.05, arm_swing=0.2, weight_shift=0.25)
    return _step_along(style, path, yaw, gait, first_side=SIDE_INDEX[action.direction])


def walk_circle(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    speed = CIRCLE_MPS[action.speed] * style.tempo
    radius = rng.uniform(0.6, 0.8)
    sign = 1.0 if action.direction == "counterclockwise" else -1.0  # counterclockwise seen from above = turning left
    while True:
        covered = travel_profile(2 * np.pi * radius, speed, 0.5)
        angle = covered / radius
        path = np.stack([sign * radius * (1 - np.cos(angle)), radius * np.sin(angle)], axis=-1)
        period = (0.4 + 0.2 * speed) * style.step_scale / speed
        gait = Gait(period, 0.8 * period, lift_m=0.08, toe_off=0.35, heel_strike=0.2, arm_swing=0.5, lean=0.02)
        segment = _step_along(style, path, sign * angle, gait, first_side=0 if sign < 0 else 1)
        # A slow performer's slow circle at the widest radii is longer than a clip may be: walk a
        # smaller circle, shorter by the excess frames (plus one) of walking.
        excess = len(segment) - (MAX_FRAMES + 1)
        if excess <= 0:
            break
        radius -= (excess + 1) * speed / FPS / (2 * np.pi)
    _look_into_turn(segment)
    return segment


def _turn_in_place(style: Style, turn_rad: float, speed_rad_s: float, step_s: float, first_side: int) -> Segment:
    duration_s = abs(turn_rad) / speed_rad_s
    n = int(np.ceil(duration_s * FPS)) + 1
    yaw = turn_rad * minjerk(np.linspace(0.0, 1.0, n))
    gait = Gait(step_s, 0.75 * step_s, lift_m=0.06, toe_off=0.15, heel_strike=0.05, arm_swing=0.3, weight_shift=0.3)
    segment = _step_along(style, np.zeros((n, 2)), yaw, gait, first_side, early_f=0.5 * step_s * FPS)
    _look_into_turn(segment)
    return segment


def _look_into_turn(segment: Segment) -> None:
    """The head leads a turn by a few frames."""
    n = len(segment)
    yaw = np.concatenate([segment.track.yaw, np.repeat(segment.track.yaw[-1:], 6)])
    segment.track.head[:, 1] += np.clip(0.8 * (yaw[6 : n + 6] - yaw[:n]), -0.5, 0.5)


def turn(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    factor = SPEED_FACTOR[action.speed] * style.tempo
    if action.direction == "around":
        sign = rng.choice([-1.0, 1.0])
        return _turn_in_place(style, sign * np.pi, 2.0 * factor, 0.45 / factor, first_side=0 if sign > 0 else 1)
    sign = 1.0 if action.direction == "left" else -1.0
    return _turn_in_place(style, sign * np.pi / 2, 1.6 * factor, 0.5 / factor, first_side=SIDE_INDEX[action.direction])


def spin(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    factor = SPEED_FACTOR[action.speed] * style.tempo
    sign = 1.0 if action.direction == "left" else -1.0
    segment = _turn_in_place(style, sign * 2 * np.pi, 4.0 * factor, 0.3 / factor, first_side=SIDE_INDEX[action.direction])
    # Arms held a little out from the body while spinning.
    t = np.arange(len(segment))
    out = np.clip(np.minimum(t - segment.lead_in, len(segment) - segment.lead_out - t) / 8.0, 0, 1)
    segment.track.hand[:, :, 0] += np.outer(out, [0.15, -0.15]) * style.amplitude
    segment.track.hand[:, :, 1] += out[:, None] * 0.1
    return segment


def _running(action: Action, style: Style, rng, speeds: dict, gait_of) -> Segment:
    speed = speeds[action.speed] * style.tempo
    path, yaw = _straight(action.distance, speed, (0.0, 1.0), ramp_s=0.9)
    step_m = (0.55 + 0.2 * speed) * style.step_scale
    return _step_along(style, path, yaw, gait_of(step_m / speed), first_side=int(rng.integers(2)))


def jog(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    def gait_of(period):
        return Gait(period, 1.2 * period, lift_m=0.1, heel_kick_m=0.12, toe_off=0.5, heel_strike=0.05,
                    bounce_m=0.025, crouch_m=0.02, arm_swing=0.7, arm_bend=0.8, lean=0.08, weight_shift=0.25,
                    over_foot=0.35)

    return _running(action, style, rng, JOG_MPS, gait_of)


def run(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    def gait_of(period):
        return Gait(period, 1.35 * period, lift_m=0.12, heel_kick_m=0.25, toe_off=0.6, heel_strike=0.0,
                    bounce_m=0.035, crouch_m=0.03, arm_swing=0.8, arm_bend=1.0, lean=0.15, weight_shift=0.2,
                    over_foot=0.3)

    return _running(action, style, rng, RUN_MPS, gait_of)


def dance(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Step-touch from side to side on the beat, bouncing, arms pumping."""
    beat_s = 0.5 / (SPEED_FACTOR[action.speed] * style.tempo)
    n_beats = int(rng.integers(6, 10))
    t = np.arange(int(np.ceil(n_beats * beat_s * FPS)) + 1) / FPS
    width = 0.22 * style.amplitude
    # Two beats to one side, two back: the root glides between the two stances.
    x = width * (0.5 - 0.5 * np.cos(np.pi * t / (2 * beat_s))) * rng.choice([-1.0, 1.0])
    path = np.stack([x, np.zeros_like(x)], axis=-1)
    gait = Gait(beat_s, 0.6 * beat_s, lift_m=0.06, toe_off=0.3, heel_strike=0.0, bounce_m=0.03, crouch_m=0.04,
                arm_swing=0.0, weight_shift=0.5)
    segment = _step_along(style, path, np.zeros(len(path)), gait, first_side=int(rng.integers(2)))
    track = segment.track
    frames = np.arange(len(segment)) / FPS
    active = np.clip(np.minimum(frames * FPS - segment.lead_in, len(segment) - segment.lead_out - frames * FPS) / 6.0, 0, 1)
    pump = np.sin(np.pi * (frames - _START_F / FPS) / beat_s) * active * 0.6 * style.amplitude
    swing = np.stack([pump, -pump], axis=-1)
    track.hand = swing_hands(style, swing, 0.9 * active)
    track.pelvis[:, 2] += 0.08 * np.sin(np.pi * (frames - _START_F / FPS) / beat_s) * active
    track.spine[:, 2] -= 0.06 * np.sin(np.pi * (frames - _START_F / FPS) / beat_s) * active
    track.head[:, 0] += 0.08 * np.abs(np.sin(np.pi * (frames - _START_F / FPS) / beat_s)) * active
    return segment
