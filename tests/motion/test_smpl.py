"""SMPL bodies: model lookup and loading (never unpickling), the fit, previews and exports.

Every test runs on a small SMPL-format model that the fixture builds (`tests/fixtures/tiny_smpl.py`):
a box per bone over the HumanML3D skeleton, in the official files' keys and shapes.
"""

import pickle
import sys
import types
from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
import scipy.sparse
from PIL import Image

from motionchat.errors import MotionchatError
from motionchat.motion.rotations import matrix_to_quat, quat_from_axis_angle, quat_to_axis_angle, quat_to_matrix
from motionchat.motion.smpl import (
    SMPL_DIR_ENV,
    convert_model_pickle,
    find_model_file,
    fit_smpl,
    load_body_model,
    render_mesh_frame,
    render_mesh_video,
    write_obj_sequence,
    write_smpl_npz,
)
from motionchat.motion.smpl.fit import analytic_ik
from motionchat.motion.smpl.preview import BODY_COLOUR, simplify_mesh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from tiny_smpl import build_tiny_model, plausible_motion, write_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smpl_models")
    write_tiny_model(folder, "smpl")
    return folder


@pytest.fixture(scope="module")
def smpl(model_dir):
    return load_body_model(model_dir, "smpl")


@pytest.fixture(scope="module")
def walk(smpl):
    """A 60-frame motion made by the body model's own forward kinematics, with a non-zero shape."""
    global_orient, body_pose, transl = plausible_motion(60, seed=1)
    betas = np.linspace(-1.5, 1.5, smpl.num_betas)
    _, joints = smpl.forward(global_orient, body_pose, transl, betas)
    return joints


@pytest.fixture(scope="module")
def walk_fit(smpl, walk):
    return fit_smpl(walk, smpl)


def mpjpe_m(a, b):
    return float(np.linalg.norm(a - b, axis=-1).mean())


# --- fitting ---------------------------------------------------------------------------------------


def test_fit_recovers_forward_kinematics_motion_within_10mm(smpl, walk, walk_fit):
    # Judged by smplx's own forward pass of the fitted parameters, not by the fit's bookkeeping.
    _, joints = smpl.forward(walk_fit.global_orient, walk_fit.body_pose, walk_fit.transl, walk_fit.betas)
    error = mpjpe_m(joints, walk)
    assert error < 0.010
    assert walk_fit.mpjpe_m == pytest.approx(error, abs=1e-4)
    assert np.abs(joints - walk_fit.joints).max() < 1e-4
    assert walk_fit.body_pose.shape == (60, 21, 3) and walk_fit.global_orient.shape == (60, 3)
    assert walk_fit.transl.shape == (60, 3) and walk_fit.betas.shape == (smpl.num_betas,)


def test_fit_recovers_bone_lengths_through_betas(smpl, walk, walk_fit):
    template_only = fit_smpl(walk, smpl, fit_shape=False, iters=0)
    assert template_only.mpjpe_m > 0.010  # the walk's body is not the template's...
    assert walk_fit.mpjpe_m < 0.002  # ...and fitted betas make up the difference


def _twist_jitter_deg(fit, rest: np.ndarray, joint: int, child: int) -> float:
    """Mean |second difference| of the joint's turn about its own bone (the part joints barely show)."""
    axis = (rest[child] - rest[joint]) / np.linalg.norm(rest[child] - rest[joint])
    quats = quat_from_axis_angle(fit.body_pose[:, joint - 1])
    twist_deg = np.degrees(np.unwrap(2 * np.arctan2(quats[:, 1:] @ axis, quats[:, 0])))
    return float(np.abs(np.diff(twist_deg, 2)).mean())


