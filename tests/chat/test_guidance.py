"""Classifier-free guidance and the sampling temperature as users set them: `--guidance` and
`--temperature` on ask/run, `/guidance` and `/temperature` in the REPL."""

import json

import pytest
from typer.testing import CliRunner

from motionchat.chat.session import guidance_scale, sampling_temperature
from motionchat.cli import app
from motionchat.errors import MotionchatError

runner = CliRunner()


def test_guidance_scale_accepts_numbers_in_range_and_explains_the_rest():
    assert guidance_scale("1") == 1.0 and guidance_scale("3.5") == 3.5 and guidance_scale(0) == 0.0
    for bad, needle in [("lots", "a number"), ("nan", "between"), ("-1", "between"), ("21", "between"), ("inf", "between")]:
        with pytest.raises(MotionchatError, match=needle):
            guidance_scale(bad)


def test_ask_with_guidance_on_the_shipped_model(tmp_path):
    args = ["ask", "a person jumps twice", "--out", str(tmp_path), "--format", "none", "--json", "--seed", "1"]
    plain = runner.invoke(app, args)
    guided = runner.invoke(app, [*args, "--guidance", "3"])
    assert plain.exit_code == 0 and guided.exit_code == 0, guided.output
    assert json.loads(guided.stdout.splitlines()[-1])["ok"]
    bad = runner.invoke(app, [*args, "--guidance", "nan"])
    assert bad.exit_code == 2 and "guidance must be between" in bad.output and "Traceback" not in bad.output


def test_temperature_accepts_numbers_in_range_and_explains_the_rest():
    assert sampling_temperature("0.6") == 0.6 and sampling_temperature(1) == 1.0
    for bad, needle in [("warm", "a number"), ("nan", "between"), ("0", "between"), ("9", "between")]:
        with pytest.raises(MotionchatError, match=needle):
            sampling_temperature(bad)


def test_ask_with_a_temperature_on_the_shipped_model(tmp_path):
    args = ["ask", "a person jumps twice", "--out", str(tmp_path), "--format", "none", "--json", "--seed", "1"]
    cool = runner.invoke(app, [*args, "--temperature", "0.3"])
    assert cool.exit_code == 0 and json.loads(cool.stdout.splitlines()[-1])["ok"], cool.output
    bad = runner.invoke(app, [*args, "--temperature", "-1"])
    assert bad.exit_code == 2 and "temperature must be between" in bad.output and "Traceback" not in bad.output


def test_a_script_answers_motion_and_text_lines_each_at_the_bundles_own_settings(tmp_path, tiny_corpus, monkeypatch):
    import numpy as np

    import motionchat.chat.engine as engine
    from random_bundle import save_random_bundle

    training = {"guidance": 2.0, "temperature": 0.6, "text_guidance": 1.0, "text_temperature": 0.1}
    bundle = save_random_bundle(tmp_path / "bundle", training=training)
    clip = tmp_path / "clip.npy"
    np.save(clip, np.load(sorted((tiny_corpus / "new_joints").glob("*.npy"))[0]))
    used = []

    def recording(lm, questions, config):
        used.append(({q.family.output for q in questions}, config.temperature, config.guidance))
        return real(lm, questions, config)

    real = engine.answer_questions
    monkeypatch.setattr(engine, "answer_questions", recording)
    script = tmp_path / "script.txt"
    script.write_text(f"a person jumps in place\ncaption {clip}\n")
    result = runner.invoke(app, ["run", str(script), "--bundle", str(bundle), "--out", str(tmp_path / "out"), "--format", "none"])
    assert "Traceback" not in result.output, result.output
    assert sorted(used, key=str) == sorted([({"motion"}, 0.6, 2.0), ({"text"}, 0.1, 1.0)], key=str)


def test_best_of_on_ask_and_in_the_repl_checks_its_count(tmp_path):
    from motionchat.chat.session import MAX_BEST_OF, best_of_count

    assert best_of_count("8") == 8 and best_of_count(1) == 1
    for bad, needle in [("many", "whole number"), ("0", "between"), (str(MAX_BEST_OF + 1), "between"), ("2.5", "whole number")]:
        with pytest.raises(MotionchatError, match=needle):
            best_of_count(bad)
    args = ["ask", "a person jumps twice", "--out", str(tmp_path), "--format", "none", "--json", "--seed", "1"]
    picked = runner.invoke(app, [*args, "--best-of", "3"])
    assert picked.exit_code == 0 and json.loads(picked.stdout.splitlines()[-1])["ok"], picked.output
    bad = runner.invoke(app, [*args, "--best-of", "0"])
    assert bad.exit_code != 0 and "best-of must be between" in bad.output and "Traceback" not in bad.output
