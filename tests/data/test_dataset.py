from pathlib import Path

import numpy as np
import pytest
import torch

from motionchat.data.dataset import (
    Caption,
    FeatureCrops,
    MotionClips,
    WholeClips,
    parse_caption_line,
    read_captions,
    read_split,
)
from motionchat.errors import MotionchatError
from motionchat.motion.skeleton import HUMANML3D, KITML


def write_dataset(root: Path, lengths: dict[str, list[int]], dim: int = 263, split_dir: str = "") -> Path:
    """A HumanML3D-layout folder of random features; clip IDs are split + index."""
    rng = np.random.default_rng(0)
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    (root / split_dir).mkdir(exist_ok=True)
    for split, frame_counts in lengths.items():
        ids = [f"{split}{i:03d}" for i in range(len(frame_counts))]
        for clip_id, frames in zip(ids, frame_counts):
            np.save(root / "new_joint_vecs" / f"{clip_id}.npy", rng.normal(size=(frames, dim)).astype(np.float32))
            (root / "texts" / f"{clip_id}.txt").write_text("a person walks.#a/DET person/NOUN walk/VERB#0.0#0.0\n")
        (root / split_dir / f"{split}.txt").write_text("\n".join(ids) + "\n")
    np.save(root / "Mean.npy", np.zeros(dim, np.float32))
    np.save(root / "Std.npy", np.ones(dim, np.float32))
    return root


def test_loads_a_split_into_one_block(tmp_path):
    root = write_dataset(tmp_path / "d", {"train": [50, 70, 90], "test": [40]})
    clips = MotionClips(root, "train")
    assert clips.skeleton is HUMANML3D
    assert clips.clip_ids == ["train000", "train001", "train002"]
    assert clips.lengths.tolist() == [50, 70, 90]
    assert clips.frames.shape == (210, 263) and clips.frames.dtype == np.float32
    for i, clip_id in enumerate(clips.clip_ids):
        np.testing.assert_array_equal(clips.features(i), np.load(root / "new_joint_vecs" / f"{clip_id}.npy"))


def test_split_files_may_live_under_meta(tmp_path):
    root = write_dataset(tmp_path / "d", {"val": [60, 61]}, split_dir="meta")
    assert read_split(root, "val") == ["val000", "val001"]
    assert len(MotionClips(root, "val")) == 2


def test_kit_features_infer_the_kit_skeleton(tmp_path):
    root = write_dataset(tmp_path / "d", {"train": [45]}, dim=251)
    assert MotionClips(root, "train").skeleton is KITML
    with pytest.raises(MotionchatError, match=r"expected \(frames, 263\) for the humanml3d skeleton"):
        MotionClips(root, "train", HUMANML3D)


def test_short_clips_are_left_out_and_counted(tmp_path):
    root = write_dataset(tmp_path / "d", {"train": [30, 64, 100, 63]})
    clips = MotionClips(root, "train", min_frames=64)
    assert clips.clip_ids == ["train001", "train002"] and clips.n_too_short == 2
    with pytest.raises(MotionchatError, match="no usable clip"):
        MotionClips(root, "train", min_frames=200)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_text("not an array"), "not a NumPy .npy file"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "holds Python objects"),
        (lambda p: np.save(p, np.zeros((50, 100), np.float32)), r"shape \(50, 100\)"),
        (lambda p: np.save(p, np.full((50, 263), np.nan, np.float32)), "NaN/Inf"),
        (lambda p: np.save(p, np.zeros((50, 263), bool)), "dtype bool"),
        (lambda p: p.unlink(), "listed in the 'train' split but missing"),
    ],
)
def test_bad_clip_files_are_one_line_errors_naming_the_file(tmp_path, damage, message):
    root = write_dataset(tmp_path / "d", {"train": [50, 50]})
    damage(root / "new_joint_vecs" / "train001.npy")
    with pytest.raises(MotionchatError, match=message) as err:
        MotionClips(root, "train")
    assert "train001" in str(err.value) and "\n" not in str(err.value)


def test_missing_clips_can_be_skipped(tmp_path):
    root = write_dataset(tmp_path / "d", {"train": [50, 50, 50]})
    (root / "new_joint_vecs" / "train001.npy").unlink()
    clips = MotionClips(root, "train", skip_missing=True)
    assert clips.clip_ids == ["train000", "train002"] and clips.n_missing == 1


