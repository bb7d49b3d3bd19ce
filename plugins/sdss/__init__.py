"""Built-in ``sdss`` dataset: real SDSS spectrum files, catalog sampling, download and cache.

Modules: :mod:`.catalog` (select and save a stratified sample from spAll/specObj/DR12Q),
:mod:`.download` (resumable fetch from the Science Archive Server), :mod:`.cache`
(columnar on-disk cache on the BOSS grid), :mod:`.dataset` (the plugin class),
:mod:`.labels` (``labels_catalog``: FITS or CSV labels), :mod:`.commands`
(``bench data sample|download|ingest``).
Nothing heavy (astropy) is imported at module level.
"""

from __future__ import annotations

from collections.abc import Callable

import bench
from bench.interfaces import Command, Dataset


@bench.hookimpl
def register_datasets(register: Callable[[type[Dataset]], None]) -> None:
    from bench_plugins.sdss.dataset import SdssDataset

    register(SdssDataset)


@bench.hookimpl
def register_commands(register: Callable[[Command], None]) -> None:
    from bench_plugins.sdss.commands import COMMANDS

    for command in COMMANDS:
        register(command)
