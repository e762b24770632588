"""Displacement errors of predicted joints (ADE/FDE); the tokenizer's MPJPE and codebook use live
beside it in `motionchat.vq.metrics` (re-exported here)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionchat.vq.metrics import CodebookUse, check_joint_pair, codebook_use, mpjpe_mm

__all__ = ["CodebookUse", "DisplacementErrors", "codebook_use", "displacement_errors", "mpjpe_mm"]


@dataclass(frozen=True)
class DisplacementErrors:
    """Average and final displacement errors of one motion, in metres, under two definitions.

    Args:
        ade_m / fde_m: per-joint Euclidean distance, averaged over joints (and frames for ADE).
        ade_flat_m / fde_flat_m: MotionGPT's definition: each frame flattened to one J*3 vector
            (66 values for 22 joints) and the distance between those vectors taken.
    """

    ade_m: float
    fde_m: float
    ade_flat_m: float
    fde_flat_m: float


def displacement_errors(predicted, target) -> DisplacementErrors:
    """(T, J, 3), (T, J, 3) joints over the frames being judged -> ADE/FDE both ways."""
    predicted, target = check_joint_pair(predicted, target)
    per_joint = np.linalg.norm(predicted - target, axis=-1)  # (T, J)
    flat = np.linalg.norm((predicted - target).reshape(len(target), -1), axis=-1)  # (T,)
    return DisplacementErrors(
        ade_m=float(per_joint.mean()), fde_m=float(per_joint[-1].mean()), ade_flat_m=float(flat.mean()), fde_flat_m=float(flat[-1])
    )
