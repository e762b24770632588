"""The data an evaluation reads: a dataset's test split (and train split for the retrieval
baseline), its statistics and, for the synthetic corpus, its programs and edit pairs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from motionchat.data.dataset import MotionClips, check_dataset_dir
from motionchat.data.synth.vocabulary import Program, program_from_dicts
from motionchat.errors import MotionchatError
from motionchat.filenames import EDITS_FILE, LABELS_FILE
from motionchat.motion.normalizer import Normalizer


def read_programs(root: Path) -> dict[str, Program] | None:
    """labels.jsonl as {clip id: program}, or None when the dataset has no labels (not synthetic)."""
    if not (root / LABELS_FILE).is_file():
        return None
    from motionchat.data.labels import read_labels

    try:
        return {clip_id: program_from_dicts(row["program"]) for clip_id, row in read_labels(root).items()}
    except (KeyError, TypeError) as err:
        raise MotionchatError(f"{root / LABELS_FILE}: a row lacks a readable program ({err}); regenerate the corpus") from None


@dataclass(frozen=True)
class EditPair:
    """One edit of the corpus: `source` clip changed by `instruction` into `target` clip; `index`
    is the position of the action changed (added: in the target), `difference` the corpus's
    sentence saying how the target differs from the source."""

    pair_id: str
    source: str
    target: str
    instruction: str
    kind: str
    index: int
    difference: str


def read_edit_pairs(root: Path) -> list[EditPair] | None:
    """The corpus's edit pairs, or None when the dataset has no edits.jsonl (not synthetic)."""
    if not (root / EDITS_FILE).is_file():
        return None
    from motionchat.data.labels import read_edits

    return [EditPair(f"{r['source']}>{r['target']}", r["source"], r["target"], r["instruction"], r["kind"], r["index"], r["difference"])
            for r in read_edits(root)]  # fmt: skip


class EvalData:
    """A dataset folder opened for evaluation.

    Args:
        root: HumanML3D-layout folder.
        limit: evaluate on the first `limit` test clips only (quick runs).
        split: the split evaluated ("val" for checks during training, which must not read the
            test split); `test` and everything named after it then mean that split.
    """

    def __init__(self, root: str | Path, limit: int | None = None, split: str = "test"):
        self.root = check_dataset_dir(root)
        self.test = MotionClips(self.root, split, with_captions=True)
        self.skeleton = self.test.skeleton
        self.normalizer = Normalizer.from_dir(self.root)
        if self.normalizer.dim != self.skeleton.feature_dim:
            raise MotionchatError(
                f"{self.normalizer.source}: statistics have {self.normalizer.dim} values per frame, the features "
                f"{self.skeleton.feature_dim}; use the dataset's own Mean/Std"
            )
        count = len(self.test) if limit is None else min(limit, len(self.test))
        self.test_indices = np.arange(count)
        self.programs = read_programs(self.root)
        self.edit_pairs = read_edit_pairs(self.root)

    @property
    def test_ids(self) -> list[str]:
        return [self.test.clip_ids[i] for i in self.test_indices]

    @cached_property
    def train(self) -> MotionClips:
        """The train split (for the retrieval baseline), loaded on first use."""
        return MotionClips(self.root, "train", self.skeleton, with_captions=True)

    @cached_property
    def test_edit_pairs(self) -> list[EditPair]:
        """Edit pairs whose source and target are both among the evaluated test clips."""
        ids = set(self.test_ids)
        return [p for p in self.edit_pairs or [] if p.source in ids and p.target in ids]

    def describe(self) -> str:
        extras = []
        if self.programs is not None:
            extras.append("programs")
        if self.edit_pairs:
            extras.append(f"{len(self.test_edit_pairs)} test edit pairs")
        more = f" with {', '.join(extras)}" if extras else ""
        return f"{self.root}: {len(self.test_indices)} of {len(self.test)} {self.test.split} clips ({self.skeleton.name}){more}"
