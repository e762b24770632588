"""The generation API used by chat, training-time samples and evaluation.

`generate(model, tokenizer, vocab, prompts, output)` encodes the prompts in one batch, then decodes
every (prompt, sample) row together with a key/value cache, each row constrained to its output type
(see `constraints.py`), greedily or by sampling. Sampling is seeded per row from (seed, sample
index, prompt text), so an answer does not depend on which other prompts share its batch: the same
seed gives the same samples whether prompts come one by one or 32 at a time (barring float
rounding differences that padding can cause).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from motionchat.errors import MotionchatError
from motionchat.lm.answers import Answer, parse_motion_answer, parse_text_answer
from motionchat.lm.constraints import MOTION, OUTPUT_TYPES, OutputConstraint, banned_in_text
from motionchat.lm.motion_time import MotionClock
from motionchat.lm.t5 import WIDE_ROWS, T5, encoder_output, start_decoder, vocab_rows
from motionchat.lm.vocab import VocabLayout
from motionchat.lm.warpers import LogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper
from motionchat.motion.timing import FRAMES_PER_CODE, MAX_FRAMES, frames_to_codes

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, T5ForConditionalGeneration


GREEDY_ENDS = ("median", "argmax")


@dataclass(frozen=True)
class DecodingConfig:
    """How answers are decoded.

    Args:
        do_sample: sample from the (warped) distribution; False takes the most likely token.
        temperature, top_k, top_p: sampling warpers (top_k=0 and top_p=1 switch them off).
        num_samples: answers per prompt; more than one needs `do_sample`.
        seed: sampling seed; the same seed gives the same answers.
        min_motion_frames, max_motion_frames: length bounds of a motion answer, in frames. They
            become codes with `timing.frames_to_codes` (rounding up), so a decoded motion can be up
            to FRAMES_PER_CODE - 1 frames longer than asked; trim it after decoding.
        max_text_tokens: tokens a text answer may use before it is reported as unfinished.
        max_prompt_tokens: longer prompts are refused.
        guidance: classifier-free guidance scale s: each step's log-probabilities are u + s (c - u),
            c given the prompt and u given the null prompt (`NULL_PROMPT`), decoded in the same
            batch. 1 is plain decoding (and costs nothing extra); above 1 follows the prompt more.
            Useful only for a model trained with condition dropout (stage 3's `condition_dropout`).
        greedy_end: how greedy decoding ends a motion. "median" (the default): at the first step
            where the model's probability of having ended by then, the product of (1 - p(<eom>))
            along the greedy path, falls below 1/2: the median of the length it predicts. "argmax":
            only where <eom> is the single most likely token, which one step rarely makes it when
            the ending is spread over several steps, so motions run to the length limit. Sampling
            draws <eom> like any other token either way.
        hold_durations: answers of families whose answer is a duration keep to the family's
            answer templates token by token (`tasks.answer_grammar`), so they always state one;
            False leaves them free (they may then state none).
        best_of: `tasks.answering.answer_questions` draws this many samples for each answer to a
            text->motion request and keeps the one the model reads back as the request's caption
            likeliest (1: off). `generate` itself answers `num_samples` times regardless.
    """

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    num_samples: int = 1
    seed: int = 0
    min_motion_frames: int = FRAMES_PER_CODE
    max_motion_frames: int = MAX_FRAMES
    max_text_tokens: int = 64
    max_prompt_tokens: int = 512
    guidance: float = 1.0
    greedy_end: str = "median"
    hold_durations: bool = True
    best_of: int = 1

    def __post_init__(self):
        problems = []
        if not self.guidance >= 0:
            problems.append(f"guidance must be >= 0 (1 = off), got {self.guidance}")
        if not self.temperature > 0:
            problems.append(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0:
            problems.append(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {self.top_p}")
        if self.num_samples < 1:
            problems.append(f"num_samples must be >= 1, got {self.num_samples}")
        if self.best_of < 1 or (self.best_of > 1 and not self.do_sample):
            problems.append(f"best_of must be 1, or more with sampling, got {self.best_of}")
        if self.greedy_end not in GREEDY_ENDS:
            problems.append(f"greedy_end must be one of {', '.join(GREEDY_ENDS)}, got {self.greedy_end!r}")
        if self.num_samples > 1 and not self.do_sample:
            problems.append(f"num_samples={self.num_samples} needs sampling (greedy answers would all be equal)")
        problems += _frame_problems(self.min_motion_frames, self.max_motion_frames)
        if self.max_text_tokens < 1 or self.max_prompt_tokens < 1:
            problems.append("max_text_tokens and max_prompt_tokens must be >= 1")
        if problems:
            raise MotionchatError("; ".join(problems))


NULL_PROMPT = ""  # the unconditional input: what condition dropout trains and guidance subtracts


def _frame_problems(min_frames: int, max_frames: int) -> list[str]:
    if not 1 <= min_frames <= max_frames <= MAX_FRAMES:
        return [f"motion length must satisfy 1 <= min <= max <= {MAX_FRAMES} frames, got {min_frames}..{max_frames}"]
    return []


def _row_seed(seed: int, sample: int, prompt: str) -> int:
    digest = hashlib.blake2b(f"{seed}\0{sample}\0{prompt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _warpers(config: DecodingConfig) -> list[LogitsProcessor]:
    """Sampling warpers (written as transformers' own), applied after the output constraint (as
    `generate` orders them)."""
    if not config.do_sample:
        return []
    warpers: list[LogitsProcessor] = []
    if config.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(config.temperature))
    if config.top_k > 0:
        warpers.append(TopKLogitsWarper(config.top_k))
    if config.top_p < 1.0:
        warpers.append(TopPLogitsWarper(config.top_p))
    return warpers


def _per_prompt(
    prompts: list[str], output: str | Sequence[str], frame_limits, config: DecodingConfig
) -> tuple[list[str], list[tuple[int, int]]]:
    """Each prompt's output type and (min, max) motion frames, checked."""
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must be a non-empty list of strings")
    outputs = [output] * len(prompts) if isinstance(output, str) else list(output)
    limits = list(frame_limits) if frame_limits is not None else [None] * len(prompts)
    if len(outputs) != len(prompts) or len(limits) != len(prompts):
        raise ValueError("output and frame_limits need one entry per prompt")
    if set(outputs) - set(OUTPUT_TYPES):
        raise ValueError(f"output must be one of {OUTPUT_TYPES}, got {sorted(set(outputs) - set(OUTPUT_TYPES))}")
    limits = [lim or (config.min_motion_frames, config.max_motion_frames) for lim in limits]
    for lo, hi in limits:
        if problems := _frame_problems(lo, hi):
            raise MotionchatError(problems[0])
    return outputs, limits


@torch.inference_mode()
def generate(
    model: T5 | T5ForConditionalGeneration,
    tokenizer: PreTrainedTokenizerBase,
    vocab: VocabLayout,
    prompts: Sequence[str],
    output: str | Sequence[str],
    config: DecodingConfig = DecodingConfig(),
    frame_limits: Sequence[tuple[int, int] | None] | None = None,
    logits_processors: Sequence[LogitsProcessor] = (),
    null_prompts: Sequence[str] | None = None,
    answer_prefixes: Sequence[str] | None = None,
) -> list[list[Answer]]:
    """Answer every prompt `config.num_samples` times; returns answers[prompt][sample].

    Args:
        output: "motion" or "text", for all prompts or one per prompt.
        frame_limits: per prompt (min_frames, max_frames) overriding the config's motion bounds
            (e.g. a requested duration), or None to keep them.
        logits_processors: extra processors run after the output constraint and before sampling.
        null_prompts: per prompt, the unconditional input guidance subtracts (default
            `NULL_PROMPT`; a model trained with task tags drops everything but the tag).
        answer_prefixes: per prompt, text the decoder is given before it answers (a model trained
            with task tags: the tag, so that the decoder knows the task however it reads the
            prompt); it is forced, then left out of the answer.
    """
    prompts = list(prompts)
    outputs, limits = _per_prompt(prompts, output, frame_limits, config)
    device = next(model.parameters()).device
    batch = tokenizer(prompts, padding=True, return_tensors="pt").to(device)
    lengths = batch["attention_mask"].sum(1)
    if int(lengths.max()) > config.max_prompt_tokens:
        i = int(lengths.argmax())
        raise MotionchatError(
            f"prompt {i + 1} has {int(lengths[i])} tokens, over the limit of {config.max_prompt_tokens}; shorten it"
        )

    n = config.num_samples
    row_prompt = [i for i in range(len(prompts)) for _ in range(n)]
    row_type = [outputs[i] for i in row_prompt]
    min_codes = [frames_to_codes(limits[i][0]) for i in row_prompt]
    max_codes = [frames_to_codes(limits[i][1]) for i in row_prompt]
    prefix_ids = {text: text_ids(tokenizer, text) for text in set(answer_prefixes or ())}
    row_prefix = [prefix_ids[answer_prefixes[i]] if answer_prefixes is not None else [] for i in row_prompt]
    # A motion needs <som>, its codes, <eom> and </s>; a text its tokens and </s>; both the prefix.
    budgets = [len(p) + (hi + 3 if kind == MOTION else config.max_text_tokens + 1) for p, kind, hi in zip(row_prefix, row_type, max_codes)]
    text_banned = banned_in_text(tokenizer, vocab)
    constraint = OutputConstraint(vocab, vocab_rows(model), row_type, min_codes, max_codes, text_banned, [len(p) for p in row_prefix])
    processors = [constraint, *logits_processors, *_warpers(config)]
    uniforms = None
    if config.do_sample:  # each row's own draws, so that its answer does not depend on its batch
        uniforms = torch.stack([
            torch.rand(max(budgets), generator=torch.Generator().manual_seed(_row_seed(config.seed, r % n, prompts[i])),
                       dtype=torch.float64)
            for r, i in enumerate(row_prompt)
        ]).to(device)  # fmt: skip

    was_training = model.training
    switched = any(module.training for module in model.modules())  # eval() walks and sets every module
    if switched:
        model.eval()
    try:
        encoder_hidden = encoder_output(model, batch, vocab)
        encoder_hidden = encoder_hidden.repeat_interleave(n, dim=0)
        encoder_mask = batch["attention_mask"].repeat_interleave(n, dim=0)
        if config.guidance != 1.0:  # the null prompts' rows after the prompts' rows, one decoder pass
            nulls = [NULL_PROMPT] * len(prompts) if null_prompts is None else list(null_prompts)
            distinct = sorted(set(nulls))  # encoded once each (usually one: "" or a family's tag)
            null = tokenizer(distinct, padding=True, return_tensors="pt").to(device)
            row_null = torch.tensor([distinct.index(nulls[i]) for i in row_prompt], device=device)
            null_hidden, null_mask = encoder_output(model, null, vocab)[row_null], null["attention_mask"][row_null]
            width = max(encoder_hidden.shape[1], null_hidden.shape[1])
            pad = torch.nn.functional.pad
            encoder_hidden = torch.cat([pad(h, (0, 0, 0, width - h.shape[1])) for h in (encoder_hidden, null_hidden)])
            encoder_mask = torch.cat([pad(m, (0, width - m.shape[1])) for m in (encoder_mask, null_mask)])
        median_end = not config.do_sample and config.greedy_end == "median"
        token_ids = _decode(model, encoder_hidden, encoder_mask, vocab, budgets, processors, uniforms, config.guidance, row_prefix, median_end)
    finally:
        if switched:
            model.train(was_training)

    answers: list[list[Answer]] = [[] for _ in prompts]
    for r, i in enumerate(row_prompt):
        ids = token_ids[r][len(row_prefix[r]) :]
        if row_type[r] == MOTION:
            answers[i].append(parse_motion_answer(ids, vocab, max_codes[r]))
        else:
            answers[i].append(parse_text_answer(ids, tokenizer, vocab, text_banned, config.max_text_tokens))
    return answers


def text_ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """The ids of `text` without the closing </s> ([] for empty text): a prefix the decoder continues."""
    if not text:
        return []
    ids = list(tokenizer(text)["input_ids"])
    return ids[:-1] if ids and ids[-1] == tokenizer.eos_token_id else ids


def sample_tokens(scores: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One token per row of `scores` (rows, V) drawn from softmax(scores) with the row's uniform
    in [0, 1): the first token whose cumulative probability exceeds it (inverse-CDF sampling, all
    rows at once). In float64, u * total stays strictly below the total, so a token of zero
    probability (a flat stretch of the CDF) is never chosen."""
    cdf = scores.softmax(-1).double().cumsum(-1)
    return torch.searchsorted(cdf, uniforms.double()[:, None] * cdf[:, -1:], right=True)[:, 0]


# Processors that keep a row's only allowed token its choice (they never mask the best token, and
# sampling a one-token distribution draws that token), so such a step needs no logits.
_KEEP_FORCED = (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)


def _median_end(next_ids: torch.Tensor, scores: torch.Tensor, end_column: int, survival: torch.Tensor, eom_id: int) -> torch.Tensor:
    """Greedy ids with <eom> where a row's probability of having ended (1 - `survival`, updated
    here in place with this step's p(<eom>), the softmax of the final scores) passes 1/2."""
    p_end = scores.double().softmax(-1)[:, end_column]
    survival.mul_(1 - p_end)
    return torch.where((survival < 0.5) & (p_end > 0), eom_id, next_ids)


def _decode(
    model: T5 | T5ForConditionalGeneration,
    encoder_hidden: torch.Tensor,
    encoder_mask: torch.Tensor,
    vocab: VocabLayout,
    budgets: list[int],
    processors: list[LogitsProcessor],
    uniforms: torch.Tensor | None,
    guidance: float = 1.0,
    forced: Sequence[Sequence[int]] = (),
    median_end: bool = False,
) -> list[list[int]]:
    """Token loop: each row stops at </s> or when its budget of new tokens is spent.

    `uniforms` (rows, max budget) in [0, 1) make it sample (`sample_tokens` with column t at step t);
    None decodes greedily. With `guidance` != 1 the encoder states hold the answer rows and then
    as many null-prompt rows, which follow the answer rows' tokens. `forced`: per row, the tokens
    its first steps take whatever the scores (the answer prefix). `median_end` (greedy only): a
    motion ends once its probability of having ended falls past 1/2 (`DecodingConfig.greedy_end`).

    When `processors` starts with an `OutputConstraint` (as `generate` passes them), the tokens are
    the same as applying the processors at every step, with less work:
      - the row states are kept step by step instead of recomputed from all ids;
      - a step where every row has one allowed token (<som> first, <eom> at the length limit, </s>
        after <eom>) takes it without logits; the decoder is fed that token only when a later step
        needs logits (`FusedDecoder.feed`, keys and values only), and never after the last one;
      - without guidance, in a batch of at least `t5.WIDE_ROWS` rows where every unfinished row is
        a motion row, the head computes only the logits a motion row can be allowed (515 of the
        shipped model's 2,616): every other logit would be masked to -inf anyway, and a product's
        entries do not depend on which other columns it computes (at these sizes, 16 rows and 16
        columns or more: bitwise, checked by tests/lm/test_t5.py; with fewer MKL may take kernels
        that round differently); the first layer's q|k|v of every id such a row can feed is
        computed once (`FusedDecoder.first_layer_rows`) and looked up."""
    rows, device = len(budgets), encoder_hidden.device
    max_new = max(budgets)
    decoder = start_decoder(model, encoder_hidden, encoder_mask, max_steps=max_new + 1)
    ids = torch.full((rows, max_new + 1), vocab.pad_id, dtype=torch.long, device=device)  # T5 starts from <pad>
    # rows that gave </s> or spent their budget, kept in Python (a few list operations per step
    # cost less than the tensor operations they replace), as a mask once there are some
    done, n_done, done_mask = [False] * rows, 0, None
    guided, width = guidance != 1.0, vocab_rows(model)
    constraint = processors[0] if processors and isinstance(processors[0], OutputConstraint) else None
    narrow = forced_by_state = None
    if constraint is not None:
        processors = processors[1:]
        tracker, allow = constraint.tracker(max_new, device), constraint.allow.to(device)
        blocked = ~allow
        if all(isinstance(p, _KEEP_FORCED) for p in processors):
            # per state: its one allowed id, or -1 where it allows several
            forced_by_state = torch.where(allow.sum(1) == 1, allow.long().argmax(1), -1)
            forcing_states = {i for i, token in enumerate(forced_by_state.tolist()) if token >= 0}
        columns = constraint.motion_columns().to(device)
        if not guided and rows >= WIDE_ROWS and len(columns) >= WIDE_ROWS and not any(forced) and not decoder.timed:
            # (smaller products may round otherwise; forced prefixes feed text tokens; with motion time a fed token's input is not its embedding alone)
            # what motion rows feed: the start token (<pad>, also a finished row's) and their ids
            fed_ids = torch.unique(torch.cat([columns, torch.tensor([vocab.pad_id], device=device)]))
            row_of = torch.full((width,), -1, dtype=torch.long, device=device)
            row_of[fed_ids] = torch.arange(len(fed_ids), device=device)
            first = decoder.first_layer_rows(fed_ids)
            end_column = int((columns == vocab.eom_id).nonzero()[0, 0])
            narrow = (columns, decoder.head_rows(columns), blocked[:, columns], first, row_of, end_column)
    prefix_width = max((len(f) for f in forced), default=0)
    forced_ids = torch.tensor([[*f, *[0] * (prefix_width - len(f))] for f in forced] or [[]], dtype=torch.long, device=device)
    forcing = torch.tensor([[k < len(f) for k in range(prefix_width)] for f in forced] or [[]], dtype=torch.bool, device=device)
    fed = 0  # steps whose tokens the decoder has been fed
    survival = torch.ones(rows, dtype=torch.float64, device=device) if median_end else None  # P(no <eom> yet)
    clock = MotionClock(vocab, decoder.w.time.shape[0], rows, device) if decoder.timed else None

    def times(s: int) -> torch.Tensor | None:
        """The motion time rows of the tokens in column s (for both halves of a guided batch);
        columns are fed in order, each once."""
        if clock is None:
            return None
        column = clock.next(ids[:, s])
        return column.repeat(2) if guided else column

    for step in range(max_new):
        next_ids = None
        if constraint is not None:
            states = tracker.states()
            if forced_by_state is not None and forcing_states.issuperset(states.tolist()):
                next_ids = forced_by_state[states]
        if next_ids is None:
            motion_only = narrow is not None and tracker.only_motion_left()
            for s in range(fed, step):  # the tokens of forced steps, which later positions attend to
                if motion_only:
                    decoder.feed(ids[:, s], narrow[3][narrow[4][ids[:, s]]])
                else:
                    decoder.feed(ids[:, s].repeat(2) if guided else ids[:, s], times=times(s))
            fed = step + 1
            tokens, history = ids[:, step], ids[:, : step + 1]
            if motion_only:
                columns, head, narrow_blocked, first, row_of, end_column = narrow
                scores = decoder.step(tokens, head, first[row_of[tokens]])
                scores = scores.float().masked_fill_(narrow_blocked[states], float("-inf"))
                if not processors and uniforms is None:
                    next_ids = columns[scores.argmax(-1)]  # the first best id, as over the full width
                    if survival is not None:
                        next_ids = _median_end(next_ids, scores, end_column, survival, vocab.eom_id)
                else:  # back to the full width, every other logit masked
                    full = torch.full((rows, width), float("-inf"), dtype=scores.dtype, device=device)
                    scores = full.index_copy_(1, columns, scores)
            else:
                if not guided:
                    scores = decoder.step(tokens, times=times(step)).float()
                else:
                    conditional, unconditional = decoder.step(tokens.repeat(2), times=times(step)).float().log_softmax(-1).chunk(2)
                    scores = unconditional + guidance * (conditional - unconditional)
                if constraint is not None:  # what `constraint(history, scores)` gives
                    scores = scores.masked_fill(blocked[states], float("-inf"))
            if next_ids is None:
                for processor in processors:
                    scores = processor(history, scores)
                next_ids = scores.argmax(-1) if uniforms is None else sample_tokens(scores, uniforms[:, step])
                if survival is not None:
                    next_ids = _median_end(next_ids, scores, vocab.eom_id, survival, vocab.eom_id)
        if step < prefix_width:
            next_ids = torch.where(forcing[:, step], forced_ids[:, step], next_ids)
        if n_done:
            next_ids = next_ids.masked_fill(done_mask, vocab.pad_id)
        ids[:, step + 1] = next_ids
        if constraint is not None:
            tracker.update(next_ids)
        chosen = next_ids.tolist()
        ending = [r for r in range(rows) if not done[r] and (chosen[r] == vocab.eos_id or budgets[r] <= step + 1)]
        if ending:
            for r in ending:
                done[r] = True
            n_done += len(ending)
            done_mask = torch.tensor(done, device=device)
        if n_done == rows:
            break
    answers = []  # each row's new tokens: up to its </s> (included) or its budget
    for row, n in zip(ids[:, 1:].tolist(), budgets):
        row = row[:n]
        answers.append(row[: row.index(vocab.eos_id) + 1] if vocab.eos_id in row else row)
    return answers
