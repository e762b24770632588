"""Mesh previews: the fitted body, shaded, on the skeleton preview's floor, as GIF or MP4.

Same look and camera rule as `motionchat.motion.render` (its camera fit, checkered floor,
supersampling, colours and MP4 writer are reused): triangles are painted far to near with
Pillow after back-face culling, with Lambert shading from a light above and beside the camera,
and the body casts a soft shadow straight down. Dense meshes are first simplified by vertex
clustering (cells never merge vertices of different body parts), which keeps a 196-frame clip
to seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_path
from motionchat.motion import render
from motionchat.motion.render import (
    PREVIEW_SUFFIXES,
    SHADOW_ALPHA,
    TEXT,
    TEXT_MUTED,
    TRAJECTORY,
    TRAJECTORY_AHEAD,
    body_size,
    fit_camera,
)
from motionchat.motion.smpl.fit import SmplFit
from motionchat.motion.smpl.model import BodyModel
from motionchat.motion.timing import HUMANML3D_FPS, frames_to_seconds

BODY_COLOUR = np.array([122.0, 150.0, 196.0])
MAX_PREVIEW_FACES = 6000
_AMBIENT, _SKY, _DIFFUSE = 0.38, 0.12, 0.62



def simplify_mesh(
    rest_vertices: np.ndarray, faces: np.ndarray, part_of_vertex: np.ndarray, max_faces: int = MAX_PREVIEW_FACES
) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering on the rest mesh: (V,) cluster of each vertex and the (F', 3) faces
    between clusters, at most `max_faces` of them (unless the body parts alone need more).

    Vertices merge only within one grid cell and one body part (`part_of_vertex`, e.g. the joint
    that skins each vertex most), so fingers and thighs never fuse. Cells grow by half until the
    face count fits; faces whose corners collapse together are dropped.
    """
    used = np.unique(faces)
    cluster = np.full(len(rest_vertices), -1)
    cluster[used] = np.arange(len(used))
    simplified = cluster[faces]
    extent = float(np.ptp(rest_vertices[used], axis=0).max())
    cell_m = extent / 400
    while len(simplified) > max_faces and cell_m < extent:
        cell_m *= 1.5
        cells = np.floor(rest_vertices[used] / cell_m).astype(np.int64)
        keys = np.concatenate([cells, part_of_vertex[used, None]], axis=1)
        _, labels = np.unique(keys, axis=0, return_inverse=True)
        cluster[used] = labels.ravel()
        simplified = cluster[faces]
        a, b, c = simplified.T
        simplified = simplified[(a != b) & (b != c) & (a != c)]
        _, first = np.unique(np.sort(simplified, axis=1), axis=0, return_index=True)
        simplified = simplified[np.sort(first)]
    return cluster, simplified