def test_fit_smooths_twists_and_keeps_positions(smpl, walk):
    noisy = walk + np.random.default_rng(0).normal(scale=0.01, size=walk.shape)
    raw = fit_smpl(noisy, smpl, smooth_sigma_frames=0)
    smooth = fit_smpl(noisy, smpl)
    assert smooth.mpjpe_m == pytest.approx(raw.mpjpe_m, abs=5e-4)  # the body still follows the joints
    rest = smpl.rest_joints(smooth.betas)
    for joint, child in ((1, 4), (2, 5), (16, 18), (17, 19)):  # hips and shoulders about their bones
        assert _twist_jitter_deg(smooth, rest, joint, child) < 0.6 * _twist_jitter_deg(raw, rest, joint, child)


def test_analytic_ik_recovers_hinged_limbs(smpl):
    # With knees and elbows bending only about their hinges, the hips, shoulders, knees and elbows
    # are fully determined by the joints (twist included), and the analytic step finds them.
    global_orient, body_pose, transl = plausible_motion(40, seed=2)
    betas = np.zeros(smpl.num_betas)
    _, joints = smpl.forward(global_orient, body_pose, transl, betas)
    local = analytic_ik(joints, smpl.rest_joints(betas), smpl.parents)
    truth = quat_to_matrix(quat_from_axis_angle(np.concatenate([global_orient[:, None], body_pose], axis=1)))
    difference = quat_to_axis_angle(matrix_to_quat(np.swapaxes(local, -1, -2) @ truth))
    angle_deg = np.degrees(np.linalg.norm(difference, axis=-1))
    for joint in (0, 1, 2, 4, 5, 18, 19):  # pelvis, hips, knees, elbows
        assert np.median(angle_deg[:, joint]) < 0.5, joint


def test_fit_of_real_motion_poses(smpl, realdata):
    real = np.load(realdata("humanml3d/new_joints/012314.npy")).astype(np.float64)
    # The tiny body's pelvis is not a human's (its hips stick out sideways), so a real clip cannot
    # be matched exactly; its fitted poses, played back on the body, are a real motion it can do.
    rough = fit_smpl(real, smpl)
    assert rough.mpjpe_m < 0.06
    _, playable = smpl.forward(rough.global_orient, rough.body_pose, rough.transl, rough.betas)
    assert fit_smpl(playable, smpl).mpjpe_m < 0.010


def test_fit_rejects_bad_joints(smpl, walk):
    with pytest.raises(MotionchatError, match="metres"):
        fit_smpl(walk * 100, smpl)
    with pytest.raises(MotionchatError, match=r"\(frames, 22, 3\)"):
        fit_smpl(walk[:, :21], smpl)
    broken = walk.copy()
    broken[3, 4, 1] = np.nan
    with pytest.raises(MotionchatError, match="frame 3"):
        fit_smpl(broken, smpl)


@pytest.mark.parametrize("model_type, pose_width", [("smplh", 156), ("smplx", 165)])
def test_smplh_and_smplx_files_fit_and_export(tmp_path, model_type, pose_width):
    write_tiny_model(tmp_path, model_type)
    body = load_body_model(tmp_path)  # found without naming the type
    assert body.model_type == model_type
    global_orient, body_pose, transl = plausible_motion(12, seed=3)
    _, joints = body.forward(global_orient, body_pose, transl, np.zeros(body.num_betas))
    fit = fit_smpl(joints, body)
    assert fit.mpjpe_m < 0.010
    out = write_smpl_npz(tmp_path / "fit.npz", fit)
    with np.load(out, allow_pickle=False) as saved:
        assert saved["poses"].shape == (12, pose_width)
        assert str(saved["surface_model_type"]) == model_type


# --- model files -------------------------------------------------------------------------------------


def test_model_lookup_follows_smplx_layout_and_env(model_dir, tmp_path, monkeypatch):
    assert find_model_file(model_dir) == model_dir / "smpl" / "SMPL_NEUTRAL.npz"
    flat = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(flat, **build_tiny_model("smpl"))
    assert find_model_file(tmp_path) == flat
    assert find_model_file(flat) == flat
    monkeypatch.setenv(SMPL_DIR_ENV, str(model_dir))
    assert find_model_file(None) == model_dir / "smpl" / "SMPL_NEUTRAL.npz"


