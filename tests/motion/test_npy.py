from pathlib import Path

import numpy as np
import pytest

from motionchat.errors import MotionchatError
from motionchat.motion.arrays import MAX_FILE_FRAMES, write_npy
from motionchat.motion.features import features_to_joints, joints_to_features
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.npy import read_npy_motion
from motionchat.motion.rotations import quat_from_axis_angle
from motionchat.motion.skeleton import HUMANML3D, KITML, forward_kinematics


def _official(realdata, name: str) -> np.ndarray:
    return np.load(realdata(f"humanml3d/{name}"), allow_pickle=False)


def _kit_joints(n_frames=30) -> np.ndarray:
    rng = np.random.default_rng(0)
    quats = quat_from_axis_angle(rng.normal(scale=0.3, size=(n_frames, 21, 3)))
    root = np.zeros((n_frames, 3))
    root[:, 1] = 900.0
    root[:, 2] = np.arange(n_frames) * 40.0
    return forward_kinematics(quats, root, KITML, KITML.raw_offsets * 200.0)  # millimetres


@pytest.mark.parametrize("clip_id", ["000000", "012314", "000612"])
def test_raw_fixture_features_are_detected_as_raw(tmp_path, clip_id, realdata):
    features = _official(realdata, f"new_joint_vecs/{clip_id}.npy")
    motion = read_npy_motion(realdata(f"humanml3d/new_joint_vecs/{clip_id}.npy"))
    assert motion.kind == "features" and motion.skeleton is HUMANML3D
    assert motion.description.startswith("raw 263-d")
    np.testing.assert_array_equal(motion.features, features.astype(np.float32))
    assert motion.joints.shape == (len(features), 22, 3)
    # Noisy raw features, as a model would produce, still read as raw.
    noisy = features + np.random.default_rng(0).normal(scale=0.05, size=features.shape)
    write_npy(tmp_path / "noisy.npy", noisy)
    assert read_npy_motion(tmp_path / "noisy.npy").kind == "features"


