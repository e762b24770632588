"""Stage 3: instruction tuning over the 15 task families, then the model bundle.

Every epoch holds, for each training clip, one example of each family the clip can give (t2m,
t2m_length, length2m, random_motion, m2t, m2t_length, m2length, t2length, length2t,
random_caption, predict, inbetween; compose for clips of several actions when the corpus has
labels.jsonl), and edit and diff examples for each pair of edits.jsonl; the step sampler shuffles
them across families. Templates, captions and per-action compose captions are drawn from each
example's seed, so every epoch reads differently. Prompts come from `motionchat.tasks.answering`
(and targets from `motionchat.tasks.examples`), the code chat and evaluation use.

`family_weights` sets how many examples of a family each clip (or edit pair) gives an epoch, so the
families that carry the product can get more of the budget than the easy duration ones. Motion
history corruption (`corruption_tau`) and condition dropout (`condition_dropout`) make the decoder
read its prompt (`trainer.conditioning`); every periodic evaluation logs each family's prompt gap.

The run folder (`--run-dir`, default BUNDLE.runs/stage3) ends with eval.json (test loss per family
and one sampled answer per family checked for its output type) next to the usual config.json,
metrics.jsonl, checkpoints/ and ranks.json; the bundle goes to `--out`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import nn
from torch.utils.data import Dataset

from motionchat.bundle import save_bundle
from motionchat.chat.session import MAX_BEST_OF, MAX_GUIDANCE, TEMPERATURE_RANGE
from motionchat.data.dataset import MotionClips
from motionchat.data.labels import read_edits, read_labels_if_any
from motionchat.data.synth.captions import parse_caption, write_captions
from motionchat.data.synth.corpus import describe_corpus
from motionchat.data.synth.edits import parse_difference
from motionchat.data.synth.vocabulary import check_program, program_from_dicts
from motionchat.errors import MotionchatError
from motionchat.fileio import atomic_write_text
from motionchat.filenames import EVAL_FILE, LM_DIR, PROVENANCE_FILE, TEMPLATES_DIR
from motionchat.lm.generation import NULL_PROMPT, DecodingConfig, text_ids
from motionchat.lm.model import LanguageModel
from motionchat.lm.model import load_lm
from motionchat.lm.motion_time import add_motion_time, time_rows
from motionchat.motion.timing import frames_to_codes
from motionchat.tasks.answering import TASKS, Question, TaskRequest, answer_questions, check_generation_rate, prepare
from motionchat.tasks.examples import TaskValues, build_target, known_frames
from motionchat.tasks.families import Family, load_families
from motionchat.tasks.templates import read_answer
from motionchat.vq import VQ_FILE
from motionchat.vq.codec import MotionCodec
from trainer.conditioning import corrupt_motion_history, gap_line, prompt_gap
from trainer.config import TrainConfig
from trainer.lm_inputs import check_codec_dir, fixed_keys, load_captioned, load_codec_dir, load_validation, read_json
from trainer.loop import RunResult
from trainer.motion_codes import SplitCodes, load_or_encode
from trainer.run_config import RunOptions, StageRun
from trainer.rundir import read_run_config
from trainer.seq2seq import Seq2SeqExample, collate, example_length, mean_loss, seq2seq_loss

CLIP_FAMILIES = tuple(family for family, spec in TASKS.items() if spec.examples != "pair")
PAIR_FAMILIES = tuple(family for family, spec in TASKS.items() if spec.examples == "pair")
UNPROMPTED_FAMILIES = ("random_motion", "random_caption")  # their prompts carry no input: no prompt gap


@dataclass(frozen=True)
class Stage3Config:
    """Instruction tuning.

    Args:
        train: the optimisation loop.
        family_weights: examples per clip (per edit pair for edit and diff) and epoch of each family,
            as "t2m=4,m2t=3,m2length=0"; families not named give 1, 0 leaves a family out.
        corruption_tau: probability that each motion code of a motion answer's teacher-forcing
            input is replaced by a random code (T2M-GPT's tau); 0 turns it off.
        condition_dropout: share of training examples whose prompt is the null prompt (the
            unconditional answer that classifier-free guidance needs); 0 turns it off.
        task_tags: begin every prompt and every answer with its family's name ("m2length: How
            long is ..." -> "m2length: It is 90 frames long."), so that the task is stated outright
            rather than left to the wording of the instruction; the decoder is given its tag (like
            Whisper's task tokens), the null prompt is the tag alone. The bundle's templates carry
            the tags, so chat and evaluation ask the same way.
        motion_time: give a model initialised without one a motion time table (zero at first, so
            it starts out answering as before; see motionchat/lm/motion_time.py): each motion code's
            place in its clip, which T5's relative positions cannot count (durations, lengths).
        dropout: the language model's dropout rate in this run; -1 keeps the rate it was saved
            with (0.1 in the tiny preset's stage 2). The tiny model sees under one epoch, so it
            underfits rather than overfits.
        guidance: the classifier-free guidance scale the bundle answers with by default (its
            config.json), and the judge's.
        temperature: the sampling temperature the bundle answers with by default, and the judge's
            (the tiny preset's 0.6: the judge's text-to-motion and caption scores at 0.4-1.0,
            README "Sampling temperature").
        text_guidance, text_temperature: the same for text answers (captions, differences,
            durations): the tiny preset's 1 and 0.1, by the judge's captions at 0.1-1.0 and guidance
            1-3 (README "Sampling temperature").
        best_of: motions drawn for each text->motion answer, of which the bundle keeps the one it
            captions back likeliest as the request (1: off; the tiny preset's 7: judge R-Precision
            top-3 0.80 -> 0.90, README "Best of several motions"; 7 keeps a guided request under the
            step decoder's WIDE_ROWS, which would copy its weights).
        judge_clips: at each periodic evaluation and at the end, ask a snapshot of the model about
            this many validation clips with `motionchat-eval judge` (text-to-motion R-Precision and
            program accuracy, caption program accuracy, durations; needs the evaluation networks,
            shipped for the synthetic corpus; R-Precision from 32 clips on); 0 turns it off.
        val_examples: validation examples scored by each periodic evaluation.
        gap_examples: validation examples per family for the prompt gap of each evaluation.
        test_examples: test examples scored at the end (spread over the families).
    """

    train: TrainConfig = field(default_factory=TrainConfig)
    family_weights: str = ""
    corruption_tau: float = 0.0
    condition_dropout: float = 0.0
    task_tags: bool = False
    motion_time: bool = False
    dropout: float = -1.0
    guidance: float = 1.0
    temperature: float = 1.0
    text_guidance: float = 1.0
    text_temperature: float = 1.0
    best_of: int = 1
    judge_clips: int = 0
    val_examples: int = 256
    gap_examples: int = 32
    test_examples: int = 480

    def __post_init__(self):
        if not 0 <= self.corruption_tau < 1:
            raise ValueError(f"corruption_tau must be in [0, 1), got {self.corruption_tau}")
        if not 0 <= self.condition_dropout < 1:
            raise ValueError(f"condition_dropout must be in [0, 1), got {self.condition_dropout}")
        if self.val_examples < 1 or self.test_examples < 1 or self.gap_examples < 2:
            raise ValueError("val_examples and test_examples must be >= 1, gap_examples >= 2")
        if self.judge_clips < 0:
            raise ValueError(f"judge_clips must be 0 (off) or more, got {self.judge_clips}")
        if not (self.dropout == -1 or 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), or -1 to keep the model's, got {self.dropout}")
        for name in ("guidance", "text_guidance"):
            if not 0 <= getattr(self, name) <= MAX_GUIDANCE:
                raise ValueError(f"{name} must be in [0, {MAX_GUIDANCE:g}], got {getattr(self, name)}")
        if not 1 <= self.best_of <= MAX_BEST_OF:
            raise ValueError(f"best_of must be in [1, {MAX_BEST_OF}], got {self.best_of}")
        for name in ("temperature", "text_temperature"):
            if not TEMPERATURE_RANGE[0] <= getattr(self, name) <= TEMPERATURE_RANGE[1]:
                raise ValueError(f"{name} must be in {list(TEMPERATURE_RANGE)}, got {getattr(self, name)}")
        parse_family_weights(self.family_weights)

    def weights(self) -> dict[str, int]:
        return parse_family_weights(self.family_weights)


def parse_family_weights(text: str) -> dict[str, int]:
    """"t2m=4,m2length=0" -> a weight for every family (1 where not named)."""
    weights = dict.fromkeys(CLIP_FAMILIES + PAIR_FAMILIES, 1)
    for item in filter(None, (part.strip() for part in text.split(","))):
        family, sep, value = item.partition("=")
        family = family.strip()
        if family not in weights or not sep:
            raise ValueError(f"family_weights: '{item}' is not FAMILY=COUNT with FAMILY one of {', '.join(weights)}")
        try:
            weights[family] = int(value)
        except ValueError:
            raise ValueError(f"family_weights: '{item}' needs a whole number of examples") from None
        if weights[family] < 0:
            raise ValueError(f"family_weights: '{item}' must not be negative")
    if not any(weights.values()):
        raise ValueError("family_weights: every family has weight 0")
    return weights


STAGE3_PRESETS: dict[str, Stage3Config] = {
    # Two shared CPU cores, the synthetic corpus: 1.7-2 steps/s on one thread (batch 32, batches
    # grouped by length: 2x the plain stream's speed, dropout 0 another 1.2x; benchmarks/train_speed.py).
    # The families that carry the product (text->motion, captions, composition, edit, diff)
    # get more of the budget than the easy duration ones; tau 0.3 and condition dropout 0.1 make
    # the decoder read its prompt (the t2m-only measurement: prompt gap 0.25 -> 0.38 after
    # 450 steps, with guidance 3 0.61 -> 2.15). Dropout 0: the model sees under one epoch; at 5,000
    # steps it read its prompts more than with 0.1 (test gap m2t 0.51 vs 0.41, eval/README.md).
    "tiny": Stage3Config(
        train=TrainConfig(steps=2000, batch_size=32, lr=1e-3, warmup_steps=100, lr_schedule="cosine", min_lr_ratio=0.05,
                          weight_decay=0.01, log_every=20, checkpoint_every=250, eval_every=500, group_batches=16),
        family_weights="t2m=3,t2m_length=2,m2t=2,compose=2,edit=2,diff=2",
        corruption_tau=0.3, condition_dropout=0.1, dropout=0.0, guidance=2.0, temperature=0.6, text_guidance=1.0, text_temperature=0.1, best_of=7,
        judge_clips=128, val_examples=128,
    ),  # fmt: skip
    # MotionGPT-like instruction tuning of the pretrained backbone on GPUs.
    "base": Stage3Config(
        train=TrainConfig(steps=100_000, batch_size=64, lr=1e-4, warmup_steps=1000, lr_schedule="cosine", min_lr_ratio=0.1,
                          log_every=100, checkpoint_every=5000, eval_every=5000, mixed_precision="bf16", num_workers=2),
        corruption_tau=0.0,
    ),  # fmt: skip
}


JUDGE_DIR = "judge"
# How the bundle answers by default (its config.json's training record), and what the judge used.
DECODING_SETTINGS = ("guidance", "temperature", "text_guidance", "text_temperature", "best_of")


def run_judge(bundle: Path, data: Path, clips: int, out: Path) -> dict[str, float]:
    """`motionchat-eval judge` on `bundle` in a process of its own (training does not import the
    evaluation code); {} and a warning when it cannot run (e.g. no evaluator for this data)."""
    command = [sys.executable, "-m", "eval", "judge", "--bundle", str(bundle), "--data", str(data), "--clips", str(clips), "--json", str(out)]
    out.unlink(missing_ok=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not out.is_file():
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        Console(stderr=True).print(f"[yellow]note:[/] the judge did not run ({reason}); set judge_clips=0 to stop asking")
        return {}
    return json.loads(out.read_text(encoding="utf-8"))


def set_dropout(model: nn.Module, rate: float) -> None:
    """Every dropout layer of `model` at `rate`, recorded in its config (saved with the bundle)."""
    model.config.dropout_rate = rate
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = rate


def task_tag(family: str) -> str:
    return f"{family}:"


def write_tagged_templates(folder: Path) -> Path:
    """The installed family files, each with its `task_tag`, written to `folder` for the bundle."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in resources.files("motionchat.templates").iterdir():
        if file.name.endswith(".json"):
            data = json.loads(file.read_text(encoding="utf-8"))
            atomic_write_text(folder / file.name, json.dumps({**data, "tag": task_tag(data["family"])}, indent=2) + "\n")
    return folder


# --- examples -----------------------------------------------------------------------------------


class TaskSource:
    """One split's material for the families: codes, captions, programs (labels.jsonl), edit pairs."""

    def __init__(
        self, clips: MotionClips, codes: SplitCodes, labels: dict[str, dict], edits: list[dict], weights: dict[str, int] | None = None
    ):
        """`weights`: examples per clip or pair and epoch of each family (1 each when None)."""
        weights = weights or parse_family_weights("")
        self.codes = codes
        self.captions = [[c.text for c in per_clip] for per_clip in clips.captions]
        position = {clip_id: i for i, clip_id in enumerate(clips.clip_ids)}
        self.programs = [program_from_dicts(labels[c]["program"]) if c in labels else None for c in clips.clip_ids]
        self.pairs = [(position[r["source"]], position[r["target"]], r) for r in edits if r["source"] in position and r["target"] in position]
        self.items: list[tuple[str, int]] = []
        for index in range(len(clips)):
            for family in CLIP_FAMILIES:
                if self.supports(family, index):
                    self.items += [(family, index)] * weights[family]
        self.items += [(family, p) for p in range(len(self.pairs)) for family in PAIR_FAMILIES for _ in range(weights[family])]

    def supports(self, family: str, index: int) -> bool:
        kind = TASKS[family].examples
        if kind == "predict":
            return len(self.codes.pieces["predict_head"][index]) > 0
        if kind == "inbetween":
            return len(self.codes.pieces["inbetween_head"][index]) > 0
        if kind == "compose":
            return self.programs[index] is not None and len(self.programs[index]) >= 2
        return True

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(CLIP_FAMILIES + PAIR_FAMILIES, 0)
        for family, _ in self.items:
            counts[family] += 1
        return counts

    def example(self, family: str, ref: int, rng: np.random.Generator) -> tuple[TaskRequest, TaskValues]:
        """(the request, the values of its expected answer) of item (`family`, `ref`): ref is a clip
        index, or a pair index for the pair families."""
        kind = TASKS[family].examples
        if kind == "pair":
            source, target, row = self.pairs[ref]
            motion, changed = self.codes.codes("full", source), self.codes.codes("full", target)
            frames = [int(self.codes.frames[source]), int(self.codes.frames[target])]
            request = TaskRequest(family, motions=[motion, changed], motion_frames=frames, edit=row["instruction"])
            return request, TaskValues(answer_motion=changed, diff=row["difference"])
        captions = self.captions[ref]
        caption = captions[int(rng.integers(len(captions)))]
        frames, full = int(self.codes.frames[ref]), self.codes.codes("full", ref)
        if kind == "predict":
            head = self.codes.codes("predict_head", ref)
            request = TaskRequest(family, motions=[head], motion_frames=[known_frames("predict", frames)[0]])
            return request, TaskValues(answer_motion=self.codes.codes("predict_rest", ref))
        if kind == "inbetween":
            keep = known_frames("inbetween", frames)[0]
            pieces = [self.codes.codes("inbetween_head", ref), self.codes.codes("inbetween_tail", ref)]
            return TaskRequest(family, motions=pieces, motion_frames=[keep, keep]), TaskValues(answer_motion=full)
        if kind == "compose":
            steps = [write_captions((action,), rng, 1)[0] for action in self.programs[ref]]
            return TaskRequest(family, captions=steps), TaskValues(answer_motion=full)
        request = TaskRequest(family, caption=caption, motions=[full], motion_frames=[frames], frames=frames)
        return request, TaskValues(caption=caption, frames=frames, answer_motion=full)


class InstructionExamples(Dataset):
    """(item index, seed) -> the tokenised (prompt, target) of one family example."""

    def __init__(
        self, source: TaskSource, families: dict[str, Family], lm: LanguageModel, fps: float, frames_per_code: int,
        corruption_tau: float = 0.0, condition_dropout: float = 0.0,
    ):
        self.source, self.families, self.lm, self.fps, self.frames_per_code = source, families, lm, fps, frames_per_code
        self.corruption_tau, self.condition_dropout = corruption_tau, condition_dropout

    def __len__(self) -> int:
        return len(self.source.items)

    def question(self, key: tuple[int, int]) -> tuple[Question, str]:
        """(the question, its target text) of item `key`."""
        index, seed = key
        family_id, ref = self.source.items[index]
        rng = np.random.default_rng(seed)
        request, answer = self.source.example(family_id, ref, rng)
        k = self.lm.vocab.codebook_size
        fpc = self.frames_per_code
        question = prepare(request, self.families, rng, codebook_size=k, frames_per_code=fpc, fps=self.fps)
        return question, build_target(question.family, answer, rng, codebook_size=k, fps=self.fps)

    def texts(self, key: tuple[int, int]) -> tuple[str, str, str]:
        """(family id, prompt, target) of item `key`."""
        question, target = self.question(key)
        return question.family.id, question.prompt, target

    def __getitem__(self, key: tuple[int, int]) -> Seq2SeqExample:
        family_id, prompt, target = self.texts(key)
        family, tokenizer, vocab = self.families[family_id], self.lm.tokenizer, self.lm.vocab
        # A tagged family's answer follows its tag, which the decoder is given (`generate`'s
        # answer_prefixes), not asked for.
        prefix = text_ids(tokenizer, family.tag)
        labels = tokenizer(target)["input_ids"]
        rng = np.random.default_rng([key[1], 2])
        if self.condition_dropout > 0 and rng.random() < self.condition_dropout:
            prompt = family.tag or NULL_PROMPT
        decoder_inputs = None
        if family.output == "motion":
            decoder_inputs = corrupt_motion_history([*prefix, *labels], vocab, self.corruption_tau, rng)
        return Seq2SeqExample(tokenizer(prompt)["input_ids"], labels, decoder_inputs, tuple(prefix))


def family_prompt_gaps(model: nn.Module, dataset: InstructionExamples, per_family: int) -> dict[str, float]:
    """`gap_<family>` for every family with an input, on a fixed sample of `per_family` examples
    each (`trainer.conditioning.prompt_gap`)."""
    by_family: dict[str, list[int]] = {}
    for index, (family, _) in enumerate(dataset.source.items):
        by_family.setdefault(family, []).append(index)
    gaps = {}
    for family, indices in by_family.items():
        if family in UNPROMPTED_FAMILIES or len(indices) < 2:
            continue
        order = np.random.default_rng(3).permutation(len(indices))[:per_family]
        examples = [dataset[(indices[i], 7_000_003 + int(i))] for i in order]
        gaps[f"gap_{family}"] = prompt_gap(model, examples, dataset.lm.vocab.pad_id)["gap"]
    return gaps


# Sampled, not greedy: greedy decoding of motion codes tends to repeat one code until the length
# limit (measured on a tiny model that, teacher-forced, gives <eom> 0.97 at the right place).
CHECK_DECODING = DecodingConfig(do_sample=True, seed=0)


def text_answer_problem(family: Family, text: str, synthetic: bool) -> str | None:
    """Why a text answer is not well formed for its family, or None.

    It must read as one of the family's answer templates (so a duration family's answer holds a
    duration); on the synthetic corpus a caption must also parse into a valid program and a
    difference into a change, by the corpus's own parsers.
    """
    readings = read_answer(family.answers, text)
    if not readings:
        return "reads as none of the family's answer sentences"
    if not synthetic:
        return None
    problems = [_reading_problem(values) for values in readings]
    return None if None in problems else problems[0]


def _reading_problem(values: dict[str, str]) -> str | None:
    """Why one reading of an answer does not hold on the synthetic corpus, or None."""
    if "caption" in values:
        try:
            check_program(parse_caption(values["caption"]))
        except ValueError as err:
            return f"the caption does not parse as one: {err}"
    if "diff" in values and parse_difference(values["diff"]) is None:
        return "the difference does not parse as one"
    return None


def check_answers(model: nn.Module, lm: LanguageModel, dataset: InstructionExamples, synthetic: bool) -> dict[str, dict[str, Any]]:
    """One sampled answer per family (for its first example): does it have the family's output type,
    and does a text answer read as one of the family's (`text_answer_problem`)? A motion cut by the
    length limit (the decoder forces <eom> there) is flagged `at_length_limit`."""
    first: dict[str, int] = {}
    for index, (family, _) in enumerate(dataset.source.items):
        first.setdefault(family, index)
    names = sorted(first)
    # Free length (no requested duration): the check is whether the model ends a motion by itself.
    asked = [dataset.question((first[f], 0)) for f in names]
    questions = [dataclasses.replace(question, frame_limits=None) for question, _ in asked]
    answers = answer_questions(LanguageModel(model, lm.tokenizer, lm.vocab), questions, CHECK_DECODING)
    limit = frames_to_codes(CHECK_DECODING.max_motion_frames, dataset.frames_per_code)
    report = {}
    for family, question, (_, target), (answer,) in zip(names, questions, asked, answers):
        shown = f"{len(answer.codes)} codes" if answer.codes is not None else answer.text
        at_limit = answer.codes is not None and len(answer.codes) >= limit
        problem = answer.problem
        if answer.ok and question.family.output == "text":
            problem = text_answer_problem(question.family, answer.text, synthetic)
        report[family] = {"output": question.family.output, "ok": problem is None, "problem": problem, "answer": shown,
                          "at_length_limit": at_limit, "prompt": question.prompt, "target": target}
    return report


# --- the stage ----------------------------------------------------------------------------------


class InstructStage:
    """Stage 3 for `trainer.loop.run_training`; `finish` writes the bundle."""

    name = "stage3"

    def __init__(self, cfg: Stage3Config, data_dir: Path, init_dir: Path, bundle_dir: Path, run_dir: Path):
        """Load and check everything the run needs; writes nothing."""
        self.cfg, self.train = cfg, cfg.train
        self.data_dir, self.init_dir, self.bundle_dir, self.run_dir = Path(data_dir), Path(init_dir), Path(bundle_dir), Path(run_dir)
        if not self.init_dir.is_dir():
            raise MotionchatError(f"{self.init_dir}: --init folder not found; pass the run folder of `trainer stage2`")
        if not (self.init_dir / LM_DIR).is_dir():
            raise MotionchatError(f"{self.init_dir}: no {LM_DIR}/ folder; pass a folder where `trainer stage2` finished")
        check_codec_dir(self.init_dir, "--init")
        self.clips = {"train": load_captioned(self.data_dir, "train")}
        self.skeleton = self.clips["train"].skeleton
        self.clips["test"] = load_captioned(self.data_dir, "test", self.skeleton)
        if cfg.train.eval_every:
            self.clips["val"] = load_validation(self.data_dir, self.skeleton)
        self.codec: MotionCodec = load_codec_dir(self.init_dir, self.skeleton, "--init")
        self.lm = load_lm(self.init_dir / LM_DIR)
        if cfg.motion_time and not time_rows(self.lm.model.config):
            add_motion_time(self.lm.model, self.lm.vocab)
        if cfg.dropout >= 0:
            set_dropout(self.lm.model, cfg.dropout)
        if self.lm.vocab.codebook_size != self.codec.codebook_size:
            raise MotionchatError(
                f"{self.init_dir}: the language model knows {self.lm.vocab.codebook_size} motion codes, the tokenizer has "
                f"{self.codec.codebook_size}; pass a stage-2 run folder as it was written"
            )
        check_generation_rate(self.codec.frames_per_code)  # now, not once the model is trained
        self.families = load_families()
        if cfg.task_tags:
            self.families = {name: dataclasses.replace(family, tag=task_tag(name)) for name, family in self.families.items()}
        self.labels = read_labels_if_any(self.data_dir)
        self.edits = read_edits(self.data_dir)
        self.sources: dict[str, TaskSource] = {}

    def source(self, split: str) -> TaskSource:
        if split not in self.sources:
            codes, _, _ = load_or_encode(self.clips[split], self.codec, self.init_dir / VQ_FILE, self.run_dir, [self.init_dir])
            weights = self.cfg.weights() if split == "train" else None
            self.sources[split] = TaskSource(self.clips[split], codes, self.labels, self.edits, weights)
        return self.sources[split]

    def examples(self, split: str, corruption_tau: float = 0.0, condition_dropout: float = 0.0) -> InstructionExamples:
        fps, fpc = self.skeleton.fps, self.codec.frames_per_code
        return InstructionExamples(self.source(split), self.families, self.lm, fps, fpc, corruption_tau, condition_dropout)

    def missing_data_notes(self) -> list[str]:
        notes = []
        if not self.labels:
            notes.append("compose skipped: the dataset has no labels.jsonl (action programs)")
        if not self.edits:
            notes.append("edit and diff skipped: the dataset has no edits.jsonl")
        return notes

    def describe(self) -> str:
        counts = self.source("train").counts()
        per_family = ", ".join(f"{f} {n}" for f, n in counts.items())
        notes = "".join(f"\nnote: {n}" for n in self.missing_data_notes() + [f"{f} has no training example" for f, n in counts.items() if not n and f not in ("compose", "edit", "diff")])
        return (
            f"{self.data_dir}: {len(self.clips['train'])} training clips, {sum(counts.values())} examples an epoch ({per_family}); "
            f"initialised from {self.init_dir}{notes}"
        )

    def build_model(self) -> nn.Module:
        return self.lm.model

    def train_dataset(self) -> InstructionExamples:
        return self.examples("train", self.cfg.corruption_tau, self.cfg.condition_dropout)

    def item_length(self, item: Seq2SeqExample) -> int:
        return example_length(item)

    def collate(self, items: list[Seq2SeqExample]) -> dict[str, torch.Tensor]:
        return collate(items, self.lm.vocab.pad_id)

    def train_step(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return seq2seq_loss(model, batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        dataset = self.examples("val")
        report = mean_loss(model, [dataset[k] for k in fixed_keys(self.cfg.val_examples, len(dataset), 1)], self.lm.vocab.pad_id)
        report |= self.prompt_gaps(model, dataset)
        if self.cfg.judge_clips:
            snapshot = self.run_dir / JUDGE_DIR / "bundle"
            self.save(model, snapshot, card="# a snapshot of a stage-3 run, for the judge\n", training={})
            report |= self.judge(snapshot)
        return report

    def judge(self, bundle: Path) -> dict[str, float]:
        """`judge_*` scores of `bundle` by `motionchat-eval judge` ({} with a warning if it fails)."""
        scores = run_judge(bundle, self.data_dir, self.cfg.judge_clips, self.run_dir / JUDGE_DIR / "judge.json")
        return {f"judge_{name}": value for name, value in scores.items() if name not in DECODING_SETTINGS}

    def save(self, model: nn.Module, bundle: Path, card: str, training: dict) -> None:
        """Write `model` as a bundle (with the tagged templates when the run tags its prompts)."""
        templates = self.run_dir / TEMPLATES_DIR if self.cfg.task_tags else None
        if templates is not None and not templates.is_dir():
            write_tagged_templates(templates)
        presets = {stage: str(record.get("preset")) for stage, record in training.items() if isinstance(record, dict)}
        save_bundle(
            bundle, vq=self.codec.vq, normalizer=self.codec.normalizer, lm=LanguageModel(model, self.lm.tokenizer, self.lm.vocab),
            skeleton=self.skeleton, card=card, presets=presets, training={**training, **{name: getattr(self.cfg, name) for name in DECODING_SETTINGS}}, templates_dir=templates,
        )  # fmt: skip

    def prompt_gaps(self, model: nn.Module, dataset: InstructionExamples) -> dict[str, float]:
        return family_prompt_gaps(model, dataset, self.cfg.gap_examples)

    def family_losses(self, model: nn.Module, dataset: InstructionExamples) -> dict[str, float]:
        keys = fixed_keys(self.cfg.test_examples, len(dataset), 2)
        report = mean_loss(model, [dataset[k] for k in keys], self.lm.vocab.pad_id)
        for family in self.families:
            chosen = [dataset[k] for k in keys if dataset.source.items[k[0]][0] == family]
            if chosen:
                report[f"{family}_loss"] = mean_loss(model, chosen, self.lm.vocab.pad_id)["loss"]
        return report

    def finish(self, model: nn.Module, run_dir: Path) -> dict[str, Any]:
        test = self.examples("test")
        answers = check_answers(model, self.lm, test, synthetic=bool(self.labels))
        report = {"split": "test", "examples": self.cfg.test_examples, **self.family_losses(model, test), **self.prompt_gaps(model, test)}
        report["well_formed_answers"] = sum(a["ok"] for a in answers.values())
        report["families_checked"] = len(answers)
        report["motions_at_length_limit"] = sum(a["at_length_limit"] for a in answers.values())
        atomic_write_text(run_dir / EVAL_FILE, json.dumps({**report, "answers": answers}, indent=2) + "\n")
        provenance = read_json(self.init_dir / PROVENANCE_FILE)
        recorded = read_run_config(run_dir)
        provenance["stage3"] = {"preset": recorded.get("preset"), "data": recorded.get("data"), "corpus": describe_corpus(self.data_dir),
                                "steps": read_json(run_dir / "ranks.json").get("step"),
                                "test": report, "examples_per_epoch": self.source("train").counts()}  # fmt: skip
        self.save(model, self.bundle_dir, model_card(provenance, answers, self.missing_data_notes()), provenance)
        if self.cfg.judge_clips:
            report |= self.judge(self.bundle_dir)
            atomic_write_text(run_dir / EVAL_FILE, json.dumps({**report, "answers": answers}, indent=2) + "\n")
        return report


def model_card(provenance: dict, answers: dict[str, dict], notes: list[str]) -> str:
    """card.md: data, training and scores, from the records of the three stages."""
    lines = ["# motionchat model", "", "## Data", ""]
    corpus = provenance.get("stage3", {}).get("corpus")
    if corpus:
        lines.append(f"- corpus: {corpus}")
    for stage, record in provenance.items():
        other = Path(str(record.get("data"))).name != Path(str(provenance.get("stage3", {}).get("data"))).name
        where = f" on `{Path(str(record.get('data'))).name}`" if other or not corpus else ""
        lines.append(f"- {stage}{where}: preset {record.get('preset')}, {record.get('steps')} steps")
    lines += [f"- note: {n}" for n in notes]
    lines += ["", "## Scores (test split)", ""]
    vq = provenance.get("stage1", {}).get("test", {})
    if vq:
        lines.append(f"- tokenizer: MPJPE {vq.get('mpjpe_mm', float('nan')):.1f} mm, codebook usage {100 * vq.get('codebook_usage', 0):.1f}%, "
                     f"perplexity {vq.get('perplexity', float('nan')):.1f}")  # fmt: skip
    for stage in ("stage2", "stage3"):
        test = provenance.get(stage, {}).get("test", {})
        if test:
            lines.append(f"- {stage}: loss {test.get('loss', float('nan')):.3f}, token accuracy {100 * test.get('token_acc', 0):.1f}%")
            if gap_line(test):
                lines.append(f"- {stage}: {gap_line(test)} (loss with another example's prompt minus loss with its own)")
    lines += ["", "## Answers per family (one sampled answer each, checked for its output type)", "",
              "| family | output | well formed | answer |", "|---|---|---|---|"]  # fmt: skip
    for family, a in answers.items():
        shown = (a["answer"] or "").replace("|", "/") if a["ok"] else a["problem"]
        shown += " (cut at the length limit)" if a["at_length_limit"] else ""
        lines.append(f"| {family} | {a['output']} | {'yes' if a['ok'] else 'no'} | {shown} |")
    return "\n".join(lines) + "\n"


def default_run_dir(bundle: Path) -> Path:
    return Path(f"{Path(bundle)}.runs") / "stage3"


def check_bundle_out(bundle: Path, *, resume: bool, force: bool) -> None:
    """Refuse to replace an existing bundle without --force (a resumed run replaces it at its end)."""
    bundle = Path(bundle)
    if bundle.exists() and not bundle.is_dir():
        raise MotionchatError(f"{bundle}: exists and is not a folder; pass a folder for --out")
    if bundle.is_dir() and any(bundle.iterdir()) and not (force or resume):
        raise MotionchatError(f"{bundle}: folder is not empty; pass --force to replace it with the new bundle")


def run_stage3(*, data: Path | None, init: Path | None, run_dir: Path | None, **options: Any) -> RunResult:
    """`trainer stage3` (`options`: the fields of `RunOptions`, `out` the bundle): validate every
    input, then train and write the bundle."""
    settings = RunOptions(**options)
    check_bundle_out(settings.out, resume=settings.resume, force=settings.force)
    run = StageRun(
        settings, stage=InstructStage.name, presets=STAGE3_PRESETS, default=Stage3Config(), run_dir=run_dir or default_run_dir(settings.out)
    )
    data = run.input_dir(data, "data", "--data is required: a HumanML3D-layout dataset folder with texts/ (e.g. from `trainer data synth`)")
    init = run.input_dir(init, "init", "--init is required: the run folder of `trainer stage2`")
    out = Path(settings.out)
    stage = InstructStage(run.cfg, data, init, out, run.run_dir)
    inputs = {"data": str(data.resolve()), "init": str(init.resolve()), "bundle": str(out.resolve())}
    return run.train(stage, inputs, lambda r: (
        f"test split ({r['examples']} examples): loss {r['loss']:.3f}, token accuracy {100 * r['token_acc']:.1f}%; "
        f"well-formed sampled answers: {r['well_formed_answers']}/{r['families_checked']} families "
        f"({r['motions_at_length_limit']} motions cut at the length limit)\n{gap_line(r)}\n"
        f"wrote the bundle {out} (run folder {run.run_dir})"
    ))  # fmt: skip
