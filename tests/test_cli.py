"""`motionchat` motion commands through the real CLI: outputs, formats, and one-line errors."""

import imageio.v3 as iio
import numpy as np
import pytest
from typer.testing import CliRunner

from motionchat.cli import app
from motionchat.motion.arrays import write_npy
from motionchat.motion.features import joints_to_features

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def walk(tmp_path, realdata):
    """A short motion on the target skeleton: the real fixture if present, else a swaying figure."""
    fixture = realdata.root / "humanml3d" / "new_joints" / "000000.npy"
    if fixture.exists():
        joints = np.load(fixture)[:60]
    else:
        from motionchat.motion.skeleton import HUMANML3D, forward_kinematics

        quats = np.zeros((60, 22, 4))
        quats[..., 0] = 1
        root = np.stack([np.linspace(0, 1, 60), np.full(60, 0.95), np.zeros(60)], -1)
        joints = forward_kinematics(quats, root, HUMANML3D).astype(np.float32)
    path = tmp_path / "walk.npy"
    write_npy(path, joints)
    return path


def assert_one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in result.output
    for needle in needles:
        assert needle in message


def test_info_reports_frames_and_format(walk):
    result = invoke("info", walk)
    assert result.exit_code == 0
    assert "60 (3.00 s at 20 fps)" in result.output and "joint positions" in result.output


def test_info_json(walk):
    result = invoke("info", walk, "--json")
    assert '"frames": 60' in result.output


def test_convert_joints_features_bvh_round_trip(walk, tmp_path):
    joints = np.load(walk)
    assert invoke("convert", walk, "-o", tmp_path / "f.npy", "--to", "features").exit_code == 0
    features = np.load(tmp_path / "f.npy")
    np.testing.assert_allclose(features, joints_to_features(joints), atol=1e-6)

    assert invoke("convert", walk, "-o", tmp_path / "w.bvh").exit_code == 0
    assert invoke("convert", tmp_path / "w.bvh", "-o", tmp_path / "back.npy").exit_code == 0
    back = np.load(tmp_path / "back.npy")
    # BVH import puts the lowest foot on the floor; compare shapes of the motion, not its height.
    offset = back[:, 0:1] - joints[:, 0:1]
    assert np.abs(offset - offset.mean(0)).max() < 1e-4
    assert np.linalg.norm((back - back[:, :1]) - (joints - joints[:, :1]), axis=-1).mean() < 0.005


def test_convert_normalized_features(walk, tmp_path, realdata):
    stats = realdata("humanml3d/Mean.npy").parent
    out = tmp_path / "n.npy"
    assert invoke("convert", walk, "-o", out, "--to", "features", "--normalize", stats).exit_code == 0
    assert_one_line_error(invoke("info", out), "--normalize")
    assert invoke("info", out, "--normalize", stats).exit_code == 0


def test_render_gif_side_by_side(walk, tmp_path):
    out = tmp_path / "two.gif"
    result = invoke("render", walk, walk, "-o", out, "--caption", "twice", "--size", "128")
    assert result.exit_code == 0, result.output
    frames = iio.imread(out)
    assert frames.shape[0] == 60 and frames.shape[2] == 256


def test_play_prints_a_frame_when_not_a_terminal(walk):
    result = invoke("play", walk)
    assert result.exit_code == 0
    assert any(ch in result.stdout for ch in "⠁⠂⠄⡀⠈⠐⠠⢀")
    assert "not a terminal, so one frame only" in result.stderr and "motionchat render" in result.stderr


@pytest.mark.parametrize("command", [["ask", "--help"], ["run", "--help"], ["info", "--help"]])
def test_flags_in_help_take_no_value(command):
    result = runner.invoke(app, command, env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "<bool>" not in result.output and "--json" in result.output


@pytest.mark.parametrize(
    "content,needle",
    [
        (np.zeros((10, 5)), "shape"),
        (np.full((10, 22, 3), np.nan), "NaN"),
        (np.full((10, 263), np.inf), "Inf"),
        (b"", "empty"),
        (b"not a numpy file at all", "npy"),
    ],
)
def test_bad_npy_is_one_line_exit_2(tmp_path, content, needle):
    path = tmp_path / "bad.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    for command in (["info", path], ["render", path, "-o", tmp_path / "x.gif"], ["convert", path, "-o", tmp_path / "x.bvh"]):
        assert_one_line_error(invoke(*command), "bad.npy")
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.bvh").exists()
    assert needle.lower() in invoke("info", path).stderr.lower()


def test_truncated_bvh_missing_file_unknown_extension(tmp_path, walk):
    bvh = tmp_path / "cut.bvh"
    assert invoke("convert", walk, "-o", bvh).exit_code == 0
    bvh.write_text(bvh.read_text()[: len(bvh.read_text()) // 2])
    assert_one_line_error(invoke("info", bvh), "cut.bvh")
    assert_one_line_error(invoke("info", tmp_path / "missing.npy"), "missing.npy", "no such file")
    (tmp_path / "clip.txt").write_text("hello")
    assert_one_line_error(invoke("info", tmp_path / "clip.txt"), "clip.txt", "unsupported")
    assert_one_line_error(invoke("render", walk, "-o", tmp_path / "x.png"), "x.png")
    assert_one_line_error(invoke("convert", walk, "-o", tmp_path / "x.npy", "--to", "fbx"), "fbx")


def test_existing_output_survives_a_failed_conversion(tmp_path, walk):
    out = tmp_path / "keep.bvh"
    out.write_text("precious")
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((3, 7)))
    assert_one_line_error(invoke("convert", bad, "-o", out))
    assert out.read_text() == "precious"


def test_version_and_help():
    assert "motionchat" in invoke("--version").output
    assert invoke("-h").exit_code == 0


def test_help_hook_is_skipped_on_typer_releases_without_it(monkeypatch):
    """An older typer (the device machine's image had one) lacks `display_type_rich`: importing
    the command lines must still work, with typer's own help."""
    from typer.core import TyperOption

    from motionchat import cli_options

    for owner in [c for c in TyperOption.__mro__ if "display_type_rich" in vars(c)]:
        monkeypatch.delattr(owner, "display_type_rich")
    cli_options._show_flags_without_a_type()
    assert not hasattr(TyperOption, "display_type_rich")
