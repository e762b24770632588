"""Motion previews: stick figures on a checkered floor, written as GIF or MP4.

Rasterised directly with Pillow through a small perspective camera instead of matplotlib 3-D:
the camera and the floor are fixed per clip, so the floor is drawn once and each frame only adds
the root trajectory, the figure's floor shadow and its coloured chains. Frames are drawn at twice
the size and box-filtered down, which anti-aliases the lines. Only what changes is redrawn: the
walked path grows by one segment a frame on a canvas kept between frames, the figure is drawn
onto it and wiped off again, and only the boxes around the figure (now and in the frame before)
and the new path segment are filtered down and, for a GIF, mapped to the palette. The picture is
the same as filtering and mapping whole frames, pixel for pixel, in about a fifth of the time
(`benchmarks/render.py`, which also times a matplotlib 3-D renderer for comparison).

Several motions are drawn side by side through one shared camera, so that their sizes and paths
compare directly; a shorter motion holds its last pose.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path
from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec
from motionchat.motion.timing import frames_to_seconds

PREVIEW_SUFFIXES = (".gif", ".mp4")

# Camera: in front of the first frame's facing (+Z), turned towards the figure's left and raised.
CAMERA_AZIMUTH_DEG = 32.0
CAMERA_ELEVATION_DEG = 22.0

HEAD_RADIUS_BODY_FRACTION = 0.055  # of `body_size`: about 9 cm on a 1.7 m figure
SUPERSAMPLE = 2  # frames are drawn at this multiple of the output size, then box-filtered down

Rgb = tuple[int, int, int]
Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded), in pixels

BACKGROUND: Rgb = (246, 246, 243)
FLOOR_TILES: tuple[Rgb, Rgb] = ((222, 224, 228), (234, 236, 239))
TEXT: Rgb = (40, 44, 52)
TEXT_MUTED: Rgb = (120, 126, 134)
TRAJECTORY: Rgb = (12, 150, 110)
SHADOW_ALPHA = 40  # the figure's shadow, black at this opacity
TRAJECTORY_AHEAD: Rgb = (160, 206, 190)  # the part of the path still to walk
# Left side warm, right side cool; legs darker than arms; the spine and head neutral.
LIMB_COLOURS: dict[str, Rgb] = {
    "spine": (52, 58, 70),
    "left_leg": (214, 48, 49),
    "left_arm": (245, 140, 30),
    "right_leg": (28, 100, 200),
    "right_arm": (40, 170, 210),
}


def limb_kind(chain: tuple[int, ...], skeleton: SkeletonSpec) -> str:
    """'spine', 'left_leg', 'left_arm', 'right_leg' or 'right_arm', from the chain's joint names.

    Names, not offset directions, decide the side: the rigs disagree on which axis is left.
    A sided chain that starts at the root is a leg, one that starts higher up is an arm.
    """
    names = [skeleton.joint_names[j] for j in chain[1:]]
    if any(n.startswith(("left", "l_")) for n in names):
        side = "left"
    elif any(n.startswith(("right", "r_")) for n in names):
        side = "right"
    else:
        return "spine"
    return f"{side}_leg" if chain[0] == skeleton.chains[0][0] else f"{side}_arm"


def chain_colours(skeleton: SkeletonSpec) -> list[Rgb]:
    return [LIMB_COLOURS[limb_kind(chain, skeleton)] for chain in skeleton.chains]


def head_joint(skeleton: SkeletonSpec) -> int:
    """The joint named 'head', else the end of the spine chain."""
    if "head" in skeleton.joint_names:
        return skeleton.joint_index("head")
    spines = [c for c in skeleton.chains if limb_kind(c, skeleton) == "spine"]
    return (spines[0] if spines else skeleton.chains[0])[-1]


def validate_joints(joints: np.ndarray, skeleton: SkeletonSpec, what: str = "motion") -> np.ndarray:
    """Check a (T, J, 3) joint array against the skeleton; return it as float64."""
    joints = np.asarray(joints)
    j = skeleton.n_joints
    if joints.ndim != 3 or joints.shape[1:] != (j, 3):
        raise MotionchatError(
            f"{what}: expected joint positions of shape (frames, {j}, 3) for the {skeleton.name} "
            f"skeleton, got {joints.shape}; convert features to joints first"
        )
    if joints.shape[0] == 0:
        raise MotionchatError(f"{what}: has no frames; pass at least one frame")
    if not np.issubdtype(joints.dtype, np.number):
        raise MotionchatError(f"{what}: joint positions have dtype {joints.dtype}; expected numbers")
    joints = joints.astype(np.float64)
    bad = ~np.isfinite(joints).all(axis=(1, 2))
    if bad.any():
        raise MotionchatError(
            f"{what}: frame {int(np.argmax(bad))} holds NaN or Inf values ({int(bad.sum())} frames in all); "
            "fix or trim the motion first"
        )
    return joints


def body_size(joints: np.ndarray) -> float:
    """Median over frames of the figure's largest bounding-box side (metres for metre data).

    Sizes of the floor tiles, the head and margins follow it, so data in other units still looks
    right.
    """
    extent = (joints.max(axis=1) - joints.min(axis=1)).max(axis=-1)
    return float(max(np.median(extent), 1e-6))


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with its image plane fitted to a pixel rectangle.

    pixel = offset + scale * (x_cam / depth, -y_cam / depth).
    """

    eye: np.ndarray
    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray
    scale: float
    offset: np.ndarray

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world -> (..., 3) camera coordinates (x right, y up, z depth)."""
        rel = points - self.eye
        return np.stack([rel @ self.right, rel @ self.up, rel @ self.forward], axis=-1)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) world -> (..., 2) pixels and (...) depths."""
        cam = self.to_camera(points)
        depth = np.maximum(cam[..., 2], 1e-6)
        plane = np.stack([cam[..., 0], -cam[..., 1]], axis=-1) / depth[..., None]
        return self.offset + self.scale * plane, depth


