"""The embedded default dataset ``synthetic``: physically grounded BOSS-like spectra of
stars, galaxies and quasars, generated offline, seeded and reproducible by index.

Modules: :mod:`.dataset` (the plugin class ``Synthetic``), :mod:`.source` (generating
spectra by index), :mod:`.commands` (``bench plot spectra``, ``bench data realism``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bench
from bench.interfaces import Command
from bench_plugins.synthetic.dataset import Synthetic

__all__ = ["Synthetic"]


@bench.hookimpl
def register_datasets(register: Any) -> None:
    register(Synthetic)


@bench.hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    from bench_plugins.synthetic.commands import COMMANDS

    for command in COMMANDS:
        register(command)
