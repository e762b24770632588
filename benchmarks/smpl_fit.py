"""Seconds and millimetres of the SMPL fit (joints -> SMPL parameters), and of a mesh preview.

Uses your body model when `--smpl-dir` or MOTIONCHAT_SMPL_DIR points at one; otherwise the tests'
stand-in model (boxes over the HumanML3D skeleton, subdivided to about 8400 faces; see
tests/fixtures/tiny_smpl.py), which only tells the speed and how exactly a motion the body can
make is recovered. Motions: a 196-frame clip made by the body's own forward kinematics (smooth
random poses, knees and elbows bending as hinges, a non-zero shape), and the real HumanML3D
clips in ../shared/realdata when present (with the stand-in model their error mostly measures
how unlike a human pelvis its pelvis is).

    python benchmarks/smpl_fit.py [--smpl-dir PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from motionchat.motion.smpl import fit_smpl, load_body_model, render_mesh_video
from motionchat.motion.smpl.model import SMPL_DIR_ENV
from motionchat.motion.timing import MAX_FRAMES

ROOT = Path(__file__).resolve().parents[1]
REALDATA = ROOT / ".." / "shared" / "realdata" / "humanml3d" / "new_joints"
ITERS = (0, 10, 30, 60)
REPEATS = 5

sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from tiny_smpl import plausible_motion, write_tiny_model  # noqa: E402


def timed_fit(joints: np.ndarray, model, iters: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds over REPEATS fits, and the last fit."""
    walls, cpus = [], []
    for _ in range(REPEATS):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        fit = fit_smpl(joints, model, iters=iters)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return statistics.median(walls), statistics.median(cpus), fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smpl-dir", default=os.environ.get(SMPL_DIR_ENV))
    args = parser.parse_args()
    print(f"load_avg_1m: {os.getloadavg()[0]:.2f}  (cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()})")

    with tempfile.TemporaryDirectory() as tmp:
        if args.smpl_dir:
            model = load_body_model(args.smpl_dir)
            print(f"model: {model.path} ({model.model_type}, {model.gender})")
        else:
            write_tiny_model(tmp, "smpl", subdivisions=5)
            model = load_body_model(tmp, "smpl")
            print("model: stand-in from tests/fixtures/tiny_smpl.py (no --smpl-dir given)")

        global_orient, body_pose, transl = plausible_motion(MAX_FRAMES, seed=0)
        betas = np.linspace(-1.0, 1.0, model.num_betas)
        _, made = model.forward(global_orient, body_pose, transl, betas)
        motions = {f"forward_kinematics_{MAX_FRAMES}f": made}
        for clip in ("000000", "012314"):
            if (REALDATA / f"{clip}.npy").is_file():
                real = np.load(REALDATA / f"{clip}.npy").astype(np.float64)
                motions[f"humanml3d_{clip}_{len(real)}f"] = real

        wall0 = time.perf_counter()
        fit_smpl(made, model)
        print(f"first_fit_in_process_s: {time.perf_counter() - wall0:.2f}  (includes torch.optim's one-time import)")
        for name, joints in motions.items():
            for iters in ITERS:
                wall_s, cpu_s, fit = timed_fit(joints, model, iters)
                print(f"{name}_iters{iters}: {wall_s * 1000:.0f} ms  (cpu {cpu_s * 1000:.0f} ms)  "
                      f"mpjpe {fit.mpjpe_m * 1000:.2f} mm  max {fit.max_error_m * 1000:.1f} mm")

        fit = fit_smpl(made, model)
        path = Path(tmp) / "mesh.mp4"
        wall0 = time.perf_counter()
        render_mesh_video(fit, model, path)
        print(f"mesh_preview_mp4_{MAX_FRAMES}f_480px_s: {time.perf_counter() - wall0:.2f}  "
              f"({len(model.faces)} faces before simplification)")


if __name__ == "__main__":
    main()
