"""Real-motion measurements (eval/real_motion.py): errors per joint group and over time, the
corpus-vs-real statistics, caption scoring against CMU descriptions, and the shipped tokenizer's
figures on real fixtures (skipped without ../shared/realdata)."""

import numpy as np
import pytest

from eval.real_motion import (
    JOINT_GROUPS,
    WINDOW_FRAMES,
    caption_hit,
    cmu_trial_name,
    description_actions,
    error_sources,
    find_motion_files,
    joint_errors_mm,
    load_real_clip,
    motion_statistics,
    pooled_statistics,
    read_cmu_descriptions,
    reconstruction,
    statistic_distances,
    summarise_errors,
    wasserstein_1d,
)


def test_errors_are_root_aligned_and_pooled_by_group_and_window():
    truth = np.zeros((100, 22, 3))
    predicted = truth.copy()
    predicted[:, :, 0] += 5.0  # a shifted root path costs nothing
    predicted[:50, 20, 1] += 0.1  # left wrist 100 mm off in the first 50 frames
    errors = joint_errors_mm(predicted, truth)
    assert errors.shape == (100, 22)
    r = summarise_errors(errors)
    assert r.mpjpe_mm == pytest.approx(100 * 50 / (100 * 22))
    assert r.groups_mm["elbows+wrists"] == pytest.approx(100 * 50 / (100 * 4))
    assert r.groups_mm["spine+head"] == 0
    assert len(r.windows_mm) == -(-100 // WINDOW_FRAMES)
    assert r.windows_mm[0] == pytest.approx(100 / 22) and r.windows_mm[-1] == 0
    assert sorted(j for g in JOINT_GROUPS.values() for j in g) == list(range(1, 22))


def test_wasserstein_and_distances():
    rng = np.random.default_rng(0)
    a = rng.normal(size=4000)
    assert wasserstein_1d(a, a) == 0
    assert wasserstein_1d(a, a + 0.5) == pytest.approx(0.5)
    rows = statistic_distances({"x": a + 1.0}, {"x": 2 * a})
    assert rows[0].distance == pytest.approx(wasserstein_1d(a + 1, 2 * a) / np.std(2 * a))
    assert rows[0].corpus_median > rows[0].real_median


def test_motion_statistics_of_a_still_pose_and_of_a_moving_one():
    from motionchat.data.synth.body import pose_to_joints
    from motionchat.data.synth.segment import Style, stand_track

    still = pose_to_joints(stand_track(30, Style()))
    stats = motion_statistics(still)
    assert all(len(v) >= 28 for v in stats.values())
    assert stats["arms speed (m/s)"].max() < 1e-9 and stats["pelvis ground speed (m/s)"].max() < 1e-9
    assert 0.8 < np.median(stats["pelvis height (m)"]) < 1.0
    assert 15 < np.median(stats["knee bend (deg)"]) < 25 and np.median(stats["trunk lean (deg)"]) < 15
    moving = still.copy()
    moving[:, :, 2] += np.arange(30)[:, None] * 0.05  # 1 m/s forward
    assert np.median(motion_statistics(moving)["pelvis ground speed (m/s)"]) == pytest.approx(1.0)
    pooled = pooled_statistics([still, moving])
    assert len(pooled["legs speed (m/s)"]) == 2 * 29


def test_caption_hits_name_the_described_action():
    assert description_actions("playground - forward jumps, turn around") == {"jumps", "turn"}
    assert caption_hit("a person hops on the left foot", "Start Hop Stop")
    assert caption_hit("someone turns around to the right", "playground - forward jumps, turn around")
    assert not caption_hit("a person waves with the right hand", "Start Walk Stop")
    assert caption_hit("a person waves", "nothing known here") is None
    assert cmu_trial_name("x/131_03.bvh") == "131_03" and cmu_trial_name("01_01.amc") == "01_01"
    assert cmu_trial_name("000612.npy") is None


def test_reads_cmu_descriptions_and_finds_motion_files(tmp_path):
    (tmp_path / "d.csv").write_text('"Subject","Trial #","Motion Description"\n1,1,"walk"\n131,3,"Start Hop Stop"\n,,\n')
    assert read_cmu_descriptions(tmp_path / "d.csv") == {"01_01": "walk", "131_03": "Start Hop Stop"}
    for name in ("a/x.bvh", "a/y.amc", "a/y.asf", "h/new_joint_vecs/1.npy", "h/new_joints/1.npy", "h/new_joints/2.npy",
                 "h/Mean.npy", "h/meta/m.npy", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = [p.relative_to(tmp_path).as_posix() for p in find_motion_files(tmp_path)]
    assert found == ["a/x.bvh", "a/y.amc", "h/new_joint_vecs/1.npy", "h/new_joints/2.npy"]


def test_shipped_tokenizer_on_real_fixtures_reproduces_the_issue_table(realdata):
    """Issue 19's table: 96.5 mm (01_01.bvh) and 113.9 mm (000000) with the shipped tokenizer."""
    from pathlib import Path

    import motionchat
    from motionchat.motion.normalizer import Normalizer
    from motionchat.motion.skeleton import HUMANML3D
    from motionchat.vq import VQ_FILE, load_vq
    from motionchat.vq.codec import MotionCodec

    bundle = Path(motionchat.__file__).parent / "assets" / "default_bundle"
    codec = MotionCodec(load_vq(bundle / VQ_FILE), Normalizer.from_dir(bundle), HUMANML3D)
    bvh = load_real_clip(realdata("cmu/bvh_mb_release/01_01.bvh"))
    npy = load_real_clip(realdata("humanml3d/new_joint_vecs/000000.npy"))
    assert bvh.features.shape == (196, 263) and npy.features.shape == (116, 263)
    assert reconstruction(codec, bvh.features).mpjpe_mm == pytest.approx(96.5, abs=0.5)
    r = reconstruction(codec, npy.features)
    assert r.mpjpe_mm == pytest.approx(113.9, abs=0.5) and len(r.codes) == 29
    sources = error_sources(codec, npy.features)
    assert sources.mpjpe_mm == pytest.approx(r.mpjpe_mm, abs=1e-3)
    # Its own root path (the heading errs by 21 degrees from the first frame) takes off over 20 mm;
    # the rest is the body's pose, which no codebook would fix.
    assert sources.own_root_mm < sources.mpjpe_mm - 20 and sources.unquantized_mm > 100


def test_turning_on_the_spot_is_not_body_movement():
    from motionchat.data.synth.body import pose_to_joints, yaw_matrix
    from motionchat.data.synth.segment import Style, stand_track

    still = pose_to_joints(stand_track(60, Style()))
    turns = np.linspace(0.0, np.pi, 60)  # half a turn in 3 s
    turning = np.einsum("tij,tkj->tki", yaw_matrix(turns), still)
    stats = motion_statistics(turning)
    assert np.median(stats["arms speed (m/s)"]) < 0.05  # the hands circle at ~0.3 m/s in the world


def test_nearest_pose_and_local_poses():
    from eval.real_motion import local_poses, nearest_pose_mm
    from motionchat.data.synth.body import pose_to_joints
    from motionchat.data.synth.segment import Style, stand_track
    from motionchat.motion.features import joints_to_features

    rng = np.random.default_rng(0)
    reference = rng.normal(size=(50, 22, 3))
    poses = reference[[3, 7]].copy()
    poses[1, 5] += [0.0, 0.022, 0.0]  # one joint 22 mm off
    np.testing.assert_allclose(nearest_pose_mm(poses, reference, chunk=1), [0.0, 1.0], atol=1e-9)
    joints = pose_to_joints(stand_track(10, Style()))
    joints[..., 1] -= joints[..., 1].min()
    local = local_poses(joints_to_features(joints))
    assert local.shape == (9, 22, 3)
    np.testing.assert_allclose(local[0] - local[0, :1] * [1, 0, 1], joints[0] - joints[0, :1] * [1, 0, 1], atol=1e-3)
