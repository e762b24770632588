import numpy as np
import pytest
import torch

from motionchat.motion.features import (
    canonicalize_joints,
    feature_layout,
    features_to_joints,
    features_to_joints_torch,
    joints_to_features,
)
from motionchat.motion.rotations import quat_about_y, quat_from_axis_angle, qrot
from motionchat.motion.skeleton import HUMANML3D, KITML, SkeletonSpec, forward_kinematics

CLIPS = ["000000", "012314"]
# HumanML3D smooths the facing with a Gaussian of sigma 20 frames, truncated at 4 sigma.
SMOOTHING_REACH_FRAMES = 80


def _fixture(realdata, clip_id: str) -> tuple[np.ndarray, np.ndarray]:
    features = np.load(realdata(f"humanml3d/new_joint_vecs/{clip_id}.npy"), allow_pickle=False)
    joints = np.load(realdata(f"humanml3d/new_joints/{clip_id}.npy"), allow_pickle=False)
    return features, joints


def _errors(ours: np.ndarray, official: np.ndarray) -> dict[str, float]:
    layout = feature_layout(HUMANML3D)
    err = np.abs(ours.astype(np.float64) - official.astype(np.float64))
    return {
        "dims 0-66": err[:, :67].max(),
        "rotations 67-192": err[:, layout.rotations_6d].max(),
        "velocities 193-258": err[:, layout.velocities].max(),
        "contacts agree": (ours[:, layout.foot_contacts] == official[:, layout.foot_contacts]).mean(),
    }


def _format(errors: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2e}" for name, value in errors.items())


def synthetic_motion(spec: SkeletonSpec, n_frames: int, seed: int, lengths: np.ndarray | None = None) -> np.ndarray:
    """A smooth made-up motion: swinging joints, a turning and bobbing root walking forward."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)[:, None] / spec.fps
    axes = rng.normal(size=(spec.n_joints, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    swing = 0.6 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5, spec.n_joints) * t + rng.uniform(0, 6, spec.n_joints))
    quats = quat_from_axis_angle(axes * swing[..., None])  # (T, J, 4)
    heading = rng.uniform(-np.pi, np.pi) + 0.8 * np.sin(0.5 * t[:, 0])
    quats[:, 0] = quat_about_y(heading)
    lengths = spec.bone_lengths_m if lengths is None else lengths
    offsets = spec.raw_offsets * lengths[:, None]
    leg = lengths[list(spec.leg_joints)].sum()
    forward = np.stack([np.sin(heading), np.zeros(n_frames), np.cos(heading)], -1)
    root = np.cumsum(forward * 1.2 * leg / spec.fps, axis=0) + rng.normal(size=3) * leg
    root[:, 1] = 1.6 * leg + 0.05 * leg * np.sin(6 * t[:, 0])
    return forward_kinematics(quats, root, spec, offsets)


def test_layout_is_the_documented_one():
    layout = feature_layout(HUMANML3D)
    root_slices = (layout.root_yaw_velocity, layout.root_xz_velocity, layout.root_height)
    assert root_slices == (slice(0, 1), slice(1, 3), slice(3, 4))
    assert (layout.positions, layout.rotations_6d) == (slice(4, 67), slice(67, 193))
    assert (layout.velocities, layout.foot_contacts, layout.dim) == (slice(193, 259), slice(259, 263), 263)
    assert layout.root == slice(0, 4)
    kit = feature_layout(KITML)
    assert (kit.positions, kit.rotations_6d, kit.velocities, kit.foot_contacts) == (
        slice(4, 64), slice(64, 184), slice(184, 247), slice(247, 251),
    )
    assert kit.dim == 251


@pytest.mark.parametrize("clip_id", CLIPS)
def test_features_to_joints_reproduces_official_new_joints(clip_id, realdata):
    features, joints = _fixture(realdata, clip_id)
    ours = features_to_joints(features)
    assert ours.shape == joints.shape and ours.dtype == np.float32
    error = np.abs(ours - joints).max()
    print(f"\n{clip_id} features->joints max abs error {error:.2e} m")
    assert error <= 1e-5


def test_final_frame_is_the_next_recovered_frame_even_for_one_feature_frame(realdata):
    features, _ = _fixture(realdata, "000000")
    one = features_to_joints(features[:1], final_frame=True)
    assert one.shape == (2, 22, 3)
    np.testing.assert_allclose(one, features_to_joints(features[:2]), atol=1e-6)


@pytest.mark.parametrize("clip_id", CLIPS)
def test_joints_to_features_reproduces_official_features_from_all_processed_frames(clip_id, realdata):
    """The official features were made from T+1 processed frames; new_joints keeps T of them and
    the last one comes back from the last frame's local velocities."""
    features, joints = _fixture(realdata, clip_id)
    processed = features_to_joints(features, final_frame=True)
    np.testing.assert_array_equal(processed[:-1], features_to_joints(features))
    assert np.abs(processed[:-1] - joints).max() <= 1e-5
    ours = joints_to_features(processed)
    assert ours.shape == features.shape and ours.dtype == np.float32
    errors = _errors(ours, features)
    print(f"\n{clip_id} joints(T+1)->features, all {len(ours)} frames: {_format(errors)}")
    assert errors["dims 0-66"] <= 1e-5
    assert errors["velocities 193-258"] <= 1e-5
    assert errors["rotations 67-192"] <= 1e-4
    assert errors["contacts agree"] == 1.0