def fit_camera(
    points: np.ndarray,
    box_px: tuple[float, float, float, float],
    azimuth_deg: float = CAMERA_AZIMUTH_DEG,
    elevation_deg: float = CAMERA_ELEVATION_DEG,
) -> Camera:
    """Aim a camera at `points` (N, 3) and scale it so they fill `box_px` (left, top, right, bottom)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    towards_eye = np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])
    low, high = points.min(axis=0), points.max(axis=0)
    target = (low + high) / 2
    radius = max(float(np.linalg.norm(high - low)) / 2, 1e-6)
    # Far enough for a mild perspective and to keep every point (and the floor margin) in front.
    eye = target + towards_eye * 3.5 * radius
    forward = -towards_eye
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)

    unit = Camera(eye, right, up, forward, 1.0, np.zeros(2))
    plane, _ = unit.project(points)
    p_low, p_high = plane.min(axis=0), plane.max(axis=0)
    left, top, right_px, bottom = box_px
    span = np.maximum(p_high - p_low, 1e-9)
    scale = float(min((right_px - left) / span[0], (bottom - top) / span[1]))
    centre_px = np.array([(left + right_px) / 2, (top + bottom) / 2])
    offset = centre_px - scale * (p_low + p_high) / 2
    return Camera(eye, right, up, forward, scale, offset)


def load_font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size_px)


def _fit_line(line: str, font, width_px: float) -> str:
    """`line`, cut and ended with an ellipsis if it is wider than `width_px`."""
    if font.getlength(line) <= width_px:
        return line
    while line and font.getlength(line + "…") > width_px:
        line = line[:-1]
    return line.rstrip() + "…"


def wrap_text(text: str, font, width_px: float, max_lines: int) -> list[str]:
    """Greedy word wrap by measured width, at most `max_lines` lines (cut ones end in an ellipsis)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width_px:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] += " …"
    return [_fit_line(line, font, width_px) for line in lines]


def _blend(fg: Rgb, bg: Rgb, alpha: float) -> Rgb:
    return tuple(int(round(alpha * f + (1 - alpha) * b)) for f, b in zip(fg, bg))  # type: ignore[return-value]


