"""What every primitive builds on: the performer's style, a segment, neutral poses and time curves.

A primitive returns a `Segment`: a pose track in its own frame (it starts standing at the
origin facing +z, or seated there) that begins and ends with `lead_in`/`lead_out` frames of
settled stance; `compose` cross-fades consecutive segments where both keep their feet planted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionchat.data.synth.body import (
    ANKLE_FLAT_Y,
    ARM_M,
    FOOT_FLAT_PITCH,
    FOOT_M,
    HIP_IN_PELVIS,
    LEG_M,
    SHIN_M,
    SHOULDER_IN_CHEST,
    SIDE_SIGN,
    THIGH_M,
    PoseTrack,
    heading_vector,
)
from motionchat.motion.timing import HUMANML3D_FPS

FPS = HUMANML3D_FPS
SPEED_FACTOR = {"slow": 0.65, "normal": 1.0, "fast": 1.5}
SETTLE_FRAMES = 8  # stillness at the start and end of a segment
IN_PLACE_LEAD_FRAMES = SETTLE_FRAMES + 2  # before and after an in-place action (gesture, posture)


@dataclass(frozen=True)
class Style:
    """How one performer moves; drawn once per clip (shared by a clip and its edited variant).

    Args:
        tempo: speed multiplier of every action (1 = nominal).
        amplitude: size multiplier of gestures.
        half_width_m: half the distance between the ankles when standing.
        toe_out: outward turn of each foot (rad).
        lean: resting forward bend of the spine (rad).
        pelvis_tilt: resting forward tilt of the pelvis (rad).
        arm_out_m: how far the hanging hands sit out from the thighs.
        elbow_bend: 0..1 resting elbow bend.
        step_scale: stride length multiplier.
        arm_swing: arm swing gain while walking.
        elbow_asymmetry: how much more the left elbow is bent at rest than the right (-: less).
        hands_forward_m: how far in front of the thighs the hanging hands rest.
        head_pitch: resting nod of the head (rad, + looks down).
        liveliness: gain of the small always-on movement (breathing, sway, fidgeting; see
            `compose.add_life`).
        trunk_shape: angles of `body.trunk_offsets` (the spine's curve, the shoulders' set);
            empty: the rest shape.
        knee_straightness: hip-to-ankle distance standing, as a fraction of the leg's length
            (0.985: the knee angle measured hip-knee-ankle is 20 degrees off straight; 0.972: 27).
    """

    tempo: float = 1.0
    amplitude: float = 1.0
    half_width_m: float = 0.10
    toe_out: float = 0.12
    lean: float = 0.03
    pelvis_tilt: float = 0.05
    arm_out_m: float = 0.05
    elbow_bend: float = 0.3
    step_scale: float = 1.0
    arm_swing: float = 1.0
    elbow_asymmetry: float = 0.0
    hands_forward_m: float = 0.0
    head_pitch: float = 0.0
    liveliness: float = 1.0
    knee_straightness: float = 0.985
    trunk_shape: tuple[float, ...] = ()

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Style:
        # Version 3 widened the posture ranges (lean, elbows, arms, amplitude, arm swing) towards
        # what motion capture shows; tempo stays narrow, since slow/normal/fast are labels.
        return cls(
            tempo=rng.uniform(0.88, 1.12),
            amplitude=rng.uniform(0.8, 1.25),
            half_width_m=rng.uniform(0.08, 0.14),
            toe_out=rng.uniform(0.04, 0.28),
            lean=rng.uniform(-0.03, 0.18),
            pelvis_tilt=rng.uniform(0.0, 0.14),
            arm_out_m=rng.uniform(0.02, 0.11),
            elbow_bend=rng.uniform(0.1, 0.85),
            step_scale=rng.uniform(0.9, 1.1),
            arm_swing=rng.uniform(0.5, 1.7),
            elbow_asymmetry=rng.uniform(-0.2, 0.2),
            hands_forward_m=rng.uniform(0.0, 0.08),
            head_pitch=rng.uniform(-0.08, 0.2),
            liveliness=float(np.exp(rng.uniform(np.log(0.6), np.log(2.2)))),
            knee_straightness=rng.uniform(0.972, 0.988),
            trunk_shape=tuple(float(a) for a in rng.uniform(-1.0, 1.0, 8) * [0.15, 0.15, 0.15, 0.2, 0.2, 0.12, 0.15, 0.12]),
        )

    @property
    def stand_height_m(self) -> float:
        """Pelvis height standing with nearly straight knees over the feet."""
        horizontal = np.abs(self.half_width_m - np.abs(HIP_IN_PELVIS[:, 0]))
        vertical = np.sqrt((self.knee_straightness * LEG_M) ** 2 - horizontal**2)
        return float(np.min(ANKLE_FLAT_Y + vertical - HIP_IN_PELVIS[:, 1]))


@dataclass
class Segment:
    """One primitive's motion in its own frame.

    Args:
        track: the pose track; frame 0 stands (or sits) at the origin facing +z.
        lead_in / lead_out: settled frames at the start / end, outside the action's own movement
            (the label spans leave them out).
        end_ref: (x, z, yaw) of the stance the segment ends in; the next segment starts there.
    """

    track: PoseTrack
    lead_in: int
    lead_out: int
    end_ref: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __len__(self) -> int:
        return len(self.track)


# ---- time curves --------------------------------------------------------------------------


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def minjerk(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x**3 * (10 - 15 * x + 6 * x * x)


def envelope(t: np.ndarray, rise_start: float, rise_end: float, fall_start: float, fall_end: float) -> np.ndarray:
    """0 -> 1 (min-jerk) between rise_start and rise_end, back to 0 between fall_start and fall_end."""
    up = minjerk((t - rise_start) / max(rise_end - rise_start, 1e-6))
    down = 1 - minjerk((t - fall_start) / max(fall_end - fall_start, 1e-6))
    return up * down


def keyframes(times_s, values, t: np.ndarray) -> np.ndarray:
    """Monotone cubic (Fritsch-Carlson, as scipy's PCHIP) through (time, value) keys; flat outside.

    `values` may be (K,) or (K, ...); the result is (len(t), ...). Written out in numpy because
    it runs for nearly every channel of every clip.
    """
    x = np.asarray(times_s, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    h = np.diff(x)  # (K-1,)
    expand = (slice(None),) + (None,) * (y.ndim - 1)
    delta = np.diff(y, axis=0) / h[expand]  # secant slopes
    slope = np.zeros_like(y)
    if len(x) > 2:
        w1 = (2 * h[1:] + h[:-1])[expand]
        w2 = (h[1:] + 2 * h[:-1])[expand]
        same_sign = delta[:-1] * delta[1:] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
        slope[1:-1] = np.where(same_sign, harmonic, 0.0)
    if len(x) == 2:
        slope[0] = slope[1] = delta[0]
    else:
        slope[0] = _end_slope(h[0], h[1], delta[0], delta[1])
        slope[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    inside = np.clip(t, x[0], x[-1])
    k = np.clip(np.searchsorted(x, inside, side="right") - 1, 0, len(x) - 2)
    span = h[k]
    s = ((inside - x[k]) / span)[expand]
    span = span[expand]
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * y[k] + h10 * span * slope[k] + h01 * y[k + 1] + h11 * span * slope[k + 1]


def _end_slope(h0, h1, d0, d1):
    """PCHIP's one-sided three-point end slope, kept monotone."""
    d = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
    d = np.where(np.sign(d) != np.sign(d0), 0.0, d)
    return np.where((np.sign(d0) != np.sign(d1)) & (np.abs(d) > np.abs(3 * d0)), 3 * d0, d)


# ---- neutral poses ------------------------------------------------------------------------


def rest_hand(style: Style) -> np.ndarray:
    """(2, 3) hanging-hand targets in the chest frame: slightly out, elbows a little bent."""
    hands = np.empty((2, 3))
    for s in (0, 1):
        bend = float(np.clip(style.elbow_bend + (0.5 - s) * style.elbow_asymmetry, 0.0, 1.0))
        direction = np.array([SIDE_SIGN[s] * style.arm_out_m * 2.2, -1.0, 0.05 + 0.25 * bend + style.hands_forward_m])
        direction /= np.linalg.norm(direction)
        hands[s] = SHOULDER_IN_CHEST[s] + direction * ARM_M[s] * (0.985 - 0.07 * bend)
    return hands


def arm_target(side: int, direction, reach: float = 0.98) -> np.ndarray:
    """(3,) chest-frame wrist target `reach` of the arm's length from the shoulder along `direction`.

    `direction` is given for the left arm; x is mirrored for the right.
    """
    direction = np.asarray(direction, dtype=np.float64) * [SIDE_SIGN[side], 1.0, 1.0]
    return SHOULDER_IN_CHEST[side] + direction / np.linalg.norm(direction) * ARM_M[side] * reach


def sweep_hand(side: int, start: np.ndarray, end: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(T, 3) chest-frame wrist targets moving from `start` to `end` as `weight` goes 0 -> 1.

    The hand travels around the shoulder (direction slerped, distance interpolated) rather than
    along the straight line between the two, which would fold the elbow as it passes the shoulder.
    """
    shoulder = SHOULDER_IN_CHEST[side]
    u0, u1 = np.broadcast_arrays(np.asarray(start) - shoulder, np.asarray(end) - shoulder)
    r0, r1 = np.linalg.norm(u0, axis=-1, keepdims=True), np.linalg.norm(u1, axis=-1, keepdims=True)
    d0, d1 = u0 / r0, u1 / r1
    w = np.asarray(weight, dtype=np.float64)[:, None]
    angle = np.arccos(np.clip((d0 * d1).sum(-1, keepdims=True), -1.0, 1.0))
    sin_angle = np.sin(angle)
    small = sin_angle < 1e-4
    a = np.where(small, 1 - w, np.sin((1 - w) * angle) / np.where(small, 1.0, sin_angle))
    b = np.where(small, w, np.sin(w * angle) / np.where(small, 1.0, sin_angle))
    direction = a * d0 + b * d1
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    return shoulder + direction * (r0 + (r1 - r0) * w)


def mirrored(vector, side: int) -> np.ndarray:
    """A left-side vector mirrored in x for the right side."""
    return np.asarray(vector, dtype=np.float64) * [SIDE_SIGN[side], 1.0, 1.0]


ELBOW_POLE_REST = np.array([[0.35, -0.3, -1.0], [-0.35, -0.3, -1.0]])


def in_place(style: Style, action_s: float) -> tuple[PoseTrack, np.ndarray]:
    """A standing track with room for `action_s` of in-place action between two settled leads.

    Returns (track, t): t is each frame's time since the action starts (negative in the lead-in).
    """
    n = 2 * IN_PLACE_LEAD_FRAMES + int(np.ceil(action_s * FPS))
    return stand_track(n, style), np.arange(n) / FPS - IN_PLACE_LEAD_FRAMES / FPS


def in_place_segment(track: PoseTrack) -> Segment:
    """A segment that starts and ends standing where it began."""
    return Segment(track, lead_in=IN_PLACE_LEAD_FRAMES - 2, lead_out=IN_PLACE_LEAD_FRAMES - 2)


def stand_track(n_frames: int, style: Style) -> PoseTrack:
    """Standing at the origin, facing +z, feet planted at hip width."""
    n = n_frames
    tilt, lean = style.pelvis_tilt, style.lean
    ankle = np.array([[SIDE_SIGN[s] * style.half_width_m, ANKLE_FLAT_Y, 0.0] for s in (0, 1)])
    foot_yaw = SIDE_SIGN * style.toe_out
    knee_pole = heading_vector(foot_yaw) + np.array([[0.15, 0, 0], [-0.15, 0, 0]])
    return PoseTrack(
        root=np.tile([0.0, style.stand_height_m, 0.0], (n, 1)),
        yaw=np.zeros(n),
        pelvis=np.tile([tilt, 0.0, 0.0], (n, 1)),
        spine=np.tile([lean, 0.0, 0.0], (n, 1)),
        head=np.tile([-0.8 * (tilt + lean) + style.head_pitch, 0.0, 0.0], (n, 1)),
        hand=np.tile(rest_hand(style), (n, 1, 1)),
        elbow_pole=np.tile(ELBOW_POLE_REST, (n, 1, 1)),
        hand_world=np.zeros((n, 2, 3)),
        hand_world_w=np.zeros((n, 2)),
        ankle=np.tile(ankle, (n, 1, 1)),
        foot_yaw=np.tile(foot_yaw, (n, 1)),
        foot_pitch=np.zeros((n, 2)),
        knee_pole=np.tile(knee_pole, (n, 1, 1)),
    )


# Seated on an invisible chair: thighs level, shins upright over the planted feet.
SEAT_BACK_M = float(np.mean(THIGH_M)) - 0.04


def seated_pelvis(style: Style) -> np.ndarray:
    """(3,) pelvis position when seated (feet stay where they stood)."""
    knee_y = ANKLE_FLAT_Y + float(np.mean(SHIN_M)) * 0.99
    return np.array([0.0, knee_y - float(np.mean(HIP_IN_PELVIS[:, 1])) + 0.02, -SEAT_BACK_M])


def heel_raise(pitch: np.ndarray, side: int):
    """Ankle (height gain, forward shift) that keeps the toe in place for a toes-down `pitch` (< 0)."""
    flat = FOOT_FLAT_PITCH[side]
    rise = FOOT_M[side] * (np.sin(flat) - np.sin(flat + pitch))
    forward = FOOT_M[side] * (np.cos(flat) - np.cos(flat + pitch))
    return rise, forward
