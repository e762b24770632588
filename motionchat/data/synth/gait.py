"""Stepping: footsteps planned from a root path, swing trajectories, and the body's response.

Every primitive that moves the feet over the floor (walking in any direction, turning, running,
spinning, dancing) gives a pelvis path and a heading over time; `plan_footsteps` puts alternate
feet down where the hips will be half a stance later, `place_feet` lifts each foot along an arc
between its plants (heel rise before toe-off, toes up at heel strike) and keeps it exactly still
while planted. `gait_segment` then lets the body follow the feet: the pelvis shifts over the
supporting foot, bobs, and turns with the stride while the chest and arms swing against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motionchat.data.synth.body import ANKLE_FLAT_Y, SHOULDER_IN_CHEST, SIDE_SIGN, heading_vector
from motionchat.data.synth.segment import (
    FPS,
    SETTLE_FRAMES,
    Segment,
    Style,
    heel_raise,
    minjerk,
    mirrored,
    rest_hand,
    smoothstep,
    stand_track,
)


@dataclass(frozen=True)
class Gait:
    """Timing and body response of one way of stepping.

    Args:
        step_period_s: time between the landings of successive (alternate) feet.
        swing_s: time each foot spends in the air per step (> step period: flight phases).
        lift_m: apex height of the ankle in the swing.
        heel_kick_m: extra lift early in the swing (running).
        toe_off / heel_strike: foot pitch (rad) when it leaves / meets the floor.
        bounce_m: pelvis oscillation per step; > 0 lowest at mid-stance (running), < 0 highest.
        crouch_m: pelvis lowered while stepping.
        arm_swing: shoulder swing (rad) per metre of fore-aft foot separation.
        arm_bend: 0 relaxed hanging arms, 1 bent running arms.
        lean: forward spine lean while stepping (rad).
        weight_shift: fraction of the way the pelvis moves over the supporting foot.
        over_foot: fraction of the stance after which the hips pass over the planted foot
            (runners land nearly under the body and push off far behind it).
    """

    step_period_s: float
    swing_s: float
    lift_m: float
    heel_kick_m: float = 0.0
    toe_off: float = 0.45
    heel_strike: float = 0.2
    bounce_m: float = -0.01
    crouch_m: float = 0.0
    arm_swing: float = 0.6
    arm_bend: float = 0.0
    lean: float = 0.0
    weight_shift: float = 0.25
    over_foot: float = 0.5


@dataclass(frozen=True)
class Footstep:
    side: int
    lift_f: float
    land_f: float
    xz: tuple[float, float]
    yaw: float


def stance_xz(root_xz: np.ndarray, yaw: np.ndarray, side: int, half_width_m: float) -> np.ndarray:
    """Where a foot stands beside the pelvis: (..., 2) for root (..., 2) and heading (...)."""
    lateral = SIDE_SIGN[side] * half_width_m
    return root_xz + lateral * np.stack([np.cos(yaw), -np.sin(yaw)], axis=-1)


def plan_footsteps(
    root_xz: np.ndarray,
    yaw: np.ndarray,
    move_start_f: float,
    move_end_f: int,
    gait: Gait,
    style: Style,
    first_side: int,
) -> list[Footstep]:
    """Alternate steps from `move_start_f` until both feet stand beside the settled root.

    `root_xz` (N, 2) and `yaw` (N,) must run on past `move_end_f`, the frame after which the
    root no longer moves; each foot lands where its hip will be half a stance later.
    """
    period_f = gait.step_period_s * FPS
    swing_f = gait.swing_s * FPS
    # Walking lands about half a step ahead of the hips; running lands closer under them.
    lead_f = gait.over_foot * max(min(2 * period_f - swing_f, period_f), 0.0)
    last = len(root_xz) - 1
    plant = [stance_xz(root_xz[0], yaw[0], s, style.half_width_m) for s in (0, 1)]
    plant_yaw = [yaw[0] + SIDE_SIGN[s] * style.toe_out for s in (0, 1)]
    steps: list[Footstep] = []
    done = [False, False]
    side, k = first_side, 0
    while not all(done) and k < 200:
        land = move_start_f + (k + 1) * period_f
        sample = min(last, int(round(land + lead_f)))
        target = stance_xz(root_xz[sample], yaw[sample], side, style.half_width_m)
        target_yaw = yaw[sample] + SIDE_SIGN[side] * style.toe_out
        if np.linalg.norm(target - plant[side]) > 0.02 or abs(target_yaw - plant_yaw[side]) > 0.05:
            steps.append(Footstep(side, land - swing_f, land, (float(target[0]), float(target[1])), float(target_yaw)))
            plant[side], plant_yaw[side] = target, target_yaw
        if sample >= move_end_f:
            done[side] = True
        side, k = 1 - side, k + 1
    return steps


def place_feet(n_frames: int, steps: list[Footstep], style: Style, gait: Gait, start_xz=None, start_yaw=None):
    """Ankle targets (T, 2, 3), foot yaw (T, 2), foot pitch (T, 2) and contact (T, 2) for footsteps.

    Feet start beside the origin facing +z unless `start_xz` (2, 2) / `start_yaw` (2,) say otherwise.
    """
    frames = np.arange(n_frames, dtype=np.float64)
    ankle = np.zeros((n_frames, 2, 3))
    ankle[..., 1] = ANKLE_FLAT_Y
    foot_yaw = np.zeros((n_frames, 2))
    pitch = np.zeros((n_frames, 2))
    contact = np.ones((n_frames, 2), dtype=bool)
    for s in (0, 1):
        xz = np.asarray(start_xz[s] if start_xz is not None else stance_xz(np.zeros(2), 0.0, s, style.half_width_m))
        fy = start_yaw[s] if start_yaw is not None else SIDE_SIGN[s] * style.toe_out
        ankle[:, s, 0], ankle[:, s, 2] = xz
        foot_yaw[:, s] = fy
        landed_f = -np.inf
        for step in (st for st in steps if st.side == s):
            target = np.array(step.xz)
            swing = _frames_between(step.lift_f, step.land_f, n_frames, closed=True)
            after = slice(min(max(int(np.floor(step.land_f)) + 1, 0), n_frames), n_frames)
            # Toe-off: the heel rises about the planted toe over the last few stance frames.
            roll_f = max(min(4.0, 0.6 * (step.land_f - step.lift_f), step.lift_f - landed_f - 1.0), 1e-3)
            rolling = _frames_between(step.lift_f - roll_f, step.lift_f, n_frames, closed=False)
            roll = minjerk((frames[rolling] - (step.lift_f - roll_f)) / roll_f)
            rise, forward = heel_raise(-gait.toe_off * roll, s)
            ankle[rolling, s, 1] = ANKLE_FLAT_Y + rise
            ankle[rolling, s, 0] = xz[0] + forward * np.sin(fy)
            ankle[rolling, s, 2] = xz[1] + forward * np.cos(fy)
            pitch[rolling, s] = -gait.toe_off * roll
            # Swing: from the raised heel to the next plant along an arc.
            phase = (frames[swing] - step.lift_f) / (step.land_f - step.lift_f)
            rise0, forward0 = heel_raise(np.float64(-gait.toe_off), s)
            start = xz + forward0 * np.array([np.sin(fy), np.cos(fy)])
            progress = smoothstep(phase)[:, None]
            ankle[swing, s, 0::2] = start + (target - start) * progress
            ankle[swing, s, 1] = (
                ANKLE_FLAT_Y + rise0 * (1 - minjerk(phase)) + (gait.lift_m + gait.heel_kick_m * (1 - phase)) * np.sin(np.pi * phase)
            )
            foot_yaw[swing, s] = fy + (step.yaw - fy) * progress[:, 0]
            pitch[swing, s] = -gait.toe_off + (gait.toe_off + gait.heel_strike) * smoothstep(phase / 0.8)
            contact[swing, s] = False
            # Heel strike: the toes come down over the first frames of the stance.
            ankle[after, s, 0::2] = target
            ankle[after, s, 1] = ANKLE_FLAT_Y
            foot_yaw[after, s] = step.yaw
            pitch[after, s] = gait.heel_strike * (1 - smoothstep((frames[after] - step.land_f) / 3.0))
            xz, fy, landed_f = target, step.yaw, step.land_f
    return ankle, foot_yaw, pitch, contact


def _frames_between(start_f: float, end_f: float, n_frames: int, closed: bool) -> slice:
    """Integer frames f with start <= f <= end (closed) or start <= f < end, as a slice."""
    first = int(np.ceil(start_f))
    last = int(np.floor(end_f)) + 1 if closed else int(np.ceil(end_f))
    return slice(min(max(first, 0), n_frames), min(max(last, 0), n_frames))


def knee_poles(foot_yaw: np.ndarray) -> np.ndarray:
    """(T, 2, 3) knees point along their feet, a little outward."""
    forward = heading_vector(foot_yaw)
    outward = np.stack([np.cos(foot_yaw), np.zeros_like(foot_yaw), -np.sin(foot_yaw)], axis=-1) * SIDE_SIGN[:, None]
    return forward + 0.15 * outward


def swing_hands(style: Style, swing: np.ndarray, bend: float | np.ndarray) -> np.ndarray:
    """(T, 2, 3) chest-frame wrist targets for arms swung forward by `swing` (T, 2) rad."""
    relaxed = rest_hand(style) - SHOULDER_IN_CHEST  # (2, 3)
    bent = np.stack([mirrored([0.03, -0.22, 0.22], s) for s in (0, 1)])
    bend = np.asarray(bend, dtype=np.float64).reshape(-1, 1, 1) if np.ndim(bend) else bend
    arm = (1 - bend) * relaxed + bend * bent  # (T or 1, 2, 3)
    c, s = np.cos(swing), np.sin(swing)
    # Rotate each arm vector about +x by -swing (forward).
    y = arm[..., 1] * c - arm[..., 2] * s
    z = arm[..., 1] * s + arm[..., 2] * c
    return SHOULDER_IN_CHEST + np.stack([np.broadcast_to(arm[..., 0], y.shape), y, z], axis=-1)


def gait_segment(
    style: Style,
    root_xz: np.ndarray,
    yaw: np.ndarray,
    move_start_f: float,
    move_end_f: int,
    gait: Gait,
    first_side: int,
    steps: list[Footstep] | None = None,
) -> Segment:
    """A stepping segment that follows the root path (N, 2) and heading (N,), padded past the end.

    `steps` replaces the planned footsteps (dances use their own).
    """
    if steps is None:
        steps = plan_footsteps(root_xz, yaw, move_start_f, move_end_f, gait, style, first_side)
    first_lift = min((s.lift_f for s in steps), default=move_start_f)
    last_land = max((s.land_f for s in steps), default=move_end_f)
    n = int(np.ceil(max(last_land, move_end_f))) + SETTLE_FRAMES + 2
    if len(root_xz) < n:
        pad = n - len(root_xz)
        root_xz = np.concatenate([root_xz, np.repeat(root_xz[-1:], pad, axis=0)])
        yaw = np.concatenate([yaw, np.repeat(yaw[-1:], pad)])
    track = stand_track(n, style)
    track.yaw = yaw[:n].copy()
    ankle, foot_yaw, pitch, contact = place_feet(n, steps, style, gait)
    track.ankle, track.foot_yaw, track.foot_pitch = ankle, foot_yaw, pitch
    track.knee_pole = knee_poles(foot_yaw)

    t = np.arange(n, dtype=np.float64)
    ramp_f = 0.3 * FPS
    activity = smoothstep((t - first_lift + ramp_f) / ramp_f) * smoothstep((last_land + ramp_f - t) / ramp_f)

    # Pelvis over the supporting foot(s), then height: crouch and bob with the step rhythm.
    weights = contact.astype(np.float64) + 1e-3
    support = (ankle[..., 0::2] * weights[..., None]).sum(1) / weights.sum(1)[:, None]
    lateral = np.stack([np.cos(track.yaw), -np.sin(track.yaw)], axis=-1)
    shift = ((support - root_xz[:n]) * lateral).sum(-1)
    shift = gaussian_filter1d(shift, 2.0, mode="nearest") * gait.weight_shift
    track.root[:, 0] = root_xz[:n, 0] + shift * lateral[:, 0]
    track.root[:, 2] = root_xz[:n, 1] + shift * lateral[:, 1]
    period_f = gait.step_period_s * FPS
    mid_stance = (steps[0].land_f if steps else 0.0) + 0.5 * max(2 * period_f - gait.swing_s * FPS, 0.0)
    bob = -np.cos(2 * np.pi * (t - mid_stance) / period_f) * gait.bounce_m
    track.root[:, 1] = style.stand_height_m + (bob - gait.crouch_m) * activity

    # Stride: pelvis turns with the leading leg, chest and arms counter-swing, head stays level.
    forward = heading_vector(track.yaw)
    lead_m = ((ankle[:, 0] - ankle[:, 1]) * forward).sum(-1)  # > 0: left foot ahead
    lead_m = gaussian_filter1d(lead_m, 1.0, mode="nearest")
    track.pelvis[:, 1] = -0.15 * lead_m
    track.spine[:, 1] = 0.3 * lead_m
    track.head[:, 1] = -0.2 * lead_m
    track.spine[:, 0] += gait.lean * activity
    track.head[:, 0] -= 0.7 * gait.lean * activity
    swing = np.clip(gait.arm_swing * style.arm_swing * lead_m, -0.8, 0.8)[:, None] * np.array([-1.0, 1.0])
    track.hand = swing_hands(style, swing, gait.arm_bend * activity)
    end = min(len(root_xz) - 1, n - 1)
    return Segment(
        track,
        lead_in=max(int(np.floor(first_lift - 4)), 0),
        lead_out=max(n - 1 - int(np.ceil(last_land)), 0),
        end_ref=(float(root_xz[end, 0]), float(root_xz[end, 1]), float(yaw[end])),
    )


def travel_profile(distance_m: float, cruise_mps: float, ramp_s: float) -> np.ndarray:
    """(N,) distance covered at each frame: smooth start, cruise, smooth stop; ends at `distance_m`."""
    cruise_s = distance_m / cruise_mps - ramp_s
    if cruise_s < 0:
        cruise_s, ramp_s = 0.0, distance_m / cruise_mps
    total_s = cruise_s + 2 * ramp_s
    t = np.arange(int(np.ceil(total_s * FPS)) + 1) / FPS
    speed = smoothstep(t / ramp_s) * smoothstep((total_s - t) / ramp_s)
    covered = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]))])
    return covered * distance_m / covered[-1]