def test_missing_model_says_what_to_get_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv(SMPL_DIR_ENV, raising=False)
    with pytest.raises(MotionchatError) as err:
        load_body_model(None)
    message = str(err.value)
    assert "\n" not in message
    for needed in ("SMPL_NEUTRAL.npz", "smpl.is.tue.mpg.de", "registration", "--smpl-dir", SMPL_DIR_ENV):
        assert needed in message
    with pytest.raises(MotionchatError, match=f"in {tmp_path}"):
        load_body_model(tmp_path)
    with pytest.raises(MotionchatError, match="no such folder"):
        load_body_model(tmp_path / "nowhere")


def test_pickle_models_are_refused_with_the_conversion_command(tmp_path):
    (tmp_path / "smpl").mkdir()
    pkl = tmp_path / "smpl" / "SMPL_NEUTRAL.pkl"
    pkl.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    with pytest.raises(MotionchatError, match="convert-model .* --trust-pickle"):
        load_body_model(tmp_path)


def test_damaged_or_mismatched_model_files_are_reported(tmp_path):
    arrays = build_tiny_model("smpl")
    del arrays["weights"]
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    with pytest.raises(MotionchatError, match="missing weights"):
        load_body_model(tmp_path)
    (tmp_path / "SMPL_NEUTRAL.npz").write_bytes(b"not a zip")
    with pytest.raises(MotionchatError, match="not a readable .npz"):
        load_body_model(tmp_path)
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **build_tiny_model("smpl"))
    with pytest.raises(MotionchatError, match="is a SMPL model, not SMPLX"):
        load_body_model(tmp_path / "SMPL_NEUTRAL.npz", "smplx")


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return "ran"


class _Trap:
    def __reduce__(self):
        return (_record_unpickling, ())


def test_object_entries_in_npz_models_are_never_unpickled(tmp_path):
    # Real SMPL-X files carry pickled dicts (joint2num); they are skipped, not loaded.
    arrays = build_tiny_model("smplx")
    arrays["joint2num"] = np.array([_Trap()], dtype=object)
    np.savez(tmp_path / "SMPLX_NEUTRAL.npz", **arrays)
    UNPICKLED.clear()
    body = load_body_model(tmp_path)
    assert body.model_type == "smplx"
    assert UNPICKLED == []


# --- converting official pickles ---------------------------------------------------------------------


def _fake_official_pickle(path: Path, monkeypatch) -> dict:
    """A pickle shaped like the official SMPL download: chumpy shapedirs, sparse J_regressor, extras."""
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")

    class Ch:  # pickles the way chumpy's Ch does: its __dict__, the array under 'x'
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    chumpy_ch.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", chumpy)
    monkeypatch.setitem(sys.modules, "chumpy.ch", chumpy_ch)
    arrays = build_tiny_model("smpl")
    content = dict(arrays)
    content["shapedirs"] = Ch(arrays["shapedirs"])
    content["J_regressor"] = scipy.sparse.csc_matrix(arrays["J_regressor"])
    content["bs_style"] = "lbs"
    content["pose_training_info"] = {"note": "bookkeeping a model does not need"}
    path.write_bytes(pickle.dumps(content, protocol=2))
    return arrays


def test_convert_model_pickle_needs_explicit_trust(tmp_path, monkeypatch):
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    _fake_official_pickle(pkl, monkeypatch)
    with pytest.raises(MotionchatError, match="--trust-pickle"):
        convert_model_pickle(pkl)
    assert not (tmp_path / "SMPL_NEUTRAL.npz").exists()


def test_convert_model_pickle_writes_a_loadable_npz(tmp_path, monkeypatch):
    pkl = tmp_path / "SMPL_NEUTRAL.pkl"
    arrays = _fake_official_pickle(pkl, monkeypatch)
    monkeypatch.delitem(sys.modules, "chumpy.ch")  # conversion must not need chumpy
    out = convert_model_pickle(pkl, trust_pickle=True)
    assert out == tmp_path / "SMPL_NEUTRAL.npz"
    with np.load(out, allow_pickle=False) as saved:
        np.testing.assert_array_equal(saved["shapedirs"], arrays["shapedirs"])
        np.testing.assert_array_equal(saved["J_regressor"], arrays["J_regressor"])
        assert "pose_training_info" not in saved.files
    assert load_body_model(tmp_path).model_type == "smpl"


