"""The ``sdss`` dataset: SDSS spectrum files on disk, optionally through the on-disk cache."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.interfaces import Dataset
from bench.options import Option
from bench.readers import find_spectra, read_batch
from bench.spectra import CLASSES, ArraySource, SpectrumBatch, SpectrumSource, boss_grid
from bench_plugins.sdss.cache import SpectrumCache
from bench_plugins.sdss.pool import process_pool
from bench_plugins.sdss.source import CacheSource, str_column


class SdssDataset(Dataset):
    """Real SDSS spectra (spec-lite, DR7 spSpec, DR18) from files or folders, on the BOSS grid."""

    name = "sdss"
    description = (
        "SDSS/BOSS spectrum files (spec-lite, DR7 spSpec, DR18), labelled by CLASS or a catalog"
    )
    options = (
        Option(
            "path", list, None, "spectrum files or folders (searched recursively)", item_type=str
        ),
        Option(
            "labels_catalog",
            str,
            None,
            "labels instead of the files' CLASS: a FITS catalog (e.g. DR12Q; on plate/mjd/"
            "fiber) or a .csv (on a 'file' column relative to it, or plate,mjd,fiber); "
            "spectra it does not list are dropped",
        ),
        Option(
            "label_column", str, "CLASS", "column of labels_catalog holding the class (any case)"
        ),
        Option(
            "sample", str, None, "sample CSV (plate,mjd,fiber) from select_sample: use only those"
        ),
        Option(
            "classes", list, list(CLASSES), "classes kept; other labels are dropped", item_type=str
        ),
        Option("z_min", float, None, "keep redshift >= z_min"),
        Option("z_max", float, None, "keep redshift <= z_max"),
        Option("zwarning_zero", bool, False, "keep only ZWARNING == 0"),
        Option("limit", int, None, "stratified random sample of at most this many spectra"),
        Option("seed", int, 0, "seed of the limit sample"),
        Option("cache_dir", str, None, "columnar cache folder (None: read files into memory)"),
        Option("workers", int, 1, "processes reading files"),
    )

    def __init__(self, **params: Any) -> None:
        if isinstance(params.get("path"), str):
            params["path"] = [params["path"]]
        super().__init__(**params)

    def open(self) -> SpectrumSource:
        p = self.params
        if not p["path"]:
            raise BenchError("sdss.path: give spectrum files or folders, e.g. path = ['data/sdss']")
        files = find_spectra(p["path"])
        if not files:
            raise BenchError(f"sdss.path: no .fits/.fit/.fits.gz files under {p['path']}")
        grid = boss_grid()
        if p["cache_dir"]:
            cache = SpectrumCache(p["cache_dir"], grid)
            cache.ingest(files, workers=p["workers"])
            pos = cache.positions(files)
            stored = cache.table["row"][pos] >= 0
            bad = pos[~stored]
            failures = list(
                zip(
                    str_column(cache.table["path"][bad]),
                    str_column(cache.table["problem"][bad]),
                    strict=True,
                )
            )
            table = {k: str_column(v[pos[stored]]) for k, v in cache.table.items()}
        else:
            batch, fails = _read_parallel(files, grid, p["workers"])
            failures = [(str(f), reason) for f, reason in fails]
            table = {"id": batch.ids, "label": batch.labels, "redshift": batch.redshift, "snr": batch.snr,
                     **{k: batch.meta[k] for k in ("plate", "mjd", "fiber", "zwarning", "path")}}  # fmt: skip
        table["label"] = np.asarray(table["label"], dtype=object)
        keep, dropped = self._select(table)
        catalog = None  # new labels under the same files: a new fingerprint
        if p["labels_catalog"]:
            from bench_plugins.sdss.labels import catalog_stamp

            catalog = catalog_stamp(p["labels_catalog"], p["label_column"])
        description = {
            "paths": [str(x) for x in p["path"]],
            "files": len(files),
            "spectra": int(keep.size),
            "cache_dir": p["cache_dir"],
            "dropped": dropped,
            "failures": [{"path": f, "reason": r} for f, r in failures],
        }
        if p["labels_catalog"]:
            description["labels_catalog"] = str(p["labels_catalog"])
        if p["cache_dir"]:
            return CacheSource(cache, {k: v[keep] for k, v in table.items()}, description, catalog)
        kept = batch.take(keep).with_arrays(labels=table["label"][keep])
        return ArraySource(kept, description, fingerprint=files_stamp(files, catalog))

    def _select(self, table: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, int]]:
        """Relabel from the catalog, filter, then draw the stratified ``limit`` sample."""
        p = self.params
        keys = list(
            zip(
                table["plate"].tolist(), table["mjd"].tolist(), table["fiber"].tolist(), strict=True
            )
        )
        dropped: Counter[str] = Counter()
        ok = np.ones(len(keys), bool)
        if p["labels_catalog"]:
            from bench_plugins.sdss.labels import relabel

            table["label"], missing = relabel(p["labels_catalog"], p["label_column"], table)
            dropped["not in labels catalog"] = int(missing.sum())
            ok &= ~missing
        if p["sample"]:
            from bench_plugins.sdss.catalog import load_sample

            s = load_sample(p["sample"])
            wanted = set(
                zip(s["plate"].tolist(), s["mjd"].tolist(), s["fiber"].tolist(), strict=True)
            )
            outside = np.array([k not in wanted for k in keys], bool) & ok
            dropped["not in sample"] = int(outside.sum())
            ok &= ~outside
        z = table["redshift"].astype(float)
        tests = {
            "class not in classes": np.isin(table["label"], p["classes"]),
            "redshift below z_min": z >= p["z_min"] if p["z_min"] is not None else None,
            "redshift above z_max": z <= p["z_max"] if p["z_max"] is not None else None,
            "zwarning not zero": table["zwarning"] == 0 if p["zwarning_zero"] else None,
        }
        for reason, passed in tests.items():
            if passed is not None:
                dropped[reason] = int((ok & ~passed).sum())
                ok &= passed
        keep = np.flatnonzero(ok)
        if p["limit"] is not None and keep.size > p["limit"]:
            keep = stratified(table["label"][keep], p["limit"], p["seed"], keep)
        return keep, {k: v for k, v in dropped.items() if v}


def files_stamp(files: list[Path], extra: str | None = None) -> str:
    """SHA-256 of each file's path, size and mtime, and of ``extra`` (a labels catalog's
    stamp) when given: changes when any file is rewritten."""
    digest = hashlib.sha256()
    for f in files:
        st = f.stat()
        digest.update(f"{f}\x1f{st.st_size}\x1f{st.st_mtime_ns}\x1e".encode())
    if extra is not None:
        digest.update(f"catalog\x1f{extra}\x1e".encode())
    return digest.hexdigest()


def stratified(labels: np.ndarray, n: int, seed: int, index: np.ndarray) -> np.ndarray:
    """``n`` of ``index`` drawn without replacement, class proportions kept; sorted."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels.astype(str), return_counts=True)
    quota = np.floor(counts * n / counts.sum()).astype(int)
    for i in np.argsort(-(counts * n / counts.sum() - quota))[: n - quota.sum()]:
        quota[i] += 1
    picks = [
        rng.choice(index[labels == c], q, replace=False)
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(picks))


def _read_parallel(
    files: list[Path], grid: np.ndarray, workers: int
) -> tuple[SpectrumBatch, list[tuple[Path, str]]]:
    if workers <= 1 or len(files) < 2 * workers:
        return read_batch(files, grid)
    size = -(-len(files) // workers)
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    with process_pool(workers) as pool:
        parts = list(pool.map(read_batch, chunks, [grid] * len(chunks)))
    batches = [b for b, _ in parts if len(b)] or [parts[0][0]]
    return SpectrumBatch.concatenate(batches), [f for _, fails in parts for f in fails]
