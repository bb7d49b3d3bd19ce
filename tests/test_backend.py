"""Keras must run on JAX: a user who forces another backend gets one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_forced_other_backend_is_refused_before_anything_runs(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "torch", "BENCH_LOAD_PLUGINS": ""}
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.cli",
            "run",
            str(ROOT / "benchmarks.toml"),
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert (
        len(lines) == 1 and "KERAS_BACKEND='torch'" in lines[0] and "KERAS_BACKEND=jax" in lines[0]
    )
    assert not out.exists()
