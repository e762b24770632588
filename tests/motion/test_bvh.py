import json
import re
from pathlib import Path

import numpy as np
import pytest

from motionchat.errors import MotionchatError
from motionchat.motion.bvh import bvh_rig_motion, parse_bvh, read_bvh, write_bvh
from motionchat.motion.joint_names import load_joint_map
from motionchat.motion.rotations import qnormalize, quat_from_axis_angle
from motionchat.motion.skeleton import HUMANML3D, forward_kinematics

MB_BVH = "cmu/bvh_mb_release/01_01.bvh"  # MotionBuilder-style names (LeftUpLeg, LeftArm)
MAX_BVH = "cmu/bvh_max_release/131_01.bvh"  # 3dsMax-style names (LeftHip, LeftShoulder)
FEET = [HUMANML3D.joint_index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


def _duration_s(path: Path) -> float:
    text = path.read_text()
    frames = int(re.search(r"Frames:\s*(\d+)", text).group(1))
    frame_time = float(re.search(r"Frame Time:\s*(\S+)", text).group(1))
    return frames * frame_time


@pytest.fixture(scope="module")
def mb_import(realdata):
    return read_bvh(realdata(MB_BVH))


@pytest.mark.parametrize("relative", [MB_BVH, MAX_BVH])
def test_cmu_bvh_imports_onto_22_joints_at_20fps_in_metres(relative, realdata):
    path = realdata(relative)
    motion = read_bvh(path)
    joints = motion.joints
    assert joints.dtype == np.float32 and joints.ndim == 3 and joints.shape[1:] == (22, 3)
    assert np.isfinite(joints).all()
    assert abs(len(joints) - round(_duration_s(path) * 20)) <= 1
    assert motion.source_fps == 120 and motion.unit == "CMU" and motion.up_axis == "+Y"
    assert 1.4 <= motion.height_m <= 2.0, motion.height_m
    assert abs(joints[:, FEET, 1].min()) <= 0.03
    # Units and orientation, on the 22 joints themselves: an adult pelvis stands about 0.8-1.1 m high
    # and the head joint well above it (CMU's BVH conversions drop the thorax bone, so heads sit low).
    assert 0.8 <= np.median(joints[:, 0, 1]) <= 1.1
    assert 1.2 <= np.percentile(joints[:, HUMANML3D.joint_index("head"), 1], 90) <= 1.9
    # Left is +X when facing +Z (HumanML3D's handedness): the left hip is on the body's left.
    across = joints[:, 1] - joints[:, 2]
    forward = joints[:, 10] - joints[:, 7] + joints[:, 11] - joints[:, 8]  # ankles to toes
    left = np.cross(np.array([0.0, 1.0, 0.0]), forward)
    assert np.median(np.einsum("ta,ta->t", left, across)) > 0


def test_mapping_is_reported(mb_import):
    assert mb_import.mapping["left_hip"] == "LeftUpLeg"
    assert mb_import.mapping["left_shoulder"] == "LeftArm"  # LeftShoulder is the clavicle in this rig
    assert mb_import.mapping["left_ankle"] == "LeftFoot"
    assert "interpolated" in mb_import.mapping["spine2"]


def _synthetic_motion(n_frames: int = 60) -> np.ndarray:
    """A smooth motion on the HumanML3D skeleton whose pelvis and spine3 children move rigidly (as SMPL's do).

    HumanML3D's kinematics turn the arm chains from the root's rotation, not spine3's, so the spine
    is kept straight for spine3's children to stay rigid.
    """
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, n_frames)[:, None]
    axis_angle = 0.6 * np.sin(t[..., None] * rng.uniform(0.5, 2, (1, 22, 1)) + rng.uniform(0, 6, (1, 22, 3)))
    quats = qnormalize(quat_from_axis_angle(axis_angle))
    quats[:, [1, 2, 3, 6, 9, 12, 13, 14]] = (1.0, 0.0, 0.0, 0.0)
    root = np.stack([np.sin(t[:, 0]), 0.9 + 0.05 * np.cos(3 * t[:, 0]), t[:, 0] / 3], axis=-1)
    return forward_kinematics(quats, root, HUMANML3D)


def _round_trip(joints: np.ndarray, tmp_path: Path, **write_kwargs):
    path = tmp_path / "motion.bvh"
    write_bvh(joints, path, **write_kwargs)
    return read_bvh(path)


def _floored(joints: np.ndarray) -> np.ndarray:
    joints = np.array(joints, dtype=np.float64)
    joints[..., 1] -= joints[:, FEET, 1].min()
    return joints


@pytest.mark.parametrize("clip", ["000000", "012314"])
def test_export_then_import_reproduces_a_real_motion(clip, tmp_path, realdata):
    joints = np.load(realdata(f"humanml3d/new_joints/{clip}.npy"), allow_pickle=False)
    back = _round_trip(joints, tmp_path)
    mpjpe_m = np.linalg.norm(back.joints - joints, axis=-1).mean()
    assert back.joints.shape == joints.shape
    assert mpjpe_m < 0.005  # the requirement
    assert mpjpe_m < 1e-4  # rotations are solved exactly for a rigid skeleton


def test_export_then_import_reproduces_a_synthetic_motion(tmp_path):
    joints = _floored(_synthetic_motion())
    back = _round_trip(joints, tmp_path)
    assert back.unit == "cm" and back.up_axis == "+Y"
    assert np.abs(back.joints - joints).max() < 1e-4
    header = (tmp_path / "motion.bvh").read_text().split("MOTION")[0]
    assert re.findall(r"(?:ROOT|JOINT) (\S+)", header) == [HUMANML3D.joint_names[j] for j in _depth_first()]