def _gif_colours() -> list[Rgb]:
    """One fixed palette for every frame: the style colours and their anti-aliasing blends.

    Quantising to a known palette is fast and keeps the chain colours exact, where an adaptive
    palette per frame is slow and can merge the few pixels of a thin limb into the floor.
    Returns 255 colours; the GIF's last entry is `_UNUSED`.
    """
    grounds = [BACKGROUND, *FLOOR_TILES]
    for overlap in (1, 2):  # where two shadow bones cross, the shadow darkens twice
        grounds += [_blend((0, 0, 0), g, 1 - (1 - SHADOW_ALPHA / 255) ** overlap) for g in FLOOR_TILES]
    grounds.append(TRAJECTORY_AHEAD)
    inks = [*LIMB_COLOURS.values(), TRAJECTORY, TEXT, TEXT_MUTED]
    colours = list(dict.fromkeys(grounds + inks))
    for ink in inks:
        for ground in grounds:
            colours += [_blend(ink, ground, a) for a in (0.25, 0.5, 0.75)]
    for a, b in zip(inks, inks[1:] + inks[:1]):
        colours.append(_blend(a, b, 0.5))
    colours = list(dict.fromkeys(colours))[:255]
    return colours + [BACKGROUND] * (255 - len(colours))


def _palette_image(colours: list[Rgb]) -> Image.Image:
    palette = Image.new("P", (1, 1))
    palette.putpalette([c for rgb in colours for c in rgb])
    return palette


_UNUSED: Rgb = (255, 0, 255)  # no drawn colour is near it, so quantising never picks it


class _Panel:
    """One motion's projected geometry inside its panel, ready to draw frame by frame."""

    def __init__(self, joints: np.ndarray, camera: Camera, floor_y: float, skeleton: SkeletonSpec, size: float):
        self.n_frames = len(joints)
        self.joints_px, self.depth = camera.project(joints)
        shadow = joints.copy()
        shadow[..., 1] = floor_y
        self.shadow_px, _ = camera.project(shadow)
        root = skeleton.chains[0][0]
        self.trajectory_px = self.shadow_px[:, root]
        head = head_joint(skeleton)
        self.head_px = self.joints_px[:, head]
        self.head_radius_px = camera.scale * HEAD_RADIUS_BODY_FRACTION * size / self.depth[:, head]
        self.bones = [(a, b, colour) for chain, colour in zip(skeleton.chains, chain_colours(skeleton))
                      for a, b in zip(chain[:-1], chain[1:])]
        self.bone_index = np.array([(a, b) for a, b, _ in self.bones])

    @staticmethod
    def trajectory_width(line_px: float) -> int:
        return max(1, int(round(line_px * 0.6)))

    def draw_path_ahead(self, draw: ImageDraw.ImageDraw, dx: float, line_px: float) -> None:
        path = [tuple(p) for p in self.trajectory_px + np.array([dx, 0.0])]
        draw.line(path, fill=TRAJECTORY_AHEAD, width=self.trajectory_width(line_px), joint="curve")

    def draw_path_step(self, draw: ImageDraw.ImageDraw, t: int, dx: float, line_px: float) -> Box | None:
        """Add the path's segment into frame t (the walked path is kept from frame to frame); its box."""
        if not 0 < t < self.n_frames:
            return None
        segment = self.trajectory_px[t - 1 : t + 1] + np.array([dx, 0.0])
        width = self.trajectory_width(line_px)
        draw.line([tuple(p) for p in segment], fill=TRAJECTORY, width=width)
        return _box_around(segment, width)

    def figure_box(self, t: int, dx: float, line_px: float) -> Box:
        """Pixels that `draw_figure(t)` can touch: bones, joints, head and shadow."""
        t = min(t, self.n_frames - 1)
        r = max(self.head_radius_px[t], max(1, int(round(line_px))) / 2)
        points = np.concatenate([self.joints_px[t], self.shadow_px[t], self.head_px[t] + [[-r, -r], [r, r]]])
        return _box_around(points + np.array([dx, 0.0]), max(1, int(round(line_px))))

    def draw_figure(self, draw: ImageDraw.ImageDraw, ink: dict, t: int, dx: float, line_px: float) -> None:
        """Frame t's figure and shadow; `ink` from `figure_inks(draw)`."""
        t = min(t, self.n_frames - 1)  # a shorter motion holds its last pose
        core = draw.draw
        bone_w = max(1, int(round(line_px)))
        shadow = (self.shadow_px[t] + [dx, 0.0]).tolist()
        for a, b, _ in self.bones:
            core.draw_lines((shadow[a], shadow[b]), ink["shadow"], bone_w)

        pts = (self.joints_px[t] + [dx, 0.0]).tolist()
        r = bone_w / 2
        # Far bones first, so nearer limbs cover them.
        bone_depth = self.depth[t][self.bone_index].mean(axis=1)
        for i in np.argsort(-bone_depth).tolist():
            a, b, colour = self.bones[i]
            core.draw_lines((pts[a], pts[b]), ink[colour], bone_w)
            for x, y in (pts[a], pts[b]):
                core.draw_ellipse((x - r, y - r, x + r, y + r), ink[colour], 1)
        hx, hy = (self.head_px[t] + [dx, 0.0]).tolist()
        hr = max(float(self.head_radius_px[t]), r)
        core.draw_ellipse((hx - hr, hy - hr, hx + hr, hy + hr), ink[LIMB_COLOURS["spine"]], 1)



