"""`motionchat-eval` end to end on a tiny corpus: the baselines' report (JSON, Markdown, plots),
known values of the ground-truth rows, determinism under --seed, and one-line errors."""

import json
import shutil
from collections import Counter

import numpy as np
import pytest
import torch
from eval_fixtures import tiny_corpus, tiny_evaluator, tiny_recognizer
from typer.testing import CliRunner

from eval.cli import app
from eval.data import EvalData
from eval.synth_data import HELD_OUT_FILE
from motionchat.data.synth.program import adjacent_pairs
from motionchat.motion.normalizer import Normalizer
from motionchat.vq import MotionVQVAE, VQConfig, save_vq

runner = CliRunner()
FAST = ["--repeats", "2", "--mm-samples", "3", "--mm-prompts", "4", "--quiet"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    corpus = tiny_corpus()
    runs = tmp_path_factory.mktemp("runs")
    return corpus, tiny_evaluator(corpus, runs / "evaluator"), tiny_recognizer(corpus, runs / "recognizer")


def _run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_all_writes_the_report_with_baseline_rows(setup, tmp_path):
    corpus, evaluator, recognizer = setup
    out = tmp_path / "report"
    _run("all", "--data", corpus, "--evaluator", evaluator, "--recognizer", recognizer, "--out", out, "--limit", "32",
         "--workers", "1", *FAST)  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    tasks = report["tasks"]
    assert list(tasks) == ["t2m", "m2t", "predict", "inbetween", "duration", "edit", "diff"]
    assert set(tasks["duration"]["rows"]) == {"ground truth", "retrieval"}
    assert set(tasks["duration"]["values"]["ground truth"]["duration_within_10"]) == {1.0}
    assert set(tasks["t2m"]["rows"]) == {"ground truth", "retrieval"}
    assert set(tasks["predict"]["rows"]) == {"ground truth", "retrieval", "hold last pose"}
    assert set(tasks["edit"]["rows"]) == {"ground truth", "unchanged"}
    assert set(tasks["diff"]["rows"]) == {"ground truth", "retrieval"}

    t2m = tasks["t2m"]["rows"]
    assert t2m["ground truth"]["fid"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert t2m["ground truth"]["fid"]["n"] == 2
    assert "multimodality" in t2m["retrieval"] and "multimodality" not in t2m["ground truth"]
    assert "program_exact" in t2m["ground truth"] and "per_action" in tasks["t2m"]["breakdowns"]["ground truth"]
    predict = tasks["predict"]["rows"]
    assert predict["ground truth"]["ade_m"]["mean"] == 0.0 and predict["ground truth"]["fde_flat_m"]["mean"] == 0.0
    assert predict["hold last pose"]["ade_m"]["mean"] > 0.0
    m2t = tasks["m2t"]["rows"]
    # Captions of the corpus parse back to their program: the ground truth scores 1 exactly.
    assert m2t["ground truth"]["program_exact"]["mean"] == 1.0
    assert 0.0 < m2t["ground truth"]["bleu4"]["mean"] <= 1.0
    assert tasks["edit"]["rows"]["ground truth"]["fid"]["mean"] == pytest.approx(0.0, abs=1e-6)
    # The pairs' own difference sentences read back to their true edits.
    assert tasks["diff"]["rows"]["ground truth"]["diff_correct"]["mean"] == 1.0
    assert 0.0 <= tasks["diff"]["rows"]["retrieval"]["diff_correct"]["mean"] <= 1.0

    markdown = (out / "report.md").read_text()
    assert "## Text to motion" in markdown and "| ground truth |" in markdown and "How to read it" in markdown
    for task in tasks:
        assert (out / f"{task}.png").stat().st_size > 1000


@pytest.mark.slow  # worker processes each import torch: ~10 s
def test_spreading_tasks_over_worker_processes_changes_no_prediction_number(setup, tmp_path):
    corpus, evaluator, recognizer = setup
    spread, alone = tmp_path / "spread", tmp_path / "alone"
    _run("all", "--data", corpus, "--evaluator", evaluator, "--recognizer", recognizer, "--out", spread, "--limit", "32",
         "--workers", "2", *FAST)  # fmt: skip
    _run("predict", "--data", corpus, "--evaluator", evaluator, "--out", alone, "--limit", "32", *FAST)
    values = [json.loads((out / "report.json").read_text())["tasks"]["predict"]["values"] for out in (spread, alone)]
    assert values[0] == values[1]


def test_t2m_scores_the_compositional_split_apart(setup, tmp_path):
    corpus, evaluator, recognizer = setup
    data = EvalData(corpus, 32)
    pairs = Counter(pair for clip_id in data.test_ids for pair in adjacent_pairs(data.programs[clip_id]))
    (first, second), held = pairs.most_common(1)[0]
    root = tmp_path / "corpus"
    shutil.copytree(corpus, root)
    (root / HELD_OUT_FILE).write_text(f"{first}>{second}\n")
    out = tmp_path / "report"
    _run("t2m", "--data", root, "--evaluator", evaluator, "--recognizer", recognizer, "--out", out, "--limit", "32", *FAST)
    tasks = json.loads((out / "report.json").read_text())["tasks"]
    assert list(tasks) == ["t2m", "t2m_compositional"]
    split = tasks["t2m_compositional"]
    assert set(split["rows"]) == {"ground truth", "retrieval"}
    assert split["rows"]["ground truth"]["fid"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert "program_exact" in split["rows"]["ground truth"] and "per_action" in split["breakdowns"]["ground truth"]
    assert any(note.startswith(f"{held} of the 32 evaluated test clips") for note in split["notes"])
    assert "## Text to motion, compositional split (unseen action combinations)" in (out / "report.md").read_text()


def test_diff_needs_no_evaluator(setup, tmp_path):
    corpus, _, _ = setup
    _run("diff", "--data", corpus, "--out", tmp_path / "report", "--limit", "16", *FAST)
    rows = json.loads((tmp_path / "report" / "report.json").read_text())["tasks"]["diff"]["rows"]
    assert rows["ground truth"]["diff_correct"]["mean"] == 1.0


def test_same_seed_same_numbers(setup, tmp_path):
    corpus, evaluator, _ = setup
    values = []
    for name in ("a", "b"):
        _run("predict", "--data", corpus, "--evaluator", evaluator, "--out", tmp_path / name, "--limit", "12", "--seed", "3", *FAST)
        values.append(json.loads((tmp_path / name / "report.json").read_text())["tasks"]["predict"]["values"])
    assert values[0] == values[1]
    assert json.loads((tmp_path / "a" / "report.json").read_text())["meta"]["limit"] == 12


def test_tokenizer_report(setup, tmp_path):
    corpus, evaluator, _ = setup
    torch.manual_seed(0)
    vq = MotionVQVAE(VQConfig(codebook_size=16, code_dim=8, width=16, depth=1))
    vq.quantizer.codebook.normal_()
    save_vq(vq, tmp_path / "vq" / "vq.safetensors")
    Normalizer.from_dir(corpus).save(tmp_path / "vq")
    _run("tokenizer", "--data", corpus, "--vq", tmp_path / "vq", "--evaluator", evaluator, "--out", tmp_path / "report", "--limit", "8", "--quiet")
    row = json.loads((tmp_path / "report" / "report.json").read_text())["tasks"]["tokenizer"]["rows"]["tokenizer"]
    assert row["mpjpe_mm"]["mean"] > 0 and 0 < row["codebook_usage"]["mean"] <= 1 and row["perplexity"]["mean"] >= 1
    assert np.isfinite(row["fid"]["mean"])


def test_missing_inputs_are_one_line_errors(setup, tmp_path):
    corpus, evaluator, _ = setup
    plain = tmp_path / "plain"  # not a synthetic corpus (no labels.jsonl): no shipped evaluator stands in
    shutil.copytree(corpus, plain, ignore=shutil.ignore_patterns("labels.jsonl", "edits.jsonl"))
    result = runner.invoke(app, ["t2m", "--data", str(plain), "--out", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 2 and "no evaluator" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["m2t", "--data", str(tmp_path / "nowhere"), "--evaluator", str(evaluator), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "dataset folder not found" in result.output
    result = runner.invoke(app, ["tokenizer", "--data", str(corpus), "--evaluator", str(evaluator), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--vq" in result.output
