"""The chat front end on a small random bundle (made with `save_bundle`): REPL, `ask`, `run`.

The model is untrained, so a text answer may be reported as unfinished; these tests check
the routing, the session memory, the files written and the error handling, not answer quality.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from prompt_toolkit import PromptSession
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console
from typer.testing import CliRunner

from motionchat.chat.engine import Engine
from motionchat.chat.repl import Repl
from motionchat.chat.session import Session
from motionchat.cli import app
from motionchat.motion.io import load_motion
from answer_snapshot import FAMILY_REQUESTS  # one natural request per family ({a}, {b}: two clip files)
from random_bundle import save_random_bundle

runner = CliRunner()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return save_random_bundle(tmp_path_factory.mktemp("chat") / "bundle")


@pytest.fixture(scope="module")
def clips(tmp_path_factory, tiny_corpus):
    """Two corpus clips as joint files a user could pass."""
    folder = tmp_path_factory.mktemp("clips")
    joints = sorted((tiny_corpus / "new_joints").glob("*.npy"))[:2]
    paths = []
    for i, source in enumerate(joints):
        path = folder / f"clip{i}.npy"
        np.save(path, np.load(source))
        paths.append(path)
    return paths


def test_a_features_file_is_encoded_as_given_not_through_joints(bundle, tmp_path, tiny_corpus):
    features = np.load(sorted((tiny_corpus / "new_joint_vecs").glob("*.npy"))[0]).astype(np.float32)
    np.save(tmp_path / "f.npy", features)
    engine = Engine(Session(out_dir=tmp_path / "out"), bundle, "none")
    motion = engine.session.open(tmp_path / "f.npy")
    np.testing.assert_array_equal(engine._features(motion), features)
    joints_only = engine.session.add(motion.joints, "joints", motion.skeleton)
    assert not np.array_equal(engine._features(joints_only), features)  # the round trip this avoids


def test_repl_multi_turn_conversation(bundle, tmp_path):
    turns = ["a person walks forward", "now describe it", "make it faster", "how is m2 different from m1?",
             f"/save m2 {tmp_path / 'faster.bvh'}", "/list", "/nonsense", "/save m7 x.bvh", "", "/quit"]  # fmt: skip
    console = Console(record=True, width=200)
    with create_pipe_input() as pipe:
        pipe.send_text("".join(turn + "\r" for turn in turns))
        session = Session(out_dir=tmp_path / "out")
        Repl(Engine(session, bundle, "gif"), console, PromptSession(input=pipe, output=DummyOutput())).run()
    text = console.export_text()
    shown = [line.split("task:")[1].strip() for line in text.splitlines() if line.startswith("task:")]
    assert shown == ["t2m", "m2t", "edit", "diff"]
    assert [m.name for m in session.motions] == ["m1", "m2"] and session.motions[1].origin.startswith("edit")
    assert len(list((tmp_path / "out").glob("m1-*.gif"))) == 1
    assert load_motion(tmp_path / "faster.bvh").joints.shape[1:] == (22, 3)
    assert "unknown command /nonsense" in text and "no motion m7" in text and text.rstrip().endswith("bye")




def ask_json(bundle, out, request):
    result = runner.invoke(app, ["ask", request, "--bundle", str(bundle), "--out", str(out), "--format", "none", "--json"])
    assert result.exit_code in (0, 1), result.output  # 1: the tiny model's answer was unusable, and said so
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("family,request_text", FAMILY_REQUESTS)
def test_ask_routes_each_family(bundle, clips, tmp_path, family, request_text):
    reply = ask_json(bundle, tmp_path, request_text.format(a=clips[0], b=clips[1]))
    assert reply["family"] == family
    assert reply["ok"] or reply["problems"] or reply["error"]
    for motion in reply["motions"]:
        assert all(Path(f).exists() for f in motion["files"])


@pytest.mark.parametrize("raw", [False, True])
def test_generated_motions_are_cleaned_unless_raw(bundle, tmp_path, raw):
    """By default the joints saved (and previewed) are the decoded ones after the skeleton clean-up;
    `--raw` keeps them as decoded. The features file is the model's either way."""
    from motionchat.motion.cleanup import clean_generated
    from motionchat.motion.features import features_to_joints

    out = tmp_path / "out"
    args = ["ask", "a person walks forward", "--bundle", str(bundle), "--out", str(out), "--format", "none", "--seed", "1"]
    result = runner.invoke(app, args + (["--raw"] if raw else []))
    assert result.exit_code == 0, result.output
    features = np.load(next(out.glob("m1-*-features.npy")))
    joints = np.load(next(p for p in out.glob("m1-*.npy") if not p.name.endswith("-features.npy")))
    decoded = features_to_joints(features)
    expected = decoded if raw else clean_generated(features, decoded)
    np.testing.assert_allclose(joints, expected, atol=1e-5)
    assert raw or np.abs(joints - decoded).max() > 1e-4  # the clean-up changed something


def test_ask_bad_input_is_one_line(bundle, tmp_path):
    for request, needle in [("describe /nope/missing.npy", "no such file"), ("what is the weather", "I can:"),
                            ("make a 300 second walk", "9.8 s")]:  # fmt: skip
        result = runner.invoke(app, ["ask", request, "--bundle", str(bundle), "--out", str(tmp_path)])
        assert result.exit_code != 0 and needle in result.output and "Traceback" not in result.output
    missing = runner.invoke(app, ["ask", "a man jumps", "--bundle", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "trainer all" in missing.stderr


def test_run_script_keeps_going_and_names_failed_lines(bundle, clips, tmp_path):
    script = tmp_path / "script.txt"
    script.write_text(
        "# a comment\n\na person jumps in place\n/bogus line that is not a request ??\n"
        f"describe {tmp_path / 'missing.npy'}\nmake it slower\ncaption {clips[0]}\n"
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(script), "--bundle", str(bundle), "--out", str(out), "--format", "none"])
    assert result.exit_code == 1
    assert "line 4" in result.output and "line 5" in result.output
    assert list(out.glob("line003-m1*.npy")) and list(out.glob("line006-m2*.bvh"))


def test_the_shipped_model_answers_every_family_in_its_output_type(clips, tmp_path):
    """The default bundle inside the package: each family's request routed and answered well formed."""
    for family, request_text in FAMILY_REQUESTS:
        result = runner.invoke(app, ["ask", request_text.format(a=clips[0], b=clips[1]), "--out", str(tmp_path), "--format", "none", "--json", "--seed", "0"])
        assert result.exit_code == 0, (family, result.output)
        reply = json.loads(result.stdout.strip().splitlines()[-1])
        assert reply["family"] == family and reply["ok"], reply
        assert reply["texts"] or reply["motions"], reply
