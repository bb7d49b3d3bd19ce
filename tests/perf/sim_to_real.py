"""Sim-to-real preset: time and per-class accuracy of each model on every real folder.

Run: .venv/bin/python tests/perf/sim_to_real.py [--preset presets/sim_to_real.toml]
     [--models cnn1d,mnist_cnn] [--set KEY=VALUE ...] [--synthetic-test N]
     [--synthetic-set KEY=VALUE ...] [--synthetic-trim P] [--out DIR] [--existing RUN_DIR]

Each model of the preset is trained by its own ``bench run`` (the preset with
``models = [that model]`` and the ``--set`` overrides; a ``models.<X>.key`` one only in
model X's run), in a child process, so its wall
and CPU seconds (user + system, every thread) are its own; the sum over the models is the
preset's cost plus one start-up per model. The trained cell is then scored with
``bench predict`` on every real folder (../shared/data/sdss and sdss_extra, labels from
their labels.csv; an absent folder is skipped) and, with ``--synthetic-test N``, on N
spectra of the training generator with the next seed (same instrument options, never
trained on): the figures to choose a configuration by, the real folders being a handful
of objects, mostly quasars. ``--synthetic-set KEY=VALUE`` changes the check set's generator
options (a harder set drawn with instrument options the training set did not use, e.g.
``snr_scale=0.5``, ``legacy_fraction=0.5``, ``lowz_qso_fraction=0.3``) and
``--synthetic-trim P`` keeps only a 700-2500 pixel window of a fraction P of its spectra
(the trimmed real files); the accuracy on its subsets (trimmed, S/N < 3, quasars at
z < 0.3) is printed too, and on every check spectrum cut to the picca test files'
3708-4365 A (``forest window``: quasars at 2.4 < z < 2.9, whose Ly-alpha forest alone it
holds, beside the stars and galaxies cut the same way). ``--existing`` scores the cells
of a finished run instead.

Every cell is scored, each seed on its own (``--set 'protocol.seeds=[0,1,2]'``): a single
seed's accuracy on the real folders moves by several hundredths, so options are compared
on the mean over seeds, which is printed (with the standard deviation and range) for
every model scored at two or more.

Prints per cell (model and seed): wall / CPU seconds of its run (and fit / predict wall
inside it), the package versions that trained it (its report's provenance: figures from
another install differ by about a seed's swing), synthetic validation accuracy, accuracy
and per-class recall (with counts) on each set; per model over its seeds; then one line
of JSON (with the commit it ran on).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
REAL_FOLDERS = ("sdss", "sdss_extra")
BENCH = [sys.executable, "-c", "import sys; from bench.cli.main import main; sys.exit(main())"]


def toml_value(value: Any) -> str:
    """``value`` (str, bool, number, list or table of them) as an inline TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: Sequence[str]) -> tuple[float, float]:
    """Run ``command`` (stdout/stderr passed through on failure); wall and CPU seconds."""
    wall, cpu = time.perf_counter(), cpu_children()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command[3:])}")
    return time.perf_counter() - wall, cpu_children() - cpu