def test_convert_model_pickle_refuses_foreign_globals(tmp_path):
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"v_template": _Trap()}))
    UNPICKLED.clear()
    with pytest.raises(MotionchatError, match="_record_unpickling"):
        convert_model_pickle(pkl, trust_pickle=True)
    assert UNPICKLED == [] and not pkl.with_suffix(".npz").exists()


# --- exports -----------------------------------------------------------------------------------------


def test_smpl_npz_has_amass_keys_and_replays_the_fit(tmp_path, smpl, walk_fit):
    out = write_smpl_npz(tmp_path / "walk.npz", walk_fit)
    with np.load(out, allow_pickle=False) as saved:
        assert set(saved.files) == {"poses", "trans", "betas", "mocap_framerate", "gender", "surface_model_type"}
        poses, trans, betas = saved["poses"], saved["trans"], saved["betas"]
        assert poses.shape == (60, 72) and trans.shape == (60, 3)
        assert float(saved["mocap_framerate"]) == 20.0 and str(saved["gender"]) == "neutral"
    assert np.all(poses[:, 66:] == 0)  # SMPL's two hand joints stay flat
    _, joints = smpl.forward(poses[:, :3], poses[:, 3:66].reshape(-1, 21, 3), trans, betas)
    assert np.abs(joints - walk_fit.joints).max() < 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.npz"]
    with pytest.raises(MotionchatError, match=".npz"):
        write_smpl_npz(tmp_path / "walk.npy", walk_fit)


def test_obj_sequence_has_one_mesh_per_frame(tmp_path, smpl, walk_fit):
    folder = tmp_path / "objs"
    folder.mkdir()
    (folder / "frame_0099.obj").write_text("stale frame from a longer export")
    (folder / "notes.txt").write_text("not ours")
    written = write_obj_sequence(folder, walk_fit, smpl)
    assert [p.name for p in written[:2]] == ["frame_0001.obj", "frame_0002.obj"] and len(written) == 60
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in written] + ["notes.txt"])
    lines = written[9].read_text().splitlines()
    vertices = np.array([[float(v) for v in line.split()[1:]] for line in lines if line.startswith("v ")])
    faces = np.array([[int(v) for v in line.split()[1:]] for line in lines if line.startswith("f ")])
    np.testing.assert_allclose(vertices, walk_fit.vertices(smpl)[9], atol=1e-5)
    np.testing.assert_array_equal(faces, smpl.faces + 1)
    with pytest.raises(MotionchatError, match="is a file"):
        write_obj_sequence(written[0], walk_fit, smpl)


# --- previews ----------------------------------------------------------------------------------------


def test_mesh_preview_gif_has_every_frame_and_shows_the_body(tmp_path, smpl, walk_fit):
    out = render_mesh_video(walk_fit, smpl, tmp_path / "walk.gif", size_px=128)
    frames = iio.imread(out, index=None, plugin="pillow", mode="RGB")
    assert frames.shape == (60, 128, 128, 3)
    with Image.open(out) as im:
        assert im.info["duration"] == 50
    # Lit and shaded faces of the body's blue in every frame.
    assert min(_body_pixels(frame) for frame in frames) > 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.gif"]


def test_mesh_preview_mp4_and_png(tmp_path, smpl, walk_fit):
    short = fit_smpl(walk_fit.joints[:10], smpl)
    mp4 = render_mesh_video(short, smpl, tmp_path / "walk.mp4", size_px=96)
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    assert meta["size"] == (96, 96) and meta["fps"] == 20
    assert sum(1 for _ in reader) == 10
    png = render_mesh_frame(short, smpl, 5, tmp_path / "frame.png", size_px=96)
    assert np.asarray(Image.open(png)).shape == (96, 96, 3)
    with pytest.raises(MotionchatError, match=".gif or .mp4"):
        render_mesh_video(short, smpl, tmp_path / "walk.avi")


