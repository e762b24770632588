"""The skeleton clean-up of generated motions: rigid bones at the median lengths, planted feet."""

import numpy as np
import pytest
from test_features import synthetic_motion

from motionchat.motion.cleanup import clean_generated, clean_motion, foot_joints, planted_mask, skeleton_figures
from motionchat.motion.features import feature_layout, features_to_joints, joints_to_features
from motionchat.motion.skeleton import HUMANML3D, bone_lengths

FEET = foot_joints(HUMANML3D)  # left ankle, left toe, right ankle, right toe


def rubbery(joints: np.ndarray, seed: int, stretch_m: float = 0.05) -> np.ndarray:
    """Every bone's length wanders by up to `stretch_m` from frame to frame, directions kept."""
    rng = np.random.default_rng(seed)
    parents = np.array(HUMANML3D.parents)
    out = joints.copy()
    for child in range(1, HUMANML3D.n_joints):  # parents come before children in SMPL order
        bone = joints[:, child] - joints[:, parents[child]]
        length = np.linalg.norm(bone, axis=-1, keepdims=True)
        wobble = stretch_m * np.sin(np.linspace(0, rng.uniform(3, 9), len(joints)) + rng.uniform(0, 6))[:, None]
        out[:, child] = out[:, parents[child]] + bone * (length + wobble) / length
    return out


def standing_with_sliding_feet(n_frames: int = 60, drift_m: float = 0.001) -> tuple[np.ndarray, np.ndarray]:
    """A still standing pose whose feet drift `drift_m` a frame while said to be planted throughout."""
    pose = synthetic_motion(HUMANML3D, 1, seed=3)[0]
    pose = pose - np.array([0.0, pose[:, 1].min(), 0.0])
    joints = np.repeat(pose[None], n_frames, axis=0)
    drift = drift_m * np.arange(n_frames)
    for leg in ((1, 4, 7, 10), (2, 5, 8, 11)):  # hips stay; knee, ankle, toe drift forward
        joints[:, leg[1:], 2] += drift[:, None] * np.array([0.5, 1.0, 1.0])
    return joints, np.ones((n_frames, 4))


def test_bones_become_rigid_at_their_median_lengths():
    joints = synthetic_motion(HUMANML3D, 80, seed=4)
    stretched = rubbery(joints, seed=0)
    lengths = bone_lengths(stretched, HUMANML3D)
    assert np.ptp(lengths[:, 1:], axis=0).max() > 0.08
    cleaned = clean_motion(stretched, np.zeros((80, 4)))
    assert cleaned.dtype == np.float32 and cleaned.shape == joints.shape
    after = bone_lengths(cleaned.astype(np.float64), HUMANML3D)
    np.testing.assert_allclose(after, np.broadcast_to(np.median(lengths, axis=0), after.shape), atol=1e-5)
    np.testing.assert_allclose(cleaned[:, 0], stretched[:, 0], atol=1e-6)  # the root path stays
    assert skeleton_figures(cleaned, np.zeros((80, 4), dtype=bool))["bone_deviation_m"] < 1e-5


def test_planted_feet_hold_one_place_on_the_floor_and_the_legs_stay_rigid():
    joints, contacts = standing_with_sliding_feet()
    joints = rubbery(joints, seed=1, stretch_m=0.01)
    planted = planted_mask(joints, contacts, HUMANML3D)
    assert planted.all()
    before = skeleton_figures(joints, planted)
    assert before["foot_slide_m"] > 0.0009 and before["bone_deviation_m"] > 0.009
    cleaned = clean_motion(joints, contacts).astype(np.float64)
    after = skeleton_figures(cleaned, planted)
    assert after["foot_slide_m"] < 1e-5 and after["bone_deviation_m"] < 1e-5
    for foot in FEET:
        track = cleaned[:, foot]
        assert np.ptp(track, axis=0).max() < 1e-5  # one place for the whole contact
        assert track[0, 1] >= 0.0
    np.testing.assert_allclose(cleaned[:, 0], joints[:, 0], atol=1e-6)  # the pelvis stays


