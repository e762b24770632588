"""Stage 2: motion-language pretraining of the language model over the joint vocabulary.

The dataset is encoded once with the stage-1 tokenizer (cached, `trainer.motion_codes`); the text
tokenizer is trained on the corpus (scratch backbone) or taken from the local T5 checkpoint (base).
Each training example is one of, drawn per sample with the `mix_*` weights:

    text spans      a caption with T5 span corruption (15% noise, mean span 3)
    motion spans    a clip's codes <som> ... <eom> with span corruption over the codes
    text->motion    caption -> <som> codes <eom>
    motion->text    <som> codes <eom> -> caption

The run folder ends with::

    OUT/
      lm/                  the language model and its joint tokenizer (`motionchat.lm.save_lm`)
      vq.safetensors       the stage-1 tokenizer, copied, and its statistics Mean.npy Std.npy
      provenance.json      data, presets, steps and scores of stage 1 and this stage
      eval.json            test split: loss and token accuracy per example kind
      codes/               the encoded splits (cache)
      config.json metrics.jsonl checkpoints/ ranks.json   (see trainer.loop)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from motionchat.data.dataset import MotionClips
from motionchat.data.labels import read_edits
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_bytes, atomic_write_text
from motionchat.filenames import EVAL_FILE, LM_DIR, PROVENANCE_FILE
from motionchat.lm.model import TINY, LanguageModel, LMConfig, build_lm
from motionchat.lm.storage import save_lm
from motionchat.lm.tokenizer import NUM_SENTINELS
from motionchat.tasks.examples import as_sentence
from motionchat.tasks.families import load_families
from motionchat.tasks.templates import fill, slot_values
from motionchat.vq import VQ_FILE
from trainer.conditioning import corrupt_motion_history, gap_line, prompt_gap
from trainer.config import TrainConfig
from trainer.lm_inputs import check_codec_dir, fixed_keys, load_captioned, load_codec_dir, load_validation, read_json
from trainer.loop import RunResult
from trainer.motion_codes import SplitCodes, load_or_encode
from trainer.run_config import RunOptions, StageRun
from trainer.rundir import CONFIG_FILE, read_run_config
from trainer.seq2seq import Seq2SeqExample, collate, example_length, mean_loss, seq2seq_loss
from trainer.span_corruption import span_corrupt

KINDS = ("text_spans", "motion_spans", "text_to_motion", "motion_to_text")


@dataclass(frozen=True)
class Stage2Config:
    """Pretraining.

    Args:
        lm: the backbone (scratch sizes, or `pretrained_dir`: a local T5 checkpoint folder).
        train: the optimisation loop.
        noise_density: share of tokens span corruption hides.
        mean_span_length: average length of a hidden span.
        mix_text_spans, mix_motion_spans, mix_text_to_motion, mix_motion_to_text: relative weights
            of the four example kinds.
        corruption_tau: probability that each motion code of a text->motion example's
            teacher-forcing input is replaced by a random code (`trainer.conditioning`).
        val_examples: validation examples scored by each periodic evaluation.
        gap_examples: validation examples per paired kind for the prompt gap of each evaluation.
        test_examples: test examples scored at the end.
    """

    lm: LMConfig = field(default_factory=lambda: TINY)
    train: TrainConfig = field(default_factory=TrainConfig)
    noise_density: float = 0.15
    mean_span_length: float = 3.0
    mix_text_spans: float = 1.0
    mix_motion_spans: float = 1.0
    mix_text_to_motion: float = 1.0
    mix_motion_to_text: float = 1.0
    corruption_tau: float = 0.0
    val_examples: int = 256
    gap_examples: int = 64
    test_examples: int = 512

    def __post_init__(self):
        mix = self.mix_weights()
        if min(mix) < 0 or sum(mix) <= 0:
            raise ValueError("the mix_* weights must be >= 0 and not all 0")
        if not 0 < self.noise_density < 1 or self.mean_span_length < 1:
            raise ValueError("noise_density must be in (0, 1) and mean_span_length >= 1")
        if self.val_examples < 1 or self.test_examples < 1 or self.gap_examples < 2:
            raise ValueError("val_examples and test_examples must be >= 1, gap_examples >= 2")
        if not 0 <= self.corruption_tau < 1:
            raise ValueError(f"corruption_tau must be in [0, 1), got {self.corruption_tau}")

    def mix_weights(self) -> tuple[float, ...]:
        return (self.mix_text_spans, self.mix_motion_spans, self.mix_text_to_motion, self.mix_motion_to_text)


STAGE2_PRESETS: dict[str, Stage2Config] = {
    # Two shared CPU cores, the synthetic corpus: paired text<->motion only, 1.0-1.3 steps/s (3.4M
    # parameters, batch 32; bf16 autocast measured no faster on this CPU), so about 30 minutes.
    # Span corruption is left out: it taught the decoder to continue motion without reading the
    # prompt (prompt gap 0.05 nats/token after stages 2+3 of the previous default), and tau 0.3
    # keeps the motion history from being enough. The LM is smaller than `motionchat.lm.TINY` to fit
    # the time budget of the whole `trainer all` (3 h on such a machine).
    "tiny": Stage2Config(
        lm=LMConfig(text_vocab_size=2000, d_model=192, d_kv=48, d_ff=768, num_heads=4, num_encoder_layers=3, num_decoder_layers=3),
        train=TrainConfig(steps=2000, batch_size=32, lr=2e-3, warmup_steps=100, lr_schedule="cosine", min_lr_ratio=0.1,
                          weight_decay=0.01, log_every=20, checkpoint_every=250, eval_every=500, group_batches=16),
        mix_text_spans=0.0, mix_motion_spans=0.0, corruption_tau=0.3, val_examples=128,
    ),  # fmt: skip
    # MotionGPT's recipe on a pretrained T5 (pass --set lm.pretrained_dir=/path/to/flan-t5-base):
    # lr 2e-4, batch 16 per GPU; HumanML3D on GPUs with bf16.
    "base": Stage2Config(
        lm=LMConfig(pretrained_dir=None),
        train=TrainConfig(steps=100_000, batch_size=64, lr=2e-4, warmup_steps=1000, lr_schedule="cosine", min_lr_ratio=0.1,
                          weight_decay=0.0, log_every=100, checkpoint_every=5000, eval_every=5000, mixed_precision="bf16",
                          num_workers=2),
    ),  # fmt: skip
}


# --- inputs -------------------------------------------------------------------------------------


def tokenizer_sentences(clips: MotionClips, edits: list[dict]) -> list[str]:
    """What the scratch text tokenizer learns from: the training captions, the edit texts, and
    every instruction and answer template filled with values from the data (motion slots empty)."""
    captions = [c.text for per_clip in clips.captions for c in per_clip]
    sentences = list(captions)
    for row in edits:
        sentences += [row["instruction"], as_sentence(row["difference"])]
    k = 0
    for family in load_families().values():
        for template in family.instructions + family.answers:
            pick = captions[k % len(captions)]
            values = slot_values({
                "caption": pick, "captions": [pick, captions[(k + 7) % len(captions)]], "frames": int(clips.lengths[k % len(clips)]),
                "edit": edits[k % len(edits)]["instruction"] if edits else "faster",
                "diff": as_sentence(edits[k % len(edits)]["difference"]) if edits else "The second one is faster.",
            })  # fmt: skip
            sentences.append(fill(template, **values, motion="", motion_b=""))
            k += 1
    return sentences


def tokenizer_sha256(tokenizer) -> str:
    return hashlib.sha256(json.dumps(sorted(tokenizer.get_vocab().items())).encode()).hexdigest()


# --- examples -----------------------------------------------------------------------------------


class PretrainExamples(Dataset):
    """(clip index, seed) -> one pretraining example of the clip; kind, caption and spans from the seed."""

    def __init__(self, clips: MotionClips, codes: SplitCodes, lm: LanguageModel, cfg: Stage2Config, corruption_tau: float = 0.0):
        self.corruption_tau = corruption_tau
        self.captions = [[c.text for c in per_clip] for per_clip in clips.captions]
        self.codes = codes
        self.tokenizer, self.vocab = lm.tokenizer, lm.vocab
        self.cfg = cfg
        weights = np.array(cfg.mix_weights())
        self.weights = weights / weights.sum()
        self.sentinels = lm.tokenizer.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(NUM_SENTINELS)])
        if lm.tokenizer.unk_token_id in self.sentinels:
            raise MotionchatError("the text tokenizer has no T5 sentinels <extra_id_0..99>; use a T5 tokenizer")

    def __len__(self) -> int:
        return len(self.captions)

    def kind(self, seed: int) -> str:
        return KINDS[int(np.random.default_rng(seed).choice(len(KINDS), p=self.weights))]

    def __getitem__(self, key: tuple[int, int]) -> Seq2SeqExample:
        index, seed = key
        kind = self.kind(seed)
        rng = np.random.default_rng([seed, 1])
        v, eos = self.vocab, self.vocab.eos_id
        caption = self.captions[index][int(rng.integers(len(self.captions[index])))]
        text = self.tokenizer(caption)["input_ids"]  # ends with </s>
        motion = [v.motion_id(c) for c in self.codes.codes("full", index)]
        if kind == "text_spans" and len(text) > 2:
            hidden_in, hidden_out = span_corrupt(text[:-1], rng, self.sentinels, self.cfg.noise_density, self.cfg.mean_span_length)
            return Seq2SeqExample(hidden_in + [eos], hidden_out + [eos])
        if kind == "motion_spans" and len(motion) >= 2:
            hidden_in, hidden_out = span_corrupt(motion, rng, self.sentinels, self.cfg.noise_density, self.cfg.mean_span_length)
            return Seq2SeqExample([v.som_id, *hidden_in, v.eom_id, eos], hidden_out + [eos])
        motion_text = [v.som_id, *motion, v.eom_id, eos]  # exactly how the tokenizer reads `motion_tokens_to_text`
        if kind == "motion_to_text":
            return Seq2SeqExample(motion_text, text)
        # text->motion, and too-short span examples
        return Seq2SeqExample(text, motion_text, corrupt_motion_history(motion_text, v, self.corruption_tau, rng))


def kind_losses(model: nn.Module, dataset: PretrainExamples, keys: list[tuple[int, int]], pad_id: int) -> dict[str, float]:
    """Loss and token accuracy over `keys`, in all and per example kind."""
    report = mean_loss(model, [dataset[k] for k in keys], pad_id)
    for kind in KINDS:
        chosen = [dataset[k] for k in keys if dataset.kind(k[1]) == kind]
        if chosen:
            report |= {f"{kind}_{name}": value for name, value in mean_loss(model, chosen, pad_id).items()}
    return report


def paired_gaps(model: nn.Module, dataset: PretrainExamples, count: int, pad_id: int) -> dict[str, float]:
    """Prompt gaps of the paired kinds (`gap_t2m`, `gap_m2t`) on `count` fixed examples each."""
    gaps = {}
    for kind, name in (("text_to_motion", "t2m"), ("motion_to_text", "m2t")):
        keys = [k for k in fixed_keys(8 * count, len(dataset), 4) if dataset.kind(k[1]) == kind][:count]
        if len(keys) >= 2:
            gaps[f"gap_{name}"] = prompt_gap(model, [dataset[k] for k in keys], pad_id)["gap"]
    return gaps


# --- the stage ----------------------------------------------------------------------------------


class PretrainStage:
    """Stage 2 for `trainer.loop.run_training`."""

    name = "stage2"

    def __init__(self, cfg: Stage2Config, data_dir: Path, vq_dir: Path, run_dir: Path):
        """Load and check everything the run needs; writes nothing."""
        self.cfg, self.train = cfg, cfg.train
        self.data_dir, self.vq_dir, self.run_dir = Path(data_dir), check_codec_dir(vq_dir, "--vq"), Path(run_dir)
        self.train_clips = load_captioned(self.data_dir, "train")
        self.skeleton = self.train_clips.skeleton
        self.val_clips = load_validation(self.data_dir, self.skeleton) if cfg.train.eval_every else None
        self.test_clips = load_captioned(self.data_dir, "test", self.skeleton)
        self.codec = load_codec_dir(self.vq_dir, self.skeleton, "--vq")
        self.edits = read_edits(self.data_dir)
        sentences = None if cfg.lm.pretrained_dir else tokenizer_sentences(self.train_clips, self.edits)
        self.lm = build_lm(cfg.lm, self.codec.codebook_size, sentences, seed=cfg.train.seed)
        self.codes: dict[str, SplitCodes] = {}

    def _codes(self, clips: MotionClips) -> SplitCodes:
        if clips.split not in self.codes:
            self.codes[clips.split], _, _ = load_or_encode(clips, self.codec, self.vq_dir / VQ_FILE, self.run_dir)
        return self.codes[clips.split]

    def describe(self) -> str:
        t = self.train_clips
        backbone = self.cfg.lm.pretrained_dir or f"scratch T5 d_model {self.cfg.lm.d_model}"
        return (
            f"{self.data_dir}: {len(t)} training clips with {sum(len(c) for c in t.captions)} captions, {len(self.test_clips)} test clips; "
            f"tokenizer {self.vq_dir / VQ_FILE} ({self.codec.codebook_size} codes); backbone {backbone}, "
            f"{sum(p.numel() for p in self.lm.model.parameters()) / 1e6:.1f}M parameters, vocabulary {self.lm.vocab.size}"
        )

    def build_model(self) -> nn.Module:
        return self.lm.model

    def train_dataset(self) -> PretrainExamples:
        return PretrainExamples(self.train_clips, self._codes(self.train_clips), self.lm, self.cfg, self.cfg.corruption_tau)

    def item_length(self, item: Seq2SeqExample) -> int:
        return example_length(item)

    def collate(self, items: list[Seq2SeqExample]) -> dict[str, torch.Tensor]:
        return collate(items, self.lm.vocab.pad_id)

    def train_step(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return seq2seq_loss(model, batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        dataset = PretrainExamples(self.val_clips, self._codes(self.val_clips), self.lm, self.cfg)
        report = mean_loss(model, [dataset[k] for k in fixed_keys(self.cfg.val_examples, len(dataset), 1)], self.lm.vocab.pad_id)
        return report | paired_gaps(model, dataset, self.cfg.gap_examples, self.lm.vocab.pad_id)

    def finish(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        dataset = PretrainExamples(self.test_clips, self._codes(self.test_clips), self.lm, self.cfg)
        report = kind_losses(model, dataset, fixed_keys(self.cfg.test_examples, len(dataset), 2), self.lm.vocab.pad_id)
        report |= paired_gaps(model, dataset, self.cfg.gap_examples, self.lm.vocab.pad_id)
        report = {"split": "test", "examples": self.cfg.test_examples, **report}
        save_lm(run_dir / LM_DIR, model, self.lm.tokenizer, self.lm.vocab)
        atomic_write_bytes(run_dir / VQ_FILE, (self.vq_dir / VQ_FILE).read_bytes())
        self.codec.normalizer.save(run_dir)
        provenance = read_json(self.vq_dir / PROVENANCE_FILE) or {"stage1": stage1_record(self.vq_dir)}
        recorded = read_run_config(run_dir)
        provenance["stage2"] = {
            "preset": recorded.get("preset"), "data": recorded.get("data"), "steps": read_json(run_dir / "ranks.json").get("step"), "test": report,
        }  # fmt: skip
        atomic_write_text(run_dir / PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")
        atomic_write_text(run_dir / EVAL_FILE, json.dumps(report, indent=2) + "\n")
        return report


def stage1_record(vq_dir: Path) -> dict:
    """What a stage-1 run folder says about itself (preset, data, its test evaluation)."""
    recorded = read_json(Path(vq_dir) / CONFIG_FILE)
    steps = read_json(Path(vq_dir) / "ranks.json").get("step")
    return {"preset": recorded.get("preset"), "data": recorded.get("data"), "steps": steps, "test": read_json(Path(vq_dir) / "eval.json")}


def run_stage2(*, data: Path | None, vq: Path | None, **options: Any) -> RunResult:
    """`trainer stage2` (`options`: the fields of `RunOptions`): validate every input, then train."""
    run = StageRun(RunOptions(**options), stage=PretrainStage.name, presets=STAGE2_PRESETS, default=Stage2Config())
    if run.preset == "base" and not run.cfg.lm.pretrained_dir:
        raise MotionchatError("the base preset starts from a local T5 checkpoint: add --set lm.pretrained_dir=/path/to/flan-t5-base")
    data = run.input_dir(data, "data", "--data is required: a HumanML3D-layout dataset folder with texts/ (e.g. from `trainer data synth`)")
    vq = run.input_dir(vq, "vq", "--vq is required: the run folder of `trainer stage1` (vq.safetensors, Mean.npy, Std.npy)")
    out = run.run_dir
    stage = PretrainStage(run.cfg, data, vq, out)
    tokenizer_hash = tokenizer_sha256(stage.lm.tokenizer)
    if run.recorded and run.recorded.get("tokenizer_sha256") != tokenizer_hash:
        raise MotionchatError(f"{out / CONFIG_FILE}: the text tokenizer rebuilt from the data differs from the run's; resume with the same data")
    inputs = {"data": str(data.resolve()), "vq": str(vq.resolve()), "tokenizer_sha256": tokenizer_hash}
    return run.train(stage, inputs, lambda r: (
        f"test split ({r['examples']} examples): loss {r['loss']:.3f}, token accuracy {100 * r['token_acc']:.1f}% "
        f"(text->motion {r.get('text_to_motion_loss', float('nan')):.3f}, motion->text {r.get('motion_to_text_loss', float('nan')):.3f})\n"
        f"{gap_line(r)}\n"
        f"wrote {out / LM_DIR}, {out / EVAL_FILE}; next: trainer stage3 --data {data} --init {out} --out BUNDLE"
    ))  # fmt: skip