@pytest.mark.parametrize("clip_id", CLIPS)
def test_every_fixture_clip_round_trips_through_its_processed_joints(clip_id, realdata):
    """Official features -> their T+1 processed joint frames -> features again: the whole feature
    computation, smoothing and root rotation included (000612: see the next test)."""
    features = np.load(realdata(f"humanml3d/new_joint_vecs/{clip_id}.npy"), allow_pickle=False)
    ours = joints_to_features(features_to_joints(features, final_frame=True))
    errors = _errors(ours, features)
    print(f"\n{clip_id} features -> joints(T+1) -> features, {len(ours)} frames: {_format(errors)}")
    assert errors["dims 0-66"] <= 1e-5 and errors["velocities 193-258"] <= 1e-5
    assert errors["rotations 67-192"] <= 1e-4 and errors["contacts agree"] == 1.0


def test_000612_round_trips_up_to_where_its_facing_passes_180_degrees(realdata):
    """HumanML3D's yaw velocity is arcsin of the y part of (root rotation of t+1) x inverse(of t).
    Its root rotations are shortest arcs to +Z, so where the facing passes 180 degrees from the
    first frame's the next one lies in the other half of the quaternion sphere and the step comes
    out with the wrong sign. recover_from_ric (and so new_joints, and `features_to_joints`, which
    reproduces them) integrates it as it is, turning every later frame by twice that step: 000612
    (a momask-codes example, no new_joints) does this at row 142. Rows whose 80-frame smoothing
    window ends before then round-trip exactly; later rows cannot."""
    features = np.load(realdata("humanml3d/new_joint_vecs/000612.npy"), allow_pickle=False)
    yaw_velocity = features[:, 0]
    yaw_deg = np.degrees(2 * np.cumsum(np.r_[0.0, yaw_velocity[:-1]]))
    assert yaw_velocity[142] < 0 < min(yaw_velocity[141], yaw_velocity[143])  # the one wrong-signed step
    assert yaw_deg[142] < 180 < yaw_deg[142] + 2 * np.degrees(abs(yaw_velocity[142]))
    ours = joints_to_features(features_to_joints(features, final_frame=True))
    exact = 142 - SMOOTHING_REACH_FRAMES
    errors = _errors(ours[:exact], features[:exact])
    print(f"\n000612 first {exact} rows: {_format(errors)}; all rows: {_format(_errors(ours, features))}")
    assert errors["dims 0-66"] <= 1e-5 and errors["velocities 193-258"] <= 1e-5 and errors["rotations 67-192"] <= 1e-4


def test_facing_is_smoothed_as_scipy_gaussian_filter1d_sigma_20_nearest_truncate_4():
    """HumanML3D smooths the IK's forward direction with gaussian_filter1d(forward, 20, axis=0,
    mode='nearest') (truncate at its default, 4 sigma = 80 frames), then normalises. Checked against
    the kernel written out: the edges repeat the first and last frames."""
    from motionchat.motion.skeleton import _ik_root_forward

    joints = synthetic_motion(HUMANML3D, 150, seed=8)
    r_hip, l_hip, r_sdr, l_sdr = HUMANML3D.face_joints  # the IK's across: (l_hip - r_hip) + (r_sdr - l_sdr)
    across = joints[:, l_hip] - joints[:, r_hip] + joints[:, r_sdr] - joints[:, l_sdr]
    raw = np.cross([0.0, 1.0, 0.0], across / np.linalg.norm(across, axis=-1, keepdims=True))  # not yet unit
    offsets = np.arange(-80, 81)
    kernel = np.exp(-0.5 * (offsets / 20.0) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(raw[:1], 80, axis=0), raw, np.repeat(raw[-1:], 80, axis=0)])
    expected = np.stack([kernel @ padded[t : t + 161] for t in range(len(raw))])
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(_ik_root_forward(joints, HUMANML3D, smooth_forward=True), expected, atol=1e-12)


