"""A chat session's memory: the motions made or opened so far (m1, m2, ...) and where files go.

Motion references from the router (`m3`, "it", "the previous one", a file path) are resolved
here, so "make it slower" works on the last motion and a path anywhere in a request loads that
file into the session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from motionchat.errors import MotionchatError
from motionchat.motion.skeleton import HUMANML3D, SkeletonSpec
from motionchat.tasks.routing import LAST, PREVIOUS


MAX_GUIDANCE = 20.0
TEMPERATURE_RANGE = (0.05, 5.0)
MAX_BEST_OF = 32  # motions drawn per text->motion answer, at most (best-of sampling)


def guidance_scale(text: str | float) -> float:
    """A guidance scale given by the user, checked (0..MAX_GUIDANCE; 1 is off)."""
    try:
        scale = float(text)
    except ValueError:
        raise MotionchatError(f"guidance must be a number such as 1 (off) or 3, not '{text}'") from None
    if not 0 <= scale <= MAX_GUIDANCE:  # also refuses nan
        raise MotionchatError(f"guidance must be between 0 and {MAX_GUIDANCE:g} (1 is off), not {text}")
    return scale


def sampling_temperature(text: str | float) -> float:
    """A sampling temperature given by the user, checked (1 samples the model's own distribution)."""
    low, high = TEMPERATURE_RANGE
    try:
        value = float(text)
    except ValueError:
        raise MotionchatError(f"temperature must be a number such as 0.6 or 1, not '{text}'") from None
    if not low <= value <= high:  # also refuses nan
        raise MotionchatError(f"temperature must be between {low:g} and {high:g} (lower keeps to likelier answers), not {text}")
    return value


def best_of_count(text: str | int) -> int:
    """Motions to draw per text->motion answer, given by the user, checked (1 is off)."""
    try:
        count = int(text)
    except ValueError:
        raise MotionchatError(f"best-of must be a whole number such as 1 (off) or 8, not '{text}'") from None
    if not 1 <= count <= MAX_BEST_OF:
        raise MotionchatError(f"best-of must be between 1 (off) and {MAX_BEST_OF}, not {text}")
    return count


@dataclass
class SessionMotion:
    """One remembered motion. `joints` are (T, J, 3) metres at the skeleton's frame rate; `features`
    its raw (T, D) features when it came as features (a user's file, a model's answer), kept so that
    encoding it again does not go through joints."""

    name: str
    joints: np.ndarray
    origin: str
    skeleton: SkeletonSpec = HUMANML3D
    files: list[Path] = field(default_factory=list)
    features: np.ndarray | None = None

    @property
    def frames(self) -> int:
        return len(self.joints)


@dataclass
class Session:
    out_dir: Path = Path("motionchat_out")
    samples: int = 1
    seed: int | None = None
    guidance: float | None = None  # classifier-free guidance; None: the bundle's own (`Bundle.guidance`)
    temperature: float | None = None  # sampling temperature; None: the bundle's own (`Bundle.temperature`)
    best_of: int | None = None  # motions drawn per text->motion answer; None: the bundle's own (`Bundle.best_of`)
    motions: list[SessionMotion] = field(default_factory=list)
    interactive: bool = False  # the REPL: hints may name its slash commands
    _counter: int = 0

    def add(
        self, joints: np.ndarray, origin: str, skeleton: SkeletonSpec = HUMANML3D, features: np.ndarray | None = None
    ) -> SessionMotion:
        self._counter += 1
        kept = None if features is None else np.asarray(features, dtype=np.float32)
        joints = np.asarray(joints, dtype=np.float32)
        motion = SessionMotion(f"m{self._counter}", joints, origin, skeleton, features=kept)
        self.motions.append(motion)
        return motion

    def clear(self) -> None:
        """Forget all motions; numbering starts again at m1. Files already written stay."""
        self.motions.clear()
        self._counter = 0

    def get(self, name: str) -> SessionMotion:
        for motion in self.motions:
            if motion.name == name.lower():
                return motion
        known = ", ".join(m.name for m in self.motions) or "none yet"
        hint = "use /list to see them" if self.interactive else "name a motion file instead (e.g. 'describe clip.npy')"
        raise MotionchatError(f"there is no motion {name} in this session (motions: {known}); {hint}")

    def resolve(self, ref: str, *, joint_map: Path | None = None) -> SessionMotion:
        """A router reference -> a motion, loading a file into the session when it names one."""
        if ref in (LAST, PREVIOUS):
            needed = 1 if ref == LAST else 2
            if len(self.motions) < needed:
                what = "a motion" if needed == 1 else "two motions"
                how = "make one, or /open a file" if self.interactive else "name a motion file in the request"
                raise MotionchatError(f"this needs {what} in the session first; {how}")
            return self.motions[-needed]
        if re.fullmatch(r"m\d+", ref, re.I):
            return self.get(ref)
        return self.open(Path(ref).expanduser(), joint_map=joint_map)

    def open(self, path: Path, *, joint_map: Path | None = None, normalizer=None) -> SessionMotion:
        from motionchat.motion.io import load_motion

        for motion in self.motions:  # the same file twice is the same motion
            if motion.origin == f"file {path}":
                return motion
        loaded = load_motion(path, joint_map=joint_map, normalizer=normalizer)
        return self.add(loaded.joints, f"file {path}", loaded.skeleton, loaded.features)

    def output_path(self, stem: str, suffix: str) -> Path:
        """A fresh path in the output folder: never overwrites, numbers instead (walk.gif, walk-2.gif)."""
        return self.out_dir / f"{self.free_stem(stem, [suffix])}{suffix}"

    def free_stem(self, stem: str, endings: list[str]) -> str:
        """One file-name stem for all of an answer's files (`endings` such as '.npy', '-features.npy'),
        none of which exists yet: walk.npy + walk-features.npy, else walk-2.npy + walk-2-features.npy."""
        self.check_out_dir()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_-]+", "-", stem)).strip("-")[:60].strip("-") or "motion"
        candidate, number = stem, 2
        while any((self.out_dir / f"{candidate}{ending}").exists() for ending in endings):
            candidate = f"{stem}-{number}"
            number += 1
        return candidate

    def check_out_dir(self) -> None:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise MotionchatError(f"--out {self.out_dir} is a file; --out takes a folder for the files made")

    # --- undo for a cancelled request -----------------------------------------------------------

    def mark(self) -> tuple[int, int]:
        return len(self.motions), self._counter

    def rollback(self, mark: tuple[int, int]) -> list[str]:
        """Forget the motions added since `mark` and delete their files; returns their names."""
        count, counter = mark
        dropped = self.motions[count:]
        for motion in dropped:
            for path in motion.files:
                path.unlink(missing_ok=True)
        del self.motions[count:]
        self._counter = counter
        return [m.name for m in dropped]
