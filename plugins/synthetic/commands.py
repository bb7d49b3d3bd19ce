"""The synthetic plugin's commands: `bench plot spectra` (synthetic examples per class,
beside real spec-lite spectra) and `bench data realism` (how far synthetic spectra are
from real ones, by a discriminator's ROC-AUC per class)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.interfaces import Command, CommandContext, add_set_argument


def _spectra_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", type=Path, help="folder of real spec-lite files to show beside")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("spectra.png"))


def plot_spectra(args: argparse.Namespace, context: CommandContext) -> int:
    from bench_plugins.synthetic.plot import plot_examples

    if args.real is not None and not args.real.is_dir():
        raise BenchError(f"{args.real}: --real must be a folder of spec-lite files")
    context.console.info(f"wrote {plot_examples(args.out, real_dir=args.real, seed=args.seed)}")
    return 0


def _realism_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="a benchmark whose first dataset is synthetic")
    parser.add_argument("real", type=Path, nargs="+", help="real spectrum files or folders")
    parser.add_argument("--seed", type=int, default=0, help="seed of the discriminator")
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.add_argument(
        "--figure",
        type=Path,
        metavar="PATH",
        help="also draw a PNG: per class, the top features' distributions, real vs synthetic",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FEATURE[,FEATURE]",
        help="leave features out of the discriminator (e.g. first_good_A,last_good_A,"
        "masked_fraction: what the physics gives away when the real files' mix of "
        "instruments and coverage is not the synthetic one's)",
    )
    parser.add_argument(
        "--any-coverage",
        action="store_true",
        help="match each real spectrum in redshift and S/N only, not also in coverage kind "
        "(BOSS, SDSS-I/II, trimmed): the AUC then also measures the synthetic set's mix of "
        "instruments against the real files'",
    )
    add_set_argument(parser, "dataset.lowz_qso_fraction=0.05 (how a population moves the AUCs)")


def realism(args: argparse.Namespace, context: CommandContext) -> int:
    """Open the config's first dataset and the real files (through the registered plugins,
    as any plugin would: `sdss` reads them), then train the discriminator."""
    import json

    from bench_plugins.synthetic.realism import realism_report, used_columns

    if args.figure is not None:
        from bench_plugins.synthetic.realism_figure import check_figure_path

        check_figure_path(args.figure)  # before the discriminator's minutes
    exclude = [name.strip() for item in args.exclude for name in item.split(",") if name.strip()]
    used_columns(exclude, key="--exclude")  # before the discriminator's minutes
    config = context.load_benchmark(args.config, args.overrides)
    spec = config.datasets[0]
    create = context.create_plugin
    synthetic = create("dataset", spec.name, spec.params, f"dataset {spec.label}").open()
    paths = [str(p) for p in args.real]
    real = create("dataset", "sdss", {"path": paths}, "real spectra").open()
    if len(real) == 0:
        raise BenchError(f"{', '.join(paths)}: no readable real spectra")
    rows: dict[str, Any] = {}
    report = realism_report(
        synthetic,
        real,
        classes=config.classes,
        seed=args.seed,
        keep=rows,
        exclude=exclude,
        match_coverage=not args.any_coverage,
    )
    if args.json:
        context.console.print_json(json.dumps(report, default=str))
    else:
        context.console.print(format_report(report))
    if args.figure is not None:
        from bench_plugins.synthetic.realism_figure import draw_realism, write_png

        path = write_png(draw_realism(report, rows), args.figure)
        context.console.info(f"wrote {path}")  # stderr: stdout may be the JSON
    return 0


def format_report(report: dict[str, Any]) -> str:
    """A few plain-text lines: AUC per class, its spectra per coverage kind (real /
    synthetic) and the top features with their medians."""
    lines = []
    entries = list(report["classes"].items())
    if "all" in report:
        entries.append(("all", report["all"]))
    for label, entry in entries:
        if entry.get("auc") is None:
            lines.append(f"{label:7s} AUC   -    ({entry.get('note', '')})")
            continue
        lo, hi = entry.get("auc_interval") or (float("nan"), float("nan"))
        lines.append(
            f"{label:7s} AUC {entry['auc']:.3f} [{lo:.3f}, {hi:.3f}] 95 %  (real "
            f"{entry['n_real']}, synthetic {entry['n_synthetic']})"
        )
        coverage = entry.get("coverage")
        if coverage:
            real, syn = coverage["real"], coverage["synthetic"]
            counts = [
                f"{kind} {real[kind]} / {syn[kind]}" for kind in real if real[kind] or syn[kind]
            ]
            pool = f", from a pool of {entry['n_pool']}" if "n_pool" in entry else ""
            lines.append(f"        coverage, real / synthetic: {', '.join(counts)}{pool}")
        for f in entry["top_features"]:
            real_m, syn_m = f["real_median"], f["synthetic_median"]
            lines.append(
                f"        {f['name']:20s} importance {f['importance']:+.3f}  median real "
                f"{real_m if real_m is None else f'{real_m:.3g}'}  synthetic "
                f"{syn_m if syn_m is None else f'{syn_m:.3g}'}"
            )
    if report.get("settings", {}).get("match_coverage") is False:
        lines.append("(matched in redshift and S/N only, not in coverage kind: --any-coverage)")
    left_out = report.get("settings", {}).get("exclude")
    if left_out:
        lines.append(f"(features left out of the discriminator: {', '.join(left_out)})")
    return "\n".join(lines)


COMMANDS = (
    Command(
        ("plot", "spectra"),
        "synthetic examples per class, beside real ones",
        plot_spectra,
        _spectra_arguments,
    ),
    Command(
        ("data", "realism"),
        "tell synthetic from real spectra: a discriminator's ROC-AUC per class (0.5: alike)",
        realism,
        _realism_arguments,
    ),
)
