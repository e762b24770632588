"""Test-session settings, applied before torch is imported.

One compute thread per process: the suite starts training subprocesses and runs on small shared
CPUs, where several busy-waiting OpenMP pools slow everything down many times over.
"""

import os

for name, value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("OMP_WAIT_POLICY", "PASSIVE")):
    os.environ.setdefault(name, value)
