from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from motionchat.errors import MotionchatError
from motionchat.motion.render import (
    LIMB_COLOURS,
    TRAJECTORY,
    fit_camera,
    limb_kind,
    render_grid,
    render_motions,
)
from motionchat.motion.rotations import quat_from_axis_angle
from motionchat.motion.skeleton import HUMANML3D, KITML, forward_kinematics


def wave_motion(n_frames: int, spec=HUMANML3D, offsets=None) -> np.ndarray:
    """A figure drifting forward while raising and lowering its arms: (T, J, 3) joints."""
    quats = np.zeros((n_frames, spec.n_joints, 4))
    quats[..., 0] = 1.0
    angle = 1.2 * np.sin(np.linspace(0, 2 * np.pi, n_frames))
    for chain in spec.chains:
        if limb_kind(chain, spec).endswith("arm"):  # swing the upper arm (the bone that ends at the elbow)
            quats[:, chain[-2]] = quat_from_axis_angle(np.stack([angle, 0 * angle, 0 * angle], axis=-1))
    root = np.stack([0.2 * np.sin(angle), np.full(n_frames, 0.95), np.linspace(0, 1.5, n_frames)], axis=-1)
    joints = forward_kinematics(quats, root, spec, offsets)
    joints[..., 1] -= joints[..., 1].min()
    return joints


def gif_frames(path: Path) -> np.ndarray:
    return iio.imread(path, index=None, plugin="pillow", mode="RGB")


def test_gif_has_every_frame_at_20_fps_and_480_px(tmp_path):
    out = render_motions([wave_motion(24)], tmp_path / "wave.gif")
    assert out == tmp_path / "wave.gif"
    frames = gif_frames(out)
    assert frames.shape == (24, 480, 480, 3)
    with Image.open(out) as im:
        assert im.info["duration"] == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wave.gif"]  # no temp file left behind


def test_a_still_motion_keeps_one_gif_frame_per_motion_frame(tmp_path):
    still_then_moving = np.concatenate([np.repeat(wave_motion(4)[:1], 6, axis=0), wave_motion(4)])
    out = render_motions([still_then_moving], tmp_path / "still.gif", size_px=96)
    with Image.open(out) as im:
        assert im.n_frames == 10
        durations = []
        for k in range(im.n_frames):
            im.seek(k)
            durations.append(im.info["duration"])
    assert durations == [50] * 10
    frames = gif_frames(out).astype(int)
    assert np.abs(frames[2:6] - frames[1]).max() <= 1  # the still frames look the same


def test_mp4_is_h264_yuv420p_with_every_frame(tmp_path):
    out = render_motions([wave_motion(30)], tmp_path / "wave.mp4", size_px=160)
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    frames = list(reader)
    assert meta["size"] == (160, 160)
    assert meta["fps"] == pytest.approx(20)
    assert meta["codec"].startswith("h264")
    assert "yuv420p" in meta["pix_fmt"]
    assert len(frames) == 30


def test_odd_size_is_rounded_up_to_even_for_h264(tmp_path):
    out = render_motions([wave_motion(5)], tmp_path / "odd.mp4", size_px=101)
    meta = next(imageio_ffmpeg.read_frames(str(out)))
    assert meta["size"] == (102, 102)


def test_frames_show_the_coloured_chains_and_the_trajectory(tmp_path):
    frames = gif_frames(render_motions([wave_motion(20)], tmp_path / "w.gif", size_px=240))
    last = frames[-1].reshape(-1, 3)
    for colour in (*LIMB_COLOURS.values(), TRAJECTORY):
        assert (last == colour).all(axis=1).sum() > 5, colour
    assert len(np.unique(last, axis=0)) > 10
    # The figure moves: consecutive frames differ.
    assert (frames[0] != frames[10]).any()


def test_side_by_side_pads_the_shorter_motion_with_its_last_pose(tmp_path):
    out = render_motions([wave_motion(20), wave_motion(8)], tmp_path / "pair.gif", size_px=128,
                         titles=["original", "edited"])
    frames = gif_frames(out)
    assert frames.shape == (20, 128, 256, 3)
    right_panel = frames[:, :100, 128:]  # above the clock in the bottom corner
    assert (right_panel[10] == right_panel[19]).all()
    assert not (frames[10, :100, :128] == frames[19, :100, :128]).all()


def test_long_caption_and_titles_are_wrapped_not_fatal(tmp_path):
    caption = "a person walks forward, turns around and " * 30 + "x" * 400
    frames = gif_frames(render_motions([wave_motion(4), wave_motion(6)], tmp_path / "c.gif", caption=caption,
                                       titles=["t" * 300, ""], size_px=96))
    assert frames.shape == (6, 96, 192, 3)


def test_kit_skeleton_renders_with_its_own_chains(tmp_path):
    joints = wave_motion(10, KITML, offsets=KITML.raw_offsets * 150.0)  # KIT-ML data is in millimetres
    frames = gif_frames(render_motions([joints], tmp_path / "kit.gif", size_px=128, skeleton=KITML))
    assert frames.shape == (10, 128, 128, 3)
    assert (frames[-1].reshape(-1, 3) == LIMB_COLOURS["left_leg"]).all(axis=1).any()


