"""The cell cache: a finished cell is reused when its key matches.

A cell's key is a SHA-256 of everything that decides its result: the resolved dataset,
test dataset, preprocessing chain, renderer and model (names and params), the classes,
the protocol fields that matter (train fraction, seed, max_spectra, batch size, the
cell's epoch count and every epoch count up to it, because one training run continues
through them), a fingerprint of the data, and the version of every plugin involved and
of bench itself and of the numerical libraries (keras, jax, jaxlib, numpy, scikit-learn),
so an upgrade reruns every cell, and a hash of each plugin's source code
(:func:`code_hash`, as benchopt hashes its solvers' files), so an edited plugin reruns its
cells without a version bump. The key is stored as ``cache_key`` in the cell's ``metrics.json`` and
``cell.json``; only cells with status ``ok`` are ever written there, so failed cells
always run again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import weakref
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.config import Config, PluginSpec
from bench.plugins.registry import Registry
from bench.spectra import SpectrumSource, hash_spectra


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def data_fingerprint(source: SpectrumSource) -> str:
    """Fingerprint of a dataset that sees every spectrum it holds: a hash of all flux, ivar
    and mask (the source's own :meth:`~bench.spectra.SpectrumSource.content_hash` where it
    keeps one, e.g. the sdss cache's per-file hashes, else every spectrum read and hashed:
    :func:`bench.spectra.hash_spectra`), its stamp (``fingerprint()``), ``describe()``,
    length, grid, ids and labels."""
    digest = hashlib.sha256()
    stamp = getattr(source, "fingerprint", None)
    digest.update(f"stamp:{stamp() if callable(stamp) else None}|".encode())
    digest.update(f"content:{hash_spectra(source)}|".encode())
    digest.update(_canonical(dict(source.describe())).encode())
    digest.update(f"{len(source)}|{len(source.loglam)}".encode())
    if len(source.loglam):
        digest.update(np.asarray(source.loglam[[0, -1]], dtype=np.float64).tobytes())
    digest.update("\x1f".join(map(str, source.ids)).encode())
    digest.update(b"\x1e")
    digest.update("\x1f".join(map(str, source.labels)).encode())
    return digest.hexdigest()


LIBRARIES = ("keras", "jax", "jaxlib", "numpy", "scikit-learn")


@cache
def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that compute results (no import of them)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def source_files(cls: type) -> list[Path]:
    """The files whose code makes ``cls``: for each class of its MRO outside the core and
    the standard library, its module's file and the ``.py`` files beside it in its
    package's folder (a plugin's helpers live there)."""
    files: set[Path] = set()
    for klass in cls.__mro__:
        top = klass.__module__.split(".")[0]
        if top in ("bench", "builtins") or top in sys.stdlib_module_names:
            continue
        module = sys.modules.get(klass.__module__)
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = Path(path).resolve()
        files.add(path)
        if getattr(module, "__package__", None) and (path.parent / "__init__.py").exists():
            files.update(p.resolve() for p in path.parent.glob("*.py"))
    return sorted(files)


# by class, once per process; weak keys: a class that is gone (a reloaded module) takes its
# hash with it, and a new class at the same address is hashed afresh (keys by id() were not)
_CODE_HASHES: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()


def code_hash(cls: type) -> str:
    """SHA-256 of the source of ``cls`` (:func:`source_files`), by file name and bytes
    relative to each file's folder: the same code gives the same hash in any checkout."""
    if cls not in _CODE_HASHES:
        _CODE_HASHES[cls] = _hash_files(source_files(cls))
    return _CODE_HASHES[cls]


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        try:
            content = path.read_bytes()
        except OSError:
            content = b"<unreadable>"
        digest.update(f"{path.parent.name}/{path.name}\x1f".encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def _plugin(registry: Registry, kind: str, spec: PluginSpec) -> dict[str, Any]:
    cls = registry.get(kind, spec.name)
    version = getattr(cls, "version", None)
    entry = {
        "name": spec.name,
        "params": spec.params,
        "version": str(version),
        "code": code_hash(cls),
    }
    members = _members(registry, kind, spec)
    if members:  # only composites: every other key stays as it was
        entry["member_code"] = {name: code_hash(member) for name, member in members.items()}
    return entry


def _members(registry: Registry, kind: str, spec: PluginSpec) -> dict[str, type]:
    """The model plugins a composite model runs (``Model.code_dependencies``), by name."""
    if kind != "model":
        return {}
    names = registry.model_class(spec.name).code_dependencies(spec.params)
    return {name: registry.get("model", name) for name in names}


def plugin_code(
    config: Config, registry: Registry, dataset: PluginSpec, model: PluginSpec, render: PluginSpec
) -> dict[str, str]:
    """The code hash of each plugin of one training run, by role (``model``,
    ``preprocess 1``...): stored in ``cell.json`` to say which plugin's code changed."""
    roles = [("dataset", "dataset", dataset), ("renderer", "renderer", render)]
    roles.append(("model", "model", model))
    if config.test_dataset is not None:
        roles.append(("test_dataset", "dataset", config.test_dataset))
    roles += [(f"preprocess {i}", "preprocessor", p) for i, p in enumerate(config.preprocess, 1)]
    code = {
        f"{role} {spec.name}": code_hash(registry.get(kind, spec.name))
        for role, kind, spec in roles
    }
    for name, member in _members(registry, "model", model).items():
        code[f"member model {name}"] = code_hash(member)
    return code


def cell_keys(
    config: Config,
    registry: Registry,
    dataset: PluginSpec,
    model: PluginSpec,
    render: PluginSpec,
    fraction: float,
    seed: int,
    fingerprints: dict[str, str],
) -> dict[int, str]:
    """The key of each cell of one training run, by epoch count."""
    protocol = config.protocol
    base = {
        "bench": __version__,
        "libraries": library_versions(),
        "classes": config.classes,
        "dataset": _plugin(registry, "dataset", dataset),
        "test_dataset": (
            _plugin(registry, "dataset", config.test_dataset) if config.test_dataset else None
        ),
        "data": fingerprints,
        "preprocess": [_plugin(registry, "preprocessor", p) for p in config.preprocess],
        "renderer": _plugin(registry, "renderer", render),
        "model": _plugin(registry, "model", model),
        "train_fraction": fraction,
        "seed": seed,
        "max_spectra": protocol.max_spectra,
        # the max_spectra sample is drawn with the first seed
        "sample_seed": protocol.sample_seed if protocol.max_spectra is not None else None,
        "batch_size": protocol.batch_size,
        "validation_fraction": protocol.validation_fraction,
    }
    epochs = sorted(protocol.epochs)
    keys = {}
    for i, count in enumerate(epochs):
        text = _canonical({**base, "epochs": count, "epoch_path": epochs[: i + 1]})
        keys[count] = hashlib.sha256(text.encode()).hexdigest()
    return keys
