import numpy as np
import pytest

from motionchat.motion.rotations import (
    cont6d_to_matrix,
    matrix_to_quat,
    qbetween,
    qinv,
    qmul,
    qrot,
    quat_from_axis_angle,
    quat_to_axis_angle,
    quat_to_cont6d,
    quat_to_matrix,
)
from motionchat.motion.skeleton import (
    HUMANML3D,
    KITML,
    SKELETONS,
    bone_lengths,
    forward_kinematics,
    inverse_kinematics,
    retarget,
    skeleton_for_feature_dim,
)

def _fixture_joints(realdata, clip_id: str) -> np.ndarray:
    return np.load(realdata(f"humanml3d/new_joints/{clip_id}.npy"), allow_pickle=False).astype(np.float64)


def test_parents_follow_the_chains():
    # SMPL's own parent table for its first 22 joints.
    assert HUMANML3D.parents == (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
    assert KITML.parents == (-1, 0, 1, 2, 3, 3, 5, 6, 3, 8, 9, 0, 11, 12, 13, 14, 0, 16, 17, 18, 19)


def test_feature_dims_and_lookup():
    assert HUMANML3D.feature_dim == 263
    assert KITML.feature_dim == 251
    assert skeleton_for_feature_dim(263) is HUMANML3D
    assert skeleton_for_feature_dim(251) is KITML
    assert set(SKELETONS) == {"humanml3d", "kitml"}
    with pytest.raises(KeyError):
        skeleton_for_feature_dim(100)


def test_target_bone_lengths_match_the_official_joints(realdata):
    for clip_id in ("000000", "012314"):
        lengths = bone_lengths(_fixture_joints(realdata, clip_id), HUMANML3D)
        assert np.abs(lengths - HUMANML3D.bone_lengths_m).max() < 3e-6


def _sequential_ik(joints, spec, smooth_forward):
    """A plain chain-by-chain reading of HumanML3D's IK, to check the vectorised one against."""
    root_quat = inverse_kinematics(joints, spec, smooth_forward)[:, 0]
    quats = np.zeros(joints.shape[:-1] + (4,))
    quats[:, 0] = root_quat
    for chain in spec.chains:
        accumulated = root_quat
        for parent, child in zip(chain[:-1], chain[1:]):
            rest = np.broadcast_to(spec.raw_offsets[child], (len(joints), 3))
            world = qbetween(rest, joints[:, child] - joints[:, parent])
            quats[:, child] = qmul(qinv(accumulated), world)
            accumulated = qmul(accumulated, quats[:, child])
    return quats


@pytest.mark.parametrize("smooth_forward", [False, True])
def test_vectorised_ik_matches_chain_by_chain_ik(smooth_forward, realdata):
    joints = _fixture_joints(realdata, "000000")
    expected = _sequential_ik(joints, HUMANML3D, smooth_forward)
    np.testing.assert_allclose(inverse_kinematics(joints, HUMANML3D, smooth_forward), expected, atol=1e-12)


def test_ik_keeps_identity_root_on_the_first_frame_and_yaw_only_roots(realdata):
    quats = inverse_kinematics(_fixture_joints(realdata, "012314"), HUMANML3D, smooth_forward=True)
    np.testing.assert_array_equal(quats[0, 0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(quats[:, 0, [1, 3]], 0.0, atol=1e-12)  # turns about Y only
    np.testing.assert_allclose(np.linalg.norm(quats, axis=-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("clip_id", ["000000", "012314"])
def test_fk_of_ik_reproduces_the_fixture(clip_id, realdata):
    joints = _fixture_joints(realdata, clip_id)
    quats = inverse_kinematics(joints, HUMANML3D, smooth_forward=True)
    rebuilt = forward_kinematics(quats, joints[:, 0], HUMANML3D)
    # The official joints carry float32 bone lengths that wobble by ~1e-6 around the target.
    assert np.abs(rebuilt - joints).max() < 5e-6


def test_retarget_sets_target_lengths_and_scales_the_root_path(realdata):
    joints = _fixture_joints(realdata, "000000")
    scaled = joints * 1.25  # the same motion on a bigger body
    out = retarget(scaled, HUMANML3D)
    target = np.broadcast_to(HUMANML3D.bone_lengths_m, (len(out), 22))
    np.testing.assert_allclose(bone_lengths(out, HUMANML3D), target, atol=1e-9)
    assert np.abs(out - joints).max() < 2e-5  # back on the target body, root path scaled by the leg ratio
    assert np.abs(retarget(joints, HUMANML3D) - joints).max() < 5e-6


def test_qbetween_opposite_vectors_is_finite_and_correct():
    v0 = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.3, -0.2, 0.9]])
    q = qbetween(v0, -v0)
    assert np.isfinite(q).all()
    np.testing.assert_allclose(qrot(q, v0), -v0, atol=1e-12)


def test_rotation_helpers_round_trip():
    rng = np.random.default_rng(0)
    axes = rng.normal(size=(500, 3))
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    angles = rng.uniform(0.0, np.pi - 1e-3, size=(500, 1))
    axis_angle = axes * angles
    q = quat_from_axis_angle(axis_angle)
    np.testing.assert_allclose(quat_to_axis_angle(q), axis_angle, atol=1e-9)

    m = quat_to_matrix(q)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    q_back = matrix_to_quat(m)
    np.testing.assert_allclose(np.abs((q_back * q).sum(-1)), 1.0, atol=1e-12)  # same rotation, up to sign
    np.testing.assert_allclose(cont6d_to_matrix(quat_to_cont6d(q)), m, atol=1e-12)

    v = rng.normal(size=(500, 3))
    np.testing.assert_allclose(qrot(q, v), (m @ v[..., None])[..., 0], atol=1e-12)
    np.testing.assert_allclose(qmul(q, qinv(q)), np.broadcast_to([1.0, 0, 0, 0], q.shape), atol=1e-12)
