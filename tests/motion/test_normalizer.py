import numpy as np
import pytest
import torch

from motionchat.errors import MotionchatError
from motionchat.motion.normalizer import Normalizer


def _stats(dim=263, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=dim).astype(np.float32), rng.uniform(0.1, 2.0, size=dim).astype(np.float32)


def test_normalize_then_denormalize_is_identity_numpy_and_torch():
    norm = Normalizer(*_stats())
    x = np.random.default_rng(1).normal(size=(40, 263)).astype(np.float32)
    z = norm.normalize(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, (x - norm.mean) / norm.std, rtol=1e-6)
    np.testing.assert_allclose(norm.denormalize(z), x, atol=1e-5)

    xt = torch.from_numpy(x).double()[None]  # (1, T, D), float64 stays float64
    zt = norm.normalize(xt)
    assert isinstance(zt, torch.Tensor) and zt.dtype == torch.float64 and zt.shape == (1, 40, 263)
    np.testing.assert_allclose(zt[0].numpy(), z, atol=1e-5)
    torch.testing.assert_close(norm.denormalize(zt), xt)


def test_mismatched_dimension_is_refused():
    norm = Normalizer(*_stats(263))
    with pytest.raises(MotionchatError, match="251 values per frame.*263"):
        norm.normalize(np.zeros((5, 251)))
    with pytest.raises(MotionchatError, match="251 values per frame"):
        norm.denormalize(torch.zeros(2, 5, 251))


@pytest.mark.parametrize(
    "mean,std,problem",
    [
        (np.zeros(4), np.array([1.0, 0.0, 1.0, 1.0]), "zero or negative"),
        (np.zeros(4), np.array([1.0, np.nan, 1.0, 1.0]), "NaN or Inf"),
        (np.array([0.0, np.inf, 0.0, 0.0]), np.ones(4), "NaN or Inf"),
        (np.zeros(4), np.ones(5), "same D"),
        (np.zeros((2, 2)), np.ones((2, 2)), "same D"),
    ],
)
def test_bad_statistics_are_refused(mean, std, problem):
    with pytest.raises(MotionchatError, match=problem):
        Normalizer(mean, std)


def test_save_and_from_dir_round_trip_exactly(tmp_path):
    norm = Normalizer(*_stats(251))
    norm.save(tmp_path / "stats")
    assert sorted(p.name for p in (tmp_path / "stats").iterdir()) == ["Mean.npy", "Std.npy"]  # no temp files left
    loaded = Normalizer.from_dir(tmp_path / "stats")
    np.testing.assert_array_equal(loaded.mean, norm.mean)
    np.testing.assert_array_equal(loaded.std, norm.std)
    assert loaded.dim == 251 and "Mean.npy" in loaded.source


def test_lower_case_names_and_from_files(tmp_path):
    mean, std = _stats(10)
    np.save(tmp_path / "mean.npy", mean)
    np.save(tmp_path / "std.npy", std)
    np.testing.assert_array_equal(Normalizer.from_dir(tmp_path).std, std)
    np.testing.assert_array_equal(Normalizer.from_files(tmp_path / "mean.npy", tmp_path / "std.npy").mean, mean)


def test_missing_or_bad_statistics_files(tmp_path):
    with pytest.raises(MotionchatError, match="not a folder"):
        Normalizer.from_dir(tmp_path / "nowhere")
    with pytest.raises(MotionchatError, match="no Mean.npy"):
        Normalizer.from_dir(tmp_path)
    (tmp_path / "Mean.npy").write_text("not numbers")
    np.save(tmp_path / "Std.npy", np.ones(3))
    with pytest.raises(MotionchatError, match=r"Mean\.npy: not a NumPy"):
        Normalizer.from_dir(tmp_path)


def test_official_humanml3d_statistics(realdata):
    folder = realdata("humanml3d/Mean.npy").parent
    norm = Normalizer.from_dir(folder)
    assert norm.dim == 263
    features = np.load(folder / "new_joint_vecs" / "012314.npy", allow_pickle=False)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(features)), features, atol=1e-5)
    alt = Normalizer.from_dir(folder / "meta" / "alt_mean_std_motiongpt")  # lower-case names
    assert alt.dim == 263 and not np.array_equal(alt.std, norm.std)
