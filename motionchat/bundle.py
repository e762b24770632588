"""A trained model on disk: everything chat and evaluation need, in one folder.

    BUNDLE/
      config.json        format and version, skeleton, fps, feature dim, codebook size, vocabulary
                         layout, family ids, the presets of the three stages, a training record
      mean.npy std.npy   the normaliser the tokenizer was trained with
      vq.safetensors     the motion tokenizer (weights, codebook and its VQConfig)
      lm/                the language model (`motionchat.lm.storage`: HF save_pretrained + tokenizer;
                         `load_bundle` reads it without transformers, `motionchat.lm.runtime`)
      templates/         a snapshot of the task family files the model was tuned on
      card.md            what it was trained on and how, and how it scored

Nothing is unpickled: weights come from safetensors files and arrays from `.npy` without pickle.
`save_bundle` writes the folder beside its final place and renames it in, so a bundle on disk is
always complete; `load_bundle` checks the parts against each other and returns them in eval mode.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from motionchat.errors import MotionchatError
from motionchat.filenames import BUNDLE_MEAN_FILE as MEAN_FILE
from motionchat.filenames import BUNDLE_STD_FILE as STD_FILE
from motionchat.filenames import CARD_FILE, CONFIG_FILE, LM_DIR, TEMPLATES_DIR, VQ_FILE
from motionchat.lm.runtime import load_runtime_lm
from motionchat.lm.storage import LanguageModel
from motionchat.lm.storage import replace_directory, save_lm
from motionchat.lm.vocab import VocabLayout
from motionchat.motion.arrays import load_npy_array, write_npy
from motionchat.motion.normalizer import Normalizer
from motionchat.motion.skeleton import SKELETONS, SkeletonSpec
from motionchat.tasks.families import Family, load_families
from motionchat.vq.codec import MotionCodec
from motionchat.vq.io import load_vq, save_vq
from motionchat.vq.model import MotionVQVAE

if TYPE_CHECKING:
    from motionchat.lm.generation import DecodingConfig

BUNDLE_FORMAT = "motionchat-bundle"
FORMAT_VERSION = 1
PARTS = (CONFIG_FILE, MEAN_FILE, STD_FILE, VQ_FILE, LM_DIR, TEMPLATES_DIR)


@dataclass(frozen=True)
class BundleConfig:
    """The bundle's `config.json` (plus the format and its version, added on writing).

    Args:
        skeleton: name of the skeleton of the features ("humanml3d", "kitml").
        fps: frame rate of the motions.
        feature_dim: values per frame.
        frames_per_code: frames one motion code covers.
        codebook_size: motion codes K.
        vocab_layout: ids of the joint tokens in the language model's tokenizer.
        families: the task family ids the model was tuned on.
        presets: preset name per training stage ({"stage1": "tiny", ...}).
        training: a free record of how it was trained (data, steps, settings).
    """

    skeleton: str
    fps: float
    feature_dim: int
    frames_per_code: int
    codebook_size: int
    vocab_layout: VocabLayout
    families: tuple[str, ...]
    presets: dict[str, str]
    training: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["vocab_layout"] = self.vocab_layout.to_dict()
        data["families"] = list(self.families)
        return {"format": BUNDLE_FORMAT, "format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> BundleConfig:
        if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
            raise MotionchatError(f"{source}: not a motionchat bundle config (no format '{BUNDLE_FORMAT}')")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise MotionchatError(
                f"{source}: bundle format version {version!r}, this motionchat reads version {FORMAT_VERSION}; "
                + ("upgrade motionchat" if newer else "re-save the bundle with this version")
            )
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise MotionchatError(f"{source}: the bundle config lacks '{missing[0]}'; re-save the bundle")
        try:
            return cls(
                skeleton=str(data["skeleton"]),
                fps=float(data["fps"]),
                feature_dim=int(data["feature_dim"]),
                frames_per_code=int(data["frames_per_code"]),
                codebook_size=int(data["codebook_size"]),
                vocab_layout=VocabLayout.from_dict(data["vocab_layout"], source),
                families=tuple(str(f) for f in data["families"]),
                presets={str(k): str(v) for k, v in dict(data["presets"]).items()},
                training=dict(data["training"]),
            )
        except (TypeError, ValueError) as err:
            raise MotionchatError(f"{source}: bad bundle config ({err}); re-save the bundle") from None


@dataclass
class Bundle:
    """A loaded bundle; the networks are in eval mode."""

    root: Path
    config: BundleConfig
    vq: MotionVQVAE
    normalizer: Normalizer
    lm: LanguageModel
    families: dict[str, Family]
    skeleton: SkeletonSpec

    @property
    def fps(self) -> float:
        return self.config.fps

    @property
    def guidance(self) -> float:
        """The guidance scale measured best for this model's motion answers (`training.guidance` in
        config.json; 1, plain decoding, when the bundle records none)."""
        return float(self.config.training.get("guidance", 1.0))

    @property
    def temperature(self) -> float:
        """The sampling temperature measured best for this model's motion answers
        (`training.temperature` in config.json; 1, the model's own distribution, when the bundle
        records none)."""
        return float(self.config.training.get("temperature", 1.0))

    @property
    def text_guidance(self) -> float:
        """The guidance scale of text answers (captions, differences, durations):
        `training.text_guidance`, else the motion answers' own."""
        return float(self.config.training.get("text_guidance", self.guidance))

    @property
    def text_temperature(self) -> float:
        """The sampling temperature of text answers: `training.text_temperature`, else the motion
        answers' own."""
        return float(self.config.training.get("text_temperature", self.temperature))

    @property
    def best_of(self) -> int:
        """Samples drawn for each text->motion answer, of which the one the model captions back
        likeliest as the request is kept (`training.best_of`; 1, off, when the bundle records none)."""
        return int(self.config.training.get("best_of", 1))

    def sampling(
        self,
        num_samples: int,
        seed: int,
        guidance: float | None = None,
        temperature: float | None = None,
        output: str = "motion",
        best_of: int | None = None,
    ) -> DecodingConfig:
        """How chat and evaluation answer with this model: seeded top-k (50) sampling at the
        temperature and guidance of its `output` answers ("motion" or "text"), best of its
        `best_of` samples for text->motion (any of them given: that value instead). Always sampled:
        greedy decoding of a small model tends to repeat one motion code instead of ending the motion."""
        from motionchat.lm.generation import DecodingConfig

        text = output == "text"
        if guidance is None:
            guidance = self.text_guidance if text else self.guidance
        if temperature is None:
            temperature = self.text_temperature if text else self.temperature
        return DecodingConfig(
            do_sample=True, top_k=50, temperature=temperature, num_samples=num_samples, seed=seed, guidance=guidance,
            best_of=self.best_of if best_of is None else best_of,
        )  # fmt: skip

    @property
    def codec(self) -> MotionCodec:
        return MotionCodec(self.vq, self.normalizer, self.skeleton)


