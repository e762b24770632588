"""Constrained generation on an untrained model: every answer is well formed or says why not."""

import pytest
import torch
from lm_fixtures import small_lm
from transformers import LogitsProcessor

from motionchat.errors import MotionchatError
from motionchat.lm.answers import parse_motion_answer, parse_text_answer
from motionchat.lm.constraints import HeldCodes, OutputConstraint, banned_in_text
from motionchat.lm.generation import DecodingConfig, generate, sample_tokens, text_ids
from motionchat.lm.vocab import VocabLayout
from motionchat.motion.timing import MAX_FRAMES

PROMPTS = ["a person walks forward", "someone jumps twice slowly", "the man turns around", "a woman kicks"]


@pytest.fixture(scope="module")
def lm():
    return small_lm()


def _run(lm, prompts, output, **kwargs):
    return generate(lm.model, lm.tokenizer, lm.vocab, prompts, output, **kwargs)


def test_motion_answers_are_som_codes_eom(lm):
    config = DecodingConfig(do_sample=True, num_samples=6, temperature=1.5, seed=4)
    answers = _run(lm, PROMPTS, "motion", config=config)
    assert [len(a) for a in answers] == [6] * len(PROMPTS)
    lengths = set()
    for answer in (a for per_prompt in answers for a in per_prompt):
        assert answer.ok, answer.problem
        ids = answer.token_ids
        assert ids[0] == lm.vocab.som_id and ids[-1] == lm.vocab.eom_id
        assert all(lm.vocab.is_motion_id(i) for i in ids[1:-1])
        assert answer.codes == [lm.vocab.code_of(i) for i in ids[1:-1]]
        assert 1 <= len(answer.codes) <= MAX_FRAMES // 4 and answer.frames == 4 * len(answer.codes)
        lengths.add(len(answer.codes))
    assert len(lengths) > 1  # the model chose where to stop, not only the limit


def test_frame_limits_bound_the_motion_length(lm):
    answers = _run(lm, PROMPTS[:3], "motion", frame_limits=[(60, 60), None, (8, 20)],
                   config=DecodingConfig(do_sample=True, num_samples=4, max_motion_frames=100))
    assert all(len(a.codes) == 15 for a in answers[0])
    assert all(1 <= len(a.codes) <= 25 for a in answers[1])
    assert all(2 <= len(a.codes) <= 5 for a in answers[2])
    with pytest.raises(MotionchatError, match="motion length"):
        _run(lm, PROMPTS[:1], "motion", frame_limits=[(0, 40)])


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_held_codes_are_kept_and_the_rest_sampled(lm, guidance):
    """Held places take their code whatever the scores (with and without guidance, with an answer
    prefix); the free ones are sampled; a text row and a row with nothing held are left alone."""
    held = [[5, 6, None, None, None, None, 7], [], [3, None, None, None], [1]]
    prompts = [*PROMPTS[:3], PROMPTS[3]]
    config = DecodingConfig(do_sample=True, num_samples=3, seed=1, guidance=guidance)
    limits = [(28, 28), (28, 28), (16, 16), None]
    processor = HeldCodes(lm.vocab, [h for h in held for _ in range(3)])
    answers = _run(lm, prompts, ["motion", "motion", "motion", "text"], config=config, frame_limits=limits,
                   logits_processors=[processor], answer_prefixes=["t2m:"] * 4)
    free = _run(lm, prompts, ["motion", "motion", "motion", "text"], config=config, frame_limits=limits,
                answer_prefixes=["t2m:"] * 4)
    for a in answers[0]:
        assert a.ok and a.codes[:2] == [5, 6] and a.codes[6] == 7 and len(a.codes) == 7
    assert len({tuple(a.codes[2:6]) for a in answers[0]}) > 1  # the middle is the model's
    assert all(a.ok and a.codes[0] == 3 and len(a.codes) == 4 for a in answers[2])
    assert [a.token_ids for a in answers[1]] == [a.token_ids for a in free[1]]
    assert [a.token_ids for a in answers[3]] == [a.token_ids for a in free[3]]


