"""Leg and whole-body primitives done in place: kick, squat, lunge, kneel, sit down, stand up,
bow, touch the toes, twist the torso, stretch, stand still, sway.

They keyframe the pelvis, the spine and the ankle targets; the knees come from leg inverse
kinematics, so a squat bends them and a kneel puts one on the floor. Balance is kept the way a
person keeps it: hips back when bending forward, weight over the standing foot before a kick,
arms out when on one leg.
"""

from __future__ import annotations

import numpy as np

from motionchat.data.synth.body import (
    ANKLE_FLAT_Y,
    ARM_M,
    FOOT_FLAT_PITCH,
    FOOT_M,
    HIP_IN_PELVIS,
    SHIN_M,
    SHOULDER_IN_CHEST,
    SIDE_INDEX,
    SIDE_SIGN,
    THIGH_M,
    PoseTrack,
)
from motionchat.data.synth.gait import Footstep, Gait, place_feet
from motionchat.data.synth.segment import (
    FPS,
    SEAT_BACK_M,
    IN_PLACE_LEAD_FRAMES,
    SPEED_FACTOR,
    Segment,
    Style,
    envelope,
    heel_raise,
    keyframes,
    mirrored,
    seated_pelvis,
    in_place,
    in_place_segment,
    sweep_hand,
)
from motionchat.data.synth.vocabulary import Action

_LEAD_S = IN_PLACE_LEAD_FRAMES / FPS  # when an in-place action starts


def _step_one_foot(track: PoseTrack, side: int, steps: list[Footstep], style: Style, step_s: float) -> None:
    """Move one foot through `steps` (lifted clear of the floor, toe-off and heel strike)."""
    gait = Gait(step_s, step_s, lift_m=0.08, toe_off=0.2, heel_strike=0.1)
    ankle, foot_yaw, pitch, _ = place_feet(len(track), steps, style, gait)
    track.ankle[:, side] = ankle[:, side]
    track.foot_yaw[:, side] = foot_yaw[:, side]
    track.foot_pitch[:, side] = pitch[:, side]


def _repeats(t: np.ndarray, count: int, down_s: float, hold_s: float, up_s: float) -> np.ndarray:
    """0..1 depth of `count` down-hold-up cycles back to back."""
    cycle = down_s + hold_s + up_s
    return sum(envelope(t, k * cycle, k * cycle + down_s, k * cycle + down_s + hold_s, (k + 1) * cycle) for k in range(count))


def _hang_hands(track: PoseTrack, style: Style, bend: np.ndarray) -> None:
    """Keep hanging arms vertical in the world while the chest pitches forward by `bend` (rad)."""
    rel = track.hand[:, :, :] - SHOULDER_IN_CHEST  # (T, 2, 3)
    c, s = np.cos(bend)[:, None], np.sin(bend)[:, None]
    y = rel[..., 1] * c + rel[..., 2] * s
    z = -rel[..., 1] * s + rel[..., 2] * c
    track.hand[..., 1] = SHOULDER_IN_CHEST[:, 1] + y
    track.hand[..., 2] = SHOULDER_IN_CHEST[:, 2] + z


def _bend_forward(track: PoseTrack, depth: np.ndarray, pelvis_rad: float, spine_rad: float, hips_back_m: float, head_rad: float) -> None:
    track.pelvis[:, 0] += pelvis_rad * depth
    track.spine[:, 0] += spine_rad * depth
    track.root[:, 2] -= hips_back_m * depth
    track.head[:, 0] += head_rad * depth


