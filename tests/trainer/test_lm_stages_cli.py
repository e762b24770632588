"""`trainer stage2`, `stage3` and `all`: bad input refused in one line before anything is written;
`all` runs the three stages and resumes where it stopped."""

import json
import subprocess

import pytest
from lm_stage_fixtures import ENV, STAGE2_SMALL, STAGE3_SMALL, TINY_VQ, tiny_corpus, tiny_stage2_run, tiny_vq_run
from test_distributed import LAUNCHERS, free_port
from typer.testing import CliRunner

from motionchat.bundle import load_bundle
from trainer.cli import app
from trainer.config import parse_set_options
from trainer.loop import state_sha256
from trainer.pipeline import run_all

ALL_SMALL = [f"stage1.{s}" for s in TINY_VQ] + [f"stage2.{s}" for s in STAGE2_SMALL] + [f"stage3.{s}" for s in STAGE3_SMALL]


def run_cli(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def copy_without(source, target, name):
    target.mkdir()
    for item in source.iterdir():
        if item.name != name:
            (target / item.name).symlink_to(item)
    return target


CASES = [
    (lambda t: ["stage2", "--vq", str(tiny_vq_run())], "--data is required"),
    (lambda t: ["stage2", "--data", str(tiny_corpus())], "--vq is required"),
    (lambda t: ["stage2", "--data", str(tiny_corpus()), "--vq", str(t / "none")], "--vq folder not found"),
    (lambda t: ["stage2", "--data", str(tiny_corpus()), "--vq", str(tiny_corpus())], "no vq.safetensors"),
    (lambda t: ["stage2", "--data", str(copy_without(tiny_corpus(), t / "d", "texts")), "--vq", str(tiny_vq_run())], "listed in the 'train' split but missing"),
    (lambda t: ["stage2", "--data", str(tiny_corpus()), "--vq", str(tiny_vq_run()), "--set", "lm.d_modle=8"], "unknown config key 'lm.d_modle'"),
    (lambda t: ["stage2", "--data", str(tiny_corpus()), "--vq", str(tiny_vq_run()), "--preset", "huge"], "unknown preset 'huge'"),
    (lambda t: ["stage2", "--resume"], "no config.json, so no run to resume"),
    (lambda t: ["stage3", "--init", str(tiny_stage2_run())], "--data is required"),
    (lambda t: ["stage3", "--data", str(tiny_corpus())], "--init is required"),
    (lambda t: ["stage3", "--data", str(tiny_corpus()), "--init", str(tiny_vq_run())], "no lm/ folder"),
    (lambda t: ["stage3", "--data", str(tiny_corpus()), "--init", str(tiny_stage2_run()), "--set", "corruption_tau=2"], "corruption_tau must be in [0, 1)"),
    (lambda t: ["all", "--data", str(tiny_corpus()), "--set", "train.steps=3"], "'train' is not a stage; prefix settings with stage1."),
    # every stage's typed config is checked before stage 1 trains
    (lambda t: ["all", "--data", str(tiny_corpus()), "--set", "stage3.corruption_tau=2"], "corruption_tau must be in [0, 1)"),
    (lambda t: ["all", "--data", str(t / "none")], "dataset folder not found"),
    (lambda t: ["all"], "--data is required"),
    (lambda t: ["all", "--resume"], "no readable record of a `trainer all` run"),
]  # fmt: skip


@pytest.mark.parametrize("args, message", CASES)
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(tmp_path, args, message):
    out = tmp_path / "out"
    code, output = run_cli(*args(tmp_path), "--out", str(out))
    assert code == 2, output
    assert message in " ".join(output.split()) and output.count("error:") == 1 and "Traceback" not in output
    assert not out.exists() and not (tmp_path / "out.runs").exists()


def test_an_existing_bundle_or_run_is_not_replaced_by_accident(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text("{}")
    code, output = run_cli("stage3", "--data", str(tiny_corpus()), "--init", str(tiny_stage2_run()), "--out", str(bundle))
    assert code == 2 and "folder is not empty; pass --force to replace it" in output
    code, output = run_cli("all", "--data", str(tiny_corpus()), "--out", str(bundle))
    assert code == 2 and "folder is not empty; pass --force" in output
    (tmp_path / "bundle.runs" / "stage1").mkdir(parents=True)
    code, output = run_cli("all", "--data", str(tiny_corpus()), "--out", str(tmp_path / "bundle"), "--force", "--resume")
    assert code == 2 and "pass only one" in output
    code, output = run_cli("all", "--data", str(tiny_corpus()), "--out", str(tmp_path / "bundle"))
    assert code == 2 and "holds earlier runs; pass --resume to continue them or --force" in output
    assert (bundle / "config.json").read_text() == "{}"


def test_all_runs_the_three_stages_and_resumes_an_interrupted_one(tmp_path, capsys):
    out = tmp_path / "model"
    run_all(data=tiny_corpus(), out=out, preset="tiny", config_file=None, set_options=ALL_SMALL, max_steps=2, resume=False, force=False)
    runs = tmp_path / "model.runs"
    assert sorted(p.name for p in runs.iterdir()) == ["all.json", "stage1", "stage2", "stage3"]
    bundle = load_bundle(out)
    assert bundle.config.codebook_size == 32 and bundle.lm.model.shape.d_model == 32
    assert bundle.config.training["stage2"]["steps"] == 2 and bundle.config.training["stage3"]["data"] == str(tiny_corpus().resolve())
    settings = json.loads((runs / "all.json").read_text())
    assert settings["overrides"]["stage3"] == parse_set_options(STAGE3_SMALL) and settings["max_steps"] == 2

    # Stage 3 stopped at step 2 of its schedule; resuming with more steps skips stages 1 and 2.
    stage1_vq = (runs / "stage1" / "vq.safetensors").read_bytes()
    (runs / "stage3" / "eval.json").unlink()
    capsys.readouterr()
    run_all(data=None, out=out, preset=None, config_file=None, set_options=[], max_steps=4, resume=True, force=False)
    printed = capsys.readouterr().err
    assert "stage1: finished earlier" in printed and "stage2: finished earlier" in printed and "stage3: resuming" in printed
    assert (runs / "stage1" / "vq.safetensors").read_bytes() == stage1_vq
    assert json.loads((runs / "stage3" / "ranks.json").read_text())["step"] == 4
    assert load_bundle(out).config.training["stage3"]["steps"] == 4


@pytest.mark.slow
def test_all_under_torchrun(tmp_path):
    out = tmp_path / "model"
    options = [arg for item in ALL_SMALL + ["stage1.train.batch_size=8", "stage2.train.batch_size=8", "stage3.train.batch_size=8"]
               for arg in ("--set", item)]  # fmt: skip
    command = LAUNCHERS["torchrun"](free_port()) + ["-m", "trainer", "all", "--data", str(tiny_corpus()), "--out", str(out),
                                                    *options, "--max-steps", "2"]  # fmt: skip
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("2 process(es)") == 3
    for stage in ("stage1", "stage2", "stage3"):
        hashes = json.loads((tmp_path / "model.runs" / stage / "ranks.json").read_text())["weights_sha256"]
        assert len(hashes) == 2 and hashes[0] == hashes[1]
    assert hashes[0] == state_sha256(load_bundle(out).lm.model)
