"""Generated motion: every primitive is physically plausible, clips fit HumanML3D's lengths,
transitions blend, parameters show in the motion."""

import numpy as np
import pytest

from motionchat.data.synth.body import WRIST, PoseTrack, pose_to_joints, two_bone_ik
from motionchat.data.synth.compose import MIN_BLEND_FRAMES, compose, generate_clip
from motionchat.data.synth.plausibility import measure
from motionchat.data.synth.program import sample_action, sample_program
from motionchat.data.synth.segment import Segment, Style, stand_track
from motionchat.data.synth.vocabulary import ACTIONS, Action, default_action
from motionchat.motion.timing import MAX_FRAMES, MIN_FRAMES


@pytest.fixture(scope="module")
def clips():
    """One clip per primitive (random parameters) and 20 random programs."""
    rng = np.random.default_rng(0)
    out = []
    for name in ACTIONS:
        out.append(generate_clip((sample_action(name, rng),), Style.sample(rng), rng))
    while len(out) < len(ACTIONS) + 20:
        try:
            out.append(generate_clip(sample_program(rng), Style.sample(rng), rng))
        except ValueError:  # ClipTooLong: the corpus draws another program
            continue
    return out


def test_clips_are_physically_plausible(clips):
    report = measure([c.joints for c in clips])
    assert report.max_bone_error_m <= 1e-3
    assert report.lowest_foot_m >= -0.02
    assert report.mean_slide_m <= 0.01
    assert report.max_speed_mps <= 12.0
    assert 0.8 <= report.standing_root_min_m and report.standing_root_max_m <= 1.1
    assert report.passes()


def test_clip_lengths_and_spans(clips):
    for clip in clips:
        assert MIN_FRAMES <= clip.frames <= MAX_FRAMES
        assert clip.joints.shape == (clip.frames + 1, 22, 3)
        assert all(0 <= a < b <= clip.frames for a, b in clip.spans)


def test_same_seed_same_motion():
    program = (default_action("wave"), default_action("walk"))
    a = generate_clip(program, Style(), np.random.default_rng(5)).joints
    b = generate_clip(program, Style(), np.random.default_rng(5)).joints
    np.testing.assert_array_equal(a, b)


def test_transitions_cross_fade_over_at_least_six_frames():
    style = Style()
    first, second = stand_track(30, style), stand_track(30, style)
    second.root[:, 1] += 0.1
    track, spans = compose([Segment(first, 2, 2), Segment(second, 2, 2)])
    height = track.root[:, 1]
    ramp = np.flatnonzero((height > height[0] + 1e-6) & (height < height[-1] - 1e-6))
    assert len(ramp) >= MIN_BLEND_FRAMES - 1
    assert np.all(np.diff(height) >= -1e-12)


def test_two_bone_ik_keeps_lengths_and_reaches():
    rng = np.random.default_rng(3)
    root = rng.normal(size=(50, 3))
    target = root + rng.normal(size=(50, 3)) * 0.3
    middle, end = two_bone_ik(root, target, 0.4, 0.35, rng.normal(size=(50, 3)))
    np.testing.assert_allclose(np.linalg.norm(middle - root, axis=-1), 0.4, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(end - middle, axis=-1), 0.35, atol=1e-12)
    reachable = np.linalg.norm(target - root, axis=-1) < 0.75
    np.testing.assert_allclose(end[reachable], target[reachable], atol=1e-9)