def figure_inks(draw: ImageDraw.ImageDraw) -> dict:
    """Every figure colour as the ink of Pillow's drawing core (`draw.draw`). `ImageDraw.line` and
    `.ellipse` are these core calls after parsing the colour, which took half the time of drawing
    the ~90 small shapes of a frame."""
    inks = {colour: draw.draw.draw_ink(colour) for colour in LIMB_COLOURS.values()}
    inks["shadow"] = draw.draw.draw_ink((0, 0, 0, SHADOW_ALPHA))
    return inks


def _box_around(points_px: np.ndarray, margin_px: float) -> Box:
    """The whole pixels around (N, 2) points plus a margin, widened to even edges (so the 2x2
    blocks of the supersampling filter fall inside it whole)."""
    low = np.floor(points_px.min(axis=0) - margin_px - 2).astype(int)
    high = np.ceil(points_px.max(axis=0) + margin_px + 2).astype(int)
    s = SUPERSAMPLE
    return (int(low[0]) // s * s, int(low[1]) // s * s, -(-int(high[0]) // s) * s, -(-int(high[1]) // s) * s)


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _clip(box: Box, width: int, height: int) -> Box | None:
    left, top, right, bottom = max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height)
    return (left, top, right, bottom) if left < right and top < bottom else None


def draw_floor(camera: Camera, grounded: np.ndarray, floor_y: float, size: float, image: Image.Image) -> None:
    """A checkered floor under the motion's whole extent plus a margin, drawn on `image` (a panel's
    background, or the first panel's part of it)."""
    tile = size / 3.5
    margin = 0.6 * size
    low = grounded[:, [0, 2]].min(axis=0) - margin
    high = grounded[:, [0, 2]].max(axis=0) + margin
    tile = max(tile, float((high - low).max()) / 60)  # bound the tile count for long walks
    i0, j0 = np.floor(low / tile).astype(int)
    i1, j1 = np.ceil(high / tile).astype(int)
    ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
    corners = np.stack([ii * tile, np.full(ii.shape, floor_y), jj * tile], axis=-1)
    px, _ = camera.project(corners)
    draw = ImageDraw.Draw(image)
    for a in range(ii.shape[0] - 1):
        for b in range(ii.shape[1] - 1):
            quad = [tuple(px[a, b]), tuple(px[a + 1, b]), tuple(px[a + 1, b + 1]), tuple(px[a, b + 1])]
            draw.polygon(quad, fill=FLOOR_TILES[(ii[a, b] + jj[a, b]) % 2])


