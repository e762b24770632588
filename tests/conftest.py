"""Test-session settings, applied before torch is imported, and the shared real-data fixtures.

One compute thread per process: the suite starts training subprocesses and runs on small shared
CPUs, where several busy-waiting OpenMP pools slow everything down many times over.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))  # shared helpers: `from random_bundle import ...`

for name, value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("OMP_WAIT_POLICY", "PASSIVE")):
    os.environ.setdefault(name, value)


class RealData:
    """Real HumanML3D / KIT-ML / CMU files kept in `shared/realdata` beside the checkout.

    They are not part of the project and may be absent, so a test asks for each file it reads
    and is skipped, saying which file is missing, when it is not there.
    """

    root = Path(__file__).resolve().parents[2] / "shared" / "realdata"

    def __call__(self, relative: str) -> Path:
        """The file or folder `relative` (e.g. "humanml3d/Mean.npy"); skips the test when absent."""
        __tracebackhide__ = True  # report the skip at the test's line, not here
        path = self.root / relative
        if not path.exists():
            pytest.skip(
                f"real-data fixture {relative} not found: these tests expect HumanML3D / KIT-ML / CMU files under "
                f"{self.root} (a shared/realdata folder beside the checkout; never part of the project)"
            )
        return path


@pytest.fixture(scope="session")
def realdata() -> RealData:
    """`realdata("cmu/asf_amc/01.asf")`: a real-data file, or a skip; `realdata.root` to look first."""
    return RealData()


@pytest.fixture(scope="session")
def tiny_corpus() -> Path:
    """An 80-clip synthetic corpus, built once per test session (read-only for tests)."""
    from corpora import tiny_corpus as build

    return build()
