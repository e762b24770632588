"""One answering path for every task family: request values -> model input -> generate -> answer.

Chat, stage 3 and evaluation all state a request as a `TaskRequest` (texts, the input motions as
motion codes, a duration) and turn it into the model's input with `prepare`, so the values a
family's prompt takes, its frame limits and how its answer becomes a motion are written once:

    question = prepare(request, families, rng, codebook_size=K, frames_per_code=4, fps=20)
    answers = answer_questions(lm, [question], DecodingConfig(...))       # answers[question][sample]
    motion = decode_answer(codec, question, answers[0][0].codes)          # motion families

A new family is its template file plus one entry in `TASKS`: the request values its prompt takes
and the kind of stage-3 example it learns from.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from motionchat.errors import MotionchatError
from motionchat.motion.timing import FRAMES_PER_CODE, HUMANML3D_FPS, MAX_FRAMES, codes_to_frames, frames_to_codes
from motionchat.tasks.examples import TaskValues, build_prompt, build_target, known_frames
from motionchat.tasks.families import Family

if TYPE_CHECKING:
    from motionchat.lm.answers import Answer
    from motionchat.lm.generation import DecodingConfig
    from motionchat.lm.model import LanguageModel
    from motionchat.tasks.templates import Rng
    from motionchat.vq.codec import DecodedMotion, MotionCodec


@dataclass(frozen=True)
class TaskRequest:
    """A request in the model's units, whoever asks (chat, stage 3, evaluation).

    Args:
        family: the family id.
        caption, captions, edit: the texts of the request (captions: several, in order).
        motions: the input motions as motion codes, in order (the source, the start, the first...).
        motion_frames: each input motion's length in frames.
        frames: a duration: of the motion asked for (of the whole motion for predict and
            inbetween), or of the part of the input to describe (m2t_length); None when not given.
    """

    family: str
    caption: str | None = None
    captions: Sequence[str] | None = None
    motions: Sequence[Sequence[int]] = ()
    motion_frames: Sequence[int] = ()
    frames: int | None = None
    edit: str | None = None


@dataclass(frozen=True)
class CaptionCheck:
    """A motion answer is checked by how likely `reader` (the model's `m2t` family) finds
    `caption` for it."""

    caption: str
    reader: Family


@dataclass(frozen=True)
class Question:
    """A request as the model reads it, and how its answer is to be generated and decoded.

    Args:
        family: the family asked.
        prompt: the model input.
        frame_limits: (min, max) frames of a motion answer, or None for `generate`'s defaults.
        prefix_codes: codes the answer continues (predict); decoded together with the answer.
        answer_frames: frames the decoded motion is cut to (None: all its codes cover).
        held_codes: per place of the motion answer, the code decoding holds it to, or None where
            the model chooses (inbetween: the given start and end); () holds nothing.
        frames_per_code: the tokenizer's down-sampling the question was prepared for.
        fps: the frame rate durations are stated at (seconds <-> frames).
        check: what best-of sampling reads a motion answer back against (`CHECKED_BY_CAPTION`
            families of a model that captions); None where answers are not checked.
    """

    family: Family
    prompt: str
    frame_limits: tuple[int, int] | None = None
    prefix_codes: tuple[int, ...] = ()
    answer_frames: int | None = None
    frames_per_code: int = FRAMES_PER_CODE
    fps: float = HUMANML3D_FPS
    held_codes: tuple[int | None, ...] = ()
    check: CaptionCheck | None = None


@dataclass(frozen=True)
class TaskSpec:
    """How one family reads a request, and where stage 3 takes its training examples from.

    Args:
        inputs: (request, frames per code) -> the values its prompt is filled from.
        examples: "clip" (a clip, one of its captions and its length; the answer is the clip, the
            caption or the length), "pair" (an edit pair: source and edited motion, instruction
            and difference sentence), or the family's own cut of a clip: "predict", "inbetween",
            "compose" (the clip's actions captioned one by one).
        continues_input: the answer continues the input motion (predict), which is decoded with it.
        holds_ends: the answer is a whole motion that starts with the input's start (`motion`)
            and ends with its end (`motion_b`), as trained (inbetween): decoding keeps those codes
            and samples only the rest. Without a requested length the answer is twice as long as
            start and end together (each is a quarter of a training clip), at most `MAX_FRAMES`.
    """

    inputs: Callable[[TaskRequest, int], TaskValues]
    examples: Literal["clip", "pair", "predict", "inbetween", "compose"]
    continues_input: bool = False
    holds_ends: bool = False


# Families whose motion answers best-of sampling can check: the model captions them back (`m2t`)
# and the one it finds the request's caption likeliest for is kept.
CHECKED_BY_CAPTION = frozenset({"t2m", "t2m_length"})
# Best-of also weighs how likely the model finds each motion given the request (mean log-probability
# per answer token, so that shorter motions gain nothing): judge program accuracy 28.5% -> 35.8%
# (256 validation clips, seeds 0-2, best of 7) at this weight, R-Precision unchanged (README,
# "Best of several motions").
ANSWER_WEIGHT = 10.0


def max_input_codes(frames_per_code: int) -> int:
    """Codes of the longest motion the model reads or writes (`MAX_FRAMES`)."""
    return frames_to_codes(MAX_FRAMES, frames_per_code)


def edge_codes(frames_per_code: int) -> int:
    """Codes kept of each of two motions to in-between: as many as the longest start training
    gives (`known_frames`: 25% of `MAX_FRAMES`, encoded on its own)."""
    return frames_to_codes(known_frames("inbetween", MAX_FRAMES)[0], frames_per_code)


def _motion(request: TaskRequest, index: int, limit: int | None = None) -> list[int]:
    if len(request.motions) <= index:
        raise MotionchatError(f"a {request.family} request needs {index + 1} input motion{'s' if index else ''}")
    return list(request.motions[index])[:limit]


def _nothing(request: TaskRequest, frames_per_code: int) -> TaskValues:
    return TaskValues()


def _caption(request: TaskRequest, frames_per_code: int) -> TaskValues:
    return TaskValues(caption=request.caption, frames=request.frames)


def _duration(request: TaskRequest, frames_per_code: int) -> TaskValues:
    return TaskValues(frames=request.frames)


def _captions(request: TaskRequest, frames_per_code: int) -> TaskValues:
    return TaskValues(captions=request.captions, frames=request.frames)


def _described(request: TaskRequest, frames_per_code: int) -> TaskValues:
    return TaskValues(motion=_motion(request, 0, max_input_codes(frames_per_code)), frames=request.motion_frames[0])


def _described_part(request: TaskRequest, frames_per_code: int) -> TaskValues:
    """The first `frames` of the motion (all of it when not given or longer)."""
    whole = request.motion_frames[0]
    frames = min(request.frames or whole, whole)
    return TaskValues(motion=_motion(request, 0, frames_to_codes(frames, frames_per_code)), frames=frames)


def _continued(request: TaskRequest, frames_per_code: int) -> TaskValues:
    """The most recent part of the motion, leaving room for at least one code of answer."""
    return TaskValues(motion=_motion(request, 0)[-(max_input_codes(frames_per_code) - 1) :])


def _start_and_end(request: TaskRequest, frames_per_code: int) -> TaskValues:
    """One motion: its start and end as training cuts them; two: the end of the first and the start
    of the second."""
    if len(request.motions) == 1:
        start, end = known_frames("inbetween", request.motion_frames[0])
        codes = _motion(request, 0)
        return TaskValues(
            motion=codes[: frames_to_codes(start, frames_per_code)],
            motion_b=codes[-frames_to_codes(end, frames_per_code) :],
        )
    keep = edge_codes(frames_per_code)
    return TaskValues(motion=_motion(request, 0)[-keep:], motion_b=_motion(request, 1, keep))


def _edited(request: TaskRequest, frames_per_code: int) -> TaskValues:
    return TaskValues(motion=_motion(request, 0, max_input_codes(frames_per_code)), edit=request.edit)


def _compared(request: TaskRequest, frames_per_code: int) -> TaskValues:
    limit = max_input_codes(frames_per_code)
    return TaskValues(motion=_motion(request, 0, limit), motion_b=_motion(request, 1, limit))


# The order is stage 3's order of examples within a clip (then per edit pair): keep it.
TASKS: Mapping[str, TaskSpec] = {
    "t2m": TaskSpec(_caption, "clip"),
    "t2m_length": TaskSpec(_caption, "clip"),
    "length2m": TaskSpec(_duration, "clip"),
    "random_motion": TaskSpec(_nothing, "clip"),
    "m2t": TaskSpec(_described, "clip"),
    "m2t_length": TaskSpec(_described_part, "clip"),
    "m2length": TaskSpec(_described, "clip"),
    "t2length": TaskSpec(_caption, "clip"),
    "length2t": TaskSpec(_duration, "clip"),
    "random_caption": TaskSpec(_nothing, "clip"),
    "predict": TaskSpec(_continued, "predict", continues_input=True),
    "inbetween": TaskSpec(_start_and_end, "inbetween", holds_ends=True),
    "compose": TaskSpec(_captions, "compose"),
    "edit": TaskSpec(_edited, "pair"),
    "diff": TaskSpec(_compared, "pair"),
}


def trained_family(families: Mapping[str, Family], family_id: str) -> Family:
    """The family `family_id` of a model tuned on `families`, if this code can ask it."""
    if family_id not in families or family_id not in TASKS:
        raise MotionchatError(f"this model was not trained for '{family_id}' requests")
    return families[family_id]


def prepare(
    request: TaskRequest,
    families: Mapping[str, Family],
    rng: Rng,
    *,
    codebook_size: int,
    frames_per_code: int,
    fps: float,
) -> Question:
    """The model input of `request` (a random instruction template drawn from `rng`), its frame
    limits and how its answer is decoded. A requested duration fixes a motion answer's length;
    a continuation (predict) may use what is left of `MAX_FRAMES` (or of `frames`) after its input."""
    family, spec = trained_family(families, request.family), TASKS[request.family]
    values = spec.inputs(request, frames_per_code)
    frames, limits, prefix, held = request.frames, None, (), ()
    if spec.holds_ends:
        start, end = values.motion or (), values.motion_b or ()
        if frames is None:  # as trained: the start and the end are a quarter of the motion each
            whole = min(2 * (len(start) + len(end)), max_input_codes(frames_per_code))
            frames = codes_to_frames(whole, frames_per_code)
        held = held_ends(start, end, frames_to_codes(frames, frames_per_code))
    if spec.continues_input:
        prefix = tuple(values.motion or ())
        whole = min(frames or MAX_FRAMES, MAX_FRAMES)
        limits = (1, max(1, whole - codes_to_frames(len(prefix), frames_per_code)))
    elif frames is not None and family.output == "motion":
        limits = (frames, frames)
    prompt = build_prompt(family, values, rng, codebook_size=codebook_size, fps=fps)
    answer_frames = frames if family.output == "motion" else None
    check = None
    if request.family in CHECKED_BY_CAPTION and request.caption and "m2t" in families:
        check = CaptionCheck(request.caption, families["m2t"])
    return Question(family, prompt, limits, prefix, answer_frames, frames_per_code, fps, held, check)


def held_ends(start: Sequence[int], end: Sequence[int], total: int) -> tuple[int | None, ...]:
    """The places of a `total`-code in-between answer held to its given codes: the start's first,
    the end's last (the start wins where they would overlap); None where the model chooses."""
    head = tuple(start[:total])
    tail = tuple(end[len(end) - min(len(end), total - len(head)) :])
    return (*head, *[None] * (total - len(head) - len(tail)), *tail)


def check_generation_rate(frames_per_code: int) -> None:
    """Refuse a tokenizer rate that `generate` would miscount (it converts frame limits to codes at
    `timing.FRAMES_PER_CODE`)."""
    if frames_per_code != FRAMES_PER_CODE:
        raise MotionchatError(
            f"this model's tokenizer covers {frames_per_code} frames a code; generation counts {FRAMES_PER_CODE}, "
            "so its length limits would be wrong: use a tokenizer that down-samples by 4"
        )


def answer_questions(lm: LanguageModel, questions: Sequence[Question], config: DecodingConfig) -> list[list[Answer]]:
    """Every question answered `config.num_samples` times in one batched generation, each
    constrained to its family's output type and frame limits (and a duration family's answer to
    its templates, see `DecodingConfig.hold_durations`); answers[question][sample].

    With `config.best_of` k > 1, a question with a `check` is answered k times as often and keeps
    the answers whose motions the model captions back likeliest as the request's caption
    (`best_answers`); in order of that likelihood.

    `generate` still turns frame limits into codes at `timing.FRAMES_PER_CODE`; a model whose
    tokenizer has another rate is refused here rather than given limits it would miscount."""
    for rate in {q.frames_per_code for q in questions}:
        check_generation_rate(rate)
    checked = [i for i, q in enumerate(questions) if q.check is not None] if config.best_of > 1 else []
    if not checked:
        return _answer(lm, questions, config)
    plain = [i for i in range(len(questions)) if i not in set(checked)]
    answers: list[list[Answer]] = [[] for _ in questions]
    if plain:
        for i, given in zip(plain, _answer(lm, [questions[i] for i in plain], config)):
            answers[i] = given
    many = replace(config, num_samples=config.num_samples * config.best_of)
    for i, candidates in zip(checked, _answer(lm, [questions[i] for i in checked], many)):
        answers[i] = best_answers(lm, questions[i], candidates, config.num_samples)
    return answers


def best_answers(lm: LanguageModel, question: Question, candidates: Sequence[Answer], keep: int) -> list[Answer]:
    """The `keep` best candidates, best first, malformed ones last: scored by the log-likelihood of
    the question's caption when the model describes the motion (`question.check`; every candidate
    read with the same instruction and answer template, so only the motion differs) plus
    `ANSWER_WEIGHT` times the motion's mean log-probability per token given the question."""
    from motionchat.lm.scoring import answer_log_likelihoods

    check = question.check
    if check is None:
        raise ValueError(f"a {question.family.id} question has no caption to check its answers against")
    usable = [k for k, a in enumerate(candidates) if a.ok]
    size = lm.vocab.codebook_size
    prompts, targets, motions = [], [], []
    for k in usable:
        codes = list(candidates[k].codes)[: max_input_codes(question.frames_per_code)]
        frames = question.answer_frames or codes_to_frames(len(codes), question.frames_per_code)
        rng = random.Random(0)
        values = TaskValues(motion=codes, frames=frames, caption=check.caption, answer_motion=candidates[k].codes)
        prompts.append(build_prompt(check.reader, values, rng, codebook_size=size, fps=question.fps))
        targets.append(build_target(check.reader, values, rng, codebook_size=size, fps=question.fps))
        motions.append(build_target(question.family, values, rng, codebook_size=size, fps=question.fps))
    read_back = answer_log_likelihoods(lm.model, lm.tokenizer, lm.vocab, prompts, targets, [check.reader.tag] * len(prompts))
    given = answer_log_likelihoods(
        lm.model, lm.tokenizer, lm.vocab, [question.prompt] * len(motions), motions, [question.family.tag] * len(motions)
    )
    tokens = [len(lm.tokenizer(m)["input_ids"]) for m in motions]
    scores = [r + ANSWER_WEIGHT * g / n for r, g, n in zip(read_back, given, tokens)]
    ranked = [usable[j] for j in sorted(range(len(usable)), key=lambda j: -scores[j])]
    ranked += [k for k in range(len(candidates)) if k not in set(usable)]
    return [candidates[k] for k in ranked[:keep]]


def _answer(lm: LanguageModel, questions: Sequence[Question], config: DecodingConfig) -> list[list[Answer]]:
    """`answer_questions` without best-of: one batched generation, `config.num_samples` each."""
    from motionchat.lm.constraints import HeldCodes
    from motionchat.lm.generation import generate, text_ids
    from motionchat.tasks.answer_grammar import DurationGrammar, is_duration_family

    processors = []
    held = [config.hold_durations and is_duration_family(q.family) for q in questions]
    if any(held):
        tag_lengths = {tag: len(text_ids(lm.tokenizer, tag)) for tag in {q.family.tag for q in questions}}
        rows = [(q, h) for q, h in zip(questions, held) for _ in range(config.num_samples)]
        processors.append(DurationGrammar(
            lm.tokenizer,
            [q.family if h else None for q, h in rows],
            [tag_lengths[q.family.tag] for q, _ in rows],
            lm.vocab.eos_id,
            questions[0].fps,
        ))  # fmt: skip
    if any(q.held_codes for q in questions):
        processors.append(HeldCodes(lm.vocab, [q.held_codes for q in questions for _ in range(config.num_samples)]))
    return generate(
        lm.model,
        lm.tokenizer,
        lm.vocab,
        [q.prompt for q in questions],
        [q.family.output for q in questions],
        config,
        frame_limits=[q.frame_limits for q in questions],
        null_prompts=[q.family.tag for q in questions],
        answer_prefixes=[q.family.tag for q in questions],
        logits_processors=processors,
    )


def decode_answers(
    codec: MotionCodec, questions: Sequence[Question], code_lists: Sequence[Sequence[int]]
) -> list[DecodedMotion]:
    """The motions of well-formed motion answers (`Answer.codes`), each after its question's prefix
    and cut to its length; decoded in batches."""
    joined = [[*q.prefix_codes, *codes] for q, codes in zip(questions, code_lists, strict=True)]
    return codec.decode_many(joined, [q.answer_frames for q in questions])


def decode_answer(codec: MotionCodec, question: Question, codes: Sequence[int]) -> DecodedMotion:
    return decode_answers(codec, [question], [codes])[0]
