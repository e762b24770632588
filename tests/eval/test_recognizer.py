"""The action recogniser: decoding on known tags, a tiny training run with an exact round trip."""

import numpy as np
import pytest
import torch
from eval_fixtures import tiny_corpus, tiny_recognizer

from eval.recognizer import (
    BETWEEN,
    FORMAT,
    RECOGNIZER_FILE,
    RecognizerConfig,
    action_segments,
    frame_targets,
    load_recognizer,
    runs_of,
    segment_summary,
    smooth_tags,
)
from eval.storage import load_tensors, save_tensors
from eval.train_recognizer import REPORT_FILE, read_labelled
from motionchat.data.synth.vocabulary import Action, check_action
from motionchat.errors import MotionchatError
from motionchat.motion.features import feature_layout


def test_runs_and_segments_from_tags():
    tags = np.array([0, 0, 3, 3, 3, 3, 3, 3, 0, 3, 3, 3, 3, 3, 3, 5, 0, 7, 7, 7, 7, 7, 7])
    assert runs_of(np.array([1, 1, 2])) == [(1, 0, 2), (2, 2, 3)]
    # The single-frame 5 is noise; the two runs of 3 around a short gap are one action.
    assert action_segments(tags, min_frames=5) == [(3, 2, 15), (7, 17, 23)]
    # Majority smoothing removes an isolated frame.
    assert smooth_tags(np.array([2, 2, 2, 4, 2, 2, 2]), window=3, n_classes=6).tolist() == [2] * 7


def test_frame_targets_and_segment_summary():
    program = (Action("walk", speed="normal", distance=2), Action("wave", side="left", count=2, speed="fast"))
    actions = ("walk", "wave")
    tags = frame_targets(10, program, [(1, 4), (6, 9)], actions)
    assert tags.tolist() == [BETWEEN, 1, 1, 1, BETWEEN, BETWEEN, 2, 2, 2, BETWEEN]
    layout = feature_layout()
    raw = np.zeros((4, layout.dim), dtype=np.float32)
    raw[:, layout.root_xz_velocity] = [0.3, 0.4]  # 0.5 m per frame
    raw[:, layout.root_yaw_velocity] = 0.1  # half-angle velocity: 0.2 rad per frame
    log_frames, path_m, turn_rad = segment_summary(raw)
    assert log_frames == pytest.approx(np.log(4)) and path_m == pytest.approx(2.0) and turn_rad == pytest.approx(0.8)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    corpus = tiny_corpus()
    return corpus, tiny_recognizer(corpus, tmp_path_factory.mktemp("run") / "recognizer")


def test_train_save_load_and_recognise(trained):
    corpus, run = trained
    assert (run / RECOGNIZER_FILE).is_file() and (run / REPORT_FILE).is_file()
    recognizer = load_recognizer(run)
    again = load_recognizer(run / RECOGNIZER_FILE)
    for (name, a), (_, b) in zip(recognizer.model.state_dict().items(), again.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    test = read_labelled(corpus, "test")
    motions = [test.clips.features(i) for i in range(6)]
    programs = recognizer.recognise(motions)
    assert len(programs) == 6
    for program in programs:
        for action in program:
            check_action(action)  # a known primitive with exactly its parameters, allowed values only
    assert programs == again.recognise(motions)


def test_a_recogniser_for_another_vocabulary_is_refused(trained, tmp_path):
    _, run = trained
    tensors = load_tensors(run / RECOGNIZER_FILE)
    save_tensors(tmp_path / RECOGNIZER_FILE, tensors, FORMAT, RecognizerConfig(width=24), classes={"actions": ["walk"]})
    with pytest.raises(MotionchatError, match="another action vocabulary"):
        load_recognizer(tmp_path)
