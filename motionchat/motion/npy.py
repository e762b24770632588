"""Motion `.npy` files: HumanML3D features (raw or normalised) or joint positions, in and out.

Accepted shapes: features (T, 263) / (T, 251), joints (T, 22, 3) / (T, 66) / (T, 21, 3) / (T, 63).
Whether features are raw or normalised is read from the data itself: in raw features every
joint's 6-D rotation is two orthonormal 3-vectors; z-scoring destroys that (the median
deviation is ~1e-7 on HumanML3D files, < 0.3 even with noise of 0.1 added to every value, and
> 0.8 once normalised, even for a single frame). Files are never unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.motion.arrays import load_npy_array
from motionchat.motion.features import feature_layout, features_to_joints
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import SKELETONS, SkeletonSpec, skeleton_for_feature_dim

# Median deviation of the 6-D rotations from orthonormal pairs below which features count as raw.
RAW_ROTATION_DEVIATION = 0.5


@dataclass(frozen=True)
class NpyMotion:
    """A motion read from a `.npy` file.

    Args:
        path: the file.
        joints: (T, J, 3) float32 positions (recovered from the features when the file held them).
        features: (T, D) float32 raw features, or None when the file held joints.
        kind: "features", "normalized_features" or "joints": what the file held.
        skeleton: the rig, from the array's shape.
        description: one line saying what was detected, for the user.
    """

    path: Path
    joints: np.ndarray
    features: np.ndarray | None
    kind: str
    skeleton: SkeletonSpec
    description: str


def rotation_deviation(features: np.ndarray, skeleton: SkeletonSpec) -> float:
    """Median over frames and joints of how far each 6-D rotation is from two orthonormal vectors."""
    pairs = features[:, feature_layout(skeleton).rotations_6d].reshape(len(features), -1, 2, 3).astype(np.float64)
    a, b = pairs[..., 0, :], pairs[..., 1, :]
    deviation = (
        np.abs(np.linalg.norm(a, axis=-1) - 1) + np.abs(np.linalg.norm(b, axis=-1) - 1) + np.abs((a * b).sum(-1))
    )
    return float(np.median(deviation))


def _skeleton_for_shape(shape: tuple[int, ...]) -> tuple[SkeletonSpec, str] | None:
    """The rig and the kind ("features" or "joints") an array shape stands for, if any."""
    if len(shape) == 2:
        try:
            return skeleton_for_feature_dim(shape[1]), "features"
        except KeyError:
            pass
    by_joints = {spec.n_joints: spec for spec in SKELETONS.values()}
    if len(shape) == 3 and shape[2] == 3 and shape[1] in by_joints:
        return by_joints[shape[1]], "joints"
    if len(shape) == 2 and shape[1] % 3 == 0 and shape[1] // 3 in by_joints:
        return by_joints[shape[1] // 3], "joints"
    return None


def _accepted_shapes() -> str:
    specs = list(SKELETONS.values())
    features = " or ".join(f"(T, {s.feature_dim})" for s in specs)
    joints = ", ".join(f"(T, {s.n_joints}, 3), (T, {s.n_joints * 3})" for s in specs)
    return f"features {features}, or joints {joints}"


def read_npy_motion(path: str | Path, normalizer: Normalizer | None = None) -> NpyMotion:
    """Read a motion `.npy`: features (raw, or normalised with `normalizer`) or joints."""
    path = Path(path)
    array = load_npy_array(path)
    found = _skeleton_for_shape(array.shape)
    if found is None:
        raise MotionchatError(f"{path}: array of shape {array.shape}; expected {_accepted_shapes()}")
    skeleton, kind = found
    n_frames = array.shape[0]
    if n_frames < 1:
        raise MotionchatError(f"{path}: has 0 frames; expected at least 1")

    if kind == "joints":
        joints = array.reshape(n_frames, skeleton.n_joints, 3).astype(np.float32)
        layout = "flattened " if array.ndim == 2 else ""
        return NpyMotion(path, joints, None, "joints", skeleton, f"{layout}{skeleton.name} joint positions")

    features = array.astype(np.float32)
    deviation = rotation_deviation(features, skeleton)
    name = f"{skeleton.feature_dim}-d {skeleton.name} features"
    if deviation < RAW_ROTATION_DEVIATION:
        note = "" if normalizer is None else "; the given statistics were not needed"
        description = f"raw {name}{note}"
        return NpyMotion(path, features_to_joints(features, skeleton), features, "features", skeleton, description)

    if normalizer is None:
        raise MotionchatError(
            f"{path}: looks like normalised {name} (its 6-D rotations are not orthonormal, deviation "
            f"{deviation:.2f}); pass --normalize STATS (a folder with Mean.npy and Std.npy) or a bundle "
            "holding the statistics it was normalised with"
        )
    try:
        raw = normalizer.denormalize(features).astype(np.float32)
    except MotionchatError as err:
        raise MotionchatError(f"{path}: {err}") from None
    raw_deviation = rotation_deviation(raw, skeleton)
    if raw_deviation >= RAW_ROTATION_DEVIATION:
        raise MotionchatError(
            f"{path}: neither raw nor normalised with {normalizer.source} (6-D rotations not orthonormal "
            f"before or after denormalising, deviation {raw_deviation:.2f}); check the file and --normalize"
        )
    description = f"normalised {name}, denormalised with {normalizer.source}"
    return NpyMotion(path, features_to_joints(raw, skeleton), raw, "normalized_features", skeleton, description)
