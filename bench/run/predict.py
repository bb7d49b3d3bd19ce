"""Apply a trained cell (its preprocessing, renderer and model) to spectrum files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.feed import Feed
from bench.io import write_csv
from bench.plugins.manager import get_registry
from bench.run.rundir import model_dir, read_cell_config
from bench.spectra import ArraySource

CHUNK = 1024


def predict_files(
    cell_dir: Path, paths: list[Path], out: Path
) -> tuple[int, list[tuple[Path, str]]]:
    """Write ``path,predicted,p_<CLASS>...`` for every readable file; return the row count
    and the (path, reason) of files that could not be read."""
    from bench.backend import ensure_jax_backend
    from bench.data.readers import find_spectra, read_batch
    from bench.pipeline import pipeline_from_config

    cell = read_cell_config(cell_dir)
    registry = get_registry()
    ensure_jax_backend()
    classes = cell["classes"]
    pipeline = pipeline_from_config(registry, cell["pipeline"])
    model = registry.create("model", cell["model"]["name"], cell["model"]["params"], str(cell_dir))
    model.load(model_dir(cell_dir))
    g = cell["grid"]
    grid = g["loglam0"] + g["dloglam"] * np.arange(g["n_pixels"])
    files = find_spectra(paths)
    if not files:
        raise BenchError(
            f"no spectrum files (*.fits, *.fit, *.fits.gz) under {', '.join(map(str, paths))}"
        )
    rows: list[list[object]] = []
    failures: list[tuple[Path, str]] = []
    for start in range(0, len(files), CHUNK):
        batch, bad = read_batch(files[start : start + CHUNK], grid)
        failures += bad
        if len(batch) == 0:
            continue
        feed = Feed(ArraySource(batch), np.arange(len(batch)), pipeline, classes, batch_size=64)
        proba = model.predict_proba(feed)
        for i in range(len(batch)):
            rows.append(
                [
                    batch.meta["path"][i],
                    classes[int(np.argmax(proba[i]))],
                    *(f"{p:.6g}" for p in proba[i]),
                ]
            )
    write_csv(out, ["path", "predicted", *(f"p_{c}" for c in classes)], rows)
    return len(rows), failures