def test_text_answers_never_contain_motion_tokens(lm):
    config = DecodingConfig(do_sample=True, num_samples=8, temperature=2.0, max_text_tokens=12)
    answers = _run(lm, PROMPTS, "text", config=config)
    banned = banned_in_text(lm.tokenizer, lm.vocab)
    assert set(lm.vocab.joint_ids()) <= banned and lm.vocab.eos_id not in banned
    for answer in (a for per_prompt in answers for a in per_prompt):
        assert not any(i in banned for i in answer.token_ids)
        assert answer.text is not None and "<" not in answer.text
        assert answer.ok or answer.problem == "the text did not end within 12 tokens"
        assert len(answer.token_ids) <= 12


def test_mixed_output_types_in_one_batch(lm):
    answers = _run(lm, PROMPTS[:2], ["text", "motion"], config=DecodingConfig(max_text_tokens=5))
    assert answers[0][0].codes is None and answers[0][0].text is not None
    assert answers[1][0].ok and answers[1][0].text is None


def test_same_seed_same_samples_other_seeds_differ(lm):
    def samples(seed):
        config = DecodingConfig(do_sample=True, num_samples=3, top_k=20, top_p=0.9, seed=seed)
        return [[a.token_ids for a in per_prompt] for per_prompt in _run(lm, PROMPTS[:2], "motion", config=config)]

    torch.manual_seed(0)
    first = samples(7)
    torch.manual_seed(99)  # the global RNG plays no part
    assert samples(7) == first
    others = [samples(seed) for seed in (8, 9, 10)]
    assert all(other != first for other in others)
    assert first[0][0] != first[0][1]  # samples of one prompt differ too


@pytest.mark.parametrize("do_sample", [False, True])
def test_batched_equals_one_by_one(lm, do_sample):
    config = DecodingConfig(do_sample=do_sample, num_samples=2 if do_sample else 1, max_text_tokens=10)
    prompts = PROMPTS + ["a person"]  # different lengths, so the batch is padded
    for output in ("motion", "text"):
        batched = _run(lm, prompts, output, config=config)
        single = [_run(lm, [p], output, config=config)[0] for p in prompts]
        assert [[a.token_ids for a in x] for x in batched] == [[a.token_ids for a in x] for x in single]


def test_generate_restores_training_mode(lm):
    lm.model.train()
    try:
        answers = _run(lm, PROMPTS[:1], "motion")
        assert lm.model.training and answers[0][0].ok
    finally:
        lm.model.eval()


class _ForceToken(LogitsProcessor):
    """Overrides the constraint: unfinished rows may only produce `token` (after an optional first token)."""

    def __init__(self, token, first=None):
        self.token, self.first = token, first

    def __call__(self, input_ids, scores):
        forced = torch.full_like(scores, float("-inf"))
        wanted = self.first if self.first is not None and input_ids.shape[1] == 1 else self.token
        forced[:, wanted] = 0.0
        return forced


def test_a_motion_that_never_ends_is_reported_not_truncated(lm):
    never_ends = _ForceToken(lm.vocab.motion_id(3), first=lm.vocab.som_id)
    answer = _run(lm, PROMPTS[:1], "motion", logits_processors=[never_ends])[0][0]
    assert answer.problem == f"motion did not end within {MAX_FRAMES} frames"
    assert answer.codes is None
    assert len(answer.token_ids) == 1 + MAX_FRAMES // 4 + 2  # the whole budget, nothing invented


