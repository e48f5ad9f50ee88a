"""The embedded server's OpenMP wait setting: a short spin unless the user chose a policy or a
spin count (then memeval adds nothing); the started server process gets it."""

from __future__ import annotations

import os
from pathlib import Path

from memeval.server import SPIN_COUNT, omp_wait_env


def test_short_spin_by_default():
    assert omp_wait_env({"PATH": "/bin"}) == {"GOMP_SPINCOUNT": str(SPIN_COUNT)}


def test_a_users_choice_is_kept():
    assert omp_wait_env({"OMP_WAIT_POLICY": "ACTIVE"}) == {}
    assert omp_wait_env({"GOMP_SPINCOUNT": "5"}) == {}


def test_the_server_process_runs_with_it(llm_server):
    env = Path(f"/proc/{llm_server.proc.pid}/environ").read_bytes().split(b"\0")
    expected = omp_wait_env(os.environ) or {"GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT")}
    for key, value in expected.items():
        if value is not None:
            assert f"{key}={value}".encode() in env
