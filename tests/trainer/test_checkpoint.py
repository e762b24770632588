import random

import numpy as np
import pytest
import torch

from motionchat.errors import MotionchatError
from trainer.checkpoint import (
    capture_rng,
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    remove_stale_temporaries,
    restore_rng,
    save_checkpoint,
)


def draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_rng_round_trip_through_a_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    save_checkpoint(tmp_path, 3, {"rng": [capture_rng()]}, keep=2)
    expected = draws()
    draws()
    restore_rng(load_checkpoint(checkpoint_path(tmp_path, 3))["rng"][0])  # weights_only load
    assert draws() == expected


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    for step in (5, 10, 15, 20):
        save_checkpoint(tmp_path, step, {"model": {"w": torch.full((2,), float(step))}}, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [15, 20]
    assert torch.equal(load_checkpoint(checkpoint_path(tmp_path, 20))["model"]["w"], torch.full((2,), 20.0))


def test_a_save_that_dies_midway_leaves_the_previous_checkpoints_whole(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 5, {"model": {"w": torch.ones(4)}}, keep=2)

    def dies_halfway(obj, path):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 10, {"model": {"w": torch.zeros(4)}}, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5]
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert torch.equal(load_checkpoint(checkpoint_path(tmp_path, 5))["model"]["w"], torch.ones(4))


def test_stale_temporaries_of_a_killed_run_are_swept(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stale = folder / ".step_00000010.pt.k3j2.tmp.pt"  # what atomic_path leaves if the process is SIGKILLed
    stale.write_bytes(b"half")
    save_checkpoint(tmp_path, 5, {}, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [5]  # the temporary is never taken for a checkpoint
    assert remove_stale_temporaries(tmp_path) == [stale] and not stale.exists()


def test_foreign_or_damaged_files_are_refused(tmp_path):
    bad = tmp_path / "step_00000001.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(MotionchatError, match="unreadable checkpoint"):
        load_checkpoint(bad)
    torch.save({"weights": torch.ones(1)}, bad)
    with pytest.raises(MotionchatError, match="not a motionchat checkpoint"):
        load_checkpoint(bad)

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"format": 1, "x": Evil()}, bad)
    with pytest.raises(MotionchatError, match="unreadable checkpoint"):  # weights_only refuses arbitrary objects
        load_checkpoint(bad)
