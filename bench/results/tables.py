"""What the report's tables say, whatever writes them: the row builders, headings and
notes that ``report.md`` (:mod:`.report_md`) and ``report.html`` (:mod:`.html`) share."""

from __future__ import annotations

from typing import Any

from bench.results.plots import final_cells


def split_heading(cell: dict[str, Any], validation_fraction: float) -> str:
    """What a cell trained and was tested on, e.g. ``synthetic, train/validation/test
    72%/8%/20%`` or ``trained on synthetic (72%/8% of its objects for train/validation),
    tested on sdss``."""
    f, v = float(cell["train_fraction"]), float(validation_fraction)
    test = cell.get("test_dataset") or ""
    shares = f"{f * (1 - v):.0%}/{f * v:.0%}"
    if not test:
        return f"{cell['dataset']}, train/validation/test {shares}/{1 - f:.0%}"
    return f"trained on {cell['dataset']} ({shares} of its objects for train/validation), tested on {test}"


def validation_fraction(report: dict[str, Any]) -> float:
    """The report's ``protocol.validation_fraction`` (0 for reports written before it existed)."""
    return float(report["config"]["protocol"].get("validation_fraction", 0.0))


def ci_text(value: float | None, interval: list[float] | None) -> str:
    """``0.912 [0.880, 0.937]``: a figure with its interval (empty for none)."""
    if value is None:
        return ""
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else f"{value:.3f}"


TRANSFER_HEAD = ["model", "validation accuracy [95 % CI]", "n val", "test accuracy [95 % CI]"]
TRANSFER_HEAD += ["n test", "gap (val − test)", "macro recall val / test"]
TRANSFER_NOTE = (
    "Validation objects come from the training dataset, test objects from the other "
    "dataset; a positive gap is what the training data's own figures overstate. Accuracy "
    "follows each set's class mix: where the mixes differ, compare macro recall too."
)


def _pair(a: float | None, b: float | None) -> str:
    return " / ".join("–" if v is None else f"{v:.3f}" for v in (a, b))


def transfer_rows(group: dict[str, Any]) -> list[list[str]]:
    """One row per model of a ``transfer`` group, as :data:`TRANSFER_HEAD` names them."""
    return [
        [
            m["model"],
            ci_text(m["validation_accuracy"], m.get("validation_interval")),
            str(m["n_validation"]),
            ci_text(m["test_accuracy"], m.get("test_interval")),
            str(m["n_test"]),
            f"{m['gap']:+.3f}",
            _pair(m.get("validation_macro_recall"), m.get("test_macro_recall")),
        ]
        for m in group["models"]
    ]


def transfer_heading(group: dict[str, Any]) -> str:
    """``synthetic validation against sdss test (train fraction 0.8, 10 epochs, seed 0)``."""
    return (
        f"{group['dataset']} validation against {group['test_dataset']} test (train fraction "
        f"{group['train_fraction']:g}, {group['epochs']} epoch{'s' * (group['epochs'] != 1)}, "
        f"seed {group['seed']})"
    )


WARNING_HEAD = [
    "cell",
    "flagged (of n)",
    "accuracy flagged [95 % CI]",
    "accuracy clean [95 % CI]",
    "bits",
]
WARNING_NOTE = (
    "The zwarning column of predictions.csv (the SDSS pipeline's ZWARNING bits): for every "
    "model LITTLE_COVERAGE and NODATA from the spectrum itself, OR'ed with the model's own "
    "(template_fit: SMALL_DELTA_CHI2 where the runner-up class is a coin toss away, ...). "
    "A flag worth having marks objects the model gets wrong more often."
)


def warning_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per final cell with a ``warnings`` summary: flagged count, accuracy on the flagged
    and the clean objects, counts per bit."""
    rows = []
    for r in final_cells(report["results"]):
        w = r["metrics"].get("warnings")
        if not w:
            continue
        flagged, clean = w["flagged"], w["clean"]
        bits = ", ".join(f"{name} {count}" for name, count in w["bits"].items()) or "–"
        rows.append(
            [
                r["cell"]["id"],
                f"{flagged['n']} of {flagged['n'] + clean['n']}",
                ci_text(flagged["accuracy"], flagged["interval"]) or "–",
                ci_text(clean["accuracy"], clean["interval"]) or "–",
                bits,
            ]
        )
    return rows


def paper_data_note(report: dict[str, Any]) -> str:
    """What the two columns were measured on: the paper on real SDSS spectra, ours on this
    run's test sets (named)."""
    tested = sorted(
        {r["cell"].get("test_dataset") or r["cell"]["dataset"] for r in report["results"]}
    )
    return (
        "The paper's figures are on real SDSS spectra; ours on this run's test set"
        f"{'s' if len(tested) > 1 else ''} ({', '.join(map(str, tested))}), which may be "
        "synthetic: read them side by side, not as a replication."
    )


def paper_row(row: dict[str, Any]) -> dict[str, Any]:
    """A comparison row for display: a train fraction the paper does not give reads
    ``not stated``, never ``None``."""
    fraction = row.get("train_fraction")
    return {**row, "train_fraction": "not stated" if fraction is None else f"{fraction:g}"}
