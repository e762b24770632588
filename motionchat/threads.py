"""How many compute threads a workload gets, and how idle OpenMP threads wait.

Decoding one answer is a chain of small products: a second thread only adds synchronisation, so
chat requests run on one thread. A batch of prompts (or training) has products large enough to
split, so it gets every core (`threads_for`). Between parallel regions OpenMP threads spin by
default; on a shared machine a spinning thread holds the core its partner needs: with another
process on the second core one prompt took 18 s instead of 0.1-0.5 s (`benchmarks/threads.py`,
README). So motionchat asks for passive waiting (threads sleep) whenever it is imported before
torch (`prefer_passive_waiting`; an explicit OMP_WAIT_POLICY wins).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

# Fewer rows than this decode fastest on one thread (benchmarks/threads.py: batch 1 and 8 vs 32).
PARALLEL_ROWS = 16


def prefer_passive_waiting() -> None:
    """Make OpenMP threads sleep rather than spin while they wait, unless the user chose. Only
    effective before torch (its OpenMP runtime) is loaded."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def threads_for(rows: int) -> int:
    """Compute threads for decoding `rows` sequences together."""
    return 1 if rows < PARALLEL_ROWS else (os.cpu_count() or 1)


@contextmanager
def compute_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to `threads` inside the block, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
