"""The one answering path: chat, evaluation and stage 3 give the answers they gave before it.

`tests/fixtures/answers_before.json` was recorded with the code before the task families got one
path (`python tests/fixtures/answer_snapshot.py` regenerates it), on a random bundle and the test
session's tiny corpus, with fixed seeds.
"""

import json

import numpy as np
import pytest
from answer_snapshot import RECORD, snapshot

from motionchat.errors import MotionchatError
from motionchat.tasks.answering import TASKS, TaskRequest, answer_questions, edge_codes, held_ends, max_input_codes, prepare
from motionchat.tasks.families import default_families
from motionchat.tasks.templates import read_answer

# The one deliberate change: in-betweening two motions keeps as many codes of each as training's
# longest start gives (13 at 4 frames a code), where chat kept 12. The router reads both requests
# as two motions ("the middle of {a}": {a} and the last motion, {a} again).
CHANGED = {"fill the gap between {a} and {b}", "fill in the middle of {a}"}
# The second: a duration answer keeps to its family's templates (`DecodingConfig.hold_durations`),
# so where the random model ran out of tokens it now states a duration.
HELD = {"how long is {a}?", "how long would it take to walk in a circle?"}
# The third: an in-between answer keeps the codes of its given start and end (`held_ends`), so
# evaluation's in-between motions differ from the record (chat's are already in CHANGED).


@pytest.fixture(scope="module")
def answers(tiny_corpus, tmp_path_factory):
    return snapshot(tiny_corpus, tmp_path_factory.mktemp("answers"))


def assert_motions_equal(now, before, where):
    assert len(now) == len(before), where
    for a, b in zip(now, before):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4, err_msg=where)


def test_chat_answers_as_before(answers):
    before = json.loads(RECORD.read_text())["chat"]
    assert answers["chat"].keys() == before.keys()
    for request, then in before.items():
        now = answers["chat"][request]
        assert now["family"] == then["family"], request
        if request in CHANGED:
            continue
        if request in HELD:
            assert then["texts"] == [] and now["problems"] == [] and now["error"] is None, request
            family = default_families()[now["family"]]
            assert now["texts"] and all(read_answer(family.answers, text) for text in now["texts"]), request
            continue
        assert (now["texts"], now["problems"], now["error"]) == (then["texts"], then["problems"], then["error"]), (
            request
        )
        assert_motions_equal(now["motions"], then["motions"], request)


def test_evaluation_answers_as_before(answers):
    before = json.loads(RECORD.read_text())["eval"]
    for task in ("m2t", "diff"):
        assert answers["eval"][task] == before[task], task
    for task in ("predict", "edit"):
        assert_motions_equal(answers["eval"][task], before[task], task)
    assert [m[0] for m in answers["eval"]["inbetween"]] == [m[0] for m in before["inbetween"]]  # lengths
    for now, then in zip(answers["eval"]["t2m"], before["t2m"]):
        assert_motions_equal(now, then, "t2m")


def test_stage3_examples_as_before(answers):
    assert answers["stage3"] == json.loads(RECORD.read_text())["stage3"]


def test_every_family_has_one_entry_and_a_template_file():
    assert set(TASKS) == set(default_families())


def test_frame_limits_follow_the_tokenizer_rate():
    families = default_families()
    rng = np.random.default_rng(0)
    for frames_per_code, codes in ((4, 49), (8, 25)):
        assert max_input_codes(frames_per_code) == codes
        long_motion = list(range(60))
        question = prepare(
            TaskRequest("predict", motions=[long_motion], motion_frames=[240]),
            families,
            rng,
            codebook_size=64,
            frames_per_code=frames_per_code,
            fps=20.0,
        )
        assert len(question.prefix_codes) == codes - 1
        assert question.frame_limits == (1, max(1, 196 - (codes - 1) * frames_per_code))
    assert edge_codes(4) == 13


def test_a_family_the_model_does_not_know_is_refused():
    with pytest.raises(MotionchatError, match="not trained for 'dance'"):
        prepare(
            TaskRequest("dance"),
            default_families(),
            np.random.default_rng(0),
            codebook_size=8,
            frames_per_code=4,
            fps=20.0,
        )


def test_a_tokenizer_rate_generation_cannot_count_is_refused():
    question = prepare(
        TaskRequest("length2m", frames=80),
        default_families(),
        np.random.default_rng(0),
        codebook_size=8,
        frames_per_code=8,
        fps=20.0,
    )
    assert question.frame_limits == (80, 80) and question.frames_per_code == 8
    with pytest.raises(MotionchatError, match="covers 8 frames a code"):
        answer_questions(None, [question], None)