@pytest.mark.parametrize("stats", ["", "meta/alt_mean_std_motiongpt"])
def test_normalised_fixture_features_need_and_use_statistics(tmp_path, stats, realdata):
    features = _official(realdata, "new_joint_vecs/012314.npy")
    normalizer = Normalizer.from_dir(realdata(f"humanml3d/{stats}"))
    path = tmp_path / "normalised.npy"
    write_npy(path, normalizer.normalize(features))
    with pytest.raises(MotionchatError, match="normalised.*--normalize") as err:
        read_npy_motion(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    motion = read_npy_motion(path, normalizer)
    assert motion.kind == "normalized_features" and "denormalised with" in motion.description
    np.testing.assert_allclose(motion.features, features, atol=1e-5)
    np.testing.assert_allclose(motion.joints, _official(realdata, "new_joints/012314.npy"), atol=1e-5)


def test_statistics_of_another_size_are_refused_naming_the_file(tmp_path, realdata):
    features = _official(realdata, "new_joint_vecs/000000.npy")
    path = tmp_path / "normalised.npy"
    write_npy(path, Normalizer.from_dir(realdata("humanml3d")).normalize(features))
    with pytest.raises(MotionchatError, match=f"{path}: features have 263 values per frame.*251"):
        read_npy_motion(path, Normalizer(np.zeros(251), np.ones(251)))


def test_joint_files_in_every_accepted_shape(tmp_path, realdata):
    joints = features_to_joints(_official(realdata, "new_joint_vecs/000000.npy"))
    for name, array in {"j.npy": joints, "flat.npy": joints.reshape(len(joints), 66)}.items():
        write_npy(tmp_path / name, array)
        motion = read_npy_motion(tmp_path / name)
        assert motion.kind == "joints" and motion.features is None and motion.skeleton is HUMANML3D
        np.testing.assert_array_equal(motion.joints, joints)
    kit = _kit_joints()
    for name, array in {"k.npy": kit, "kflat.npy": kit.reshape(len(kit), 63), "kint.npy": kit.astype(np.int32)}.items():
        write_npy(tmp_path / name, array)
        motion = read_npy_motion(tmp_path / name)
        assert motion.kind == "joints" and motion.skeleton is KITML and motion.joints.dtype == np.float32
        assert "kitml" in motion.description and motion.skeleton.fps == 12.5


def test_kit_features_are_read_with_the_kit_skeleton(tmp_path):
    features = joints_to_features(_kit_joints(), KITML)
    write_npy(tmp_path / "kit.npy", features)
    motion = read_npy_motion(tmp_path / "kit.npy")
    assert motion.kind == "features" and motion.skeleton is KITML and motion.joints.shape == (29, 21, 3)


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a fragment the message must contain)."""
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((50, 263), dtype=np.float32))
    blob = good.read_bytes()
    nan = np.zeros((20, 22, 3))
    nan[7, 3, 1] = np.nan
    inf = np.zeros((20, 66))
    inf[2, 0] = np.inf
    obj = tmp_path / "object.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    npz = tmp_path / "archive.npy"
    with open(npz, "wb") as f:
        np.savez(f, x=np.zeros(3))
    arrays = {
        "wrong_width": (np.zeros((10, 5)), "shape (10, 5)"),
        "wrong_joint_dims": (np.zeros((10, 22, 2)), "shape (10, 22, 2)"),
        "one_dim": (np.zeros(263), "shape (263,)"),
        "scalar": (np.float64(1.0), "shape ()"),
        "zero_frames": (np.zeros((0, 263)), "0 frames"),
        "too_long": (np.zeros((MAX_FILE_FRAMES + 1, 66), dtype=np.float32), f"more than the {MAX_FILE_FRAMES}"),
        "nan": (nan, "1 NaN/Inf value(s) (first at frame 7)"),
        "inf": (inf, "NaN/Inf"),
        "strings": (np.array([["a", "b"]]), "dtype <U1"),
        "complex": (np.zeros((10, 66), dtype=np.complex64), "dtype complex64"),
        "bool": (np.zeros((10, 66), dtype=bool), "dtype bool"),
    }
    files = {}
    for name, (array, fragment) in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        files[name] = (tmp_path / f"{name}.npy", fragment)
    files.update(
        {
            "missing": (tmp_path / "missing.npy", "no such file"),
            "folder": (tmp_path, "is a folder"),
            "empty": (_write_bytes(tmp_path / "empty.npy", b""), "empty file"),
            "text": (_write_bytes(tmp_path / "text.npy", b"0.1, 0.2, 0.3\n"), "not a NumPy .npy file"),
            "npz": (npz, ".npz archive"),
            "truncated_data": (_write_bytes(tmp_path / "cut.npy", blob[: len(blob) // 2]), "truncated or corrupt"),
            "truncated_header": (_write_bytes(tmp_path / "cut_header.npy", blob[:20]), "truncated or corrupt"),
            "object": (obj, "Python objects"),
        }
    )
    return files


def test_every_bad_input_is_one_line_naming_the_file(tmp_path):
    for name, (path, fragment) in _bad_files(tmp_path).items():
        with pytest.raises(MotionchatError) as err:
            read_npy_motion(path)
        message = str(err.value)
        assert message.startswith(f"{path}: "), (name, message)
        assert fragment in message, (name, message)
        assert "\n" not in message, (name, message)


def test_write_npy_is_atomic_and_round_trips(tmp_path):
    array = np.arange(12, dtype=np.float32).reshape(4, 3)
    target = tmp_path / "sub" / "out.npy"
    write_npy(target, array)
    np.testing.assert_array_equal(np.load(target, allow_pickle=False), array)
    assert [p.name for p in target.parent.iterdir()] == ["out.npy"]
    with pytest.raises(ValueError):
        write_npy(target, np.array([{"a": 1}], dtype=object))  # refuses to pickle; old file kept
    np.testing.assert_array_equal(np.load(target, allow_pickle=False), array)
    assert [p.name for p in target.parent.iterdir()] == ["out.npy"]
