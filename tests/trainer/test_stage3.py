"""Stage 3 end to end on a tiny corpus: instruction examples, the bundle, and every family answered
through the run-time path (raw features -> codec -> prompt -> constrained generation)."""

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from lm_stage_fixtures import ENV, STAGE3_SMALL, as_set, kill_after_first_checkpoint, tiny_corpus, tiny_stage2_run
from test_distributed import LAUNCHERS, free_port
from test_stage1_resume import train_losses

from motionchat.bundle import load_bundle
from motionchat.data.dataset import MotionClips
from motionchat.lm.generation import DecodingConfig, generate
from motionchat.lm.vocab import motion_tokens_to_text
from motionchat.tasks.examples import TaskValues, build_prompt, known_frames
from trainer.checkpoint import list_checkpoints
from trainer.loop import state_sha256
from trainer.sampling import StepBatchSampler
from trainer.seq2seq import shift_right
from trainer.stage3 import InstructStage, Stage3Config, run_stage3

FAMILIES = sorted(["t2m", "t2m_length", "length2m", "random_motion", "m2t", "m2t_length", "m2length", "t2length", "length2t",
                   "random_caption", "predict", "inbetween", "compose", "edit", "diff"])  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bundle from 3 stage-3 steps on the tiny stage-2 run."""
    out = tmp_path_factory.mktemp("stage3") / "bundle"
    result = run_stage3(data=tiny_corpus(), init=tiny_stage2_run(), out=out, run_dir=None, preset=None, config_file=None,
                        set_options=STAGE3_SMALL, max_steps=3, resume=False, force=False)  # fmt: skip
    return out, result


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    return InstructStage(Stage3Config(), tiny_corpus(), tiny_stage2_run(), folder / "bundle", folder / "run")


def runtime_values(bundle) -> dict[str, TaskValues]:
    """One request per family, made the way chat makes them: from raw test-split features."""
    clips = MotionClips(tiny_corpus(), "test", with_captions=True)
    codec, motion, other = bundle.codec, clips.features(0), clips.features(1)
    n = len(motion)
    head, _ = known_frames("predict", n)
    keep, _ = known_frames("inbetween", n)
    caption = clips.captions[0][0].text
    whole = codec.encode(motion)
    return {
        "t2m": TaskValues(caption=caption), "t2m_length": TaskValues(caption=caption, frames=60), "length2m": TaskValues(frames=60),
        "random_motion": TaskValues(), "m2t": TaskValues(motion=whole), "m2t_length": TaskValues(motion=whole, frames=n),
        "m2length": TaskValues(motion=whole), "t2length": TaskValues(caption=caption), "length2t": TaskValues(frames=80),
        "random_caption": TaskValues(), "predict": TaskValues(motion=codec.encode(motion[:head])),
        "inbetween": TaskValues(motion=codec.encode(motion[:keep]), motion_b=codec.encode(motion[n - keep :])),
        "compose": TaskValues(captions=["a person walks forward", "someone waves with the left hand"]),
        "edit": TaskValues(motion=whole, edit="do it faster"), "diff": TaskValues(motion=whole, motion_b=codec.encode(other)),
    }  # fmt: skip


def test_every_family_answers_in_its_output_type(trained):
    out, result = trained
    bundle = load_bundle(out)
    assert sorted(bundle.families) == FAMILIES == list(bundle.config.families)
    assert bundle.config.presets == {"stage1": "tiny", "stage2": "tiny", "stage3": "tiny"}
    lm, k = bundle.lm, bundle.config.codebook_size
    values = runtime_values(bundle)
    rng = np.random.default_rng(0)
    prompts = [build_prompt(bundle.families[f], values[f], rng, codebook_size=k, fps=bundle.fps) for f in FAMILIES]
    outputs = [bundle.families[f].output for f in FAMILIES]
    assert outputs.count("motion") == 8 and outputs.count("text") == 7
    for family, prompt in zip(FAMILIES, prompts):
        if values[family].motion is not None:  # the motion sits in the prompt as the exact token string
            assert motion_tokens_to_text(values[family].motion, k) in prompt
    config = DecodingConfig(do_sample=True, num_samples=2, seed=3, max_text_tokens=24, max_motion_frames=80)
    answers = generate(lm.model, lm.tokenizer, lm.vocab, prompts, outputs, config)
    joint_ids = set(lm.vocab.joint_ids())
    for family, output, samples in zip(FAMILIES, outputs, answers):
        for answer in samples:
            if output == "motion":
                if answer.ok:  # parses into codes, which decode into a motion
                    assert 1 <= len(answer.codes) <= 20 and answer.text is None
                    decoded = bundle.codec.decode(answer.codes, answer.frames - 1)
                    assert decoded.joints.shape == (answer.frames - 1, 22, 3) and np.isfinite(decoded.joints).all()
                else:  # an untrained model may fail; that is reported, never patched up
                    assert answer.codes is None and answer.problem, family
            else:
                assert answer.codes is None and not joint_ids & set(answer.token_ids), family
                assert answer.text is not None and "<motion_id" not in answer.text
                assert answer.ok or answer.problem

    # The run checked one sampled answer per family too, and says so in eval.json and the card.
    report = json.loads((out.parent / "bundle.runs" / "stage3" / "eval.json").read_text())
    assert sorted(report["answers"]) == FAMILIES
    assert report["well_formed_answers"] == sum(a["ok"] for a in report["answers"].values()) == result.summary["well_formed_answers"]
    assert all(a["ok"] or a["problem"] for a in report["answers"].values())
    limited = [f for f, a in report["answers"].items() if a["at_length_limit"]]
    assert all(report["answers"][f]["answer"] == "49 codes" for f in limited) and report["motions_at_length_limit"] == len(limited)
    card = (out / "card.md").read_text()
    assert "## Answers per family" in card and all(f"| {f} |" in card for f in FAMILIES)


def test_examples_cover_every_family_and_are_shuffled_across_them(stage):
    dataset = stage.train_dataset()
    counts = stage.source("train").counts()
    assert sorted(counts) == FAMILIES and all(counts[f] > 0 for f in FAMILIES)
    assert counts["t2m"] == len(stage.clips["train"]) and counts["edit"] == counts["diff"]
    assert 0 < counts["compose"] < counts["t2m"]  # only clips of several actions
    sampler = StepBatchSampler(len(dataset), 32, 0, 1, seed=0, start=0, stop=1)
    first_batch = Counter(dataset.source.items[i][0] for i, _ in next(iter(sampler)))
    assert len(first_batch) >= 8  # one batch already mixes many families
    family, prompt, target = dataset.texts((0, 5))
    assert (family, prompt, target) == dataset.texts((0, 5))  # a pure function of the key
    assert len({dataset.texts((0, seed))[1] for seed in range(12)}) > 3  # templates vary with the seed


def test_targets_have_the_family_output_type(stage):
    dataset, vocab = stage.examples("train"), stage.lm.vocab
    seen = set()
    for index in range(0, len(dataset), 7):
        family, prompt, target = dataset.texts((index, index))
        example = dataset[(index, index)]
        assert example.labels[-1] == vocab.eos_id and example.input_ids[-1] == vocab.eos_id
        if stage.families[family].output == "motion":
            assert example.labels[0] == vocab.som_id and example.labels[-2] == vocab.eom_id
            assert all(vocab.is_motion_id(i) for i in example.labels[1:-2])
        else:
            assert not set(example.labels) & set(vocab.joint_ids()) and "<" not in target
        if family in ("predict", "inbetween", "edit", "diff", "m2t"):
            assert prompt.count("<som>") == (2 if family in ("inbetween", "diff") else 1)
        seen.add(family)
    assert sorted(seen) == FAMILIES


def test_corruption_replaces_motion_codes_of_the_decoder_input_only(stage):
    clean = stage.examples("train")
    corrupted = stage.examples("train", corruption_tau=0.5)
    vocab, changed = stage.lm.vocab, 0
    for index in range(len(clean)):
        if stage.families[clean.source.items[index][0]].output == "motion":
            a, b = clean[(index, 11)], corrupted[(index, 11)]
            assert a.decoder_input_ids is None and a.labels == b.labels and a.input_ids == b.input_ids
            shifted = shift_right(b.labels, vocab.pad_id)
            assert len(b.decoder_input_ids) == len(shifted)
            for x, y in zip(b.decoder_input_ids, shifted):
                assert x == y or (vocab.is_motion_id(x) and vocab.is_motion_id(y))
            changed += sum(x != y for x, y in zip(b.decoder_input_ids, shifted))
            if changed > 20:
                break
    assert changed > 20
    with pytest.raises(ValueError, match="corruption_tau"):
        Stage3Config(corruption_tau=1.0)


def test_real_humanml3d_has_no_programs_or_edits_so_those_families_are_skipped_with_a_note(tmp_path, realdata):
    data = tmp_path / "humanml3d"
    for folder in ("new_joint_vecs", "texts"):
        (data / folder).mkdir(parents=True)
        for clip_id in ("012314", "000000"):
            name = f"{folder}/{clip_id}{'.npy' if folder == 'new_joint_vecs' else '.txt'}"
            (data / name).symlink_to(realdata(f"humanml3d/{name}"))
    for name in ("Mean.npy", "Std.npy"):
        (data / name).symlink_to(realdata(f"humanml3d/{name}"))
    (data / "train.txt").write_text("012314\n")
    (data / "test.txt").write_text("000000\n")
    stage = InstructStage(Stage3Config(), data, tiny_stage2_run(), tmp_path / "bundle", tmp_path / "run")
    described = stage.describe()
    assert "note: compose skipped: the dataset has no labels.jsonl" in described
    assert "note: edit and diff skipped: the dataset has no edits.jsonl" in described
    counts = stage.source("train").counts()
    assert counts["compose"] == counts["edit"] == counts["diff"] == 0
    assert all(counts[f] == 1 for f in FAMILIES if f not in ("compose", "edit", "diff"))
    family, prompt, target = stage.examples("train").texts((0, 0))  # the clip's first item: its t2m example
    captions = [c.text.rstrip(". ") for c in stage.clips["train"].captions[0]]
    assert family == "t2m" and target.startswith("<som>") and any(c in prompt for c in captions)


STEPS = 12
RESUME_RUN = ["--set", "train.steps=100", "--set", "train.checkpoint_every=4", *as_set(STAGE3_SMALL), "--max-steps", str(STEPS)]


def stage3(*args: str) -> list[str]:
    return [sys.executable, "-m", "trainer", "stage3", *args]


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    common = ["--data", str(tiny_corpus()), "--init", str(tiny_stage2_run())]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(stage3(*common, "--out", str(whole), *RESUME_RUN), env=ENV, check=True, capture_output=True)
    run_dir = tmp_path / "killed.runs" / "stage3"
    process = kill_after_first_checkpoint(stage3(*common, "--out", str(killed), *RESUME_RUN), run_dir)
    assert process.returncode < 0 and not killed.exists()
    assert 4 <= max(train_losses(run_dir), default=0) < STEPS, "the run must die between its first checkpoint and its end"
    resumed = subprocess.run(stage3("--out", str(killed), "--resume", "--max-steps", str(STEPS)), env=ENV, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    expected, got = train_losses(tmp_path / "whole.runs" / "stage3"), train_losses(run_dir)
    assert sorted(got) == sorted(expected) == list(range(1, STEPS + 1))
    assert all(abs(got[s] - expected[s]) <= 1e-5 for s in expected), (got, expected)
    a, b = load_bundle(whole), load_bundle(killed)
    assert state_sha256(a.lm.model) == state_sha256(b.lm.model)
    assert [s for s, _ in list_checkpoints(run_dir)] == [8, 12]


@pytest.mark.slow
def test_two_processes_train_one_model_and_write_one_bundle(tmp_path):
    out = tmp_path / "bundle"
    command = LAUNCHERS["accelerate"](free_port()) + [
        "-m", "trainer", "stage3", "--data", str(tiny_corpus()), "--init", str(tiny_stage2_run()), "--out", str(out),
        *as_set(STAGE3_SMALL), "--set", "train.batch_size=8", "--max-steps", "3",
    ]  # fmt: skip
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es)" in result.stderr and "batch 8 = 2 x 1 x 4" in result.stderr
    hashes = json.loads((tmp_path / "bundle.runs" / "stage3" / "ranks.json").read_text())["weights_sha256"]
    assert len(hashes) == 2 and hashes[0] == hashes[1] == state_sha256(load_bundle(out).lm.model)
    assert result.stdout.count("wrote the bundle") == 1
    with torch.no_grad():
        assert not any(p.isnan().any() for p in load_bundle(out).lm.model.parameters())


def test_task_tags_the_judge_and_stop_when(tmp_path):
    """Tagged prompts reach the bundle; the judge scores each evaluation; stop_when ends the run."""
    out = tmp_path / "bundle"
    options = [*STAGE3_SMALL, "train.eval_every=2", "task_tags=true", "judge_clips=8", "train.stop_when=judge_duration_within_10>=0"]
    result = run_stage3(data=tiny_corpus(), init=tiny_stage2_run(), out=out, run_dir=None, preset=None, config_file=None,
                        set_options=options, max_steps=4, resume=False, force=False)  # fmt: skip
    assert result.step == 2  # the judge ran at step 2 and its duration score is >= 0
    records = [json.loads(line) for line in (tmp_path / "bundle.runs" / "stage3" / "metrics.jsonl").read_text().splitlines()]
    judged = [r for r in records if r["split"] == "val"][0]
    assert {"judge_t2m_program_exact", "judge_caption_program_exact", "judge_duration_within_10"} <= set(judged)
    assert "judge_t2m_program_exact" in json.loads((tmp_path / "bundle.runs" / "stage3" / "eval.json").read_text())
    bundle = load_bundle(out)
    assert all(family.tag == f"{name}:" for name, family in bundle.families.items())
    prompt = build_prompt(bundle.families["m2t"], TaskValues(motion=[1, 2]), np.random.default_rng(0), codebook_size=bundle.config.codebook_size)
    assert prompt.startswith("m2t: ")


def test_motion_time_is_added_trained_saved_and_continued_from_a_bundle(tmp_path):
    """`motion_time=true` gives a model without a time table one; the bundle's table loads into
    chat's model and answers; a further stage 3 may start from that bundle (`--init BUNDLE`)."""
    first, second = tmp_path / "first", tmp_path / "second"
    common = dict(data=tiny_corpus(), run_dir=None, preset=None, config_file=None, max_steps=2, resume=False, force=False)
    run_stage3(init=tiny_stage2_run(), out=first, set_options=[*STAGE3_SMALL, "motion_time=true"], **common)
    bundle = load_bundle(first)
    table = bundle.lm.model.shared.time.weight
    assert table.shape[0] == json.loads((first / "lm" / "config.json").read_text())["motion_time_rows"] and table[1:].abs().sum() > 0
    answers = generate(bundle.lm.model, bundle.lm.tokenizer, bundle.lm.vocab, ["a person walks"], "motion", DecodingConfig())
    assert answers[0][0].ok
    run_stage3(init=first, out=second, set_options=[*STAGE3_SMALL, "motion_time=true"], **common)  # a bundle as --init
    continued = load_bundle(second).lm.model.shared.time.weight
    assert continued.shape == table.shape and not torch.equal(continued, table)  # kept and trained on


def test_dropout_setting_and_batches_grouped_by_length(tmp_path):
    """`dropout=0` reaches every dropout layer and the saved config; grouped batches train."""
    out = tmp_path / "bundle"
    run_stage3(data=tiny_corpus(), init=tiny_stage2_run(), out=out, run_dir=None, preset=None, config_file=None,
               set_options=[*STAGE3_SMALL, "dropout=0", "train.group_batches=2"], max_steps=2, resume=False, force=False)  # fmt: skip
    assert json.loads((out / "lm" / "config.json").read_text())["dropout_rate"] == 0
    assert all(m.p == 0 for m in load_bundle(out).lm.model.modules() if isinstance(m, torch.nn.Dropout))
    with pytest.raises(ValueError, match="dropout"):
        Stage3Config(dropout=1.5)
