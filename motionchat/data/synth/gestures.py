"""Arm primitives done standing: wave, raise the arms, clap, punch, throw, reach forward, point.

Hands are keyframed as wrist targets in the chest frame (arm inverse kinematics bends the
elbows), and the trunk helps where a person would: it twists into a punch or a throw, leans into
a reach, turns toward where the arm points. The feet stay planted.
"""

from __future__ import annotations

import numpy as np

from motionchat.data.synth.body import ARM_M, SHOULDER_IN_CHEST, SIDE_INDEX, SIDE_SIGN
from motionchat.data.synth.segment import (
    SPEED_FACTOR,
    Segment,
    Style,
    arm_target,
    envelope,
    keyframes,
    mirrored,
    in_place,
    in_place_segment,
    sweep_hand,
)
from motionchat.data.synth.vocabulary import Action

def _sides(side: str) -> tuple[int, ...]:
    return (0, 1) if side == "both" else (SIDE_INDEX[side],)


def wave(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    up_s, cycle_s = 0.5 / tempo, 0.5 / tempo
    total = 2 * up_s + action.count * cycle_s
    track, t = in_place(style, total)
    amp = style.amplitude
    held = envelope(t, 0.0, up_s, up_s + action.count * cycle_s, total)
    oscillation = np.sin(2 * np.pi * (t - up_s) / cycle_s) * ((t > up_s) & (t < total - up_s))
    for s in _sides(action.side):
        raised = SHOULDER_IN_CHEST[s] + mirrored([0.2, 0.3, 0.12], s) * [amp, amp, 1.0]
        rest = track.hand[0, s]
        track.hand[:, s] = sweep_hand(s, rest, raised, held)
        track.hand[:, s, 0] += 0.09 * amp * oscillation  # both hands sweep the same way
        track.hand[:, s, 1] -= 0.02 * np.abs(oscillation)
        track.elbow_pole[:, s] = track.elbow_pole[0, s] + (mirrored([1.0, -0.6, 0.0], s) - track.elbow_pole[0, s]) * held[:, None]
    if action.side != "both":
        sign = SIDE_SIGN[SIDE_INDEX[action.side]]
        track.spine[:, 2] -= sign * 0.05 * held  # lean a little away from the raised arm
    return in_place_segment(track)


def raise_arms(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    move_s, hold_s = 0.85 / tempo, rng.uniform(0.4, 0.8) / tempo
    cycle_s = 2 * move_s + hold_s
    track, t = in_place(style, action.count * cycle_s)
    lift = sum(envelope(t, k * cycle_s, k * cycle_s + move_s, k * cycle_s + move_s + hold_s, (k + 1) * cycle_s) for k in range(action.count))
    for s in _sides(action.side):
        overhead = arm_target(s, [0.12, 0.976, 0.218], 0.995)  # straight up, a little forward
        track.hand[:, s] = sweep_hand(s, track.hand[0, s], overhead, lift)
        track.elbow_pole[:, s] = mirrored([1.0, 0.0, -0.6], s)
    if action.side == "both":
        track.spine[:, 0] -= 0.06 * lift
        track.head[:, 0] -= 0.15 * lift
    else:
        track.spine[:, 2] -= SIDE_SIGN[SIDE_INDEX[action.side]] * 0.06 * lift
    return in_place_segment(track)


def clap(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    bring_s, clap_s = 0.45 / tempo, 0.38 / tempo
    total = 2 * bring_s + action.count * clap_s
    track, t = in_place(style, total)
    held = envelope(t, 0.0, bring_s, bring_s + action.count * clap_s, total)
    # Hands open and close once per clap; they meet at the end of every cycle.
    claps = (t > bring_s) & (t < total - bring_s)
    opening = np.where(claps, 0.5 - 0.5 * np.cos(2 * np.pi * (t - bring_s) / clap_s), 0.0)
    height = rng.uniform(-0.12, 0.0)
    for s in (0, 1):
        apart = 0.035 + 0.13 * style.amplitude * (1 - opening)
        front = np.stack([SIDE_SIGN[s] * apart, np.full_like(t, height), np.full_like(t, 0.33)], axis=-1)
        rest = track.hand[0, s]
        track.hand[:, s] = sweep_hand(s, rest, front, held)
        track.elbow_pole[:, s] = mirrored([0.8, -1.0, -0.3], s)
    track.head[:, 0] += 0.1 * held  # a glance at the hands
    return in_place_segment(track)


def punch(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    # The strike itself speeds up less than the rest, or fast punches would outrun a real fist.
    guard_s, out_s, back_s, rest_s = 0.45 / tempo, 0.16 / tempo**0.5, 0.22 / tempo, 0.15 / tempo
    cycle_s = out_s + back_s + rest_s
    total = 2 * guard_s + action.count * cycle_s
    track, t = in_place(style, total)
    guard = envelope(t, 0.0, guard_s, total - guard_s, total)
    hitter = SIDE_INDEX[action.side]
    extension = np.zeros_like(t)
    for k in range(action.count):
        start = guard_s + k * cycle_s
        extension += envelope(t, start, start + out_s, start + out_s + 0.02, start + out_s + back_s)
    for s in (0, 1):
        guard_pos = np.array([SIDE_SIGN[s] * 0.13, 0.1, 0.24])
        rest = track.hand[0, s]
        hand = sweep_hand(s, rest, guard_pos, guard)
        if s == hitter:
            strike = SHOULDER_IN_CHEST[s] + np.array([-SIDE_SIGN[s] * 0.08, -0.02, 0.96 * ARM_M[s]])
            hand = hand + (strike - guard_pos) * extension[:, None]
        track.hand[:, s] = hand
        track.elbow_pole[:, s] = mirrored([0.5, -1.0, -0.3], s)
    # The punching shoulder drives forward: the chest twists toward the other side.
    twist = -SIDE_SIGN[hitter] * 0.35 * extension
    track.spine[:, 1] += twist
    track.pelvis[:, 1] += 0.4 * twist
    track.head[:, 1] -= 0.8 * twist
    track.root[:, 2] += 0.04 * extension + 0.02 * guard
    track.spine[:, 0] += 0.08 * guard
    return in_place_segment(track)


def throw(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    wind_s, throw_s, follow_s, back_s = 0.55 / tempo, 0.28 / tempo**0.3, 0.3 / tempo, 0.55 / tempo
    cycle_s = wind_s + throw_s + follow_s + back_s
    track, t = in_place(style, action.count * cycle_s)
    thrower = SIDE_INDEX[action.side]
    other = 1 - thrower
    sign = SIDE_SIGN[thrower]
    amp = style.amplitude
    windup = SHOULDER_IN_CHEST[thrower] + mirrored([0.15, 0.18, -0.3], thrower) * amp
    release = SHOULDER_IN_CHEST[thrower] + mirrored([-0.05, 0.25, 0.42], thrower) * amp
    follow = mirrored([-0.12, -0.42, 0.3], thrower)
    balance = SHOULDER_IN_CHEST[other] + mirrored([0.05, -0.15, 0.4], other)
    rest_main, rest_other, rest_pole = track.hand[0, thrower], track.hand[0, other], track.elbow_pole[0, thrower]
    throw_pole = mirrored([1.0, -0.3, -0.6], thrower)
    times, hand, off_hand, pole = [0.0], [rest_main], [rest_other], [rest_pole]
    twist, bend, shift = [0.0], [0.0], [0.0]
    for k in range(action.count):  # wind up, release, follow through, back to rest
        start = k * cycle_s
        times += [start + wind_s, start + wind_s + throw_s, start + wind_s + throw_s + follow_s, start + cycle_s]
        hand += [windup, release, follow, rest_main]
        off_hand += [balance, balance, rest_other, rest_other]
        pole += [throw_pole, throw_pole, throw_pole, rest_pole]
        twist += [sign * 0.45, -sign * 0.35, -sign * 0.4, 0.0]
        bend += [-0.1, 0.2, 0.35, 0.0]
        shift += [-0.06, 0.05, 0.08, 0.0]
    track.hand[:, thrower] = keyframes(times, hand, t)
    track.hand[:, other] = keyframes(times, off_hand, t)
    track.elbow_pole[:, thrower] = keyframes(times, pole, t)
    twist, bend = keyframes(times, twist, t), keyframes(times, bend, t)
    track.spine[:, 1] += twist
    track.pelvis[:, 1] += 0.4 * twist
    track.head[:, 1] -= 0.7 * twist
    track.spine[:, 0] += bend
    track.head[:, 0] -= 0.6 * bend
    track.root[:, 2] += keyframes(times, shift, t)
    return in_place_segment(track)


def reach(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    move_s, hold_s = 0.7 / tempo, rng.uniform(0.5, 1.0)
    total = 2 * move_s + hold_s
    track, t = in_place(style, total)
    out = envelope(t, 0.0, move_s, move_s + hold_s, total)
    height = rng.uniform(-0.15, 0.1)
    for s in _sides(action.side):
        target = arm_target(s, [-0.08, height, 1.0], 0.97)
        rest = track.hand[0, s]
        track.hand[:, s] = sweep_hand(s, rest, target, out)
        track.elbow_pole[:, s] = mirrored([0.4, -1.0, -0.2], s)
    track.spine[:, 0] += 0.25 * out
    track.pelvis[:, 0] += 0.1 * out
    track.root[:, 2] -= 0.04 * out  # hips back to keep balance
    track.head[:, 0] -= 0.2 * out
    if action.side != "both":
        track.spine[:, 1] -= SIDE_SIGN[SIDE_INDEX[action.side]] * 0.2 * out
    return in_place_segment(track)


# World direction (heading frame) and chest turn for each pointing direction.
_POINT = {
    "forward": ((0.0, 0.08, 1.0), 0.0, 0.0),
    "left": ((1.0, 0.08, 0.2), 0.35, 0.6),
    "right": ((-1.0, 0.08, 0.2), -0.35, -0.6),
    "up": ((0.0, 1.0, 0.3), 0.0, 0.0),
}


def point(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = style.tempo
    move_s, hold_s = 0.6 / tempo, rng.uniform(0.8, 1.5)
    total = 2 * move_s + hold_s
    track, t = in_place(style, total)
    out = envelope(t, 0.0, move_s, move_s + hold_s, total)
    s = SIDE_INDEX[action.side]
    world, chest_turn, head_turn = _POINT[action.direction]
    direction = np.array(world, dtype=np.float64)
    c, si = np.cos(-chest_turn), np.sin(-chest_turn)  # into the turned chest frame
    direction = np.array([c * direction[0] + si * direction[2], direction[1], -si * direction[0] + c * direction[2]])
    if direction[0] * SIDE_SIGN[s] < 0:  # across the body: keep the arm in front of the chest
        direction[2] += 0.7
    target = SHOULDER_IN_CHEST[s] + direction / np.linalg.norm(direction) * ARM_M[s] * 0.98
    rest = track.hand[0, s]
    track.hand[:, s] = sweep_hand(s, rest, target, out)
    track.elbow_pole[:, s] = mirrored([0.6, -1.0, -0.4], s)
    track.spine[:, 1] += chest_turn * out
    track.pelvis[:, 1] += 0.3 * chest_turn * out
    track.head[:, 1] += (head_turn - chest_turn) * out
    if action.direction == "up":
        track.head[:, 0] -= 0.35 * out
    return in_place_segment(track)
