"""Primitives that leave the floor: jumping in place, jumping forward, hopping on one leg.

A jump is crouch -> push (heels rise, the pelvis reaches take-off speed) -> ballistic flight ->
toes-first landing absorbed by the knees -> recovery; repeated jumps rebound from the landing
crouch. The pelvis height is built piece by piece with matching velocities at every joint of
the pieces, so the flight is a true parabola and nothing jerks.
"""

from __future__ import annotations

import numpy as np

from motionchat.data.synth.body import ANKLE_FLAT_Y, SIDE_INDEX, SIDE_SIGN
from motionchat.data.synth.gait import swing_hands
from motionchat.data.synth.segment import (
    FPS,
    SETTLE_FRAMES,
    SPEED_FACTOR,
    Segment,
    Style,
    heel_raise,
    keyframes,
    minjerk,
    stand_track,
)
from motionchat.data.synth.vocabulary import Action

GRAVITY = 9.81
TOE_POINT = 0.6  # foot pitch (toes down) at take-off and touch-down


def _hermite(p0: float, v0: float, p1: float, v1: float, duration: float, tau: np.ndarray) -> np.ndarray:
    s = tau / duration
    return (
        (2 * s**3 - 3 * s**2 + 1) * p0
        + (s**3 - 2 * s**2 + s) * duration * v0
        + (-2 * s**3 + 3 * s**2) * p1
        + (s**3 - s**2) * duration * v1
    )


class _JumpTimeline:
    """Pelvis height and ground phases of `count` successive jumps starting at `start_s`.

    Attributes (per frame): `height` pelvis y, `air` in flight, `push` 0..1 through each push,
    `land` 0..1 through each landing; `flights` [(take-off s, touch-down s)]; `takeoff_height`
    the pelvis height leaving and meeting the floor; `end_s` when the body is standing again.
    """

    def __init__(self, n_frames, start_s, count, stand_m, crouch_m, apex_m, takeoff_m, tempo):
        t = np.arange(n_frames) / FPS
        self.height = np.full(n_frames, stand_m)
        self.air = np.zeros(n_frames, dtype=bool)
        self.push = np.zeros(n_frames)
        self.land = np.zeros(n_frames)
        self.flights = []
        v_up = np.sqrt(2 * GRAVITY * apex_m)
        flight_s = 2 * v_up / GRAVITY
        # Push and landing are bound by the body's strength more than by intent: they scale less.
        crouch_s, push_s, absorb_s, recover_s = 0.45 / tempo, 0.22 / tempo**0.5, 0.22 / tempo**0.5, 0.4 / tempo
        bottom, y_off = stand_m - crouch_m, stand_m + takeoff_m
        self.takeoff_height = y_off

        def piece(t0, duration, values):
            mask = (t >= t0) & (t < t0 + duration)
            self.height[mask] = values(t[mask] - t0)
            return mask

        now = start_s
        piece(now, crouch_s, lambda tau: stand_m - crouch_m * minjerk(tau / crouch_s))
        now += crouch_s
        for _ in range(count):
            mask = piece(now, push_s, lambda tau, b=bottom: _hermite(b, 0.0, y_off, v_up, push_s, tau))
            self.push[mask] = (t[mask] - now) / push_s
            now += push_s
            mask = piece(now, flight_s, lambda tau: y_off + v_up * tau - 0.5 * GRAVITY * tau**2)
            self.air[mask] = True
            self.flights.append((now, now + flight_s))
            now += flight_s
            bottom = stand_m - 0.75 * crouch_m
            mask = piece(now, absorb_s, lambda tau, b=bottom: _hermite(y_off, -v_up, b, 0.0, absorb_s, tau))
            self.land[mask] = (t[mask] - now) / absorb_s
            now += absorb_s
        piece(now, recover_s, lambda tau, b=bottom: b + (stand_m - b) * minjerk(tau / recover_s))
        self.end_s = now + recover_s
        self.height[t >= self.end_s] = stand_m


def _feet_through_jumps(track, timeline: _JumpTimeline, sides, land_xz=None) -> None:
    """Heels rise through each push, feet follow the pelvis in the air, toes land first.

    `land_xz` (count, 2, 2) gives where the feet land after each jump (default: where they were).
    """
    t = np.arange(len(track)) / FPS
    pitch = np.zeros(len(track))
    pitch = np.where(timeline.push > 0, -TOE_POINT * minjerk(timeline.push / 0.9), pitch)
    pitch = np.where(timeline.air, -TOE_POINT, pitch)
    pitch = np.where(timeline.land > 0, -TOE_POINT * (1 - minjerk(timeline.land / 0.5)), pitch)
    for s in sides:
        rise, forward = heel_raise(pitch, s)
        rise0, _ = heel_raise(np.float64(-TOE_POINT), s)
        yaw = track.foot_yaw[:, s]
        xz = track.ankle[:, s][:, [0, 2]].copy()
        for k, (t_off, t_on) in enumerate(timeline.flights):
            air = (t >= t_off) & (t < t_on)
            phase = (t[air] - t_off) / (t_on - t_off)
            start = xz[np.searchsorted(t, t_off) - 1]
            end = start if land_xz is None else land_xz[k, s]
            xz[air] = start + (end - start) * minjerk(phase)[:, None]
            xz[t >= t_on] = end
            # Legs stay long in the air with a small tuck of the feet.
            track.ankle[air, s, 1] = ANKLE_FLAT_Y + rise0 + (timeline.height[air] - timeline.takeoff_height) + 0.05 * np.sin(np.pi * phase)
        ground = ~timeline.air
        track.ankle[ground, s, 1] = ANKLE_FLAT_Y + rise[ground]
        track.ankle[:, s, 0] = xz[:, 0] + forward * np.sin(yaw)
        track.ankle[:, s, 2] = xz[:, 1] + forward * np.cos(yaw)
        track.foot_pitch[:, s] = pitch