@pytest.mark.parametrize("clip_id", CLIPS)
def test_joints_to_features_on_new_joints_alone(clip_id, realdata):
    """Straight from new_joints (T frames -> T-1 features). HumanML3D made the features from T+1
    frames and new_joints drops the last one, which no computation can bring back; with 'nearest'
    edges the padding past the end repeats frame T-1 instead of frame T and carries up to half the
    kernel's weight near the end, so a clip still turning there (012314: 0.03 rad a frame) differs
    over the frames the kernel reaches (measured 6.8e-3 on dims 0-66), while frames farther than
    that match to 1e-4 and, given all T+1 frames, every frame matches to 1e-5 (tests above)."""
    features, joints = _fixture(realdata, clip_id)
    ours = joints_to_features(joints)
    assert ours.shape == (len(joints) - 1, 263)
    official = features[: len(ours)]
    errors = _errors(ours, official)
    far = len(ours) - SMOOTHING_REACH_FRAMES
    far_errors = _errors(ours[:far], official[:far])
    print(f"\n{clip_id} new_joints->features, first T-1 frames: {_format(errors)}")
    print(f"{clip_id} new_joints->features, first {far} frames: {_format(far_errors)}")
    assert errors["contacts agree"] >= 0.99
    assert far_errors["dims 0-66"] <= 1e-4 and far_errors["velocities 193-258"] <= 1e-4
    assert far_errors["rotations 67-192"] <= 1e-3
    if clip_id == "000000":  # turns little near its end, so the whole clip is within tolerance
        assert errors["dims 0-66"] <= 1e-4 and errors["velocities 193-258"] <= 1e-4


@pytest.mark.parametrize("spec", [HUMANML3D, KITML], ids=lambda s: s.name)
def test_round_trip_gives_back_the_canonical_motion(spec):
    lengths = None if spec.bone_lengths_m is not None else np.where(np.arange(21) > 0, 250.0, 0.0)  # KIT: mm
    joints = synthetic_motion(spec, 120, seed=1, lengths=lengths)
    features = joints_to_features(joints, spec)
    assert features.shape == (119, spec.feature_dim) and features.dtype == np.float32
    assert np.isfinite(features).all()
    contacts = features[:, feature_layout(spec).foot_contacts]
    assert set(np.unique(contacts)) <= {0.0, 1.0}
    back = features_to_joints(features, spec, final_frame=True)
    canonical = canonicalize_joints(joints, spec)
    scale = np.abs(canonical).max()
    assert np.abs(back - canonical).max() <= 2e-6 * scale
    # Canonical: on the floor, first root at XZ 0, and features of the result are the same.
    assert abs(canonical[..., 1].min()) < 1e-9 * scale
    np.testing.assert_allclose(canonical[0, 0, [0, 2]], 0.0, atol=1e-9 * scale)
    np.testing.assert_allclose(joints_to_features(back, spec), features, atol=2e-5 * scale)


def test_features_ignore_where_the_motion_stands_faces_and_its_body_size():
    joints = synthetic_motion(HUMANML3D, 90, seed=2)
    features = joints_to_features(joints)
    turn = quat_about_y(np.array([2.3]))[0]
    moved = qrot(np.broadcast_to(turn, joints.shape[:-1] + (4,)), joints) + np.array([3.0, 0.4, -7.0])
    np.testing.assert_allclose(joints_to_features(moved), features, atol=2e-5)
    np.testing.assert_allclose(joints_to_features(joints * 0.8), features, atol=2e-5)  # retargeted back


def test_a_still_pose_has_zero_velocities_and_full_contact():
    pose = synthetic_motion(HUMANML3D, 1, seed=3)
    features = joints_to_features(np.repeat(pose, 10, axis=0))
    layout = feature_layout(HUMANML3D)
    # Frame 0's root rotation is identity (HumanML3D's quirk), so its yaw velocity is the turn from
    # +Z to the IK's facing; after that a still pose does not turn.
    np.testing.assert_allclose(features[1:, layout.root_yaw_velocity], 0.0, atol=1e-6)
    np.testing.assert_allclose(features[:, layout.root_xz_velocity], 0.0, atol=1e-6)
    np.testing.assert_allclose(features[:, layout.velocities], 0.0, atol=1e-6)
    np.testing.assert_array_equal(features[:, layout.foot_contacts], 1.0)


def test_torch_version_batches_and_matches_numpy():
    features = np.stack([joints_to_features(synthetic_motion(HUMANML3D, 50, seed=s)) for s in range(3)])
    batch = torch.from_numpy(features)
    out = features_to_joints_torch(batch)
    assert out.shape == (3, 49, 22, 3) and out.dtype == torch.float32
    for i in range(3):
        np.testing.assert_allclose(out[i].numpy(), features_to_joints(features[i]), atol=1e-5)
    with_last = features_to_joints_torch(batch.double(), final_frame=True)
    assert with_last.shape == (3, 50, 22, 3) and with_last.dtype == torch.float64


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="expected"):
        joints_to_features(np.zeros((10, 21, 3)))
    with pytest.raises(ValueError, match="at least 2 joint frames"):
        joints_to_features(np.zeros((1, 22, 3)))
    with pytest.raises(ValueError, match="no known skeleton"):
        features_to_joints(np.zeros((10, 100)))
    with pytest.raises(ValueError, match="expected 251"):
        features_to_joints(np.zeros((10, 263)), KITML)
