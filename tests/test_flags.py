"""The zwarning flag every model's predictions carry: the core's data bits (NODATA,
LITTLE_COVERAGE) OR'ed with a model's own, and the report's table of how often the
flagged and the clean objects are right."""

from __future__ import annotations

import csv
import json
import textwrap

import numpy as np
import pytest

from bench.cli import main
from bench.results import flags
from bench.spectra import NODATA, ArraySource, SpectrumBatch, boss_grid


def _source(ivar: np.ndarray, mask: np.ndarray | None = None) -> ArraySource:
    n, p = ivar.shape
    return ArraySource(
        SpectrumBatch(
            ids=np.array([f"s{i}" for i in range(n)], dtype=object),
            loglam=boss_grid()[:p],
            flux=np.ones((n, p), np.float32),
            ivar=ivar.astype(np.float32),
            mask=np.zeros((n, p), np.int32) if mask is None else mask,
            labels=np.array(["STAR"] * n, dtype=object),
            redshift=np.zeros(n),
            snr=np.ones(n, np.float32),
        )
    )


def test_data_bits_follow_the_pipeline_rules():
    p = len(boss_grid())
    ivar = np.ones((4, p))
    ivar[1] = 0.0  # no data at all
    ivar[2, 1000:] = 0.0  # 0.1 dex of good pixels
    mask = np.zeros((4, p), np.int32)
    mask[3, 1000:] = NODATA  # the same span, cut by the mask rather than the ivar
    got = flags.data_flags(_source(ivar, mask), np.arange(4))
    assert got.tolist() == [0, flags.NO_DATA, flags.LITTLE_COVERAGE, flags.LITTLE_COVERAGE]


def test_a_models_own_bits_are_kept_and_text_is_ignored():
    data = np.array([0, flags.LITTLE_COVERAGE, 0])
    own = np.array([4.0, 4.0, np.nan])
    assert flags.combined(data, own).tolist() == [4, 6, 0]
    assert flags.combined(data, np.array(["a", "b", "c"], dtype=object)).tolist() == [0, 2, 0]
    both = flags.summary(np.array([0]), np.eye(3)[[0]], np.array([4 | 16]))
    assert both["bits"] == {"SMALL_DELTA_CHI2": 1, "MANY_OUTLIERS": 1}


def test_summary_splits_accuracy_between_flagged_and_clean():
    y = np.array([0, 1, 2, 0, 1])
    proba = np.eye(3)[[0, 1, 0, 1, 1]]  # right, right, wrong, wrong, right
    s = flags.summary(y, proba, np.array([0, 0, 4, 4, 4]))
    assert s["clean"]["n"] == 2 and s["clean"]["accuracy"] == 1.0
    assert s["flagged"]["n"] == 3 and s["flagged"]["accuracy"] == pytest.approx(1 / 3)
    assert s["bits"] == {"SMALL_DELTA_CHI2": 3}
    none = flags.summary(y, proba, np.zeros(5, np.int64))
    assert none["flagged"] == {"n": 0, "accuracy": None, "interval": None}
    assert none["clean"]["n"] == 5


CONFIG = """
[dataset]
name = "toy"
n = 45
[render]
name = "flat"
[[models]]
name = "centroid"
render = { name = "flat" }
[protocol]
epochs = [1]
"""


def test_every_model_gets_the_column_and_the_report_table(tmp_path):
    """The toy spectra span 0.02 dex: every object is LITTLE_COVERAGE, whatever the model."""
    from bench.plugins import manager
    from tests.plugins import toy

    config = tmp_path / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG))
    with manager.using_registry(manager.get_registry(extra=[toy], third_party=False)):
        assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    (result,) = report["results"]
    warnings = result["metrics"]["warnings"]
    assert warnings["flagged"]["n"] == result["n_test"] and warnings["clean"]["n"] == 0
    assert warnings["bits"] == {"LITTLE_COVERAGE": result["n_test"]}
    (predictions,) = (tmp_path / "run").rglob("predictions.csv")
    with open(predictions, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {row["zwarning"] for row in rows} == {str(flags.LITTLE_COVERAGE)}
    md = (tmp_path / "run" / "report.md").read_text()
    assert "## Objects flagged as uncertain" in md
    assert f"{result['n_test']} of {result['n_test']}" in md
    html = (tmp_path / "run" / "report.html").read_text()
    assert "Objects flagged as uncertain" in html


def test_zwarning_names_read_the_pipeline_bits_and_name_unknown_ones() -> None:
    """One table of ZWARNING names (bench.spectra) serves the core and template_fit."""
    from bench.spectra import ZWARNING_BITS, zwarning_names

    assert zwarning_names(0) == []
    assert zwarning_names(ZWARNING_BITS["NODATA"] | ZWARNING_BITS["SKY"]) == ["SKY", "NODATA"]
    assert zwarning_names(1 << 12) == ["BIT12"]
    assert flags.LITTLE_COVERAGE == ZWARNING_BITS["LITTLE_COVERAGE"] == 2
