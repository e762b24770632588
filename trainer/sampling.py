"""Which samples every process trains on at every micro-step, as a pure function of the step.

The global stream is: epoch after epoch, a seeded permutation of the dataset; micro-step m takes
samples [m * B, (m + 1) * B) of that stream (B = global micro-batch) and process r takes its
contiguous share. Each sample comes with its own seed (for crops, masks, ...), derived from the
run seed and its position in the stream. Nothing depends on what ran before, so a resumed run
needs only the step to see exactly the same data, whatever the number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler

SampleKey = tuple[int, int]  # (dataset index, per-sample seed)


class StepBatchSampler(Sampler[list[SampleKey]]):
    """Yields this process's micro-batches of `(index, seed)` keys from micro-step `start` on.

    Args:
        num_items: dataset size.
        global_micro_batch: samples per micro-step over all processes.
        rank, world_size: this process and the process count.
        seed: run seed.
        start: first micro-step to yield (the resume position).
        stop: micro-step to stop before.
    """

    def __init__(self, num_items: int, global_micro_batch: int, rank: int, world_size: int, seed: int, start: int, stop: int):
        if global_micro_batch % world_size:
            raise ValueError(f"global micro-batch {global_micro_batch} is not divisible by {world_size} processes")
        self.num_items = num_items
        self.global_micro_batch = global_micro_batch
        self.per_rank = global_micro_batch // world_size
        self.rank = rank
        self.seed = seed
        self.start = start
        self.stop = stop
        self._epoch, self._order = -1, np.empty(0, dtype=np.int64)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch = epoch
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
        return self._order

    def keys(self, micro_step: int) -> list[SampleKey]:
        first = micro_step * self.global_micro_batch + self.rank * self.per_rank
        keys = []
        for position in range(first, first + self.per_rank):
            epoch, offset = divmod(position, self.num_items)
            index = int(self._permutation(epoch)[offset])
            keys.append((index, int(np.random.SeedSequence([self.seed, position]).generate_state(1)[0])))
        return keys

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for micro_step in range(self.start, self.stop):
            yield self.keys(micro_step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
