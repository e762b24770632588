"""Physical plausibility of generated motion, measured on joints with the floor at y = 0.

The figures the corpus promises (and `benchmarks/synth_quality.py` prints): constant bone lengths,
no foot joint below the floor, planted feet that do not slide, no joint faster than a human
can move one, and a standing pelvis height in the human range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionchat.data.synth.body import ANKLE, ANKLE_FLAT_Y, HIP, LEG_M, TOE
from motionchat.motion.skeleton import HUMANML3D, bone_lengths
from motionchat.motion.timing import HUMANML3D_FPS

# A foot joint counts as on the floor within this height of where it rests on a flat foot.
CONTACT_MARGIN_M = 0.025
_FLAT_TOE_Y = 0.01


@dataclass(frozen=True)
class Plausibility:
    """Figures over a set of clips (metres, seconds)."""

    clips: int
    frames: int
    max_bone_error_m: float
    lowest_foot_m: float
    mean_slide_m: float  # per frame, over foot joints on the floor in two consecutive frames
    p99_slide_m: float
    contact_samples: int
    max_speed_mps: float
    standing_root_min_m: float
    standing_root_max_m: float
    standing_frames: int

    def lines(self) -> list[str]:
        return [
            f"clips {self.clips}, frames {self.frames}",
            f"bone length: max deviation {self.max_bone_error_m * 1000:.4f} mm (limit 1 mm)",
            f"floor: lowest foot joint {self.lowest_foot_m * 100:+.2f} cm (limit -2 cm)",
            f"foot sliding in contact: mean {self.mean_slide_m * 100:.3f} cm/frame, 99th percentile "
            f"{self.p99_slide_m * 100:.2f} cm/frame over {self.contact_samples} samples (limit: mean 1 cm/frame)",
            f"fastest joint: {self.max_speed_mps:.2f} m/s (limit 12 m/s)",
            f"standing pelvis height: {self.standing_root_min_m:.3f}..{self.standing_root_max_m:.3f} m over "
            f"{self.standing_frames} frames (limit 0.8..1.1 m)",
        ]

    def passes(self) -> bool:
        return (self.max_bone_error_m <= 1e-3 and self.lowest_foot_m >= -0.02 and self.mean_slide_m <= 0.01
                and self.max_speed_mps <= 12.0 and 0.8 <= self.standing_root_min_m and self.standing_root_max_m <= 1.1)


def measure(clips: list[np.ndarray]) -> Plausibility:
    """Figures over (T, 22, 3) joint arrays whose floor is y = 0."""
    bone_error, lowest, speed = 0.0, np.inf, 0.0
    slides, standing = [], []
    feet = [ANKLE[0], TOE[0], ANKLE[1], TOE[1]]
    rest_height = np.array([ANKLE_FLAT_Y, _FLAT_TOE_Y, ANKLE_FLAT_Y, _FLAT_TOE_Y])
    for joints in clips:
        joints = np.asarray(joints, dtype=np.float64)
        bone_error = max(bone_error, float(np.abs(bone_lengths(joints, HUMANML3D)[:, 1:] - HUMANML3D.bone_lengths_m[1:]).max()))
        lowest = min(lowest, float(joints[:, feet, 1].min()))
        speed = max(speed, float(np.linalg.norm(np.diff(joints, axis=0), axis=-1).max() * HUMANML3D_FPS))
        on_floor = joints[:, feet, 1] < rest_height + CONTACT_MARGIN_M  # (T, 4)
        both = on_floor[1:] & on_floor[:-1]
        step = np.linalg.norm(np.diff(joints[:, feet][..., [0, 2]], axis=0), axis=-1)
        slides.append(step[both])
        # Standing: all four foot joints down and both legs nearly straight.
        leg = np.linalg.norm(joints[:, list(ANKLE)] - joints[:, list(HIP)], axis=-1) / LEG_M
        upright = on_floor.all(1) & (leg > 0.97).all(1)
        standing.append(joints[upright, 0, 1])
    slides_all = np.concatenate(slides) if slides else np.zeros(0)
    standing_all = np.concatenate(standing) if standing else np.zeros(0)
    return Plausibility(
        clips=len(clips),
        frames=int(sum(len(c) for c in clips)),
        max_bone_error_m=bone_error,
        lowest_foot_m=lowest,
        mean_slide_m=float(slides_all.mean()) if len(slides_all) else 0.0,
        p99_slide_m=float(np.percentile(slides_all, 99)) if len(slides_all) else 0.0,
        contact_samples=int(len(slides_all)),
        max_speed_mps=speed,
        standing_root_min_m=float(standing_all.min()) if len(standing_all) else float("nan"),
        standing_root_max_m=float(standing_all.max()) if len(standing_all) else float("nan"),
        standing_frames=int(len(standing_all)),
    )
