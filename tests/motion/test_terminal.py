import io

import numpy as np
import pytest
from rich.console import Console

from motionchat.errors import MotionchatError
from motionchat.motion import terminal
from motionchat.motion.render import head_joint, limb_kind
from motionchat.motion.skeleton import HUMANML3D, KITML, forward_kinematics
from motionchat.motion.terminal import BrailleCanvas, TerminalView, frame_to_braille, play_in_terminal

SHOW_CURSOR = "\x1b[?25h"
HIDE_CURSOR = "\x1b[?25l"


def standing(n_frames: int = 1, spec=HUMANML3D, offsets=None) -> np.ndarray:
    """The rest pose walking slowly forward: (T, J, 3)."""
    quats = np.zeros((n_frames, spec.n_joints, 4))
    quats[..., 0] = 1.0
    root = np.stack([np.zeros(n_frames), np.full(n_frames, 0.95), np.linspace(0, 1, n_frames)], axis=-1)
    joints = forward_kinematics(quats, root, spec, offsets)
    joints[..., 1] -= joints[..., 1].min()
    return joints


def rows_with_style(view: TerminalView, canvas: BrailleCanvas, kinds: set[str]) -> np.ndarray:
    styles = {2 + i for i, chain in enumerate(view.skeleton.chains) if limb_kind(chain, view.skeleton) in kinds}
    return np.nonzero(np.isin(canvas.styles, list(styles)).any(axis=1))[0]


def test_frame_is_braille_of_the_requested_size():
    lines = frame_to_braille(standing()[0], width_cells=40, height_cells=16)
    assert len(lines) == 16 and all(len(line) == 40 for line in lines)
    assert all(0x2800 <= ord(ch) <= 0x28FF for line in lines for ch in line)
    assert sum(ch != "\u2800" for line in lines for ch in line) > 30


@pytest.mark.parametrize("upside_down", [False, True])
def test_head_is_drawn_above_the_feet(upside_down):
    joints = standing()
    if upside_down:
        joints = joints * np.array([1.0, -1.0, 1.0])
    view = TerminalView(joints, HUMANML3D, 40, 16)
    canvas = view.canvas(joints[0])
    head_rows = np.nonzero((canvas.styles == view.head_style).any(axis=1))[0]
    leg_rows = rows_with_style(view, canvas, {"left_leg", "right_leg"})
    if upside_down:
        assert head_rows.max() > leg_rows.max()
    else:
        assert head_rows.min() < leg_rows.min()
        assert head_rows.max() < leg_rows.max()


def test_left_and_right_limbs_get_their_own_colours():
    joints = standing()
    view = TerminalView(joints, HUMANML3D, 40, 16)
    text = view.canvas(joints[0]).text(view.palette)
    styles = {str(span.style) for span in text.spans}
    assert {"rgb(214,48,49)", "rgb(28,100,200)"} <= styles  # left leg red, right leg blue


def test_kit_skeleton_draws_without_assuming_22_joints():
    joints = standing(1, KITML, offsets=KITML.raw_offsets * 150.0)
    assert head_joint(KITML) == 4
    lines = frame_to_braille(joints[0], skeleton=KITML, width_cells=30, height_cells=12)
    assert len(lines) == 12


def test_not_a_terminal_prints_one_frame_and_returns():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=50, height=20)
    shown = play_in_terminal(standing(40), console=console)
    assert shown == 1
    text = out.getvalue()
    assert "frame 21/40" in text and "2.00 s" in text
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in text)
    assert HIDE_CURSOR not in text


def test_terminal_playback_shows_every_frame_and_restores_the_cursor():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=50, height=20, color_system="truecolor")
    shown = play_in_terminal(standing(6), console=console, fps=500, loop=2)
    assert shown == 12
    text = out.getvalue()
    assert HIDE_CURSOR in text and text.rstrip().endswith(SHOW_CURSOR)
    assert "frame 6/6" in text


def test_ctrl_c_stops_playback_cleanly(monkeypatch):
    calls = []

    def interrupted_sleep(seconds):
        calls.append(seconds)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(terminal.time, "sleep", interrupted_sleep)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=50, height=20)
    shown = play_in_terminal(standing(30), console=console, loop=5)
    assert shown == 3
    assert out.getvalue().rstrip().endswith(SHOW_CURSOR)


def test_bad_input_is_a_user_error():
    joints = standing(5)
    joints[2, 0, 0] = np.inf
    console = Console(file=io.StringIO(), force_terminal=False)
    with pytest.raises(MotionchatError, match="frame 2 holds NaN or Inf"):
        play_in_terminal(joints, console=console)
    with pytest.raises(MotionchatError, match="shape"):
        frame_to_braille(np.zeros((21, 3)))