class _SpreadEnding(LogitsProcessor):
    """Where a code or <eom> may come: one code 0.5, another 0.3, <eom> 0.2 at every step, so that <eom> is
    never the most likely token but ending grows likelier step by step."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, input_ids, scores):
        may_end = scores[:, self.vocab.eom_id].isfinite() & scores[:, self.vocab.motion_id(5)].isfinite()
        spread = torch.full_like(scores, float("-inf"))
        for token, p in ((self.vocab.motion_id(5), 0.5), (self.vocab.motion_id(6), 0.3), (self.vocab.eom_id, 0.2)):
            spread[:, token] = torch.tensor(p).log()
        return torch.where(may_end[:, None], spread, scores)


def test_greedy_decoding_ends_a_motion_at_its_median_length(lm):
    spread = [_SpreadEnding(lm.vocab)]
    # one code before <eom> may come, then P(not ended) = 0.8, 0.64, 0.512, 0.41 < 1/2: <eom> after 4 codes
    median = _run(lm, PROMPTS[:2], "motion", logits_processors=spread)
    assert [len(a[0].codes) for a in median] == [4, 4]
    assert median[0][0].codes[1:] == [5, 5, 5]
    argmax = _run(lm, PROMPTS[:2], "motion", logits_processors=spread, config=DecodingConfig(greedy_end="argmax"))
    assert [len(a[0].codes) for a in argmax] == [MAX_FRAMES // 4] * 2  # to the length limit
    sampled = _run(lm, PROMPTS[:2], "motion", logits_processors=spread, config=DecodingConfig(do_sample=True, num_samples=8, seed=1))
    assert len({len(a.codes) for per_prompt in sampled for a in per_prompt}) > 1  # sampling is left alone


def test_text_and_motion_mixups_are_reported(lm):
    words = lm.tokenizer("walks")["input_ids"][0]
    not_motion = _run(lm, PROMPTS[:1], "motion", logits_processors=[_ForceToken(words)])[0][0]
    assert not_motion.codes is None and "does not start with <som>" in not_motion.problem
    motion_in_text = _run(lm, PROMPTS[:1], "text", logits_processors=[_ForceToken(lm.vocab.motion_id(0))])[0][0]
    assert motion_in_text.text is None and "motion token" in motion_in_text.problem


def test_parse_motion_answer_cases(lm):
    v = lm.vocab
    m = [v.motion_id(c) for c in (4, 5, 6)]
    assert parse_motion_answer([v.som_id, *m, v.eom_id, v.eos_id], v, 49).codes == [4, 5, 6]
    assert parse_motion_answer([v.som_id, *m, v.eom_id], v, 49).codes == [4, 5, 6]
    cases = {
        (): "empty answer",
        (v.som_id, v.eom_id, v.eos_id): "motion is empty",
        (v.som_id, *m): "stopped after 3 codes",
        (v.som_id, m[0], 5, m[1], v.eom_id): "non-motion token",
        (v.som_id, *m, v.eom_id, 5, v.eos_id): "goes on after",
        (v.som_id, *m, v.eom_id, v.eos_id): "over the 8-frame limit",
    }
    for ids, problem in cases.items():
        answer = parse_motion_answer(list(ids), v, 2 if "limit" in problem else 49)
        assert answer.codes is None and problem in answer.problem, (ids, answer.problem)
    at_limit = parse_motion_answer([v.som_id, *m], v, 3)
    assert at_limit.codes is None and at_limit.problem == "motion did not end within 12 frames"
    with pytest.raises(ValueError):
        _ = parse_motion_answer([], v, 49).frames


def test_parse_text_answer_cases(lm):
    v, tok = lm.vocab, lm.tokenizer
    banned = banned_in_text(tok, v)
    words = tok("a person walks")["input_ids"][:-1]
    room = len(words) + 5
    assert parse_text_answer([*words, v.eos_id], tok, v, banned, room).text == "a person walks"
    unfinished = parse_text_answer(words, tok, v, banned, room)
    assert unfinished.text == "a person walks" and f"did not end within {room}" in unfinished.problem
    cut = parse_text_answer([*words, v.eos_id], tok, v, banned, 2)
    assert "did not end within 2" in cut.problem and cut.token_ids == words[:2]
    assert "motion token" in parse_text_answer([*words, v.som_id, v.eos_id], tok, v, banned, room).problem
    assert "special token" in parse_text_answer([v.pad_id, v.eos_id], tok, v, banned, room).problem
    assert "empty" in parse_text_answer([v.eos_id], tok, v, banned, room).problem


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"num_samples": 2}, "needs sampling"),
        ({"greedy_end": "mode"}, "greedy_end"),
        ({"min_motion_frames": 100, "max_motion_frames": 50}, "motion length"),
        ({"max_motion_frames": MAX_FRAMES + 4}, "motion length"),
    ],
)
def test_bad_decoding_settings_are_user_errors(kwargs, message):
    with pytest.raises(MotionchatError, match=message):
        DecodingConfig(**kwargs)


def test_overlong_prompt_is_refused(lm):
    with pytest.raises(MotionchatError, match="prompt 2 has"):
        _run(lm, ["walk", "walk " * 40], "text", config=DecodingConfig(max_prompt_tokens=20))


def test_sample_tokens_follows_the_distribution_and_never_picks_banned_tokens():
    probs = torch.tensor([0.5, 0.0, 0.3, 0.0, 0.2])
    scores = probs.log().expand(20000, -1)  # -inf where banned, as the constraint leaves them
    uniforms = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    tokens = sample_tokens(scores, uniforms)
    freq = torch.bincount(tokens, minlength=5).float() / len(tokens)
    assert torch.allclose(freq, probs, atol=0.015)
    edges = torch.tensor([0.0, 0.5 + 1e-6, 0.5 - 1e-6, 0.81, 1 - 2**-24])  # around the CDF's steps, u's extremes
    assert sample_tokens(probs.log().expand(5, -1), edges).tolist() == [0, 2, 0, 4, 4]


def test_guidance_one_is_plain_decoding_and_other_scales_mix_prompt_and_null_prompt(lm):
    plain = _run(lm, PROMPTS, "motion", config=DecodingConfig(do_sample=True, num_samples=2, seed=3))
    assert _run(lm, PROMPTS, "motion", config=DecodingConfig(do_sample=True, num_samples=2, seed=3, guidance=1.0)) == plain
    # Greedy guided decoding, checked token by token against full forward passes of both prompts:
    # with the empty null prompt, and with a null prompt per row (a task tag; one longer than its
    # prompt, so that both sides are padded).
    scale, prompt = 3.0, PROMPTS[1]
    model, tokenizer = lm.model.eval(), lm.tokenizer
    banned = banned_in_text(tokenizer, lm.vocab)
    for null, other_null in (("", ""), ("t2m:", "a null prompt longer than the prompt it goes with")):
        config = DecodingConfig(guidance=scale, max_text_tokens=6)
        answers = _run(lm, [prompt, PROMPTS[2]], "text", config=config, null_prompts=[null, other_null])
        answer = answers[0][0]
        expected = [lm.vocab.pad_id]
        with torch.no_grad():
            for _ in range(len(answer.token_ids)):
                decoder_ids = torch.tensor([expected])
                logp = [model(**tokenizer([text], return_tensors="pt"), decoder_input_ids=decoder_ids).logits[0, -1].log_softmax(-1)
                        for text in (prompt, null)]  # fmt: skip
                guided = logp[1] + scale * (logp[0] - logp[1])
                guided[sorted(banned)] = -float("inf")
                expected.append(int(guided.argmax()))
        assert answer.token_ids == expected[1:], null
    with pytest.raises(MotionchatError, match="guidance"):
        DecodingConfig(guidance=-1)


def test_an_answer_prefix_is_given_to_the_decoder_and_left_out_of_the_answer(lm):
    """Greedy decoding after a forced prefix equals full forward passes whose decoder input starts
    with it; the answer holds only what follows, and a motion answer still starts with <som>."""
    model, tokenizer = lm.model.eval(), lm.tokenizer
    prefix = text_ids(tokenizer, "t2m:")
    assert prefix and prefix[-1] != tokenizer.eos_token_id and text_ids(tokenizer, "") == []
    config = DecodingConfig(max_text_tokens=5, max_motion_frames=16)
    (motion,), (text,) = _run(lm, PROMPTS[:2], ["motion", "text"], config=config, answer_prefixes=["t2m:", "m2t: the"])
    assert motion.token_ids[0] == lm.vocab.som_id
    banned = banned_in_text(tokenizer, lm.vocab)
    expected = [lm.vocab.pad_id, *text_ids(tokenizer, "m2t: the")]
    with torch.no_grad():
        while len(expected) - 1 - len(text_ids(tokenizer, "m2t: the")) < len(text.token_ids):
            logits = model(**tokenizer([PROMPTS[1]], return_tensors="pt"), decoder_input_ids=torch.tensor([expected])).logits[0, -1]
            logits[sorted(banned)] = -float("inf")
            expected.append(int(logits.argmax()))
    assert text.token_ids == expected[1 + len(text_ids(tokenizer, "m2t: the")) :]


def test_row_states_kept_step_by_step_are_those_recomputed_from_the_ids():
    vocab = VocabLayout(text_size=80, codebook_size=36, motion_start=80, som_id=116, eom_id=117, mask_id=118,
                        sep_id=119, pad_id=0, eos_id=1)  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    kinds = ["motion", "text", "motion", "motion", "text", "motion"]
    min_codes, max_codes = [1, 1, 3, 5, 1, 2], [4, 9, 3, 12, 9, 6]
    constraint = OutputConstraint(vocab, 128, kinds, min_codes, max_codes, text_banned=[0, 2, *range(80, 120)])
    steps = 16
    tracker = constraint.tracker(steps)
    ids = torch.zeros(len(kinds), 1, dtype=torch.long)
    for _ in range(steps):
        states = tracker.states()
        assert torch.equal(states, constraint.row_states(ids))
        # a random allowed token per row; </s> and <eom> get a boost now and then, so rows end at different steps
        scores = torch.rand(len(kinds), 128, generator=gen)
        scores[:, [vocab.eos_id, vocab.eom_id]] += 2 * (torch.rand(len(kinds), 2, generator=gen) < 0.15)
        scores = constraint(ids, scores)
        next_ids = scores.argmax(-1)
        next_ids = next_ids.masked_fill(constraint.row_states(ids) == 0, 0)  # finished rows pad
        ids = torch.cat([ids, next_ids[:, None]], 1)
        tracker.update(next_ids)
    assert torch.equal(tracker.states(), constraint.row_states(ids))
    assert {int(s) for s in constraint.row_states(ids)} == {0}  # the walk reached every row's end


def test_wide_batches_answer_as_one_by_one_and_force_without_logits(lm):
    """Twenty motion rows (the (in, out) weights, the narrowed head) with forced tokens give the
    answers of single prompts (the (out, in) weights, the full head)."""
    prompts = [f"{p} {i}" for i in range(5) for p in PROMPTS]
    config = DecodingConfig(min_motion_frames=12, max_motion_frames=40)
    batched = _run(lm, prompts, "motion", config=config)
    single = [_run(lm, [p], "motion", config=config)[0] for p in prompts]
    assert [[a.token_ids for a in x] for x in batched] == [[a.token_ids for a in x] for x in single]


def test_wide_batches_with_answer_prefixes_answer_as_one_by_one(lm):
    prompts = [f"{p} {i}" for i in range(5) for p in PROMPTS]
    config = DecodingConfig(min_motion_frames=12, max_motion_frames=40)
    batched = _run(lm, prompts, "motion", config=config, answer_prefixes=["t2m:"] * len(prompts))
    single = [_run(lm, [p], "motion", config=config, answer_prefixes=["t2m:"])[0] for p in prompts]
    assert [[a.token_ids for a in x] for x in batched] == [[a.token_ids for a in x] for x in single]
    assert all(a.token_ids[0] == lm.vocab.som_id for x in batched for a in x)
