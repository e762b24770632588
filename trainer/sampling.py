"""Which samples every process trains on at every micro-step, as a pure function of the step.

The global stream is: epoch after epoch, a seeded permutation of the dataset; micro-step m takes
samples [m * B, (m + 1) * B) of that stream (B = global micro-batch) and process r takes its
contiguous share. Each sample comes with its own seed (for crops, masks, ...), derived from the
run seed and its position in the stream. Nothing depends on what ran before, so a resumed run
needs only the step to see exactly the same data, whatever the number of processes.

Length grouping (`group_batches` > 1, given each sample's token length): the stream is cut into
windows of that many global micro-batches; each window's samples are sorted by length, cut into
micro-batches and those are shuffled. Every sample keeps its seed and the window holds the same
samples, so each epoch is still a permutation; batches are padded far less (stage 3 on synth20k:
real tokens 0.36 -> 0.74 of the encoder's, 0.46 -> 0.65 of the decoder's with windows of 16,
2x the steps a second; `benchmarks/train_speed.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
        group_batches: micro-batches per length-sorted window; 1 keeps the plain stream.
        length: a sample's length from its key; required when group_batches > 1.
    """

    def __init__(
        self, num_items: int, global_micro_batch: int, rank: int, world_size: int, seed: int, start: int, stop: int,
        group_batches: int = 1, length: Callable[[SampleKey], int] | None = None,
    ):
        if global_micro_batch % world_size:
            raise ValueError(f"global micro-batch {global_micro_batch} is not divisible by {world_size} processes")
        if group_batches < 1 or (group_batches > 1 and length is None):
            raise ValueError("group_batches must be >= 1, and > 1 needs the samples' length")
        self.num_items = num_items
        self.global_micro_batch = global_micro_batch
        self.per_rank = global_micro_batch // world_size
        self.rank = rank
        self.seed = seed
        self.start = start
        self.stop = stop
        self.group_batches, self.length = group_batches, length
        self._epoch, self._order = -1, np.empty(0, dtype=np.int64)
        self._window_index, self._window = -1, []

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch = epoch
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.num_items)
        return self._order

    def _key(self, position: int) -> SampleKey:
        epoch, offset = divmod(position, self.num_items)
        index = int(self._permutation(epoch)[offset])
        return index, int(np.random.SeedSequence([self.seed, position]).generate_state(1)[0])

    def _grouped(self, window: int) -> list[SampleKey]:
        """The keys of length-sorted window `window`, as its shuffled micro-batches laid end to end."""
        if window != self._window_index:
            size = self.global_micro_batch * self.group_batches
            keys = [self._key(p) for p in range(window * size, (window + 1) * size)]
            by_length = np.argsort([self.length(k) for k in keys], kind="stable").reshape(self.group_batches, -1)
            order = by_length[np.random.default_rng([self.seed, window, 1]).permutation(self.group_batches)].reshape(-1)
            self._window_index, self._window = window, [keys[i] for i in order]
        return self._window

    def keys(self, micro_step: int) -> list[SampleKey]:
        first = micro_step * self.global_micro_batch + self.rank * self.per_rank
        if self.group_batches == 1:
            return [self._key(p) for p in range(first, first + self.per_rank)]
        window, slot = divmod(micro_step, self.group_batches)
        start = slot * self.global_micro_batch + self.rank * self.per_rank
        return self._grouped(window)[start : start + self.per_rank]

    def __iter__(self) -> Iterator[list[SampleKey]]:
        for micro_step in range(self.start, self.stop):
            yield self.keys(micro_step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