def test_a_contact_run_eases_in_and_out_without_jumps():
    joints, _ = standing_with_sliding_feet(90, drift_m=0.002)
    contacts = np.zeros((90, 4))
    contacts[30:50] = 1.0  # all four foot joints planted for one second in the middle
    cleaned = clean_motion(joints, contacts).astype(np.float64)
    rigid_only = clean_motion(joints, np.zeros((90, 4))).astype(np.float64)
    for foot in FEET:
        assert np.ptp(cleaned[30:50, foot], axis=0).max() < 1e-5
    far = np.r_[0:25, 55:90]  # beyond the 4 blending frames either side
    np.testing.assert_allclose(cleaned[far], rigid_only[far], atol=1e-5)
    steps = np.linalg.norm(np.diff(cleaned[:, FEET], axis=0), axis=-1)
    # The feet are held at their mean place in the run, 2 cm from either end of their 4 cm drift;
    # the easing spreads that over 5 steps (a smoothstep's steepest step is 1.5 x 0.4 cm) on top of
    # the 0.2 cm a frame they drift, where a jump would be 2 cm in one frame.
    assert steps.max() < 0.01
    assert np.isfinite(cleaned).all()


@pytest.mark.parametrize("clip_id", ["000000", "012314"])
def test_a_real_clip_with_its_own_contacts_stays_close(clip_id, realdata):
    """Real motion already has rigid bones; its contacts (HumanML3D's rule: under 4.5 cm a frame)
    include a tennis serve's pivoting foot (012314), which the clean-up plants: a few frames move
    far (measured 22 cm at most), the clip as a whole under a centimetre. A kick's top (000000),
    also "in contact" by that rule, stays in the air (its joints move 16 cm at most)."""
    features = np.load(realdata(f"humanml3d/new_joint_vecs/{clip_id}.npy"))
    joints = features_to_joints(features)
    contacts = features[:, feature_layout(HUMANML3D).foot_contacts]
    cleaned = clean_generated(features, joints)
    planted = planted_mask(joints, contacts, HUMANML3D)
    before, after = skeleton_figures(joints, planted), skeleton_figures(cleaned, planted)
    error = np.linalg.norm(cleaned - joints, axis=-1)
    print(f"\n{clip_id} cleaned vs official joints: mean {error.mean() * 100:.2f} cm, max {error.max() * 100:.2f} cm; "
          f"foot slide in contact {before['foot_slide_m'] * 100:.2f} -> {after['foot_slide_m'] * 100:.2f} cm/frame")
    assert after["bone_deviation_m"] < 1e-5 and after["foot_slide_m"] < before["foot_slide_m"] / 3
    assert error.mean() < 0.015


def test_generated_features_give_their_contacts():
    joints = synthetic_motion(HUMANML3D, 40, seed=6)
    features = joints_to_features(joints)
    recovered = features_to_joints(features)
    contacts = features[:, feature_layout(HUMANML3D).foot_contacts]
    np.testing.assert_array_equal(clean_generated(features, recovered), clean_motion(recovered, contacts))


def test_bad_input_is_refused():
    joints = synthetic_motion(HUMANML3D, 10, seed=7)
    with pytest.raises(ValueError, match=r"contacts have shape \(9, 4\), expected \(10, 4\)"):
        clean_motion(joints, np.zeros((9, 4)))
    with pytest.raises(ValueError, match="expected"):
        clean_motion(joints[:, :21], np.zeros((10, 4)))


def test_a_foot_paused_in_the_air_is_not_planted():
    """HumanML3D's contact rule is a speed threshold: a kick's top counts. Planted needs the floor too."""
    joints, contacts = standing_with_sliding_feet(40, drift_m=0.0)
    joints[20:30, [8, 11], 1] += 0.3  # the right foot held up for half a second, "in contact"
    planted = planted_mask(joints, contacts, HUMANML3D)
    assert planted[:, :2].all() and not planted[20:30, 2:].any() and planted[:20, 2:].all()
    cleaned = clean_motion(joints, contacts)
    assert cleaned[23:27, 11, 1].min() > 0.25  # up, away from the runs on the floor either side and their easing
