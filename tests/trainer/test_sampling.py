import numpy as np
import pytest

from trainer.sampling import StepBatchSampler


def sampler(rank=0, world=1, start=0, stop=10, seed=3, n=7, batch=4):
    return StepBatchSampler(n, batch, rank, world, seed, start=start, stop=stop)


def test_each_epoch_is_a_permutation():
    keys = [k for batch in sampler(stop=7) for k in batch]  # 28 samples = 4 epochs of 7
    for epoch in range(4):
        assert sorted(i for i, _ in keys[7 * epoch : 7 * (epoch + 1)]) == list(range(7))
    assert [i for i, _ in keys[:7]] != [i for i, _ in keys[7:14]]  # reshuffled every epoch
    assert len({seed for _, seed in keys}) == len(keys)  # every sample draws its own randomness


def test_resuming_at_a_step_yields_the_same_batches():
    whole = list(sampler(stop=10))
    assert list(sampler(start=6, stop=10)) == whole[6:]
    assert len(sampler(start=6, stop=10)) == 4


def test_processes_split_the_same_global_batch():
    single = list(sampler(stop=5))
    rank0, rank1 = list(sampler(rank=0, world=2, stop=5)), list(sampler(rank=1, world=2, stop=5))
    assert [a + b for a, b in zip(rank0, rank1)] == single


def test_seed_changes_the_order():
    assert list(sampler(seed=1)) != list(sampler(seed=2))
    assert np.array_equal(np.array(list(sampler(seed=1))), np.array(list(sampler(seed=1))))


def grouped(rank=0, world=1, start=0, stop=12, n=20, batch=4, windows=3):
    return StepBatchSampler(n, batch, rank, world, seed=3, start=start, stop=stop, group_batches=windows, length=lambda key: key[0] % 10)


def test_grouping_by_length_keeps_the_samples_and_pads_less():
    plain = [k for b in sampler(stop=12, n=20) for k in b]
    batches = list(grouped())
    keys = [k for b in batches for k in b]
    assert sorted(keys[:12]) == sorted(plain[:12]) and sorted(keys) == sorted(plain)  # the same samples, each window
    spread = [max(i % 10 for i, _ in b) - min(i % 10 for i, _ in b) for b in batches]
    plain_spread = [max(i % 10 for i, _ in b) - min(i % 10 for i, _ in b) for b in sampler(stop=12, n=20)]
    assert sum(spread) < sum(plain_spread)
    assert [max(i % 10 for i, _ in b) for b in batches[:3]] != sorted(max(i % 10 for i, _ in b) for b in batches[:3])  # shuffled


def test_grouped_batches_resume_and_split_like_plain_ones():
    whole = list(grouped())
    assert list(grouped(start=5)) == whole[5:]
    rank0, rank1 = list(grouped(rank=0, world=2)), list(grouped(rank=1, world=2))
    assert [a + b for a, b in zip(rank0, rank1)] == whole


def test_grouping_needs_lengths():
    with pytest.raises(ValueError, match="length"):
        StepBatchSampler(10, 4, 0, 1, 0, 0, 5, group_batches=4)