def per_class(pairs: Sequence[tuple[str, str]], classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy and, per true class, recall with the count behind it."""
    out: dict[str, Any] = {"n": len(pairs)}
    out["accuracy"] = sum(t == p for t, p in pairs) / len(pairs) if pairs else None
    for c in classes:
        hits = [p == c for t, p in pairs if t == c]
        out[c] = {"n": len(hits), "recall": sum(hits) / len(hits) if hits else None}
    return out


def scored_predictions(path: Path, classes: Sequence[str]) -> dict[str, Any]:
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return per_class([(r["true"], r["predicted"]) for r in rows if r.get("true")], classes)


def test_set_figures(cell: Path, classes: Sequence[str]) -> dict[str, Any]:
    """The run's own test set, from the cell's predictions.csv."""
    return scored_predictions(cell / "predictions.csv", classes)


def check_options(dataset: Mapping[str, Any], n: int, overrides: Sequence[str]) -> dict[str, Any]:
    """The check set's generator options: the training set's with ``n``, the next seed
    and the ``KEY=VALUE`` overrides (values parsed as TOML). The SDSS-I/II share is set
    one way or the other: a ``legacy_fraction`` override replaces the training set's
    ``legacy_survey``, and the other way round; so do ``snr_scale_max`` and
    ``snr_target``."""
    options = dict(dataset)
    options.update(n=n, seed=int(options.get("seed", 0)) + 1)
    rival = {"legacy_fraction": "legacy_survey", "legacy_survey": "legacy_fraction",
             "snr_scale_max": "snr_target", "snr_target": "snr_scale_max"}  # fmt: skip
    for text in overrides:
        key, _, value = text.partition("=")
        key = key.strip()
        options.pop(rival.get(key, ""), None)
        options[key] = tomllib.loads(f"v = {value}")["v"]
    return options


def synthetic_scores(
    cell: Path, dataset: Mapping[str, Any], n: int, overrides: Sequence[str] = (), trim: float = 0.0
) -> dict[str, Any]:
    """The trained cell on ``n`` spectra of the training set's generator with the next
    seed (never seen in training; ``overrides`` change its options, ``trim`` is the
    fraction kept to a window): accuracy and per-class recall, and on its subsets."""
    import numpy as np

    from bench.backend import ensure_jax_backend
    from bench.feed import Feed
    from bench.run.predict_checks import rebuild
    from bench.store.rundir import read_cell_config
    from bench_plugins.models.augment import outside_window
    from bench_plugins.synthetic import Synthetic

    ensure_jax_backend()
    config = read_cell_config(cell)
    pipeline, model = rebuild(config, cell)
    options = check_options(dataset, n, overrides)
    source = Synthetic(**options).open()
    batch = source.read(np.arange(n))
    lost = outside_window(n, batch.flux.shape[1], np.random.default_rng(options["seed"]), trim)
    trimmed = lost.any(axis=1)
    batch = blanked(batch, lost)
    classes = np.asarray(config["classes"])

    def predicted_for(spectra: Any) -> np.ndarray:
        feed = Feed(Batched(source, spectra), np.arange(n), pipeline, list(classes), batch_size=256)
        return classes[np.asarray(model.predict_proba(feed)).argmax(1)]

    predicted = predicted_for(batch)
    labels = np.asarray(source.labels).astype(str)
    pairs = list(zip(labels, map(str, predicted), strict=True))
    figures = per_class(pairs, config["classes"])
    subsets = {
        "trimmed": trimmed,
        "S/N < 3": np.asarray(batch.snr) < 3,
        "QSO z < 0.3": (labels == "QSO") & (np.asarray(source.redshift) < 0.3),
    }
    figures["subsets"] = {
        name: per_class([pairs[i] for i in np.flatnonzero(chosen)], config["classes"])
        for name, chosen in subsets.items()
        if chosen.any()
    }
    cut, chosen = forest_window(batch, labels, np.asarray(source.redshift))
    if chosen.any():
        cut_pairs = list(zip(labels, map(str, predicted_for(cut)), strict=True))
        figures["subsets"]["forest window"] = per_class(
            [cut_pairs[i] for i in np.flatnonzero(chosen)], config["classes"]
        )
    return figures


# The picca test files among the real ones keep 710 pixels, 3708-4365 A: for a quasar at
# 2.4 < z < 2.9 its Ly-alpha forest alone, the Ly-alpha line at or beyond the red edge
FOREST_WINDOW = (3708.0, 4365.0)
FOREST_Z = (2.4, 2.9)


def forest_window(batch: Any, labels: Any, redshift: Any) -> tuple[Any, Any]:
    """``batch`` cut to :data:`FOREST_WINDOW` (no data elsewhere) and which spectra to
    score on it: the quasars in :data:`FOREST_Z` (their forest only) and every star and
    galaxy (the same window of theirs: what the forest is told apart from)."""
    import numpy as np

    lam = np.power(10.0, np.asarray(batch.loglam))
    lost = np.broadcast_to((lam < FOREST_WINDOW[0]) | (lam > FOREST_WINDOW[1]), batch.flux.shape)
    quasar = (labels == "QSO") & (redshift > FOREST_Z[0]) & (redshift < FOREST_Z[1])
    return blanked(batch, lost), quasar | (labels != "QSO")


def blanked(batch: Any, lost: Any) -> Any:
    """``batch`` without data on the ``lost`` pixels (B, P): flux and ivar 0, NODATA set,
    as a file that does not reach them."""
    import numpy as np

    from bench.spectra import NODATA

    return batch.with_arrays(
        flux=np.where(lost, 0.0, batch.flux).astype(np.float32),
        ivar=np.where(lost, 0.0, batch.ivar).astype(np.float32),
        mask=np.where(lost, batch.mask | NODATA, batch.mask),
    )


class Batched:
    """``source`` whose spectra are those of ``batch`` (read by position)."""

    def __init__(self, source: Any, batch: Any) -> None:
        self.source, self.batch = source, batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def __len__(self) -> int:
        return len(self.source)

    def read(self, index: Any) -> Any:
        return self.batch.take(index)


def own_overrides(model: Mapping[str, Any], overrides: Sequence[str]) -> list[str]:
    """The ``--set`` overrides for ``model``'s own run: a ``models.<X>.key`` one only when
    X is its label or name (the run holds that model alone), every other one as given."""
    names = {str(model.get("label", model["name"])), str(model["name"])}
    own = []
    for text in overrides:
        parts = text.split("=", 1)[0].strip().split(".")
        if len(parts) >= 3 and parts[0] == "models" and parts[1] not in names:
            continue
        own.append(text)
    return own


def train(
    preset: Path, model: Mapping[str, Any], overrides: Sequence[str], out: Path
) -> tuple[Path, float, float]:
    """One model of the preset trained and tested by a child ``bench run``: its run
    folder, wall and CPU seconds (``overrides`` of other models left out)."""
    run_dir = out / str(model.get("label", model["name"]))
    command = [*BENCH, "run", str(preset), "--out", str(run_dir), "--fresh"]
    command += ["--set", "models=" + toml_value([dict(model)])]
    for text in own_overrides(model, overrides):
        command += ["--set", text]
    wall, cpu = timed(command)
    return run_dir, wall, cpu


def scored_run(
    run_dir: Path,
    n_synthetic: int,
    labels: Sequence[str] = (),
    overrides: Sequence[str] = (),
    trim: float = 0.0,
) -> dict[str, dict[str, Any]]:
    """Per cell of a finished run: its timings, synthetic validation accuracy, its test
    set, every real folder (``bench predict``) and ``n_synthetic`` fresh synthetic spectra;
    only the models of ``labels`` when given."""
    report = json.loads((run_dir / "report.json").read_text())
    config = report["config"]
    classes = config["benchmark"]["classes"]
    test = config.get("test_dataset") or {}
    tested = {Path(p).resolve() for p in (test.get("params") or {}).get("path", [])}
    out = {}
    for result in report["results"]:
        if labels and result["cell"]["model"] not in labels:
            continue
        cell = run_dir / result["path"]
        history = result.get("history") or {}
        test_figures = test_set_figures(cell, classes)
        figures: dict[str, Any] = {
            "model": result["cell"]["model"],
            # the install that trained it: a new jax or keras moves the real figures
            "versions": (report.get("provenance") or {}).get("versions"),
            "fit_s": result["timings"].get("fit_s"),
            "predict_s": result["timings"].get("predict_s"),
            "val_accuracy": (history.get("val_accuracy") or [None])[-1],
            "test": {test.get("name", "split"): test_figures},
            "real": {},
        }
        for folder in REAL_FOLDERS:
            if not (SHARED / folder).is_dir():
                continue
            if (SHARED / folder).resolve() in tested:
                figures["real"][folder] = test_figures
                continue
            cell_id = f"{result['cell']['model']}_s{result['cell']['seed']}"
            predictions = run_dir / f"predict_{folder}_{cell_id}.csv"
            command = [
                *BENCH,
                "predict",
                str(cell),
                str(SHARED / folder),
                "--out",
                str(predictions),
            ]
            timed(command)
            figures["real"][folder] = scored_predictions(predictions, classes)
        if n_synthetic:
            dataset = config["datasets"][0]["params"]
            try:
                figures["synthetic_test"] = synthetic_scores(
                    cell, dataset, n_synthetic, overrides, trim
                )
            except Exception as exc:  # noqa: BLE001 - a model's failure is a figure, not the end
                figures["synthetic_test"] = {"error": f"{type(exc).__name__}: {exc}"}
        out[cell_label(result["cell"])] = figures
    return out


def cell_label(cell: Mapping[str, Any]) -> str:
    """A cell's name in the output: its model and seed (a run may hold several seeds)."""
    return f"{cell['model']} seed {cell['seed']}"


def across_seeds(results: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per model scored at two or more seeds: the mean, standard deviation (n - 1) and
    range of its accuracy on each set (test, every real folder, the synthetic check), and
    its mean recall per class there: one seed's figure on a handful of real objects moves
    by several hundredths, so options are compared on these."""
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for figures in results.values():
        by_model.setdefault(str(figures["model"]), []).append(figures)
    out: dict[str, dict[str, Any]] = {}
    for model, runs in by_model.items():
        if len(runs) < 2:
            continue
        sets: dict[str, list[Mapping[str, Any]]] = {}
        for figures in runs:
            named = {**{f"test ({k})": v for k, v in figures["test"].items()},
                     **{f"real {k}": v for k, v in figures["real"].items()}}  # fmt: skip
            if "accuracy" in figures.get("synthetic_test", {}):
                named["synthetic test"] = figures["synthetic_test"]
            for name, scores in named.items():
                if scores.get("accuracy") is not None:
                    sets.setdefault(name, []).append(scores)
        out[model] = {name: seed_spread(scores) for name, scores in sets.items()}
    return out


def seed_spread(scores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean, standard deviation (n - 1; None for one seed) and range of ``accuracy`` over
    ``scores`` (one per seed), and the mean recall of each class that has objects."""
    acc = [float(s["accuracy"]) for s in scores]
    out: dict[str, Any] = {
        "seeds": len(acc),
        "accuracy_mean": round(statistics.fmean(acc), 4),
        "accuracy_sd": round(statistics.stdev(acc), 4) if len(acc) > 1 else None,
        "accuracy_range": [round(min(acc), 4), round(max(acc), 4)],
    }
    classes = [k for k, v in scores[0].items() if isinstance(v, Mapping) and "recall" in v]
    for c in classes:
        recalls = [s[c]["recall"] for s in scores if s[c]["recall"] is not None]
        if recalls:
            out[f"{c}_recall_mean"] = round(statistics.fmean(recalls), 4)
    return out


def line(name: str, figures: Mapping[str, Any], classes: Sequence[str]) -> str:
    if "error" in figures:
        return f"    {name:22s} failed: {figures['error']}"
    if figures["accuracy"] is None:
        return f"    {name:22s} no labelled spectra"
    recall = " ".join(
        f"{c} {figures[c]['recall']:.2f} ({figures[c]['n']})" for c in classes if figures[c]["n"]
    )
    return f"    {name:22s} accuracy {figures['accuracy']:.3f} on {figures['n']}  recall {recall}"


def show(label: str, figures: Mapping[str, Any], classes: Sequence[str]) -> None:
    cost = (
        f"run {figures['wall_s']:.0f} s wall, {figures['cpu_s']:.0f} s CPU; "
        if "cpu_s" in figures
        else ""
    )
    print(
        f"{label}: {cost}fit {figures['fit_s']:.0f} s, predict {figures['predict_s']:.0f} s "
        f"wall; synthetic validation accuracy {figures['val_accuracy']}"
    )
    versions = figures.get("versions") or {}
    if versions:
        print("    trained with " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    for name, test in figures["test"].items():
        print(line(f"test ({name})", test, classes))
    if "synthetic_test" in figures:
        check = figures["synthetic_test"]
        print(line("synthetic test", check, classes))
        for name, subset in check.get("subsets", {}).items():
            print(line(f"  {name}", subset, classes))
    for folder, scores in figures["real"].items():
        print(line(f"real {folder}", scores, classes))
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", type=Path, default=ROOT / "presets" / "sim_to_real.toml")
    ap.add_argument("--models", default="", help="labels or names to run (default: all)")
    ap.add_argument("--set", action="append", default=[], help="bench run --set KEY=VALUE")
    ap.add_argument("--synthetic-test", type=int, default=0, help="N synthetic test spectra")
    ap.add_argument(
        "--synthetic-set", action="append", default=[], help="check set option KEY=VALUE"
    )
    ap.add_argument("--synthetic-trim", type=float, default=0.0, help="check set trimmed share")
    ap.add_argument("--out", type=Path, default=Path("/tmp/sim_to_real_perf"))
    ap.add_argument(
        "--existing", type=Path, help="score the cells of this finished run instead of training"
    )
    args = ap.parse_args()
    raw = tomllib.loads(args.preset.read_text())
    classes = raw["benchmark"]["classes"]
    chosen = [m for m in args.models.split(",") if m]
    models = [m for m in raw["models"] if not chosen or m.get("label", m["name"]) in chosen]
    results: dict[str, Any] = {}
    if args.existing:
        results = scored_run(
            args.existing, args.synthetic_test, chosen, args.synthetic_set, args.synthetic_trim
        )
        for label, figures in results.items():
            show(label, figures, classes)
    total_wall = total_cpu = 0.0
    for model in [] if args.existing else models:
        run_dir, wall, cpu = train(args.preset, model, args.set, args.out)
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        for label, figures in scored_run(
            run_dir, args.synthetic_test, (), args.synthetic_set, args.synthetic_trim
        ).items():  # every seed of the model's run: wall and CPU are the whole run's
            results[label] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **figures}
            show(label, results[label], classes)
    if total_cpu:
        print(
            f"all models: {total_wall:.0f} s wall, {total_cpu:.0f} s CPU "
            f"(CPU / 2 = {total_cpu / 2:.0f} s: the estimate for 2 idle cores)"
        )
    spread = across_seeds(results)
    for model, sets in spread.items():
        for name, figures in sets.items():
            sd = figures["accuracy_sd"]
            lo, hi = figures["accuracy_range"]
            print(
                f"{model} over {figures['seeds']} seeds, {name}: accuracy "
                f"{figures['accuracy_mean']:.3f} +- {sd:.3f} (range {lo:.3f}-{hi:.3f})"
            )
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    summary = {
        "commit": git.stdout.strip(),
        "preset": str(args.preset),
        "overrides": args.set,
        "synthetic_set": args.synthetic_set,
        "synthetic_trim": args.synthetic_trim,
        "existing": str(args.existing) if args.existing else None,
        "total_wall_s": round(total_wall, 1),
        "total_cpu_s": round(total_cpu, 1),
        "models": results,
        "across_seeds": spread,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