def test_limb_kinds_follow_joint_names_on_both_rigs():
    assert [limb_kind(c, HUMANML3D) for c in HUMANML3D.chains] == [
        "right_leg", "left_leg", "spine", "right_arm", "left_arm"]
    # KIT-ML orders its chains differently; each limb still gets its own colour.
    assert sorted(limb_kind(c, KITML) for c in KITML.chains) == sorted(LIMB_COLOURS)
    assert limb_kind(KITML.chains[2], KITML) == "spine"


def test_camera_keeps_up_up_and_fits_the_box():
    points = wave_motion(12).reshape(-1, 3)
    camera = fit_camera(points, (10, 20, 110, 220))
    px, depth = camera.project(points)
    assert (depth > 0).all()
    assert px[:, 0].min() >= 10 - 1e-6 and px[:, 0].max() <= 110 + 1e-6
    assert px[:, 1].min() >= 20 - 1e-6 and px[:, 1].max() <= 220 + 1e-6
    head, foot = camera.project(np.array([[0.0, 1.7, 0.0], [0.0, 0.0, 0.0]]))[0]
    assert head[1] < foot[1]  # image y grows downwards


@pytest.mark.parametrize("name", ["preview.png", "preview", "preview.GIF.txt"])
def test_unknown_extension_is_a_user_error(tmp_path, name):
    with pytest.raises(MotionchatError, match=r"\.gif or \.mp4"):
        render_motions([wave_motion(3)], tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_bad_motions_are_user_errors(tmp_path):
    bad = wave_motion(6)
    bad[3, 5, 1] = np.nan
    with pytest.raises(MotionchatError, match="motion 2 of 2: frame 3 holds NaN"):
        render_motions([wave_motion(6), bad], tmp_path / "x.gif")
    with pytest.raises(MotionchatError, match=r"shape \(frames, 22, 3\)"):
        render_motions([np.zeros((10, 263))], tmp_path / "x.gif")
    with pytest.raises(MotionchatError, match="no frames"):
        render_motions([np.zeros((0, 22, 3))], tmp_path / "x.gif")
    with pytest.raises(MotionchatError, match="one title per motion"):
        render_motions([wave_motion(3)], tmp_path / "x.gif", titles=["a", "b"])
    assert list(tmp_path.iterdir()) == []


def test_real_humanml3d_clip_renders(tmp_path, realdata):
    joints = np.load(realdata("humanml3d/new_joints/012314.npy"), allow_pickle=False)
    frames = gif_frames(render_motions([joints[:40]], tmp_path / "real.gif", size_px=128))
    assert frames.shape == (40, 128, 128, 3)


def test_a_grid_draws_each_clip_frame_once_and_tiles_the_panels(tmp_path, monkeypatch):
    """A contact sheet costs what its clips cost: a finished clip's last frame is not drawn again."""
    from motionchat.motion import render

    drawn = []
    original = render._Scene.frames

    def counted(self, whole=False):
        for frame in original(self, whole):
            drawn.append(1)
            yield frame

    monkeypatch.setattr(render._Scene, "frames", counted)
    motions = [wave_motion(12), wave_motion(5), wave_motion(8)]
    out = render_grid(motions, tmp_path / "grid.gif", titles=["a", "b", "c"], captions=["x", "y", ""], size_px=64)
    assert len(drawn) == 12 + 5 + 8
    drawn.clear()
    frames = gif_frames(out)
    assert frames.shape == (12, 2 * 64, 2 * 64, 3)  # 2 x 2 cells, the fourth empty
    assert np.abs(frames[-1].astype(int) - frames[-2]).max() > 0  # the longest clip still moves
    assert np.abs(frames[-1, 64:, :64].astype(int) - frames[8, 64:, :64]).max() <= 1  # the 8-frame one holds
    mp4 = render_grid(motions, tmp_path / "grid.mp4", ["a", "b", "c"], ["", "", ""], size_px=64)
    assert iio.imread(mp4, index=None).shape[:3] == (12, 2 * 64, 2 * 64)
    stills = iio.imread(render_grid(motions, tmp_path / "grid.png", ["a", "b", "c"], ["", "", ""], size_px=64, stills=4))
    assert stills.shape[:2] == (3 * 64, 4 * 64)
    with pytest.raises(MotionchatError, match="2 captions for 3 motions"):
        render_grid(motions, tmp_path / "x.gif", ["a", "b", "c"], ["", ""])
    with pytest.raises(MotionchatError, match=r"\.png"):
        render_grid(motions, tmp_path / "x.gif", ["a", "b", "c"], ["", "", ""], stills=4)


@pytest.mark.parametrize("lengths", [(30,), (30, 18)], ids=["one", "side-by-side"])
def test_redrawing_only_what_changed_gives_the_whole_frames(lengths):
    from motionchat.motion.render import _Scene

    motions = [wave_motion(n) for n in lengths]
    motions[0][10:14] = motions[0][10]  # a still stretch: nothing but the path may change
    scene = _Scene(motions, [""] * len(motions), "a caption", 160, 20.0, HUMANML3D)
    reference = [np.asarray(image).copy() for image, _ in scene.frames(whole=True)]
    previous = None
    for t, (image, changed) in enumerate(scene.frames()):
        frame = np.asarray(image)
        assert np.array_equal(frame, reference[t]), f"frame {t}"
        if previous is not None:  # outside the boxes nothing changed
            outside = np.ones(frame.shape[:2], bool)
            for left, top, right, bottom in changed:
                outside[top:bottom, left:right] = False
            assert np.array_equal(frame[outside], previous[outside]), f"frame {t}"
        previous = frame.copy()
    assert len(reference) == max(lengths)
