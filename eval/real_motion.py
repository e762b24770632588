"""The tokenizer on real motion, and how far a corpus's motion is from real motion.

Real clips (BVH, ASF/AMC, HumanML3D `.npy` features or joints) come in through the project's
own importers (`motionchat.motion.io.load_motion`), so what is measured is what a user's clip
goes through. Three measurements:

- `reconstruction`: encode then decode with a tokenizer; root-aligned MPJPE per joint group and
  per 2-second window of the clip.
- `motion_statistics` + `statistic_distances`: an evaluator-free comparison of two sets of clips
  (e.g. a synthetic corpus and real motion): per-frame joint speeds, accelerations and pose
  features, compared per statistic with the 1-D Wasserstein distance in units of the real
  clips' spread.
- `caption_hit`: does a caption name the action of a CMU trial description ("Start Walk Stop")?
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionchat.motion.features import features_to_joints, joints_to_features
from motionchat.motion.io import load_motion
from motionchat.motion.skeleton import HUMANML3D
from motionchat.motion.timing import HUMANML3D_FPS, MAX_FRAMES

# Joint groups of the 22-joint skeleton (the pelvis is the root: its root-aligned error is 0).
JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "spine+head": (3, 6, 9, 12, 15),
    "shoulders": (13, 14, 16, 17),
    "elbows+wrists": (18, 19, 20, 21),
    "hips+knees": (1, 2, 4, 5),
    "ankles+feet": (7, 8, 10, 11),
}
WINDOW_FRAMES = 40  # 2 s at 20 fps: the unit of "MPJPE over time"

# The nine real fixtures of shared/realdata (the table), relative to that folder.
REALDATA_FIXTURES = (
    "cmu/bvh_mb_release/01_01.bvh",
    "cmu/asf_amc/01_01.amc",
    "cmu/asf_amc/11_01.amc",
    "cmu/bvh_max_release/131_01.bvh",
    "cmu/bvh_max_release/131_02.bvh",
    "cmu/bvh_max_release/131_03.bvh",
    "humanml3d/new_joint_vecs/000000.npy",
    "humanml3d/new_joint_vecs/000612.npy",
    "humanml3d/new_joint_vecs/012314.npy",
)
_STATS_NAMES = {"mean.npy", "std.npy"}


@dataclass(frozen=True)
class RealClip:
    """A real motion as the tokenizer sees it: raw 263-d features at 20 fps.

    Args:
        name: a short label (the file's folder and name).
        path: the file.
        features: (T, 263) raw features, T <= the `max_frames` asked for.
        description: what the importer read (format, frames, fps, units).
    """

    name: str
    path: Path
    features: np.ndarray
    description: str


def find_motion_files(folder: str | Path) -> list[Path]:
    """Every motion file under `folder`, sorted: `.bvh`, `.amc` and `.npy` (not Mean/Std).

    HumanML3D's `new_joints/` is skipped where a `new_joint_vecs/` beside it holds the same clips
    as features (the exact form; `new_joints` lacks the last processed frame)."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.rglob("*")):
        suffix = path.suffix.lower()
        if not path.is_file() or suffix not in (".bvh", ".amc", ".npy") or path.name.lower() in _STATS_NAMES:
            continue
        if suffix == ".npy" and path.parent.name == "new_joints" and (path.parent.parent / "new_joint_vecs" / path.name).is_file():
            continue
        if suffix == ".npy" and "meta" in path.relative_to(folder).parts:
            continue
        found.append(path)
    return found


def load_real_clip(path: str | Path, max_frames: int = MAX_FRAMES) -> RealClip:
    """The first `max_frames` feature frames of a motion file, made by the project's importers.

    Features of joints (BVH, ASF/AMC, joint `.npy`) are computed on the whole clip, then cut, as
    chat does with a user's file before the model reads its first `MAX_FRAMES` frames."""
    loaded = load_motion(path)
    if loaded.skeleton.name != HUMANML3D.name:
        raise ValueError(f"{path}: a {loaded.skeleton.name} motion; these measurements need the 22-joint skeleton")
    features = loaded.features if loaded.features is not None else joints_to_features(loaded.joints, HUMANML3D)
    features = features[:max_frames]
    path = Path(path)
    return RealClip(f"{path.parent.name}/{path.name}", path, np.asarray(features, np.float32), loaded.description)


@dataclass(frozen=True)
class Reconstruction:
    """Tokenizer encode -> decode of one clip, root-aligned errors in millimetres.

    Args:
        frames: feature frames of the clip.
        codes: motion codes it became.
        mpjpe_mm: over all frames and joints (the pelvis, root-aligned, counts as 0, as in
            MotionGPT's and stage 1's figure).
        groups_mm: per `JOINT_GROUPS` entry.
        windows_mm: per `WINDOW_FRAMES`-frame window, in order (the last one may be shorter).
        errors_mm: (T, J) per-frame, per-joint errors, for pooling over clips.
    """

    frames: int
    codes: list[int]
    mpjpe_mm: float
    groups_mm: dict[str, float]
    windows_mm: list[float]
    errors_mm: np.ndarray


def joint_errors_mm(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(T, J) root-aligned per-joint errors in mm of two (T, J, 3) joint arrays in metres."""
    predicted = np.asarray(predicted, np.float64)
    target = np.asarray(target, np.float64)
    if predicted.shape != target.shape or predicted.ndim != 3:
        raise ValueError(f"need two (T, J, 3) arrays of one shape, got {predicted.shape} and {target.shape}")
    predicted = predicted - predicted[:, :1]
    target = target - target[:, :1]
    return 1000.0 * np.linalg.norm(predicted - target, axis=-1)


def summarise_errors(errors_mm: np.ndarray, codes: Sequence[int] = ()) -> Reconstruction:
    """A `Reconstruction` from (T, 22) per-joint errors."""
    windows = [float(errors_mm[i : i + WINDOW_FRAMES].mean()) for i in range(0, len(errors_mm), WINDOW_FRAMES)]
    groups = {name: float(errors_mm[:, list(joints)].mean()) for name, joints in JOINT_GROUPS.items()}
    return Reconstruction(len(errors_mm), list(codes), float(errors_mm.mean()), groups, windows, errors_mm)


def reconstruction(codec, features: np.ndarray, fit: bool = False) -> Reconstruction:
    """Encode (with `fit`: `MotionCodec.fit`) and decode raw `features` with a `MotionCodec`;
    compare the joints of both."""
    codes = codec.fit(features) if fit else codec.encode(features)
    decoded = codec.decode(codes, len(features))
    truth = features_to_joints(features, codec.skeleton)
    return summarise_errors(joint_errors_mm(decoded.joints, truth), codes)


@dataclass(frozen=True)
class ErrorSources:
    """Where one clip's reconstruction error comes from (MPJPE in mm, root-aligned).

    Args:
        mpjpe_mm: encode -> decode, as `reconstruction`.
        unquantized_mm: the encoder's output decoded without the codebook: what any quantizer
            (a bigger codebook, residual layers) could at best reach with this encoder and decoder.
        own_root_mm: the reconstruction given the clip's own root path (yaw and ground velocity,
            pelvis height; the first 4 values a frame): what is left is the body's pose. The
            root's heading is integrated over time, so a turn missed early turns every later frame.
    """

    mpjpe_mm: float
    unquantized_mm: float
    own_root_mm: float


def error_sources(codec, features: np.ndarray) -> ErrorSources:
    """`ErrorSources` of raw `features` (T, D) under a `MotionCodec`."""
    truth = features_to_joints(features, codec.skeleton)
    decoded = codec.decode(codec.encode(features), len(features)).features
    normalised = torch.from_numpy(codec.normalizer.normalize(np.asarray(features, np.float32)[None]))
    unquantized = codec.vq.reconstruct_unquantized(normalised)[0].numpy()
    own_root = decoded.copy()
    own_root[:, :4] = features[:, :4]

    def error(f: np.ndarray) -> float:
        return float(joint_errors_mm(features_to_joints(f, codec.skeleton), truth).mean())

    return ErrorSources(error(decoded), error(codec.normalizer.denormalize(unquantized)), error(own_root))


# ---------------------------------------------------------------------------------------------
# Evaluator-free statistics: what real motion does that a corpus may not.

_LEGS, _ARMS = (1, 2, 4, 5, 7, 8, 10, 11), (16, 17, 18, 19, 20, 21)
HEADING_SMOOTHING_FRAMES = 10.0  # sigma of the heading the body-frame speeds are measured in
_SPINE = (3, 6, 9, 12, 15)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors (..., 3)."""
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def motion_statistics(joints: np.ndarray, fps: float = HUMANML3D_FPS) -> dict[str, np.ndarray]:
    """Per-frame statistics of one (T >= 3, 22, 3) clip (metres, Y up), name -> (T',) values.

    Speeds and accelerations of limbs are the body's own movement: relative to the pelvis, in a
    frame that turns with the body's heading (smoothed over about a second, so turning on the
    spot is not counted but a twist of the trunk is). The pelvis's are horizontal and vertical
    over the ground. Pose features are heights over the pelvis, spreads, joint angles and the
    lean of the trunk."""
    from scipy.ndimage import gaussian_filter1d

    from motionchat.motion.skeleton import facing_directions

    j = np.asarray(joints, np.float64)
    if j.ndim != 3 or j.shape[1:] != (22, 3) or len(j) < 3:
        raise ValueError(f"need (T >= 3, 22, 3) joints, got {j.shape}")
    forward = gaussian_filter1d(facing_directions(j, HUMANML3D), HEADING_SMOOTHING_FRAMES, axis=0, mode="nearest")
    yaw = np.arctan2(forward[:, 0], forward[:, 2])  # (T,) heading; 0 faces +z
    c, s = np.cos(-yaw)[:, None], np.sin(-yaw)[:, None]
    rel = j - j[:, :1]
    local = np.stack([c * rel[..., 0] + s * rel[..., 2], rel[..., 1], -s * rel[..., 0] + c * rel[..., 2]], axis=-1)
    vel = np.diff(local, axis=0) * fps  # (T-1, 22, 3)
    acc = np.diff(local, 2, axis=0) * fps * fps  # (T-2, 22, 3)
    root_vel = np.diff(j[:, 0], axis=0) * fps
    speed = np.linalg.norm(vel, axis=-1)
    accel = np.linalg.norm(acc, axis=-1)
    return {
        "pelvis ground speed (m/s)": np.linalg.norm(root_vel[:, [0, 2]], axis=-1),
        "pelvis vertical speed (m/s)": np.abs(root_vel[:, 1]),
        "legs speed (m/s)": speed[:, list(_LEGS)].mean(1),
        "arms speed (m/s)": speed[:, list(_ARMS)].mean(1),
        "spine+head speed (m/s)": speed[:, list(_SPINE)].mean(1),
        "legs acceleration (m/s2)": accel[:, list(_LEGS)].mean(1),
        "arms acceleration (m/s2)": accel[:, list(_ARMS)].mean(1),
        "spine+head acceleration (m/s2)": accel[:, list(_SPINE)].mean(1),
        "pelvis height (m)": j[:, 0, 1] - j[:, :, 1].min(1),
        "wrist height over pelvis (m)": local[:, [20, 21], 1].mean(1),
        "wrist spread (m)": np.linalg.norm(j[:, 20] - j[:, 21], axis=-1),
        "ankle spread (m)": np.linalg.norm(j[:, 7] - j[:, 8], axis=-1),
        "knee bend (deg)": 180.0 - _angle(j[:, [1, 2]] - j[:, [4, 5]], j[:, [7, 8]] - j[:, [4, 5]]).mean(1),
        "elbow bend (deg)": 180.0 - _angle(j[:, [16, 17]] - j[:, [18, 19]], j[:, [20, 21]] - j[:, [18, 19]]).mean(1),
        "trunk lean (deg)": _angle(j[:, 12] - j[:, 0], np.array([0.0, 1.0, 0.0])),
        "arm elevation (deg)": _angle(j[:, [20, 21]] - j[:, [16, 17]], np.array([0.0, -1.0, 0.0])).mean(1),
    }


def pooled_statistics(clips: Iterable[np.ndarray]) -> dict[str, np.ndarray]:
    """`motion_statistics` of several (T, 22, 3) clips, each statistic's frames pooled."""
    pooled: dict[str, list[np.ndarray]] = {}
    for joints in clips:
        for name, values in motion_statistics(joints).items():
            pooled.setdefault(name, []).append(values)
    if not pooled:
        raise ValueError("no clips to pool")
    return {name: np.concatenate(parts) for name, parts in pooled.items()}


def wasserstein_1d(a: np.ndarray, b: np.ndarray, quantiles: int = 512) -> float:
    """Wasserstein-1 distance of two 1-D samples: the mean gap between their quantile functions
    (on `quantiles` evenly spaced levels; exact in the limit)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples need values")
    levels = (np.arange(quantiles) + 0.5) / quantiles
    return float(np.abs(np.quantile(a, levels) - np.quantile(b, levels)).mean())


@dataclass(frozen=True)
class StatisticDistance:
    """One statistic of a corpus against the real reference.

    Args:
        name: the statistic, with its unit.
        distance: Wasserstein-1 / the reference's standard deviation (0: same distribution).
        corpus_median, real_median: medians, to read the direction of a gap.
    """

    name: str
    distance: float
    corpus_median: float
    real_median: float


def statistic_distances(corpus: Mapping[str, np.ndarray], real: Mapping[str, np.ndarray]) -> list[StatisticDistance]:
    """Per statistic, how far the corpus's distribution is from the real one (in real std units)."""
    out = []
    for name, reference in real.items():
        spread = max(float(np.std(reference)), 1e-9)
        out.append(
            StatisticDistance(name, wasserstein_1d(corpus[name], reference) / spread, float(np.median(corpus[name])), float(np.median(reference)))
        )
    return out


def local_poses(features: np.ndarray) -> np.ndarray:
    """(T, 22, 3) root-relative joint positions in the body's facing frame, as the features hold
    them (the pelvis at XZ 0 and its height; every joint's `positions` slot)."""
    from motionchat.motion.features import feature_layout

    layout = feature_layout(HUMANML3D)
    features = np.asarray(features, np.float64)
    root = np.zeros((len(features), 1, 3))
    root[:, 0, 1] = features[:, layout.root_height][:, 0]
    return np.concatenate([root, features[:, layout.positions].reshape(len(features), -1, 3)], axis=1)


def nearest_pose_mm(poses: np.ndarray, reference: np.ndarray, chunk: int = 512) -> np.ndarray:
    """For each of (N, J, 3) poses, the mean per-joint distance (mm) to its nearest pose in (M, J, 3)
    `reference` (nearest by the summed squared distance). A tokenizer trained on `reference` can
    hardly reconstruct a pose better than this: the figure says how well a corpus covers them."""
    a = np.asarray(poses, np.float64).reshape(len(poses), -1)
    b = np.asarray(reference, np.float64).reshape(len(reference), -1)
    b_sq = (b**2).sum(1)
    out = np.empty(len(a))
    for start in range(0, len(a), chunk):
        part = a[start : start + chunk]
        nearest = np.argmin(b_sq[None] - 2 * part @ b.T, axis=1)  # |a|^2 is the same along a row
        gap = part.reshape(len(part), -1, 3) - b[nearest].reshape(len(part), -1, 3)
        out[start : start + chunk] = 1000.0 * np.linalg.norm(gap, axis=-1).mean(1)
    return out


# ---------------------------------------------------------------------------------------------
# Captions of CMU trials against their descriptions.

# Action words of CMU's trial descriptions -> caption words that name that action.
CMU_ACTION_WORDS: dict[str, tuple[str, ...]] = {
    "walk": ("walk", "walks", "walking", "stroll", "strolls"),
    "run": ("run", "runs", "running", "jog", "jogs", "jogging"),
    "jog": ("run", "runs", "running", "jog", "jogs", "jogging"),
    "jump": ("jump", "jumps", "jumping", "hop", "hops", "hopping", "leap", "leaps"),
    "jumps": ("jump", "jumps", "jumping", "hop", "hops", "hopping", "leap", "leaps"),
    "hop": ("hop", "hops", "hopping", "jump", "jumps", "jumping"),
    "kick": ("kick", "kicks", "kicking"),
    "turn": ("turn", "turns", "turning", "spin", "spins"),
    "punch": ("punch", "punches", "punching", "strike", "strikes"),
    "strike": ("punch", "punches", "punching", "strike", "strikes"),
    "wave": ("wave", "waves", "waving"),
    "throw": ("throw", "throws", "throwing"),
    "sit": ("sit", "sits", "sitting", "seated"),
    "squat": ("squat", "squats", "squatting", "crouch", "crouches"),
    "dance": ("dance", "dances", "dancing"),
    "climb": ("climb", "climbs", "climbing"),
    "stretch": ("stretch", "stretches", "stretching"),
}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def description_actions(description: str) -> set[str]:
    """The action words of a CMU trial description that `CMU_ACTION_WORDS` knows."""
    return _words(description) & set(CMU_ACTION_WORDS)


def caption_hit(caption: str, description: str) -> bool | None:
    """Does the caption name an action of the description? None when the description has no
    action word this table knows (the trial cannot be scored)."""
    actions = description_actions(description)
    if not actions:
        return None
    words = _words(caption)
    return any(words & set(CMU_ACTION_WORDS[a]) for a in actions)


def read_cmu_descriptions(csv_path: str | Path) -> dict[str, str]:
    """CMU trial descriptions by trial name ("01_01"), from the CMU listing's CSV
    (columns "Subject", "Trial #", "Motion Description")."""
    import csv

    with open(csv_path, newline="", encoding="utf-8") as f:
        return {
            f"{int(row['Subject']):02d}_{int(row['Trial #']):02d}": row["Motion Description"].strip()
            for row in csv.DictReader(f)
            if row.get("Subject", "").strip().isdigit() and row.get("Trial #", "").strip().isdigit()
        }


def cmu_trial_name(path: str | Path) -> str | None:
    """"01_01" for CMU file names like 01_01.bvh or 131_03.amc; None for other names."""
    match = re.fullmatch(r"(\d+)_(\d+)", Path(path).stem)
    return f"{int(match.group(1)):02d}_{int(match.group(2)):02d}" if match else None