def _body_pixels(image: np.ndarray) -> int:
    """Pixels whose hue is the body's blue, however brightly lit."""
    rgb = image.astype(float)
    chroma = rgb / rgb.sum(-1, keepdims=True).clip(1)
    return int((np.abs(chroma - BODY_COLOUR / BODY_COLOUR.sum()).sum(-1) < 0.03).sum())


def test_dense_meshes_are_simplified_for_the_preview(tmp_path):
    write_tiny_model(tmp_path, "smpl", subdivisions=3)
    body = load_body_model(tmp_path)
    assert len(body.faces) > 3000
    global_orient, body_pose, transl = plausible_motion(3, seed=4)
    _, joints = body.forward(global_orient, body_pose, transl, np.zeros(body.num_betas))
    png = render_mesh_frame(fit_smpl(joints, body, iters=0), body, 1, tmp_path / "dense.png", size_px=128,
                            max_faces=800)
    assert _body_pixels(np.asarray(Image.open(png))) > 300


def test_simplify_mesh_respects_the_face_budget_and_body_parts():
    rng = np.random.default_rng(0)
    # Two dense sheets 1 mm apart, each its own part: clustering must never fuse them.
    u, v = np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 1, 30))
    sheet = np.stack([u.ravel(), v.ravel(), np.zeros(u.size)], axis=1)
    vertices = np.concatenate([sheet, sheet + [0, 0, 0.001]]) + rng.normal(scale=1e-5, size=(1800, 3))
    quads = np.array([(i * 30 + j, i * 30 + j + 1, (i + 1) * 30 + j + 1, (i + 1) * 30 + j)
                      for i in range(29) for j in range(29)])
    one = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    faces = np.concatenate([one, one + 900])
    part = np.repeat([0, 1], 900)
    cluster, simplified = simplify_mesh(vertices, faces, part, max_faces=800)
    assert 0 < len(simplified) <= 800
    parts_of_cluster = {}
    for vertex, c in enumerate(cluster):
        parts_of_cluster.setdefault(c, set()).add(part[vertex])
    assert all(len(parts) == 1 for parts in parts_of_cluster.values())


# --- through the command line ------------------------------------------------------------------------


def test_cli_smpl_render_and_convert(tmp_path, model_dir, walk, monkeypatch):
    from typer.testing import CliRunner

    from motionchat.cli import app
    from motionchat.motion.arrays import write_npy

    runner = CliRunner()
    clip = tmp_path / "walk.npy"
    write_npy(clip, walk[:20].astype(np.float32))
    common = ["--smpl-dir", str(model_dir)]
    result = runner.invoke(app, ["render", str(clip), "-o", str(tmp_path / "body.gif"), "--body", "smpl", "--size", "96", *common])
    assert result.exit_code == 0, result.output
    assert iio.imread(tmp_path / "body.gif").shape[0] == 20
    assert runner.invoke(app, ["convert", str(clip), "-o", str(tmp_path / "p.npz"), *common]).exit_code == 0
    with np.load(tmp_path / "p.npz", allow_pickle=False) as params:
        assert params["poses"].shape == (20, 72) and float(params["mocap_framerate"]) == 20
    assert runner.invoke(app, ["convert", str(clip), "-o", str(tmp_path / "objs"), "--to", "obj", *common]).exit_code == 0
    assert len(list((tmp_path / "objs").glob("*.obj"))) == 20

    monkeypatch.delenv(SMPL_DIR_ENV, raising=False)
    missing = runner.invoke(app, ["convert", str(clip), "-o", str(tmp_path / "q.npz")])
    assert missing.exit_code == 2 and "SMPL_NEUTRAL" in missing.stderr and "Traceback" not in missing.output
    assert not (tmp_path / "q.npz").exists()