def _templates_source(templates_dir: str | os.PathLike | None):
    return resources.files("motionchat.templates") if templates_dir is None else Path(templates_dir)


def save_bundle(
    directory: str | os.PathLike,
    *,
    vq: MotionVQVAE,
    normalizer: Normalizer,
    lm: LanguageModel,
    skeleton: SkeletonSpec,
    card: str,
    presets: dict[str, str],
    training: dict[str, Any],
    templates_dir: str | os.PathLike | None = None,
) -> Path:
    """Write a bundle to `directory` (replacing it whole). `templates_dir`: the family files the
    model was tuned on (default: the installed ones); they are snapshotted into the bundle."""
    MotionCodec(vq, normalizer, skeleton)  # the parts must fit together
    if vq.cfg.codebook_size != lm.vocab.codebook_size:
        raise ValueError(f"the tokenizer has {vq.cfg.codebook_size} codes, the vocabulary {lm.vocab.codebook_size}")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        templates = staging / TEMPLATES_DIR
        templates.mkdir()
        for file in _templates_source(templates_dir).iterdir():
            if file.name.endswith(".json"):
                (templates / file.name).write_bytes(file.read_bytes())
        families = load_families(templates)  # refuse to snapshot broken family files
        save_vq(vq, staging / VQ_FILE)
        write_npy(staging / MEAN_FILE, normalizer.mean)
        write_npy(staging / STD_FILE, normalizer.std)
        save_lm(staging / LM_DIR, *lm)
        config = BundleConfig(
            skeleton=skeleton.name,
            fps=float(skeleton.fps),
            feature_dim=skeleton.feature_dim,
            frames_per_code=vq.cfg.frames_per_code,
            codebook_size=vq.cfg.codebook_size,
            vocab_layout=lm.vocab,
            families=tuple(sorted(families)),
            presets=dict(presets),
            training=dict(training),
        )
        (staging / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8")
        (staging / CARD_FILE).write_text(card if card.endswith("\n") else card + "\n", encoding="utf-8")
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; a bundle reads like a normal folder
        replace_directory(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_bundle_config(directory: str | os.PathLike) -> BundleConfig:
    """The config of the bundle in `directory`, checked for completeness (weights not loaded)."""
    root = Path(directory)
    if not root.is_dir():
        raise MotionchatError(f"{root}: no such folder; pass a model bundle (written by `trainer stage3` or `trainer all`)")
    path = root / CONFIG_FILE
    if not path.is_file():
        raise MotionchatError(f"{root}: not a model bundle (no {CONFIG_FILE}); pass the folder `trainer stage3` wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MotionchatError(f"{path}: unreadable bundle config ({err.__class__.__name__}); re-save the bundle") from None
    config = BundleConfig.from_dict(data, str(path))
    missing = [part for part in PARTS if not (root / part).exists()]
    if missing:
        raise MotionchatError(f"{root}: incomplete bundle, '{missing[0]}' is missing; copy the whole folder again")
    return config


def load_bundle(directory: str | os.PathLike, device: str | torch.device = "cpu") -> Bundle:
    """Load and cross-check every part of a bundle; networks come back in eval mode on `device`."""
    root = Path(directory)
    config = read_bundle_config(root)
    skeleton = SKELETONS.get(config.skeleton)
    if skeleton is None:
        raise MotionchatError(f"{root / CONFIG_FILE}: unknown skeleton '{config.skeleton}' (known: {', '.join(SKELETONS)})")
    normalizer = Normalizer(load_npy_array(root / MEAN_FILE, "mean"), load_npy_array(root / STD_FILE, "std"), source=str(root / MEAN_FILE))
    vq = load_vq(root / VQ_FILE, device)
    lm = load_runtime_lm(root / LM_DIR, device)
    families = load_families(root / TEMPLATES_DIR)

    def mismatch(what: str) -> MotionchatError:
        return MotionchatError(f"{root}: {what}; the bundle's parts do not belong together, re-save it")

    if {config.feature_dim, skeleton.feature_dim, vq.cfg.feature_dim, normalizer.dim} != {config.feature_dim}:
        raise mismatch(f"values per frame differ (config {config.feature_dim}, tokenizer {vq.cfg.feature_dim}, statistics {normalizer.dim})")
    if vq.cfg.codebook_size != config.codebook_size or vq.cfg.frames_per_code != config.frames_per_code:
        raise mismatch(f"the tokenizer has {vq.cfg.codebook_size} codes of {vq.cfg.frames_per_code} frames, the config says "
                       f"{config.codebook_size} of {config.frames_per_code}")  # fmt: skip
    if lm.vocab != config.vocab_layout:
        raise mismatch("the language model's vocabulary layout differs from the config's")
    if tuple(sorted(families)) != config.families:
        raise mismatch(f"templates/ holds families {sorted(families)}, the config lists {list(config.families)}")
    return Bundle(root, config, vq, normalizer, lm, families, skeleton)
