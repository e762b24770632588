"""Play a motion in the terminal: a stick figure drawn in braille characters through rich.

Each character cell holds 2x4 braille dots, which are about square in a usual terminal font, so
the figure keeps its proportions. The camera is the previews' (`render.fit_camera`), fixed for
the whole clip; the floor's outline, the root's path and the coloured chains are drawn as dots,
and each cell takes the colour of the last thing drawn in it.
"""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.text import Text

from motionchat.errors import MotionchatError
from motionchat.motion.render import (
    TRAJECTORY,
    Camera,
    body_size,
    chain_colours,
    fit_camera,
    head_joint,
    validate_joints,
)
from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec
from motionchat.motion.timing import frames_to_seconds

BRAILLE_BLANK = 0x2800
# Bit of each dot in a braille cell, indexed [row 0..3][column 0..1] (Unicode's dot numbering).
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int32)
_FLOOR = "grey35"
_STYLE_NONE = -1
# Smaller than the previews' head: a disc of coarse braille dots looks bigger than it is.
_HEAD_RADIUS_BODY_FRACTION = 0.045

DEFAULT_WIDTH_CELLS = 60
DEFAULT_HEIGHT_CELLS = 22


def _rgb_style(rgb: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*rgb)


class BrailleCanvas:
    """A grid of braille dots with one style index per character cell."""

    def __init__(self, width_cells: int, height_cells: int):
        self.width_cells, self.height_cells = width_cells, height_cells
        self.dots = np.zeros((height_cells * 4, width_cells * 2), dtype=bool)
        self.styles = np.full((height_cells, width_cells), _STYLE_NONE, dtype=np.int32)

    def line(self, start: np.ndarray, end: np.ndarray, style: int, every: int = 1) -> None:
        """Set the dots from `start` to `end` (x, y in dots); `every` > 1 draws a dotted line."""
        n = int(np.ceil(np.abs(end - start).max())) + 1
        xy = np.rint(np.linspace(start, end, n)[::every]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < self.dots.shape[1]) & (xy[:, 1] >= 0) & (xy[:, 1] < self.dots.shape[0])
        x, y = xy[inside, 0], xy[inside, 1]
        self.dots[y, x] = True
        self.styles[y // 4, x // 2] = style

    def disc(self, centre: np.ndarray, radius: float, style: int) -> None:
        r = max(radius, 1.0)
        ys, xs = np.mgrid[0 : self.dots.shape[0], 0 : self.dots.shape[1]]
        inside = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= r * r
        self.dots |= inside
        cells = inside.reshape(self.height_cells, 4, self.width_cells, 2).any(axis=(1, 3))
        self.styles[cells] = style

    def codes(self) -> np.ndarray:
        """(height_cells, width_cells) Unicode code points."""
        blocks = self.dots.reshape(self.height_cells, 4, self.width_cells, 2)
        return BRAILLE_BLANK + (blocks * _DOT_BITS[None, :, None, :]).sum(axis=(1, 3))

    def lines(self) -> list[str]:
        return ["".join(map(chr, row)) for row in self.codes()]

    def text(self, palette: list[str]) -> Text:
        """Rich text, each run of equally styled cells in its style (`palette[style index]`)."""
        out = Text()
        for r, row in enumerate(self.codes()):
            styles = self.styles[r]
            start = 0
            for c in range(1, self.width_cells + 1):
                if c == self.width_cells or styles[c] != styles[start]:
                    chunk = "".join(map(chr, row[start:c]))
                    out.append(chunk, style=palette[styles[start]] if styles[start] != _STYLE_NONE else None)
                    start = c
            if r < self.height_cells - 1:
                out.append("\n")
        return out


class TerminalView:
    """A clip's fixed camera and floor on a braille canvas of `width_cells` x `height_cells`."""

    def __init__(self, joints: np.ndarray, skeleton: SkeletonSpec, width_cells: int, height_cells: int):
        self.skeleton = skeleton
        self.width_cells, self.height_cells = width_cells, height_cells
        self.floor_y = float(joints[..., 1].min())
        grounded = joints.reshape(-1, 3).copy()
        grounded[:, 1] = self.floor_y
        margin_dots = 2
        box = (margin_dots, margin_dots, width_cells * 2 - 1 - margin_dots, height_cells * 4 - 1 - margin_dots)
        self.camera: Camera = fit_camera(np.concatenate([joints.reshape(-1, 3), grounded]), box)
        size = body_size(joints)
        low = grounded[:, [0, 2]].min(axis=0) - 0.4 * size
        high = grounded[:, [0, 2]].max(axis=0) + 0.4 * size
        self.floor_edges = self._floor_outline(low, high)
        root = skeleton.chains[0][0]
        self.trajectory_dots, _ = self.camera.project(grounded.reshape(joints.shape)[:, root])
        # Styles: 0 floor, 1 trajectory, 2.. one per chain.
        self.palette = [_FLOOR, _rgb_style(TRAJECTORY)] + [_rgb_style(c) for c in chain_colours(skeleton)]
        self.head = head_joint(skeleton)
        self.head_style = 2 + next(i for i, chain in enumerate(skeleton.chains) if self.head in chain)
        head_depth = self.camera.to_camera(joints[0, self.head])[2]
        self.head_radius_dots = self.camera.scale * _HEAD_RADIUS_BODY_FRACTION * size / head_depth

    def _floor_outline(self, low: np.ndarray, high: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The floor rectangle's four edges, projected, as (start, end) pairs in dots."""
        corners = np.array([[low[0], low[1]], [high[0], low[1]], [high[0], high[1]], [low[0], high[1]]])
        world = np.stack([corners[:, 0], np.full(4, self.floor_y), corners[:, 1]], axis=-1)
        dots, _ = self.camera.project(world)
        return [(dots[i], dots[(i + 1) % 4]) for i in range(4)]

    def canvas(self, joints_frame: np.ndarray, trajectory_until: int | None = None) -> BrailleCanvas:
        canvas = BrailleCanvas(self.width_cells, self.height_cells)
        for a, b in self.floor_edges:
            canvas.line(a, b, style=0, every=2)
        if trajectory_until is not None and trajectory_until > 0:
            path = self.trajectory_dots[: trajectory_until + 1]
            for a, b in zip(path[:-1], path[1:]):
                canvas.line(a, b, style=1)
        pts, depth = self.camera.project(joints_frame)
        chains = list(enumerate(self.skeleton.chains))
        chains.sort(key=lambda item: -depth[list(item[1])].mean())  # far chains first
        for i, chain in chains:
            for a, b in zip(chain[:-1], chain[1:]):
                canvas.line(pts[a], pts[b], style=2 + i)
        canvas.disc(pts[self.head], self.head_radius_dots, style=self.head_style)
        return canvas


def frame_to_braille(
    joints_frame: np.ndarray,
    skeleton: SkeletonSpec = HUMANML3D,
    width_cells: int = DEFAULT_WIDTH_CELLS,
    height_cells: int = DEFAULT_HEIGHT_CELLS,
) -> list[str]:
    """One pose (J, 3) as `height_cells` lines of braille, framed on that pose alone."""
    joints = validate_joints(np.asarray(joints_frame)[None], skeleton, "pose")
    view = TerminalView(joints, skeleton, width_cells, height_cells)
    return view.canvas(joints[0]).lines()


def play_in_terminal(
    joints: np.ndarray,
    skeleton: SkeletonSpec = HUMANML3D,
    console: Console | None = None,
    fps: float | None = None,
    loop: int = 1,
    width: int | None = None,
) -> int:
    """Animate (T, J, 3) joints in the terminal `loop` times; return the number of frames shown.

    `fps` defaults to the skeleton's frame rate; `width` (cells) to the console's width.

    Ctrl-C stops the playback and leaves the terminal as it was. When the output is not a
    terminal (a pipe, a log), one frame from the middle of the clip is printed instead.
    """
    joints = validate_joints(joints, skeleton)
    fps = skeleton.fps if fps is None else fps
    if not fps > 0:
        raise MotionchatError(f"fps must be positive, got {fps}")
    console = console or Console()
    n_frames = len(joints)
    width_cells = max(16, min(width or console.width, console.width))
    height_cells = max(8, min(DEFAULT_HEIGHT_CELLS * width_cells // DEFAULT_WIDTH_CELLS, console.height - 2))
    view = TerminalView(joints, skeleton, width_cells, height_cells)
    total_s = frames_to_seconds(n_frames, fps)

    def screen(t: int) -> Text:
        out = view.canvas(joints[t], trajectory_until=t).text(view.palette)
        out.append(f"\nframe {t + 1}/{n_frames}  {frames_to_seconds(t, fps):.2f} s / {total_s:.2f} s", style="dim")
        return out

    if not console.is_terminal:
        console.print(screen(n_frames // 2))
        return 1

    shown = 0
    period_s = 1.0 / fps
    try:
        with Live(screen(0), console=console, auto_refresh=False, transient=False) as live:
            next_s = time.perf_counter()
            for _ in range(max(loop, 1)):
                for t in range(n_frames):
                    live.update(screen(t), refresh=True)
                    shown += 1
                    next_s += period_s
                    time.sleep(max(0.0, next_s - time.perf_counter()))
    except KeyboardInterrupt:
        pass  # Live's exit already restored the cursor
    return shown
