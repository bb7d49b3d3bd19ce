"""`bench plot spectra`: synthetic examples per class, beside real spec-lite spectra."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import BenchError
from bench.interfaces import Command


def _spectra_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--real", type=Path, help="folder of real spec-lite files to show beside")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("spectra.png"))


def plot_spectra(args: argparse.Namespace) -> int:
    from bench.cli import console
    from bench_plugins.synthetic.plot import plot_examples

    if args.real is not None and not args.real.is_dir():
        raise BenchError(f"{args.real}: --real must be a folder of spec-lite files")
    console.info(f"wrote {plot_examples(args.out, real_dir=args.real, seed=args.seed)}")
    return 0


COMMANDS = (
    Command(
        ("plot", "spectra"),
        "synthetic examples per class, beside real ones",
        plot_spectra,
        _spectra_arguments,
    ),
)
