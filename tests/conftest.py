"""Shared fixtures. The user's installed third-party plugins never load in tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.plugins import manager
from bench.plugins.registry import Registry

os.environ["BENCH_LOAD_PLUGINS"] = ""
os.environ.setdefault("KERAS_BACKEND", "jax")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the project root; skips the test when it is absent."""
    if not (SHARED_DATA / "sdss" / "labels.csv").is_file():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def toy_registry() -> Iterator[Registry]:
    """The built-in plugins plus the tiny fakes of tests/plugins/toy.py, as the CLI's registry."""
    from tests.plugins import toy

    with manager.using_registry(manager.get_registry(extra=[toy], third_party=False)) as registry:
        yield registry
