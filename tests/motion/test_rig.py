import json

import numpy as np
import pytest

from motionchat.errors import MotionchatError
from motionchat.motion.euler import euler_to_matrix, matrix_to_euler
from motionchat.motion.joint_names import guess_joint_map, load_joint_map, normalise_name
from motionchat.motion.rig import RigMotion, rig_to_smpl22
from motionchat.motion.skeleton import HUMANML3D

ORDERS = ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"]


def test_euler_matrix_known_values():
    # BVH order "ZX": R = Rz @ Rx. Rz(90) takes x to y; Rx(90) takes y to z.
    rz_rx = euler_to_matrix(np.deg2rad([90.0, 90.0]), "ZX")
    assert np.allclose(rz_rx @ [0, 1, 0], [0, 0, 1])  # Rx first: y -> z, then Rz leaves z
    assert np.allclose(rz_rx @ [1, 0, 0], [0, 1, 0])
    assert np.allclose(euler_to_matrix(np.deg2rad([0.0, 90.0, 0.0]), "XYZ") @ [0, 0, 1], [1, 0, 0])


@pytest.mark.parametrize("order", ORDERS)
def test_euler_round_trip(order):
    rng = np.random.default_rng(1)
    angles = rng.uniform(-np.pi, np.pi, (500, 3)) * [1, 0.5, 1]
    matrices = euler_to_matrix(angles, order)
    assert np.allclose(matrices @ np.swapaxes(matrices, -1, -2), np.eye(3))
    assert np.allclose(euler_to_matrix(matrix_to_euler(matrices, order), order), matrices, atol=1e-12)
    locked = angles.copy()
    locked[:, 1] = np.pi / 2
    matrices = euler_to_matrix(locked, order)
    assert np.allclose(euler_to_matrix(matrix_to_euler(matrices, order), order), matrices, atol=1e-12)


def test_name_normalisation():
    assert normalise_name("mixamorig:LeftUpLeg") == "leftupleg"
    assert normalise_name("Bip01 L Thigh") == "lthigh"
    assert normalise_name("left_hip") == "lefthip"


MIXAMO = [f"mixamorig:{n}" for n in (
    "Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "HeadTop_End",
    *(f"{s}{p}" for s in ("Left", "Right") for p in ("Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase")),
)]
BIPED = ["Bip01", "Bip01 Pelvis", "Bip01 Spine", "Bip01 Spine1", "Bip01 Neck", "Bip01 Head", *(
    f"Bip01 {s} {p}" for s in "LR" for p in ("Thigh", "Calf", "Foot", "Toe0", "Clavicle", "UpperArm", "Forearm", "Hand")
)]
MAX_STYLE = ["Hips", "LHipJoint", "LeftHip", "LeftKnee", "LeftAnkle", "LeftToe", "lowerback", "Chest", "Chest2",
             "lowerneck", "Neck", "Head", "LeftCollar", "LeftShoulder", "LeftElbow", "LeftWrist", "lhand"]


def test_guess_joint_map_across_conventions():
    mixamo = guess_joint_map(MIXAMO)
    assert mixamo["pelvis"] == "mixamorig:Hips" and mixamo["left_hip"] == "mixamorig:LeftUpLeg"
    assert mixamo["left_shoulder"] == "mixamorig:LeftArm" and mixamo["left_collar"] == "mixamorig:LeftShoulder"
    assert mixamo["left_ankle"] == "mixamorig:LeftFoot" and mixamo["left_foot"] == "mixamorig:LeftToeBase"
    assert "spine1" not in mixamo  # Mixamo's Spine/Spine1/Spine2 are placed along the spine instead

    biped = guess_joint_map(BIPED)
    assert biped["pelvis"] == "Bip01 Pelvis" and biped["right_knee"] == "Bip01 R Calf"
    assert biped["left_foot"] == "Bip01 L Toe0" and biped["left_shoulder"] == "Bip01 L UpperArm"

    max_style = guess_joint_map(MAX_STYLE)
    assert max_style["left_hip"] == "LeftHip" and max_style["left_shoulder"] == "LeftShoulder"
    assert max_style["left_collar"] == "LeftCollar" and max_style["left_wrist"] == "LeftWrist"
    assert max_style["neck"] == "Neck"

    assert guess_joint_map(HUMANML3D.joint_names) == {n: n for n in HUMANML3D.joint_names}


def _straight_rig(scale: float, n_frames: int = 13, fps: float = 120.0) -> RigMotion:
    """The HumanML3D skeleton standing still in its rest pose, named with SMPL names, in some unit."""
    offsets = HUMANML3D.offsets()
    rest = np.zeros((22, 3))
    for j, p in enumerate(HUMANML3D.parents):
        if p >= 0:
            rest[j] = rest[p] + offsets[j]
    rest[:, 1] += 0.95
    positions = np.repeat(rest[None] / scale, n_frames, axis=0)
    positions[:, :, 0] += np.arange(n_frames)[:, None] * 0.01 / scale  # drifting along X
    return RigMotion(HUMANML3D.joint_names, HUMANML3D.parents, positions, fps, "rig.bvh")


@pytest.mark.parametrize("unit, scale", [("m", 1.0), ("cm", 0.01), ("mm", 0.001), ("inch", 0.0254), ("CMU", 0.0254 / 0.45)])
def test_unit_detection(unit, scale):
    motion = rig_to_smpl22(_straight_rig(scale))
    assert motion.unit == unit
    assert 0.9 <= np.linalg.norm(motion.joints[0, 4] - motion.joints[0, 1]) / 0.3936 <= 1.1


def test_resampling_takes_every_sixth_frame_at_120fps():
    rig = _straight_rig(1.0, n_frames=13)
    motion = rig_to_smpl22(rig)
    assert len(motion.joints) == 3
    assert np.allclose(motion.joints[:, 0, 0], rig.positions[[0, 6, 12], 0, 0], atol=1e-6)


def test_rig_without_required_joints():
    rig = _straight_rig(1.0)
    renamed = RigMotion(tuple(f"j{k}" for k in range(22)), rig.parents, rig.positions, rig.fps, "odd.bvh")
    with pytest.raises(MotionchatError, match=r"odd\.bvh: cannot find rig joints for pelvis, left_hip.*--joint-map"):
        rig_to_smpl22(renamed)


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "not valid JSON"),
        ('["left_hip"]', "must be a JSON object"),
        ('{"left_thigh": "LeftUpLeg"}', "unknown SMPL joint name"),
        ('{"left_hip": 3}', "must be rig joint names"),
    ],
)
def test_bad_joint_maps(tmp_path, content, problem):
    path = tmp_path / "map.json"
    path.write_text(content)
    with pytest.raises(MotionchatError, match=problem) as err:
        load_joint_map(path)
    assert "map.json" in str(err.value) and "\n" not in str(err.value)


def test_joint_map_missing_and_valid(tmp_path):
    with pytest.raises(MotionchatError, match="nomap.json.*not found"):
        load_joint_map(tmp_path / "nomap.json")
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"left_hip": "LeftUpLeg", "head": "Head"}))
    assert load_joint_map(path) == {"left_hip": "LeftUpLeg", "head": "Head"}
