"""Seconds to write motion previews: a 196-frame GIF and MP4 at 480x480, and two motions side by side.

The motion is a walk made by forward kinematics on the HumanML3D skeleton (sinusoidal hip, knee
and arm swings while the root moves forward and turns), so no data set is needed. Each figure is a
median of --repeats runs, beside the baseline it replaces: the classic preview, a matplotlib 3-D
stick figure per frame written with matplotlib's Pillow GIF writer at the same size (written here,
not part of motionchat; timed once, it is slow).

    python benchmarks/render.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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


def classic_matplotlib_gif(joints: np.ndarray, path: Path, size_px: int = SIZE_PX) -> None:
    """The classic preview: each frame a matplotlib 3-D plot of the chains, saved as a GIF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    dpi = 100
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    ax = fig.add_subplot(projection="3d")
    low, high = joints.reshape(-1, 3).min(0), joints.reshape(-1, 3).max(0)
    ax.set(xlim=(low[0], high[0]), ylim=(low[2], high[2]), zlim=(low[1], high[1]))
    lines = [ax.plot([], [], [], linewidth=3)[0] for _ in HUMANML3D.chains]

    def draw(t: int):
        for line, chain in zip(lines, HUMANML3D.chains):
            x, y, z = joints[t, list(chain)].T
            line.set_data_3d(x, z, y)  # Y up in the data, Z up in matplotlib
        return lines

    FuncAnimation(fig, draw, frames=len(joints)).save(path, writer=PillowWriter(fps=HUMANML3D_FPS), dpi=dpi)
    plt.close(fig)


def cpu_s() -> float:
    """CPU seconds of this process and its children (ffmpeg): less sensitive to other load."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def seconds(write, repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `write()` over `repeats` runs."""
    wall, cpu = [], []
    for _ in range(repeats):
        start_s, start_cpu_s = time.perf_counter(), cpu_s()
        write()
        wall.append(time.perf_counter() - start_s)
        cpu.append(cpu_s() - start_cpu_s)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    args = parser.parse_args()
    walk = walking_motion()
    other = walking_motion(n_frames=150, stride_hz=1.1, turn_rad=-0.8)
    caption = "a person walks forward along a gentle curve, swinging their arms"
    print(f"load_avg_1m: {os.getloadavg()[0]:.2f}  (cores: {os.cpu_count()}); median of {args.repeats}")
    runs = {
        f"gif_{len(walk)}f_{SIZE_PX}px": ([walk], "walk.gif", {"caption": caption}),
        f"mp4_{len(walk)}f_{SIZE_PX}px": ([walk], "walk.mp4", {"caption": caption}),
        f"gif_2x{len(walk)}f_{2 * SIZE_PX}x{SIZE_PX}px": ([walk, other], "pair.gif", {"titles": ["m1", "m2"]}),
    }
    with tempfile.TemporaryDirectory() as tmp:
        render_motions([walk], Path(tmp) / "warm.gif", size_px=SIZE_PX)  # fonts and plugins load once
        figures = {}
        for name, (motions, filename, kwargs) in runs.items():
            path = Path(tmp) / filename
            figures[name] = seconds(lambda m=motions, p=path, k=kwargs: render_motions(m, p, size_px=SIZE_PX, **k), args.repeats)
            wall_s, cpu = figures[name]
            print(f"{name}_s: {wall_s:.3f}  (cpu_s: {cpu:.3f}, kb: {path.stat().st_size / 1024:.0f})")
        classic = Path(tmp) / "classic.gif"
        wall_s, cpu = seconds(lambda: classic_matplotlib_gif(walk, classic), 1)
        ours_s, ours_cpu = figures[f"gif_{len(walk)}f_{SIZE_PX}px"]
        print(f"classic matplotlib 3-D gif_{len(walk)}f_{SIZE_PX}px_s: {wall_s:.2f}  (cpu_s: {cpu:.2f}, "
              f"kb: {classic.stat().st_size / 1024:.0f}); ours is {wall_s / ours_s:.0f}x faster wall, "
              f"{cpu / ours_cpu:.0f}x cpu")  # fmt: skip


if __name__ == "__main__":
    main()
