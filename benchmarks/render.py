"""Seconds to write motion previews: a 196-frame GIF and MP4 at 480x480, and two motions side by side.

The motion is a walk made by forward kinematics on the HumanML3D skeleton (sinusoidal hip, knee
and arm swings while the root moves forward and turns), so no data set is needed.

    python benchmarks/render.py
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from motionchat.motion.render import render_motions
from motionchat.motion.rotations import qmul, quat_about_y, quat_from_axis_angle
from motionchat.motion.skeleton import HUMANML3D, forward_kinematics
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES, frames_to_seconds

SIZE_PX = 480


def _about(axis: int, angle_rad: np.ndarray) -> np.ndarray:
    rotvec = np.zeros(np.shape(angle_rad) + (3,))
    rotvec[..., axis] = angle_rad
    return quat_from_axis_angle(rotvec)


def walking_motion(n_frames: int = MAX_FRAMES, stride_hz: float = 0.9, turn_rad: float = 1.2) -> np.ndarray:
    """(T, 22, 3) joints of a figure walking along a gentle curve."""
    spec = HUMANML3D
    t_s = frames_to_seconds(np.arange(n_frames), HUMANML3D_FPS)
    phase = 2 * np.pi * stride_hz * t_s
    heading = turn_rad * t_s / t_s[-1]
    quats = np.zeros((n_frames, spec.n_joints, 4))
    quats[..., 0] = 1.0
    quats[:, 0] = quat_about_y(heading)
    # A local quaternion turns the bone that ends at its joint; about -X swings a limb forward.
    for side, sign in (("left", 1.0), ("right", -1.0)):
        swing = sign * np.sin(phase)  # > 0: this leg forward, the arm on this side back
        knee_bend = 0.08 + 0.55 * np.clip(sign * np.cos(phase), 0, None)  # bent while swinging forward
        quats[:, spec.joint_index(f"{side}_knee")] = _about(0, -0.45 * swing)
        quats[:, spec.joint_index(f"{side}_ankle")] = _about(0, knee_bend)
        arm_out = _about(2, np.full(n_frames, 0.12 * sign))  # keep the arms off the hips
        quats[:, spec.joint_index(f"{side}_elbow")] = qmul(arm_out, _about(0, 0.35 * swing))
        quats[:, spec.joint_index(f"{side}_wrist")] = _about(0, np.full(n_frames, -0.3))
    forward = np.stack([np.sin(heading), 0 * heading, np.cos(heading)], axis=-1)
    root = np.cumsum(forward * 1.2 / HUMANML3D_FPS, axis=0)  # 1.2 m/s
    root[:, 1] = 0.93 + 0.02 * np.cos(2 * phase)
    joints = forward_kinematics(quats, root, spec)
    joints[..., 1] -= joints[..., 1].min()
    return joints


def seconds_to_write(motions: list[np.ndarray], path: Path, **kwargs) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of this process and ffmpeg (less sensitive to other load)."""

    def cpu_s() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    start_s, start_cpu_s = time.perf_counter(), cpu_s()
    render_motions(motions, path, size_px=SIZE_PX, **kwargs)
    return time.perf_counter() - start_s, cpu_s() - start_cpu_s


def main() -> None:
    walk = walking_motion()
    other = walking_motion(n_frames=150, stride_hz=1.1, turn_rad=-0.8)
    caption = "a person walks forward along a gentle curve, swinging their arms"
    print(f"load_avg_1m: {os.getloadavg()[0]:.2f}  (cores: {os.cpu_count()})")
    runs = {
        f"gif_{len(walk)}f_{SIZE_PX}px": ([walk], "walk.gif", {"caption": caption}),
        f"mp4_{len(walk)}f_{SIZE_PX}px": ([walk], "walk.mp4", {"caption": caption}),
        f"gif_2x{len(walk)}f_{2 * SIZE_PX}x{SIZE_PX}px": ([walk, other], "pair.gif", {"titles": ["m1", "m2"]}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (motions, filename, kwargs) in runs.items():
            path = Path(tmp) / filename
            wall_s, cpu_s = seconds_to_write(motions, path, **kwargs)
            print(f"{name}_s: {wall_s:.2f}  (cpu_s: {cpu_s:.2f}, kb: {path.stat().st_size / 1024:.0f})")


if __name__ == "__main__":
    main()