def _depth_first(j: int = 0) -> list[int]:
    children = [c for c, p in enumerate(HUMANML3D.parents) if p == j]
    return [j] + [k for c in children for k in _depth_first(c)]


def test_import_resamples_to_20fps(tmp_path):
    joints = _floored(_synthetic_motion(61))
    back = _round_trip(joints, tmp_path, fps=60)  # the same frames, declared at 60 fps
    assert back.source_fps == 60 and len(back.joints) == 21
    assert np.abs(back.joints - _floored(joints[::3])).max() < 1e-4


def test_z_up_rig_is_turned_y_up(tmp_path):
    joints = _floored(_synthetic_motion())
    z_up = np.stack([joints[..., 0], -joints[..., 2], joints[..., 1]], axis=-1)
    back = _round_trip(z_up, tmp_path)
    assert back.up_axis == "+Z"
    assert np.abs(back.joints - joints).max() < 1e-4


def test_explicit_scale_overrides_unit_detection(tmp_path):
    joints = _floored(_synthetic_motion())
    path = tmp_path / "motion.bvh"
    write_bvh(joints, path)
    back = read_bvh(path, metres_per_unit=0.02)
    assert back.unit == "given" and back.metres_per_unit == 0.02
    assert np.allclose(back.joints, 2 * joints, atol=2e-4)


def test_forward_kinematics_of_a_hand_written_file(tmp_path):
    # Root turned 90 degrees about Y (channels in X, Y, Z order) and a child with its own position
    # channels: the child bone (1, 0, 0) must end up along -Z.
    path = tmp_path / "tiny.bvh"
    path.write_text(
        "HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation\n"
        " JOINT b\n {\n  OFFSET 1 0 0\n  CHANNELS 3 Xposition Yposition Zposition\n"
        "  End Site\n  {\n   OFFSET 0 2 0\n  }\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.05\n"
        "1 2 3 0 90 0 1 0 0\n"
    )
    bvh = parse_bvh(path)
    assert bvh.names == ("a", "b", "b_end") and bvh.fps == 20
    positions = bvh_rig_motion(bvh).positions[0]
    assert np.allclose(positions, [[1, 2, 3], [1, 2, 2], [1, 4, 2]])


# --- Joint maps -----------------------------------------------------------------------------------


def _renamed_copy(source: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Copy of a BVH with every joint renamed to bone<k>; returns the path and the renaming."""
    text = source.read_text()
    names = re.findall(r"(?:ROOT|JOINT) (\S+)", text.split("MOTION")[0])
    renaming = {name: f"bone{k}" for k, name in enumerate(names)}
    text = re.sub(r"((?:ROOT|JOINT) )(\S+)", lambda m: m.group(1) + renaming[m.group(2)], text)
    path = tmp_path / "renamed.bvh"
    path.write_text(text)
    return path, renaming


def test_joint_map_imports_a_renamed_rig(mb_import, tmp_path, realdata):
    path, renaming = _renamed_copy(realdata(MB_BVH), tmp_path)
    with pytest.raises(MotionchatError, match="renamed.bvh.*--joint-map"):
        read_bvh(path)
    direct = {smpl: rig for smpl, rig in mb_import.mapping.items() if rig in renaming}
    map_path = tmp_path / "map.json"
    map_path.write_text(json.dumps({smpl: renaming[rig] for smpl, rig in direct.items()}))
    mapped = read_bvh(path, joint_map=load_joint_map(map_path))
    assert np.array_equal(mapped.joints, mb_import.joints)
    assert np.array_equal(read_bvh(path, joint_map=map_path).joints, mb_import.joints)  # or the file itself


def test_joint_map_naming_an_absent_rig_joint(tmp_path, realdata):
    with pytest.raises(MotionchatError, match=r"01_01\.bvh.*'NoSuchJoint'"):
        read_bvh(realdata(MB_BVH), joint_map={"head": "NoSuchJoint"})


# --- Bad input ------------------------------------------------------------------------------------


def _assert_one_line(err: pytest.ExceptionInfo, name: str) -> None:
    message = str(err.value)
    assert "\n" not in message and name in message


def test_truncated_bvh(tmp_path, realdata):
    text = realdata(MB_BVH).read_text()
    cut = tmp_path / "cut.bvh"
    cut.write_text(text[: len(text) * 2 // 3])
    with pytest.raises(MotionchatError, match="truncated") as err:
        read_bvh(cut)
    _assert_one_line(err, "cut.bvh")
    cut.write_text(text[: text.index("MOTION") // 2])
    with pytest.raises(MotionchatError, match="truncated") as err:
        read_bvh(cut)
    _assert_one_line(err, "cut.bvh")


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.bvh"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(MotionchatError, match="not a BVH") as err:
        read_bvh(garbage)
    _assert_one_line(err, "garbage.bvh")
    with pytest.raises(MotionchatError, match="not found") as err:
        read_bvh(tmp_path / "missing.bvh")
    _assert_one_line(err, "missing.bvh")


def test_bad_motion_values(tmp_path, realdata):
    text = realdata(MAX_BVH).read_text()
    bad = tmp_path / "bad.bvh"
    bad.write_text(text.replace("Frame Time: .0083333", "Frame Time: 0"))
    with pytest.raises(MotionchatError, match="Frame Time"):
        read_bvh(bad)
    head, body = text.split("MOTION")
    bad.write_text(head + "MOTION" + body[:-40] + " abc " + body[-35:])
    with pytest.raises(MotionchatError, match="non-numeric"):
        read_bvh(bad)


def test_write_rejects_wrong_shapes(tmp_path):
    with pytest.raises(MotionchatError, match="out.bvh"):
        write_bvh(np.zeros((10, 21, 3)), tmp_path / "out.bvh")
    assert not (tmp_path / "out.bvh").exists()
