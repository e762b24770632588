"""Thread counts per workload and passive OpenMP waiting (motionchat/threads.py)."""

import os
import subprocess
import sys

import pytest
import torch

from motionchat.threads import PARALLEL_ROWS, compute_threads, threads_for


def _policy_after_import(env_policy: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_policy is not None:
        env["OMP_WAIT_POLICY"] = env_policy
    code = "import os, motionchat, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_importing_motionchat_asks_for_passive_waiting_unless_the_user_chose():
    assert _policy_after_import(None) == "PASSIVE"
    assert _policy_after_import("ACTIVE") == "ACTIVE"


def test_one_thread_for_a_chat_request_all_cores_for_a_batch():
    assert threads_for(1) == threads_for(PARALLEL_ROWS - 1) == 1
    assert threads_for(PARALLEL_ROWS) == threads_for(256) == (os.cpu_count() or 1)


def test_compute_threads_restores_the_count_even_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), compute_threads(before + 1):
        assert torch.get_num_threads() == before + 1
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
