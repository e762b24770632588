"""Plain facts about a motion, for `motionchat info` and chat replies."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec
from motionchat.motion.timing import frames_to_seconds


@dataclass(frozen=True)
class MotionSummary:
    frames: int
    seconds: float
    head_height_m: float
    distance_m: float

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(joints: np.ndarray, skeleton: SkeletonSpec = HUMANML3D) -> MotionSummary:
    """Frames, duration, head height above the floor, and distance the root travelled on the floor.

    The head height is the median over frames, so a jump or a crouch does not dominate it.
    """
    joints = np.asarray(joints, dtype=np.float64)
    head = skeleton.joint_index("head")
    floor_y = joints[..., 1].min()
    root_xz = joints[:, 0][:, [0, 2]]
    return MotionSummary(
        frames=len(joints),
        seconds=frames_to_seconds(len(joints), skeleton.fps),
        head_height_m=float(np.median(joints[:, head, 1]) - floor_y),
        distance_m=float(np.linalg.norm(np.diff(root_xz, axis=0), axis=-1).sum()),
    )