def _arm_swing_through_jumps(track, style, timeline: _JumpTimeline, up_rad: float) -> None:
    """Arms swing back in the crouch and forward-up through the push and flight."""
    back = -0.7 * (1 - timeline.push) * (timeline.height < track.root[0, 1] - 0.02) * ~timeline.air
    up = np.where(timeline.push > 0, up_rad * minjerk(timeline.push), 0.0)
    up = np.where(timeline.air, up_rad, up)
    up = np.where(timeline.land > 0, up_rad * (1 - minjerk(timeline.land)), up)
    swing = np.convolve(back + up, np.ones(3) / 3, mode="same") * style.amplitude
    track.hand = swing_hands(style, np.stack([swing, swing], axis=-1), 0.25)


def _jump(action: Action, style: Style, rng: np.random.Generator, forward_m: float) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    apex = rng.uniform(0.12, 0.25) * (0.8 + 0.2 * style.amplitude)
    crouch = rng.uniform(0.15, 0.22)
    start_s = (SETTLE_FRAMES + 2) / FPS
    probe = _JumpTimeline(1, start_s, action.count, 0.0, crouch, apex, 0.05, tempo)
    n = int(np.ceil(probe.end_s * FPS)) + SETTLE_FRAMES + 2
    track = stand_track(n, style)
    timeline = _JumpTimeline(n, start_s, action.count, style.stand_height_m, crouch, apex, 0.05, tempo)
    track.root[:, 1] = timeline.height
    t = np.arange(n) / FPS
    # Forward: the pelvis travels in the air and a little through push and landing.
    land_xz = None
    if forward_m > 0:
        travel = np.zeros(n)
        for t_off, t_on in timeline.flights:
            travel += forward_m * np.clip((t - t_off + 0.15) / (t_on - t_off + 0.3), 0, 1)
        track.root[:, 2] = travel
        land_xz = np.array(
            [[[SIDE_SIGN[s] * style.half_width_m, forward_m * (k + 1)] for s in (0, 1)] for k in range(action.count)]
        )
    _feet_through_jumps(track, timeline, (0, 1), land_xz)
    crouched = (style.stand_height_m - timeline.height).clip(0, None) / crouch
    track.spine[:, 0] += 0.35 * crouched
    track.pelvis[:, 0] += 0.25 * crouched
    track.root[:, 2] -= 0.06 * crouched
    track.head[:, 0] -= 0.4 * crouched
    _arm_swing_through_jumps(track, style, timeline, up_rad=1.1 if forward_m > 0 else 1.6)
    end = int(np.ceil(timeline.end_s * FPS))
    return Segment(track, lead_in=SETTLE_FRAMES, lead_out=n - end - 1, end_ref=(0.0, forward_m * action.count, 0.0))


def jump(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    return _jump(action, style, rng, forward_m=0.0)


def jump_forward(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    return _jump(action, style, rng, forward_m=rng.uniform(0.5, 0.8))


def hop(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Weight over one foot, the other tucked up behind, small hops, then both feet down again."""
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    stance = SIDE_INDEX[action.side]
    free = 1 - stance
    shift_s, lift_s = 0.4 / tempo, 0.3 / tempo
    start_s = (SETTLE_FRAMES + 2) / FPS
    hops_start = start_s + shift_s + lift_s
    probe = _JumpTimeline(1, hops_start, action.count, 0.0, 0.07, 0.07, 0.04, tempo * 1.4)
    end_s = probe.end_s + lift_s + shift_s
    n = int(np.ceil(end_s * FPS)) + SETTLE_FRAMES + 2
    track = stand_track(n, style)
    t = np.arange(n) / FPS
    stand = style.stand_height_m
    timeline = _JumpTimeline(n, hops_start, action.count, stand, 0.07, rng.uniform(0.05, 0.09), 0.04, tempo * 1.4)
    over = keyframes([start_s, start_s + shift_s, probe.end_s + lift_s, end_s], [0.0, 1.0, 1.0, 0.0], t)
    lifted = keyframes(
        [start_s + shift_s * 0.7, hops_start, probe.end_s, probe.end_s + lift_s], [0.0, 1.0, 1.0, 0.0], t
    )
    # Weight over the hopping foot: pelvis across by the stance half-width, hips rolled a little.
    track.root[:, 0] = SIDE_SIGN[stance] * style.half_width_m * 0.9 * over
    track.root[:, 1] = timeline.height - 0.02 * over
    track.pelvis[:, 2] += SIDE_SIGN[stance] * 0.06 * over
    track.spine[:, 2] -= SIDE_SIGN[stance] * 0.08 * over
    _feet_through_jumps(track, timeline, (stance,))
    # The free foot rides up behind, following the pelvis while hopping.
    track.ankle[:, free, 1] = ANKLE_FLAT_Y + lifted * (0.22 + (timeline.height - stand).clip(0, None))
    track.ankle[:, free, 2] -= 0.12 * lifted
    track.foot_pitch[:, free] = -0.4 * lifted
    # Arms a little out and bent for balance.
    swing = np.zeros((n, 2))
    track.hand = swing_hands(style, swing, 0.5 * over)
    track.hand[:, :, 0] += np.outer(over, [0.12, -0.12])
    return Segment(track, lead_in=SETTLE_FRAMES, lead_out=n - int(np.ceil(end_s * FPS)) - 1)