def kick(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    kicker = SIDE_INDEX[action.side]
    stance = 1 - kicker
    shift_s, chamber_s, strike_s, back_s, down_s = 0.35 / tempo, 0.25 / tempo, 0.18 / tempo**0.5, 0.22 / tempo, 0.3 / tempo
    total = 2 * shift_s + chamber_s + action.count * (strike_s + back_s) + down_s
    track, t = in_place(style, total)
    planted = track.ankle[0, kicker].copy()
    sx = SIDE_SIGN[kicker]
    height = rng.uniform(0.4, 0.6) * style.amplitude
    chamber = np.array([sx * style.half_width_m * 0.8, 0.38, 0.15])
    strike = np.array([sx * style.half_width_m * 0.4, height, 0.7])
    times, ankles, pitches, leans = [0.0, shift_s, shift_s + chamber_s], [planted, planted, chamber], [0.0, 0.0, -0.3], [0.0, 0.0, 0.0]
    now = shift_s + chamber_s
    for _ in range(action.count):
        times += [now + strike_s, now + strike_s + back_s]
        ankles += [strike, chamber]
        pitches += [-0.7, -0.3]
        leans += [1.0, 0.2]
        now += strike_s + back_s
    times += [now + down_s, total]
    ankles += [planted, planted]
    pitches += [0.0, 0.0]
    leans += [0.0, 0.0]
    track.ankle[:, kicker] = keyframes(times, ankles, t)
    track.foot_pitch[:, kicker] = keyframes(times, pitches, t)
    track.knee_pole[:, kicker] = [0.0, 0.6, 1.0]
    lean = keyframes(times, leans, t)
    over = envelope(t, 0.0, shift_s, total - shift_s, total)
    track.root[:, 0] += SIDE_SIGN[stance] * style.half_width_m * 0.85 * over
    track.root[:, 2] -= 0.05 * lean
    track.pelvis[:, 0] -= 0.15 * lean
    track.spine[:, 0] -= 0.12 * lean
    track.head[:, 0] += 0.2 * lean
    for s in (0, 1):  # arms out and up a little for balance
        track.hand[:, s] += mirrored([0.12, 0.2, 0.15], s) * over[:, None]
    return in_place_segment(track)


def squat(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    down_s, hold_s, up_s = 0.8 / tempo, rng.uniform(0.1, 0.35), 0.75 / tempo
    track, t = in_place(style, action.count * (down_s + hold_s + up_s))
    depth = _repeats(t, action.count, down_s, hold_s, up_s)
    track.root[:, 1] -= rng.uniform(0.33, 0.42) * depth
    _bend_forward(track, depth, pelvis_rad=0.45, spine_rad=0.2, hips_back_m=0.14, head_rad=-0.55)
    for s in (0, 1):  # arms forward to balance
        forward = SHOULDER_IN_CHEST[s] + mirrored([0.0, -0.1, 1.0], s) / np.linalg.norm([0.0, -0.1, 1.0]) * ARM_M[s] * 0.95
        track.hand[:, s] = sweep_hand(s, track.hand[0, s], forward, np.clip(depth * 1.3, 0, 1))
        track.elbow_pole[:, s] = mirrored([0.3, -1.0, 0.0], s)
    return in_place_segment(track)


def lunge(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    front = SIDE_INDEX[action.side]
    rear = 1 - front
    step_s, down_s, hold_s, up_s = 0.45 / tempo, 0.6 / tempo, rng.uniform(0.1, 0.4), 0.55 / tempo
    rest_s = 0.25 / tempo  # feet together a moment between lunges
    cycle = 2 * step_s + down_s + hold_s + up_s + rest_s
    track, t = in_place(style, action.count * cycle)
    reach_m = rng.uniform(0.65, 0.8)
    drop_m = rng.uniform(0.28, 0.36)
    home = track.ankle[0, front].copy()
    yaw = track.foot_yaw[0, front]
    times, root_z, root_y, rear_pitch, steps = [0.0], [0.0], [0.0], [0.0], []
    for k in range(action.count):
        now = k * cycle
        back = now + cycle - rest_s
        times += [now + step_s / 2, now + step_s, now + step_s + down_s, now + step_s + down_s + hold_s,
                  now + step_s + down_s + hold_s + up_s, back - step_s / 2, back, now + cycle]
        root_z += [0.12, 0.3, 0.4, 0.4, 0.3, 0.12, 0.0, 0.0]
        root_y += [0.0, -0.02, -drop_m, -drop_m, -0.02, 0.0, 0.0, 0.0]
        rear_pitch += [0.0, -0.2, -0.8, -0.8, -0.2, 0.0, 0.0, 0.0]
        steps += [
            Footstep(front, (now + _LEAD_S) * FPS, (now + step_s + _LEAD_S) * FPS, (home[0], home[2] + reach_m), yaw),
            Footstep(front, (back - step_s + _LEAD_S) * FPS, (back + _LEAD_S) * FPS, (home[0], home[2]), yaw),
        ]
    _step_one_foot(track, front, steps, style, step_s)
    track.root[:, 2] += keyframes(times, root_z, t)
    track.root[:, 1] += keyframes(times, root_y, t)
    pitch = keyframes(times, rear_pitch, t)
    rise, forward = heel_raise(pitch, rear)
    track.foot_pitch[:, rear] = pitch
    track.ankle[:, rear, 1] += rise
    track.ankle[:, rear, 2] += forward
    track.knee_pole[:, rear] = [0.0, -0.5, 1.0]
    if rng.random() < 0.5:  # hands on the hips
        on_hips = np.array([[0.17, -0.3, 0.0], [-0.17, -0.3, 0.0]])
        track.hand[:] = on_hips
        track.elbow_pole[:] = [[1.0, 0.0, -0.3], [-1.0, 0.0, -0.3]]
    return in_place_segment(track)


def kneel(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Step back with one foot and lower that knee to the floor, stay a moment, get back up."""
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    knee_side = SIDE_INDEX[action.side]
    step_s, down_s, hold_s = 0.5 / tempo, 0.9 / tempo, rng.uniform(0.8, 1.5)
    total = 2 * step_s + 2 * down_s + hold_s
    track, t = in_place(style, total)
    # Kneeling geometry: the knee 6 cm over the floor under the hip, the shin sloping back up.
    knee_z = -0.3
    shin_slope = 0.15
    kneel_ankle_y = 0.06 + SHIN_M[knee_side] * np.sin(shin_slope)
    toe_on_floor_y = ANKLE_FLAT_Y + FOOT_M[knee_side] * np.sin(FOOT_FLAT_PITCH[knee_side])
    toe_pitch = np.arcsin((toe_on_floor_y - kneel_ankle_y) / FOOT_M[knee_side]) - FOOT_FLAT_PITCH[knee_side]
    _, forward = heel_raise(np.float64(toe_pitch), knee_side)
    home = track.ankle[0, knee_side].copy()
    kneel_ankle_z = knee_z - SHIN_M[knee_side] * np.cos(shin_slope)
    planted_z = home[2] + kneel_ankle_z - forward
    kneel_root_y = 0.06 + THIGH_M[knee_side] - HIP_IN_PELVIS[knee_side, 1]
    times = np.cumsum([0.0, step_s / 2, step_s / 2, down_s, hold_s, down_s, step_s / 2, step_s / 2])
    yaw = track.foot_yaw[0, knee_side]
    _step_one_foot(track, knee_side, [
        Footstep(knee_side, IN_PLACE_LEAD_FRAMES, (step_s + _LEAD_S) * FPS, (home[0], planted_z), yaw),
        Footstep(knee_side, (times[-1] - step_s + _LEAD_S) * FPS, (times[-1] + _LEAD_S) * FPS, (home[0], home[2]), yaw),
    ], style, step_s)
    pitch = keyframes(times, [0.0, 0.0, 0.0, toe_pitch, toe_pitch, 0.0, 0.0, 0.0], t)
    raise_y, raise_z = heel_raise(pitch, knee_side)
    ankle = track.ankle[:, knee_side].copy()
    ankle[:, 1] += raise_y
    ankle[:, 2] += raise_z
    pitch = pitch + track.foot_pitch[:, knee_side]
    track.ankle[:, knee_side] = ankle
    track.foot_pitch[:, knee_side] = pitch
    track.knee_pole[:, knee_side] = [0.0, -0.8, 1.0]
    stand = style.stand_height_m
    track.root[:, 1] = keyframes(times, [stand, stand - 0.02, stand - 0.04, kneel_root_y, kneel_root_y, stand - 0.04, stand - 0.02, stand], t)
    track.root[:, 2] = keyframes(times, [0.0, -0.04, -0.1, knee_z, knee_z, -0.1, -0.04, 0.0], t)
    down = keyframes(times, [0, 0, 0, 1, 1, 0, 0, 0], t)
    track.spine[:, 0] += 0.1 * down
    track.head[:, 0] -= 0.1 * down
    return in_place_segment(track)


def _sitting(style: Style, tempo: float) -> Segment:
    """Standing -> seated over ~1.6 s (feet stay where they stood)."""
    move_s = 1.6 / tempo
    track, t = in_place(style, move_s)
    seat = seated_pelvis(style)
    stand = style.stand_height_m
    times = [0.0, 0.3 * move_s, 0.65 * move_s, move_s]
    track.root[:, 1] = keyframes(times, [stand, stand - 0.06, stand - 0.6 * (stand - seat[1]), seat[1]], t)
    track.root[:, 2] = keyframes(times, [0.0, -0.08, -0.7 * SEAT_BACK_M, seat[2]], t)
    tilt, lean = style.pelvis_tilt, style.lean
    track.pelvis[:, 0] = keyframes(times, [tilt, tilt + 0.35, 0.3, -0.15], t)
    track.spine[:, 0] = keyframes(times, [lean, lean + 0.3, 0.3, 0.12 + lean], t)
    track.head[:, 0] = -0.6 * (track.pelvis[:, 0] + track.spine[:, 0])
    # Arms come forward for balance on the way down, then rest on the thighs.
    forward = keyframes(times, [0.0, 0.5, 0.3, 0.0], t)
    for s in (0, 1):
        ahead = SHOULDER_IN_CHEST[s] + mirrored([0.05, -0.6, 0.6], s) * ARM_M[s] * 0.95 / np.linalg.norm([0.05, -0.6, 0.6])
        track.hand[:, s] = sweep_hand(s, track.hand[0, s], ahead, forward)
        track.hand_world[:, s] = [SIDE_SIGN[s] * (style.half_width_m + 0.03), seat[1] + 0.03, -0.12]
    track.hand_world_w[:] = keyframes(times, [0.0, 0.0, 0.3, 1.0], t)[:, None]
    track.elbow_pole[:] = keyframes(times, [track.elbow_pole[0], track.elbow_pole[0], track.elbow_pole[0], [[0.6, -0.3, -1.0], [-0.6, -0.3, -1.0]]], t)
    return in_place_segment(track)


def sit_down(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    return _sitting(style, SPEED_FACTOR[action.speed] * style.tempo)


def stand_up(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Sitting down played backwards: lean forward, push up, straighten."""
    sitting = _sitting(style, SPEED_FACTOR[action.speed] * style.tempo)
    reversed_track = PoseTrack(**{k: v[::-1].copy() for k, v in sitting.track.channels().items()})
    return Segment(reversed_track, sitting.lead_out, sitting.lead_in)


def bow(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    down_s, hold_s, up_s = 0.6 / tempo, rng.uniform(0.3, 0.6), 0.65 / tempo
    track, t = in_place(style, action.count * (down_s + hold_s + up_s))
    depth = _repeats(t, action.count, down_s, hold_s, up_s) * rng.uniform(0.8, 1.1)
    _bend_forward(track, depth, pelvis_rad=0.3, spine_rad=0.55, hips_back_m=0.07, head_rad=0.2)
    _hang_hands(track, style, 0.85 * depth)
    return in_place_segment(track)


def touch_toes(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    down_s, hold_s, up_s = 0.9 / tempo, rng.uniform(0.3, 0.6), 0.9 / tempo
    track, t = in_place(style, action.count * (down_s + hold_s + up_s))
    depth = _repeats(t, action.count, down_s, hold_s, up_s)
    _bend_forward(track, depth, pelvis_rad=1.3, spine_rad=1.15, hips_back_m=0.2, head_rad=0.1)
    track.root[:, 1] -= 0.12 * depth  # knees give a little
    _hang_hands(track, style, 2.45 * depth)
    for s in (0, 1):
        track.hand_world[:, s] = [SIDE_SIGN[s] * (style.half_width_m + 0.02), 0.1, 0.16]
    track.hand_world_w[:] = (depth**3)[:, None]
    return in_place_segment(track)


def twist(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    ready_s, cycle_s = 0.5 / tempo, 1.3 / tempo
    total = 2 * ready_s + action.count * cycle_s
    track, t = in_place(style, total)
    ready = envelope(t, 0.0, ready_s, total - ready_s, total)
    for s in (0, 1):  # forearms up in front of the chest, elbows out
        chest = np.array([SIDE_SIGN[s] * 0.17, 0.0, 0.24])
        track.hand[:, s] = sweep_hand(s, track.hand[0, s], chest, ready)
        track.elbow_pole[:, s] = mirrored([1.0, -0.2, -0.2], s)
    turning = (t > ready_s) & (t < total - ready_s)
    angle = 0.65 * style.amplitude * np.sin(2 * np.pi * (t - ready_s) / cycle_s) * turning
    track.spine[:, 1] += angle
    track.pelvis[:, 1] += 0.2 * angle
    track.head[:, 1] -= 0.3 * angle
    return in_place_segment(track)


def stretch(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Both arms straight up overhead, up on the toes, a slight arch; then back down."""
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    up_s, hold_s = 0.9 / tempo, rng.uniform(0.8, 1.4)
    total = 2 * up_s + hold_s
    track, t = in_place(style, total)
    up = envelope(t, 0.0, up_s, up_s + hold_s, total)
    for s in (0, 1):
        overhead = SHOULDER_IN_CHEST[s] + mirrored([-0.12, 1.0, 0.05], s) / np.linalg.norm([-0.12, 1.0, 0.05]) * ARM_M[s] * 0.995
        track.hand[:, s] = sweep_hand(s, track.hand[0, s], overhead, up)
        track.elbow_pole[:, s] = mirrored([1.0, 0.0, -0.5], s)
        pitch = -0.45 * up**2
        rise, forward = heel_raise(pitch, s)
        track.foot_pitch[:, s] = pitch
        track.ankle[:, s, 1] += rise
        track.ankle[:, s, 2] += forward
    track.root[:, 1] += heel_raise(np.float64(-0.45), 0)[0] * up**2
    track.spine[:, 0] -= 0.1 * up
    track.head[:, 0] -= 0.25 * up
    return in_place_segment(track)


def stand_still(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Idle standing: a slow weight shift and a glance aside."""
    total = rng.uniform(1.5, 3.0)
    track, t = in_place(style, total)
    times = [0.0, total * 0.4, total]
    track.root[:, 0] += keyframes(times, [0.0, rng.uniform(-0.03, 0.03), 0.0], t)
    track.head[:, 1] += keyframes([0.0, total * 0.3, total * 0.7, total], [0.0, rng.uniform(-0.35, 0.35), 0.0, 0.0], t)
    return in_place_segment(track)


def sway(action: Action, style: Style, rng: np.random.Generator) -> Segment:
    """Weight rocked from one foot to the other, hips leading, the head staying level."""
    tempo = SPEED_FACTOR[action.speed] * style.tempo
    cycle_s = 1.4 / tempo
    total = action.count * cycle_s
    track, t = in_place(style, total)
    inside = (t > 0) & (t < total)
    first = rng.choice([-1.0, 1.0])
    wave_ = first * np.sin(2 * np.pi * t / cycle_s) * inside * style.amplitude
    track.root[:, 0] += 0.07 * wave_
    track.pelvis[:, 2] += 0.08 * wave_
    track.spine[:, 2] -= 0.12 * wave_
    track.head[:, 2] += 0.05 * wave_
    track.hand[:, :, 0] += 0.04 * wave_[:, None]
    return in_place_segment(track)