def _joints(action: Action, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return generate_clip((action,), Style(), rng).joints


def test_parameters_show_in_the_motion():
    # Distance: the pelvis travels about as far as the program says.
    for distance in (1, 3):
        joints = _joints(Action("walk", speed="normal", distance=distance))
        travelled = np.linalg.norm(joints[-1, 0, [0, 2]] - joints[0, 0, [0, 2]])
        assert abs(travelled - distance) < 0.15, (distance, travelled)
    # Side: the waving wrist is the raised one.
    for side, index in (("left", 0), ("right", 1)):
        joints = _joints(Action("wave", side=side, speed="normal", count=2))
        raised = joints[:, WRIST[index], 1].max() - joints[:, WRIST[1 - index], 1].max()
        assert raised > 0.4, (side, raised)
    # Speed: a fast clap takes less time than a slow one; count: more claps take longer.
    slow = len(_joints(Action("clap", speed="slow", count=2)))
    fast = len(_joints(Action("clap", speed="fast", count=2)))
    more = len(_joints(Action("clap", speed="slow", count=4)))
    assert fast < slow < more
    # Direction: turning left ends facing left (+x), turning right faces -x.
    for direction, sign in (("left", 1), ("right", -1)):
        joints = _joints(Action("turn", direction=direction, speed="normal"))
        across = joints[-1, 2] - joints[-1, 1]  # right hip minus left hip
        forward = np.cross([0.0, 1.0, 0.0], across)
        assert sign * forward[0] > 0.8 * np.linalg.norm(forward), (direction, forward)


def test_pose_track_with_planted_feet_keeps_them_still():
    track: PoseTrack = stand_track(40, Style())
    track.root[:, 1] -= np.linspace(0.0, 0.3, 40)  # squat down
    joints = pose_to_joints(track)
    np.testing.assert_allclose(joints[:, [7, 8]], np.broadcast_to(joints[:1, [7, 8]], (40, 2, 3)), atol=1e-9)


def test_time_warp_keeps_length_average_rate_planted_feet_and_span_order():
    from motionchat.data.synth.compose import time_warp

    track = stand_track(120, Style())
    track.root[:, 2] = np.linspace(0.0, 1.19, 120)  # walks 1 cm a frame
    spans = [(10, 50), (50, 110)]
    warped, moved = time_warp(track, spans, np.random.default_rng(3), depth=0.12)
    assert len(warped) == 120
    np.testing.assert_allclose(warped.ankle, track.ankle, atol=1e-12)  # planted feet stay exactly
    np.testing.assert_allclose(warped.root[[0, -1], 2], [0.0, 1.19], atol=1e-9)  # same start, same end
    step = np.diff(warped.root[:, 2])
    assert 0.0085 < step.min() < step.max() < 0.0115 and step.std() > 1e-4  # the rate drifts, within +-12%
    assert moved[0][0] < moved[0][1] <= moved[1][0] < moved[1][1] <= 120
    assert abs(moved[1][0] - 50) <= 8


def test_performers_vary_in_posture_within_plausible_ranges():
    styles = [Style.sample(np.random.default_rng(seed)) for seed in range(200)]
    for name, low, high in (("lean", -0.03, 0.18), ("elbow_bend", 0.1, 0.85), ("knee_straightness", 0.972, 0.988),
                            ("liveliness", 0.6, 2.2), ("tempo", 0.88, 1.12)):
        values = np.array([getattr(s, name) for s in styles])
        assert low <= values.min() and values.max() <= high, name
        assert values.max() - values.min() > 0.8 * (high - low), name  # the range is used
    for style in styles[:20]:
        assert 0.8 <= style.stand_height_m <= 1.0


def test_babble_moves_arms_and_trunk_only_and_stays_plausible():
    rng = np.random.default_rng(4)
    programs = [sample_program(rng) for _ in range(6)]
    legs = [0, 1, 2, 4, 5, 7, 8, 10, 11]
    babbled = []
    for k, program in enumerate(programs):
        style = Style.sample(np.random.default_rng(k))
        try:
            plain = generate_clip(program, style, np.random.default_rng(k))
        except ValueError:
            continue
        moved = generate_clip(program, style, np.random.default_rng(k), babble=True)
        np.testing.assert_array_equal(moved.joints[:, legs], plain.joints[:, legs])
        assert moved.spans == plain.spans
        assert np.linalg.norm(moved.joints[:, [20, 21]] - plain.joints[:, [20, 21]], axis=-1).max() > 0.1
        babbled.append(moved.joints)
    assert len(babbled) >= 3 and measure(babbled).passes()


def test_trunk_shapes_keep_bone_lengths_and_hips():
    from motionchat.data.synth.body import REST_OFFSETS, TRUNK_SHAPE_ANGLES, trunk_offsets

    np.testing.assert_allclose(trunk_offsets(np.zeros(TRUNK_SHAPE_ANGLES)), REST_OFFSETS, atol=1e-12)
    shaped = trunk_offsets(np.full(TRUNK_SHAPE_ANGLES, 0.15))
    np.testing.assert_allclose(np.linalg.norm(shaped, axis=-1), np.linalg.norm(REST_OFFSETS, axis=-1), atol=1e-12)
    np.testing.assert_array_equal(shaped[[1, 2]], REST_OFFSETS[[1, 2]])
    assert shaped[3, 2] > REST_OFFSETS[3, 2]  # spine1 pitched forward
    unit = shaped / np.maximum(np.linalg.norm(shaped, axis=-1, keepdims=True), 1e-12)
    np.testing.assert_allclose(unit[[13, 16]] * [-1, 1, 1], unit[[14, 17]], atol=1e-12)  # both sides alike, mirrored
    style = Style.sample(np.random.default_rng(1))
    assert len(style.trunk_shape) == TRUNK_SHAPE_ANGLES
    joints = pose_to_joints(stand_track(5, style), trunk_offsets(style.trunk_shape))
    assert measure([joints - [0.0, joints[..., 1].min(), 0.0]]).max_bone_error_m < 1e-6