class _Scene:
    """The fixed parts (camera, floor, titles) of a preview, and the drawing of frame t."""

    def __init__(self, motions: list[np.ndarray], titles: list[str], caption: str | None,
                 size_px: int, fps: float, skeleton: SkeletonSpec):
        s = SUPERSAMPLE
        self.fps = fps
        self.n_frames = max(len(m) for m in motions)
        self.panel_w = size_px * s
        self.width, self.height = self.panel_w * len(motions), size_px * s
        self.line_px = max(2.0, size_px / 90) * s

        title_font = load_font(int(size_px / 24) * s)
        caption_font = load_font(int(size_px / 26) * s)
        self.small_font = load_font(int(size_px / 34) * s)
        pad = int(size_px / 40) * s
        caption_lines = wrap_text(caption, caption_font, self.width - 2 * pad, 3) if caption else []
        line_h = int(caption_font.size * 1.25) if caption_lines else 0
        header_h = pad + line_h * len(caption_lines)
        title_h = int(title_font.size * 1.3) if any(titles) else 0

        everything = np.concatenate(motions)
        size = body_size(everything)
        floor_y = float(everything[..., 1].min())
        grounded = everything.reshape(-1, 3).copy()
        grounded[:, 1] = floor_y
        # The head is drawn as a disc around its joint: keep the whole disc in view.
        head = everything[:, head_joint(skeleton)]
        head_offsets = HEAD_RADIUS_BODY_FRACTION * size * np.vstack([np.eye(3), -np.eye(3)])
        around_head = (head[:, None] + head_offsets).reshape(-1, 3)
        fit_points = np.concatenate([everything.reshape(-1, 3), grounded, around_head])
        box = (pad, header_h + title_h + pad, self.panel_w - pad, self.height - 2 * pad - self.small_font.size)
        camera = fit_camera(fit_points, box)
        self.panels = [_Panel(m, camera, floor_y, skeleton, size) for m in motions]

        # The floor is drawn on the first panel (tiles that reach past it are drawn over next) and
        # copied to the others: no image of its own.
        self.background = Image.new("RGB", (self.width, self.height), BACKGROUND)
        draw_floor(camera, grounded, floor_y, size, self.background)
        if len(motions) > 1:
            floor = self.background.crop((0, 0, self.panel_w, self.height))
            for i in range(1, len(motions)):
                self.background.paste(floor, (i * self.panel_w, 0))
            del floor
        draw = ImageDraw.Draw(self.background)
        for i, (title, panel) in enumerate(zip(titles, self.panels)):
            panel.draw_path_ahead(draw, i * self.panel_w, self.line_px)
            if title:
                title = _fit_line(title, title_font, self.panel_w - 2 * pad)
                x = (i + 0.5) * self.panel_w - title_font.getlength(title) / 2
                draw.text((x, header_h), title, fill=TEXT, font=title_font)
        for k, line in enumerate(caption_lines):
            draw.text((pad, pad + k * line_h), line, fill=TEXT, font=caption_font)
        self._draw_legend(draw, pad)
        # Each motion's length, not a running clock: a clock would change a far corner of every
        # frame and so triple the size of a GIF, which stores only the rectangle that changed.
        font = self.small_font
        for i, motion in enumerate(motions):
            length = f"{len(motion)} frames · {frames_to_seconds(len(motion), fps):.1f} s"
            x = (i + 1) * self.panel_w - pad - font.getlength(length)
            draw.text((x, self.height - pad - font.size), length, fill=TEXT_MUTED, font=font)
        for i in range(1, len(motions)):  # a thin rule between panels
            draw.line([(i * self.panel_w, header_h), (i * self.panel_w, self.height)], fill=FLOOR_TILES[0], width=s)

    def _draw_legend(self, draw: ImageDraw.ImageDraw, pad: int) -> None:
        font = self.small_font
        x, y = pad, self.height - pad - font.size
        for label, kind in (("left", "left_leg"), ("right", "right_leg")):
            r = font.size * 0.35
            cy = y + font.size * 0.6
            draw.ellipse([x, cy - r, x + 2 * r, cy + r], fill=LIMB_COLOURS[kind])
            x += 2 * r + font.size * 0.3
            draw.text((x, y), label, fill=TEXT_MUTED, font=font)
            x += font.getlength(label) + font.size

    @property
    def size(self) -> tuple[int, int]:
        """Output (width, height) in pixels."""
        return self.width // SUPERSAMPLE, self.height // SUPERSAMPLE

    def frames(self, whole: bool = False, once: bool = False) -> Iterator[tuple[Image.Image, list[Box]]]:
        """Each frame at the output size, with the boxes outside which it equals the frame before.

        One image is updated in place and yielded every time: use it before asking for the next.
        `whole` filters every frame down whole (slow; the reference the tests compare against).
        `once`: the scene is not drawn again, so its background becomes the canvas (one full-size
        image less in memory) rather than being copied.
        """
        s = SUPERSAMPLE
        if self.background is None:
            raise RuntimeError("this scene was drawn with once=True; make a new one")
        # the background plus the paths walked so far
        canvas, self.background = (self.background, None) if once else (self.background.copy(), self.background)
        draw = ImageDraw.Draw(canvas, "RGBA")
        image = canvas.reduce(s)
        inks = figure_inks(draw)
        previous: list[Box | None] = []
        for t in range(self.n_frames):
            figures: list[Box | None] = []
            changed: list[Box] = []
            for i, panel in enumerate(self.panels):  # the panels are apart: one box each
                dx = i * self.panel_w
                path = panel.draw_path_step(draw, t, dx, self.line_px)
                figures.append(_clip(panel.figure_box(t, dx, self.line_px), self.width, self.height))
                around = [b for b in (path, figures[i], previous[i] if previous else None) if b is not None]
                if around and (box := _clip(_union(around), self.width, self.height)):
                    changed.append(box)
            clean = [(canvas.crop(box), box) for box in figures if box is not None]
            for i, panel in enumerate(self.panels):
                panel.draw_figure(draw, inks, t, i * self.panel_w, self.line_px)
            if whole:
                changed = [(0, 0, self.width, self.height)]
            for box in changed:
                image.paste(canvas.crop(box).reduce(s), (box[0] // s, box[1] // s))
            for crop, box in clean:  # wipe the figure off again
                canvas.paste(crop, box[:2])
            previous = figures
            yield image, [tuple(c // s for c in box) for box in changed]


class _Grid:
    """Scenes tiled in rows of `columns`, frame by frame; a shorter scene holds its last frame.

    Each scene is drawn once per frame of its own (`_Scene.frames`), so a sheet costs what its
    clips cost one by one."""

    def __init__(self, scenes: list[_Scene], columns: int):
        self.scenes, self.columns = scenes, columns
        self.fps = scenes[0].fps
        self.n_frames = max(scene.n_frames for scene in scenes)
        self.cell = scenes[0].size
        rows = -(-len(scenes) // columns)
        self.size = (columns * self.cell[0], rows * self.cell[1])

    def frames(self) -> Iterator[tuple[Image.Image, list[Box]]]:
        """As `_Scene.frames`: one image updated in place, with the boxes that changed."""
        image = Image.new("RGB", self.size, BACKGROUND)
        streams = [scene.frames() for scene in self.scenes]
        for t in range(self.n_frames):
            changed: list[Box] = []
            for k, (scene, stream) in enumerate(zip(self.scenes, streams)):
                if t >= scene.n_frames:
                    continue  # holds its last frame
                frame, boxes = next(stream)
                x, y = (k % self.columns) * self.cell[0], (k // self.columns) * self.cell[1]
                for box in [(0, 0, *self.cell)] if t == 0 else boxes:
                    image.paste(frame.crop(box), (x + box[0], y + box[1]))
                    changed.append((x + box[0], y + box[1], x + box[2], y + box[3]))
            yield image, changed or [(0, 0, 1, 1)]


def _stills(scene: _Scene, count: int) -> np.ndarray:
    """`count` frames spread evenly over the scene, side by side."""
    times = np.linspace(0, scene.n_frames - 1, count).round().astype(int).tolist()
    kept = {t: np.asarray(image).copy() for t, (image, _) in enumerate(scene.frames()) if t in times}
    return np.concatenate([kept[t] for t in times], axis=1)


def _write_gif(frames: Iterator[tuple[Image.Image, list[Box]]], fps: float, path: Path) -> None:
    """Frame by frame, each as the rectangle that differs from the frame before (a still frame as
    its top-left pixel, so that every motion frame stays a GIF frame), all with one global palette.

    Written through Pillow's GIF encoder one frame at a time (`getheader`, `getdata`) rather than
    `save(append_images=...)`, which keeps every frame (and a copy) until the end and gives every
    frame but the first its own copy of the palette.
    """
    from PIL import GifImagePlugin, ImageChops

    palette = _palette_image([*_gif_colours(), _UNUSED])
    duration_ms = 1000.0 / fps
    indexed = None
    with open(path, "wb") as fp:
        for image, changed in frames:
            if indexed is None:
                indexed = image.quantize(palette=palette, dither=Image.Dither.NONE)
                header, _ = GifImagePlugin.getheader(indexed, None, {"loop": 0, "duration": duration_ms})
                region = (0, 0, *indexed.size)
            else:
                box = _union(changed)
                before = indexed.crop(box)
                after = image.crop(box).quantize(palette=palette, dither=Image.Dither.NONE)
                indexed.paste(after, box[:2])
                inner = ImageChops.subtract_modulo(after, before).getbbox(alpha_only=False) or (0, 0, 1, 1)
                region = (box[0] + inner[0], box[1] + inner[1], box[0] + inner[2], box[1] + inner[3])
                header = []
            for chunk in [*header, *GifImagePlugin.getdata(indexed.crop(region), region[:2], duration=duration_ms)]:
                fp.write(chunk)
        fp.write(b";")


def write_mp4(frames: Iterable[Image.Image], size: tuple[int, int], fps: float, path: Path) -> None:
    """Frames of `size` (width, height) pixels, as H.264 in an MP4."""
    import imageio_ffmpeg

    # Flat colours compress well: 'veryfast' gives smaller files than the default preset, sooner.
    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
        macro_block_size=2, output_params=["-preset", "veryfast", "-crf", "20", "-f", "mp4"],
    )
    writer.send(None)  # start ffmpeg
    try:
        for image in frames:
            writer.send(image.tobytes())
    finally:
        writer.close()


def _check_preview(path: Path, motions: list[np.ndarray], titles: list[str], size_px: int, fps: float | None,
                   skeleton: SkeletonSpec, suffixes: tuple[str, ...] = PREVIEW_SUFFIXES) -> tuple[list[np.ndarray], float]:
    """The validated motions (float64) and frame rate of a preview, or a one-line MotionchatError."""
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        allowed = " or ".join(suffixes)
        raise MotionchatError(f"{path}: previews are written as {allowed}, not '{path.suffix}'; change the extension")
    if not motions:
        raise MotionchatError(f"{path}: no motion to render; pass at least one")
    if len(titles) != len(motions):
        raise MotionchatError(f"{path}: {len(titles)} titles for {len(motions)} motions; pass one title per motion")
    if size_px < 64:
        raise MotionchatError(f"{path}: preview size {size_px} px is too small; use at least 64")
    fps = skeleton.fps if fps is None else fps
    if not fps > 0:
        raise MotionchatError(f"{path}: fps must be positive, got {fps}")
    names = [f"motion {i + 1} of {len(motions)}" if len(motions) > 1 else "motion" for i in range(len(motions))]
    return [validate_joints(m, skeleton, name) for m, name in zip(motions, names)], fps


def render_motions(
    motions: list[np.ndarray],
    path: str | os.PathLike,
    titles: list[str] | None = None,
    caption: str | None = None,
    size_px: int = 480,
    fps: float | None = None,
    skeleton: SkeletonSpec = HUMANML3D,
) -> Path:
    """Write joints arrays (T, J, 3) side by side as a GIF or MP4 (chosen by `path`'s extension).

    Each panel is `size_px` square (rounded up to even, as H.264 needs); `titles` label the panels
    (default "m1", "m2", ... when there are several) and `caption` is wrapped across the top.
    `fps` defaults to the skeleton's frame rate (20 for HumanML3D).
    """
    path = Path(path)
    if titles is None:
        titles = [f"m{i + 1}" for i in range(len(motions))] if len(motions) > 1 else [""]
    motions, fps = _check_preview(path, motions, list(titles), size_px, fps, skeleton)
    scene = _Scene(motions, list(titles), caption, size_px + size_px % 2, fps, skeleton)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            _write_gif(scene.frames(once=True), fps, tmp)
        else:
            write_mp4((image for image, _ in scene.frames(once=True)), scene.size, fps, tmp)
    return path


def render_grid(
    motions: list[np.ndarray],
    path: str | os.PathLike,
    titles: list[str],
    captions: list[str],
    size_px: int = 240,
    stills: int = 0,
    fps: float | None = None,
    skeleton: SkeletonSpec = HUMANML3D,
) -> Path:
    """Several motions, each in its own panel (own camera, title and caption), in one file.

    Animated (.gif, .mp4): the panels tiled in a near-square grid, drawn frame by frame as one
    preview, so it costs what rendering the motions one by one costs. With `stills` > 0 (.png):
    one row per motion of that many frames evenly spread over it.
    """
    path = Path(path)
    suffixes = (".png",) if stills else PREVIEW_SUFFIXES
    motions, fps = _check_preview(path, motions, list(titles), size_px, fps, skeleton, suffixes)
    if len(captions) != len(motions):
        raise MotionchatError(f"{path}: {len(captions)} captions for {len(motions)} motions; pass one caption per motion")
    scenes = [_Scene([m], [t], c, size_px + size_px % 2, fps, skeleton) for m, t, c in zip(motions, titles, captions)]
    if stills:
        with atomic_path(path) as tmp:
            Image.fromarray(np.concatenate([_stills(scene, stills) for scene in scenes], axis=0)).save(tmp, format="PNG")
        return path
    grid = _Grid(scenes, columns=int(np.ceil(np.sqrt(len(scenes)))))
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".gif":
            _write_gif(grid.frames(), fps, tmp)
        else:
            write_mp4((image for image, _ in grid.frames()), grid.size, fps, tmp)
    return path