def test_inbetween_holds_its_given_start_and_end():
    """The answer is the whole motion: its start's codes first and its end's last (the start wins
    where they would overlap), twice as long as both without a requested length; other families
    hold nothing."""
    assert held_ends([1, 2], [8, 9], 6) == (1, 2, None, None, 8, 9)
    assert held_ends([1, 2, 3], [7, 8, 9], 4) == (1, 2, 3, 9)
    assert held_ends([1, 2, 3], [8, 9], 2) == (1, 2)
    families, rng = default_families(), np.random.default_rng(0)
    ask = dict(codebook_size=64, frames_per_code=4, fps=20.0)
    start, end = list(range(5)), list(range(10, 15))
    question = prepare(TaskRequest("inbetween", motions=[start, end], motion_frames=[20, 20], frames=80), families, rng, **ask)
    assert question.held_codes == (*start, *[None] * 10, *end)
    unsized = prepare(TaskRequest("inbetween", motions=[start, end], motion_frames=[20, 20]), families, rng, **ask)
    assert unsized.frame_limits == (80, 80) and unsized.answer_frames == 80  # twice start and end
    assert unsized.held_codes == (*start, *[None] * 10, *end)
    long = [list(range(13))] * 2
    capped = prepare(TaskRequest("inbetween", motions=long, motion_frames=[52, 52]), families, rng, **ask)
    assert capped.frame_limits == (196, 196) and capped.held_codes.count(None) == 49 - 26
    edit = prepare(TaskRequest("edit", motions=[start], motion_frames=[20], edit="faster"), families, rng, **ask)
    assert edit.held_codes == ()


def test_best_of_keeps_the_sample_the_model_captions_back_likeliest(tmp_path):
    """best_of k draws k answers per text-to-motion question and keeps them in order of how likely
    the model's own captioning (m2t) finds the request for each, plus ANSWER_WEIGHT times the
    motion's mean log-probability given the request; questions without a caption to check answer
    as without it."""
    import random

    from random_bundle import save_random_bundle

    from motionchat.bundle import load_bundle
    from motionchat.lm.generation import DecodingConfig
    from motionchat.lm.scoring import answer_log_likelihoods
    from motionchat.tasks.answering import ANSWER_WEIGHT, best_answers
    from motionchat.tasks.examples import TaskValues, build_prompt, build_target

    bundle = load_bundle(save_random_bundle(tmp_path / "b"))
    ask = dict(codebook_size=bundle.codec.codebook_size, frames_per_code=4, fps=20.0)
    t2m = prepare(TaskRequest("t2m_length", caption="a person jumps twice", frames=40), bundle.families, random.Random(0), **ask)
    length = prepare(TaskRequest("length2m", frames=40), bundle.families, random.Random(0), **ask)
    assert t2m.check is not None and t2m.check.caption == "a person jumps twice" and length.check is None

    plain = DecodingConfig(do_sample=True, num_samples=4, seed=3)
    drawn = answer_questions(bundle.lm, [t2m, length], plain)
    best = answer_questions(bundle.lm, [t2m, length], DecodingConfig(do_sample=True, num_samples=1, seed=3, best_of=4))
    assert best[1] == answer_questions(bundle.lm, [length], DecodingConfig(do_sample=True, num_samples=1, seed=3))[0]

    reader, scores, lm, size = t2m.check.reader, [], bundle.lm, ask["codebook_size"]
    for answer in drawn[0]:
        values = TaskValues(motion=answer.codes, frames=40, caption="a person jumps twice", answer_motion=answer.codes)
        rng = random.Random(0)
        prompt = build_prompt(reader, values, rng, codebook_size=size, fps=20.0)
        target = build_target(reader, values, rng, codebook_size=size, fps=20.0)
        motion = build_target(t2m.family, values, rng, codebook_size=size, fps=20.0)
        read_back = answer_log_likelihoods(lm.model, lm.tokenizer, lm.vocab, [prompt], [target], [reader.tag])[0]
        given = answer_log_likelihoods(lm.model, lm.tokenizer, lm.vocab, [t2m.prompt], [motion], [t2m.family.tag])[0]
        scores.append(read_back + ANSWER_WEIGHT * given / len(lm.tokenizer(motion)["input_ids"]))
    assert best[0] == [drawn[0][int(np.argmax(scores))]]
    ranked = best_answers(bundle.lm, t2m, drawn[0], keep=4)
    assert [drawn[0].index(a) for a in ranked] == list(np.argsort(-np.array(scores), kind="stable"))
    with pytest.raises(MotionchatError, match="best_of"):
        DecodingConfig(best_of=2)  # greedy answers would all be equal
