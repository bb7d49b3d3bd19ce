"""Sim-to-real: train on synthetic spectra only, evaluate on the 133 real SDSS spectra.

Run: .venv/bin/python tests/perf/sim_to_real.py [--n 6000] [--models lr,rf,cnn]

Both sets go through the same preprocessing: the BOSS grid (bench.spectra.to_grid),
pixels with ivar == 0 set to 0, division by the median of the good pixels, then an
ivar-weighted rebin (``--rebin`` pixels per bin). Prints accuracy and per-class recall
per model, and a last line of JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from bench.data.readers import read_spectrum
from bench.spectra import boss_grid, to_grid
from bench_plugins.synthetic import Synthetic

CLASSES = ["STAR", "GALAXY", "QSO"]
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "sdss"


def features(flux: np.ndarray, ivar: np.ndarray, rebin: int) -> np.ndarray:
    """Normalised, ivar-weighted rebinned flux (N, P // rebin)."""
    good = ivar > 0
    flux = np.where(good, flux, 0.0)
    norm = np.array(
        [np.median(f[g]) if g.sum() > 10 else 1.0 for f, g in zip(flux, good, strict=True)]
    )
    scale = np.where(norm > 0, norm, np.maximum(np.abs(norm), 1e-3))
    flux = flux / scale[:, None]
    n, p = flux.shape
    p = p - p % rebin
    w = np.minimum(ivar[:, :p], 1e6) * (scale[:, None] ** 2)
    w = np.where(good[:, :p], np.clip(w, 0.0, 1e4), 0.0)
    fb = (flux[:, :p] * w).reshape(n, -1, rebin).sum(-1)
    wb = w.reshape(n, -1, rebin).sum(-1)
    return np.clip(np.where(wb > 0, fb / np.maximum(wb, 1e-12), 0.0), -5.0, 10.0).astype(np.float32)


def real_set(rebin: int) -> tuple[np.ndarray, np.ndarray]:
    grid = boss_grid()
    rows = list(csv.DictReader((REAL / "labels.csv").open()))
    flux, ivar, labels = [], [], []
    for row in rows:
        spec = read_spectrum(REAL / row["file"])
        f, iv, _ = to_grid(spec.loglam, spec.flux, spec.ivar, spec.mask, grid)
        flux.append(f)
        ivar.append(iv)
        labels.append(row["class"])
    return features(np.array(flux), np.array(ivar), rebin), np.array(labels)


def synthetic_set(n: int, seed: int, rebin: int) -> tuple[np.ndarray, np.ndarray]:
    source = Synthetic(n=n, seed=seed).open()
    xs = []
    for start in range(0, n, 1000):
        b = source.read(np.arange(start, min(start + 1000, n)))
        xs.append(features(b.flux, b.ivar, rebin))
    return np.concatenate(xs), np.asarray(source.labels, dtype=str)


def cnn(x: np.ndarray, y: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
    from bench.backend import ensure_jax_backend

    ensure_jax_backend()
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((x.shape[1], 1)),
        keras.layers.Conv1D(16, 7, activation="relu", padding="same"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(32, 5, activation="relu", padding="same"),
        keras.layers.MaxPooling1D(2),
        keras.layers.Conv1D(32, 5, activation="relu", padding="same"),
        keras.layers.GlobalMaxPooling1D(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(len(CLASSES), activation="softmax"),
    ])  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    # validation on held-out synthetic spectra only: the real set is never seen in training
    model.fit(
        x[..., None], y, epochs=20, batch_size=64, validation_split=0.1, callbacks=[stop], verbose=0
    )
    return lambda xr: model.predict(xr[..., None], verbose=0).argmax(1)


def fit_predict(name: str, x: np.ndarray, y: np.ndarray, seed: int):  # type: ignore[no-untyped-def]
    if name == "cnn":
        return cnn(x, y, seed)
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    clf = (
        LogisticRegression(max_iter=2000, C=0.1)
        if name == "lr"
        else RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=2)
    )
    clf.fit(x, y)
    return clf.predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rebin", type=int, default=8)
    ap.add_argument("--models", default="lr,rf,cnn")
    args = ap.parse_args()
    t0 = time.perf_counter()
    x_syn, lab_syn = synthetic_set(args.n, args.seed, args.rebin)
    x_real, lab_real = real_set(args.rebin)
    print(
        f"synthetic {len(x_syn)} + real {len(x_real)} prepared in {time.perf_counter() - t0:.1f} s"
    )
    y_syn = np.array([CLASSES.index(c) for c in lab_syn])
    y_real = np.array([CLASSES.index(c) for c in lab_real])
    results = {}
    for name in args.models.split(","):
        pred = np.asarray(fit_predict(name, x_syn, y_syn, args.seed)(x_real))
        acc = float((pred == y_real).mean())
        recall = {c: float((pred[y_real == k] == k).mean()) for k, c in enumerate(CLASSES)}
        conf = [[int(((y_real == i) & (pred == j)).sum()) for j in range(3)] for i in range(3)]
        results[name] = {"accuracy": acc, "recall": recall, "confusion": conf}
        rec = " ".join(f"{c}={r:.2f}" for c, r in recall.items())
        print(f"{name:4s} accuracy {acc:.3f}  recall {rec}  confusion(rows true S,G,Q) {conf}")
    print(
        json.dumps(
            {"n_train": len(x_syn), "n_real": len(x_real), "seed": args.seed, "results": results}
        )
    )


if __name__ == "__main__":
    main()
