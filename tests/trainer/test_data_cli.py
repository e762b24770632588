"""`trainer data synth | preview | build` through the real CLI: outputs and one-line errors."""

import imageio.v3 as iio
import numpy as np
import pytest
from typer.testing import CliRunner

from motionchat.data.dataset import MotionClips
from trainer.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["data", *[str(a) for a in args]])


def assert_one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "synth"
    result = invoke("synth", "--out", out, "--clips", 8, "--seed", 1, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert "wrote 8 clips" in result.output and "clips/s" in result.output
    return out


def test_synth_writes_a_loadable_corpus(synth_dir):
    sizes = [len(MotionClips(synth_dir, split)) for split in ("train", "val", "test")]
    assert sizes == [4, 2, 2]  # four groups of two: two train, one val, one test
    assert (synth_dir / "labels.jsonl").is_file() and (synth_dir / "edits.jsonl").is_file()


@pytest.mark.slow
def test_a_300_clip_corpus_has_three_splits_and_trains_end_to_end(tmp_path):
    """`--clips 300` used to give train 150 / val 0 / test 150, which stage 1 refused."""
    from motionchat.bundle import load_bundle

    data = tmp_path / "synth300"
    result = invoke("synth", "--out", data, "--clips", 300, "--seed", 0, "--workers", 1)
    assert result.exit_code == 0 and "(train 238, val 16, test 46)" in result.output, result.output
    bundle = tmp_path / "bundle"
    result = runner.invoke(app, ["all", "--data", str(data), "--out", str(bundle), "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    assert load_bundle(bundle) is not None


def test_synth_refuses_bad_input(synth_dir, tmp_path):
    assert_one_line_error(invoke("synth", "--out", synth_dir, "--clips", 4), "not empty", "--force")
    assert_one_line_error(invoke("synth", "--out", tmp_path / "x", "--clips", 1), "--clips 1")
    assert_one_line_error(invoke("synth", "--out", tmp_path / "y", "--clips", 4, "--workers", 0), "--workers 0")
    assert_one_line_error(invoke("synth", "--out", tmp_path / "z", "--clips", 4, "--babble", 1.5), "--babble 1.5")


def test_preview_draws_a_sheet(synth_dir, tmp_path):
    sheet = tmp_path / "sheet.png"
    result = invoke("preview", synth_dir, "-o", sheet, "--clips", 2, "--split", "train", "--size", 96)
    assert result.exit_code == 0, result.output
    image = iio.imread(sheet)
    assert image.shape[0] == 2 * 96 and image.shape[1] == 6 * 96
    assert image.std() > 5  # not blank
    assert_one_line_error(invoke("preview", synth_dir, "-o", tmp_path / "sheet.jpg"), "sheet.jpg", ".gif or .png")
    assert_one_line_error(invoke("preview", tmp_path / "nowhere", "-o", sheet), "nowhere")


def test_build_refuses_bad_captions(tmp_path):
    bvh_dir = tmp_path / "bvh"
    bvh_dir.mkdir()
    captions = tmp_path / "captions.csv"
    captions.write_text("name,text\nwalk.bvh,a person walks\n")
    assert_one_line_error(invoke("build", "--bvh-dir", bvh_dir, "--captions", captions, "--out", tmp_path / "o"), "'file' and 'caption'")
    captions.write_text("file,caption\nwalk.bvh,a person walks\n")
    assert_one_line_error(invoke("build", "--bvh-dir", bvh_dir, "--captions", captions, "--out", tmp_path / "o"), "no BVH file 'walk.bvh'")
    assert_one_line_error(invoke("build", "--bvh-dir", tmp_path / "missing", "--captions", captions, "--out", tmp_path / "o"), "missing")


def test_build_turns_cmu_bvh_files_into_a_dataset(tmp_path, realdata):
    cmu = realdata("cmu")
    captions = tmp_path / "captions.csv"
    captions.write_text(
        "file,caption,split\n"
        "bvh_mb_release/01_01.bvh,a person jumps forward and turns around,train\n"
        "131_01,a person starts walking and stops,train\n"
        "131_01.bvh,someone walks a few steps,train\n"
        "131_03,a person hops around,test\n"
        "131_02,a person is dancing,val\n"
    )
    out = tmp_path / "mine"
    result = invoke("build", "--bvh-dir", cmu, "--captions", captions, "--out", out)
    assert result.exit_code == 0, result.output
    train = MotionClips(out, "train", with_captions=True)
    assert len(train) >= 2 and train.lengths.max() <= 196 and train.lengths.min() >= 40
    assert [c.text for c in train.captions[train.clip_ids.index("131_01")]] == [
        "a person starts walking and stops", "someone walks a few steps"]
    assert len(MotionClips(out, "test")) == 1 and len(MotionClips(out, "val")) == 1
    joints = np.load(out / "new_joints" / "131_01.npy")
    assert 0.8 < np.median(joints[:, 0, 1]) < 1.1  # pelvis height of a walking adult, in metres
