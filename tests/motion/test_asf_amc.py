from pathlib import Path

import numpy as np
import pytest

from motionchat.errors import MotionchatError
from motionchat.motion.asf_amc import asf_amc_rig_motion, find_asf, parse_amc, parse_asf, read_asf_amc
from motionchat.motion.bvh import bvh_rig_motion, parse_bvh
from motionchat.motion.skeleton import HUMANML3D

FEET = [HUMANML3D.joint_index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]


def _amc_frames(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip().isdigit())


def test_cmu_asf_amc_imports_onto_22_joints_at_20fps_in_metres(realdata):
    asf, amc = realdata("cmu/asf_amc/01.asf"), realdata("cmu/asf_amc/01_01.amc")
    motion = read_asf_amc(asf, amc)
    joints = motion.joints
    assert joints.shape[1:] == (22, 3) and np.isfinite(joints).all()
    assert motion.source_frames == _amc_frames(amc) == 2751
    assert abs(len(joints) - round(motion.source_frames / 120 * 20)) <= 1
    assert motion.unit == "inch" and motion.up_axis == "+Y"  # ASF lengths / 0.45 are inches
    assert 1.4 <= motion.height_m <= 2.0, motion.height_m
    assert abs(joints[:, FEET, 1].min()) <= 0.03
    assert 0.8 <= np.median(joints[:, 0, 1]) <= 1.1
    assert 1.4 <= np.percentile(joints[:, HUMANML3D.joint_index("head"), 1], 90) <= 1.9
    assert motion.mapping["left_hip"] == "lfemur" and motion.mapping["left_wrist"] == "lwrist"


def test_asf_amc_and_its_bvh_conversion_agree(realdata):
    """Both importers' kinematics, checked against each other on the same capture.

    CMU's BVH conversion (01_01.bvh) adds a rest frame first and leaves out the thorax bone, so the
    legs and lower spine must coincide and the arms must differ by exactly the thorax vector.
    """
    skeleton = parse_asf(realdata("cmu/asf_amc/01.asf"))
    asf = asf_amc_rig_motion(skeleton, parse_amc(realdata("cmu/asf_amc/01_01.amc"), skeleton), fps=120)
    bvh = bvh_rig_motion(parse_bvh(realdata("cmu/bvh_mb_release/01_01.bvh")))

    def asf_at(name):  # BVH files store the raw ASF values, i.e. before dividing by the 0.45 unit
        return asf.positions[:, asf.names.index(name)] * skeleton.length_unit

    def bvh_at(name):
        return bvh.positions[1:, bvh.names.index(name)]

    for asf_name, bvh_name in [("root", "Hips"), ("lfemur", "LeftUpLeg"), ("rtibia", "RightLeg"), ("lfoot", "LeftFoot"),
                               ("rtoes", "RightToeBase"), ("upperback", "Spine"), ("thorax", "Spine1")]:
        assert np.abs(asf_at(asf_name) - bvh_at(bvh_name)).max() < 1e-3, asf_name
    thorax = asf_at("lowerneck") - asf_at("thorax")
    assert np.abs(asf_at("lhumerus") - bvh_at("LeftArm") - thorax).max() < 1e-3


def test_find_asf_beside_amc(realdata):
    amc = realdata("cmu/asf_amc/01_01.amc")
    assert find_asf(amc) == amc.parent / "01.asf"


def test_find_asf_when_absent(tmp_path):
    (tmp_path / "07_01.amc").write_text("1\nroot 0 0 0 0 0 0\n")
    with pytest.raises(MotionchatError, match="07_01.amc.*no .asf"):
        find_asf(tmp_path / "07_01.amc")


def test_truncated_amc(tmp_path, realdata):
    asf = realdata("cmu/asf_amc/01.asf")
    text = realdata("cmu/asf_amc/01_01.amc").read_text()
    cut = tmp_path / "cut.amc"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(MotionchatError, match="truncated") as err:
        read_asf_amc(asf, cut)
    assert "cut.amc" in str(err.value) and "\n" not in str(err.value)


def test_bad_asf_and_missing_files(tmp_path, realdata):
    amc = realdata("cmu/asf_amc/01_01.amc")
    garbage = tmp_path / "garbage.asf"
    garbage.write_text("hello\nworld\n")
    with pytest.raises(MotionchatError, match="garbage.asf.*not an ASF"):
        read_asf_amc(garbage, amc)
    with pytest.raises(MotionchatError, match="missing.asf.*not found"):
        read_asf_amc(tmp_path / "missing.asf", amc)
    with pytest.raises(MotionchatError, match="missing.amc.*not found"):
        read_asf_amc(realdata("cmu/asf_amc/01.asf"), tmp_path / "missing.amc")


def test_amc_bone_missing_from_the_skeleton(tmp_path, realdata):
    asf_text = realdata("cmu/asf_amc/01.asf").read_text()
    asf = tmp_path / "renamed.asf"
    asf.write_text(asf_text.replace("ltoes", "ltoe"))
    with pytest.raises(MotionchatError, match="01_01.amc.*'ltoes'.*right .asf"):
        read_asf_amc(asf, realdata("cmu/asf_amc/01_01.amc"))