def _cluster_positions(vertices: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """(T, V, 3) vertices -> (T, C, 3) mean position of each cluster's vertices."""
    used = cluster >= 0
    n_clusters = cluster.max() + 1
    sums = np.zeros((vertices.shape[0], n_clusters, 3))
    np.add.at(sums, (slice(None), cluster[used]), vertices[:, used])
    counts = np.bincount(cluster[used], minlength=n_clusters)
    return sums / counts[None, :, None]


def _outward(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The faces, flipped if their winding makes the mesh's signed volume negative."""
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    volume = np.einsum("fc,fc->f", a, np.cross(b, c)).sum()
    return faces if volume >= 0 else faces[:, ::-1]


class _MeshScene:
    """Camera, floor and shading of one mesh clip; `frame(t)` draws frame t."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, root_path: np.ndarray, caption: str | None,
                 size_px: int, fps: float):
        s = render.SUPERSAMPLE
        self.fps = fps
        self.n_frames = len(vertices)
        self.width = self.height = size_px * s
        self.vertices, self.faces = vertices, faces
        self.line_px = max(2.0, size_px / 90) * s
        self.small_font = render.load_font(int(size_px / 34) * s)
        caption_font = render.load_font(int(size_px / 26) * s)
        pad = int(size_px / 40) * s
        caption_lines = render.wrap_text(caption, caption_font, self.width - 2 * pad, 3) if caption else []
        line_h = int(caption_font.size * 1.25)
        header_h = pad + line_h * len(caption_lines)

        size = body_size(vertices)
        self.floor_y = float(vertices[..., 1].min())
        points = vertices.reshape(-1, 3)
        grounded = points.copy()
        grounded[:, 1] = self.floor_y
        box = (pad, header_h + pad, self.width - pad, self.height - 2 * pad - self.small_font.size)
        self.camera = camera = fit_camera(np.concatenate([points, grounded]), box)
        light = -camera.forward + 0.9 * camera.up - 0.4 * camera.right
        self.light = light / np.linalg.norm(light)

        self.background = Image.new("RGB", (self.width, self.height), render.BACKGROUND)
        render.draw_floor(camera, grounded, self.floor_y, size, self.background)
        draw = ImageDraw.Draw(self.background)
        on_floor = root_path.copy()
        on_floor[:, 1] = self.floor_y
        self.path_px, _ = camera.project(on_floor)
        draw.line([tuple(p) for p in self.path_px], fill=TRAJECTORY_AHEAD, width=self._path_width(), joint="curve")
        for k, line in enumerate(caption_lines):
            draw.text((pad, pad + k * line_h), line, fill=TEXT, font=caption_font)

    def _path_width(self) -> int:
        return max(1, int(round(self.line_px * 0.6)))

    def frame(self, t: int) -> Image.Image:
        image = self.background.copy()
        draw = ImageDraw.Draw(image, "RGBA")
        if t > 0:
            draw.line([tuple(p) for p in self.path_px[: t + 1]], fill=TRAJECTORY, width=self._path_width())
        corners = self.vertices[t][self.faces]  # (F, 3, 3)
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=-1, keepdims=True), 1e-12)
        self._draw_shadow(image, corners, normals)

        centres = corners.mean(axis=1)
        facing = np.einsum("fc,fc->f", normals, self.camera.eye - centres) > 0
        corners, normals, centres = corners[facing], normals[facing], centres[facing]
        px, _ = self.camera.project(corners)
        depth = self.camera.to_camera(centres)[:, 2]
        shade = _AMBIENT + _SKY * normals[:, 1] + _DIFFUSE * np.clip(normals @ self.light, 0.0, None)
        colours = np.clip(BODY_COLOUR * shade[:, None], 0, 255).astype(np.uint8)
        for i in np.argsort(-depth):  # far to near
            colour = tuple(colours[i].tolist())
            draw.polygon(px[i].ravel().tolist(), fill=colour, outline=colour)

        clock = f"{frames_to_seconds(t, self.fps):.2f} s"
        font = self.small_font
        pad = int(font.size * 0.7)
        draw.text((self.width - pad - font.getlength(clock), self.height - pad - font.size), clock,
                  fill=TEXT_MUTED, font=font)
        return image.reduce(render.SUPERSAMPLE)

    def _draw_shadow(self, image: Image.Image, corners: np.ndarray, normals: np.ndarray) -> None:
        """Faces pointing down, dropped onto the floor, cover the body's footprint exactly once."""
        down = corners[normals[:, 1] < 0].copy()
        down[..., 1] = self.floor_y
        px, _ = self.camera.project(down)
        mask = Image.new("L", image.size, 0)
        mask_draw = ImageDraw.Draw(mask)
        for triangle in px:
            mask_draw.polygon(triangle.ravel().tolist(), fill=SHADOW_ALPHA, outline=SHADOW_ALPHA)
        image.paste((0, 0, 0), mask=mask)


def _write_gif(scene: _MeshScene, path: Path) -> None:
    """One adaptive palette for the whole clip, taken from a few frames, so colours don't flicker."""
    frames = [scene.frame(t) for t in range(scene.n_frames)]
    picks = frames[:: max(1, len(frames) // 4)][:4]
    strip = Image.new("RGB", (picks[0].width * len(picks), picks[0].height))
    for k, picked in enumerate(picks):
        strip.paste(picked, (k * picked.width, 0))
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    quantized = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    quantized[0].save(path, format="GIF", save_all=True, append_images=quantized[1:],
                      duration=1000.0 / scene.fps, loop=0, optimize=False)


def _scene(
    fit: SmplFit, body_model: BodyModel, caption: str | None, size_px: int, fps: float, max_faces: int
) -> _MeshScene:
    if size_px < 64:
        raise MotionchatError(f"preview size {size_px} px is too small; use at least 64")
    if not fps > 0:
        raise MotionchatError(f"preview fps must be positive, got {fps}")
    module = body_model.module
    rest = module.v_template.numpy()
    part = module.lbs_weights.argmax(dim=1).numpy()
    cluster, faces = simplify_mesh(rest, _outward(rest, body_model.faces), part, max_faces)
    vertices = _cluster_positions(fit.vertices(body_model), cluster)
    return _MeshScene(vertices, faces, fit.joints[:, 0], caption, size_px + size_px % 2, fps)


def render_mesh_video(
    fit: SmplFit,
    body_model: BodyModel,
    path: str | os.PathLike,
    caption: str | None = None,
    size_px: int = 480,
    fps: float = HUMANML3D_FPS,
    max_faces: int = MAX_PREVIEW_FACES,
) -> Path:
    """Write the fitted body as a GIF or MP4 (by `path`'s extension), `size_px` square."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PREVIEW_SUFFIXES:
        raise MotionchatError(
            f"{path}: previews are written as .gif or .mp4, not '{path.suffix}'; change the extension"
        )
    scene = _scene(fit, body_model, caption, size_px, fps, max_faces)
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            _write_gif(scene, tmp)
        else:
            frames = (scene.frame(t) for t in range(scene.n_frames))
            size = (scene.width // render.SUPERSAMPLE, scene.height // render.SUPERSAMPLE)
            render.write_mp4(frames, size, scene.fps, tmp)
    return path


def render_mesh_frame(
    fit: SmplFit, body_model: BodyModel, frame: int, path: str | os.PathLike, size_px: int = 480,
    max_faces: int = MAX_PREVIEW_FACES,
) -> Path:
    """One frame of the mesh preview as a PNG: a still, or a quick look at a fit."""
    path = Path(path)
    if not 0 <= frame < fit.n_frames:
        raise MotionchatError(f"{path}: frame {frame} is outside the motion's 0..{fit.n_frames - 1}")
    scene = _scene(fit, body_model, None, size_px, HUMANML3D_FPS, max_faces)
    with atomic_path(path) as tmp:
        scene.frame(frame).save(tmp, format="PNG")
    return path