def test_bad_dataset_folders(tmp_path):
    with pytest.raises(MotionchatError, match="dataset folder not found"):
        MotionClips(tmp_path / "nowhere", "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MotionchatError, match="no 'new_joint_vecs/' folder"):
        MotionClips(tmp_path / "empty", "train")
    root = write_dataset(tmp_path / "d", {"train": [50]})
    with pytest.raises(MotionchatError, match=r"no 'test.txt' split file"):
        MotionClips(root, "test")
    (root / "test.txt").write_text("\n\n")
    with pytest.raises(MotionchatError, match="lists no clips"):
        MotionClips(root, "test")


def test_caption_lines():
    caption = parse_caption_line("a man kicks.#a/DET man/NOUN kick/VERB#0.0#2.5\n", "x.txt:1")
    assert caption == Caption("a man kicks.", ("a/DET", "man/NOUN", "kick/VERB"), 0.0, 2.5)
    assert parse_caption_line("jumps#jump/VERB#nan#nan", "x").start_s == 0.0
    for bad in ("no separators", "text#tokens#zero#1.0", "#a/DET#0#0"):
        with pytest.raises(MotionchatError, match="x.txt:3"):
            parse_caption_line(bad, "x.txt:3")


def test_captions_are_loaded_on_request(tmp_path):
    root = write_dataset(tmp_path / "d", {"train": [50, 50]})
    clips = MotionClips(root, "train", with_captions=True)
    assert [c.text for c in clips.captions[1]] == ["a person walks."]
    (root / "texts" / "train000.txt").unlink()
    with pytest.raises(MotionchatError, match=r"train000.txt: listed in the 'train' split but missing"):
        MotionClips(root, "train", with_captions=True)
    assert MotionClips(root, "train").captions is None  # features alone do not need texts


def test_crops_are_a_pure_function_of_the_key(tmp_path):
    root = write_dataset(tmp_path / "d", {"train": [64, 100, 130]})
    clips = MotionClips(root, "train", min_frames=64)
    crops = FeatureCrops(clips, 64)
    assert torch.equal(crops[(2, 7)], crops[(2, 7)])
    starts = set()
    for seed in range(40):
        crop = crops[(2, seed)].numpy()
        assert crop.shape == (64, 263)
        start = int(np.flatnonzero(clips.features(2)[:, 0] == crop[0, 0])[0])
        np.testing.assert_array_equal(crop, clips.features(2)[start : start + 64])
        starts.add(start)
    assert len(starts) > 10 and min(starts) >= 0 and max(starts) <= 130 - 64
    assert torch.equal(crops[(0, 3)], torch.from_numpy(clips.features(0)))  # exactly crop-long: the whole clip
    with pytest.raises(ValueError, match="shorter than the 80-frame crop"):
        FeatureCrops(clips, 80)


def test_whole_clips(tmp_path):
    root = write_dataset(tmp_path / "d", {"test": [41, 57]})
    whole = WholeClips(MotionClips(root, "test"))
    assert [tuple(whole[i].shape) for i in range(len(whole))] == [(41, 263), (57, 263)]


# --- the real HumanML3D fixtures, read in place ------------------------------------------------


@pytest.fixture
def fixture_dir(realdata):
    return realdata("humanml3d/new_joint_vecs").parent


def test_real_humanml3d_splits_under_meta(fixture_dir):
    # The fixture holds 3 clips of the full dataset; its split files list all 29k IDs.
    clips = MotionClips(fixture_dir, "test", skip_missing=True)
    assert clips.clip_ids == ["000000", "000612"] and clips.skeleton is HUMANML3D
    assert clips.n_missing == len(read_split(fixture_dir, "test")) - 2
    for i, clip_id in enumerate(clips.clip_ids):
        expected = np.load(fixture_dir / "new_joint_vecs" / f"{clip_id}.npy")  # float64 on disk
        np.testing.assert_array_equal(clips.features(i), expected.astype(np.float32))
    train = MotionClips(fixture_dir, "train", skip_missing=True)
    assert train.clip_ids == ["012314"] and train.lengths.tolist() == [170]


def test_real_humanml3d_captions(fixture_dir):
    clips = MotionClips(fixture_dir, "test", skip_missing=True, with_captions=True)
    assert clips.clip_ids == ["000000"]  # 000612 has features but no texts in the fixture
    captions = clips.captions[0]
    assert captions == read_captions(fixture_dir / "texts" / "000000.txt")
    assert captions[0].text == "a man kicks something or someone with his left leg."
    assert captions[0].tokens[:2] == ("a/DET", "man/NOUN")


def test_real_humanml3d_through_a_split_of_our_own(fixture_dir, tmp_path):
    root = tmp_path / "h3d"
    root.mkdir()
    for name in ("new_joint_vecs", "new_joints", "texts", "Mean.npy", "Std.npy"):
        (root / name).symlink_to(fixture_dir / name)
    (root / "all.txt").write_text("000000\n000612\n012314\n")
    clips = MotionClips(root, "all", min_frames=150)
    assert clips.clip_ids == ["000612", "012314"] and clips.n_too_short == 1
    assert [tuple(c.shape) for c in WholeClips(clips)] == [(199, 263), (170, 263)]
