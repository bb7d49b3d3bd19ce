"""The tidy per-object table: one row per cell x test object, readable by pandas in one
line; the most confident mistakes saved per cell; leaderboard export."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from bench.cli import main
from bench.results import objects
from bench.results.report import load_report

CONFIG = """
[dataset]
name = "toy"
n = 60
[render]
name = "flat"
[[models]]
name = "centroid"
render = { name = "flat" }
[protocol]
epochs = [1, 2]
seeds = [0, 1]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from bench.plugins import manager
    from tests.plugins import toy

    tmp = tmp_path_factory.mktemp("objects")
    config = tmp / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG))
    registry = manager.get_registry(extra=[toy], third_party=False)
    with manager.using_registry(registry):
        assert main(["run", str(config), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def _read(path):
    pd = pytest.importorskip("pandas")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def test_one_row_per_cell_and_test_object_readable_by_pandas(run):
    report = load_report(run / "report.json")
    written = list(run.glob("objects.*"))
    assert len(written) == 1
    expected = ".parquet" if objects.have_pyarrow() else ".csv"
    assert written[0].suffix == expected
    table = _read(written[0])
    ok = [r for r in report["results"] if r["status"] == "ok"]
    assert len(ok) == 4
    assert len(table) == sum(r["n_test"] for r in ok)
    assert not table.duplicated(["cell", "id"]).any()
    for r in ok:  # each cell's rows agree with its reported accuracy
        rows = table[table["cell"] == r["cell"]["id"]]
        assert len(rows) == r["n_test"]
        accuracy = (rows["true"] == rows["predicted"]).mean()
        assert accuracy == pytest.approx(r["metrics"]["accuracy"])
    assert {"dataset", "model", "seed", "epochs", "redshift", "p_QSO"} <= set(table.columns)
    proba = table[["p_STAR", "p_GALAXY", "p_QSO"]].to_numpy()
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)


def test_csv_when_pyarrow_is_missing(run, tmp_path, monkeypatch):
    monkeypatch.setattr(objects, "have_pyarrow", lambda: False)
    path = objects.write_objects_table(load_report(run / "report.json"), run)
    try:
        assert path.suffix == ".csv"
        table = _read(path)
        assert len(table) > 0 and "redshift" in table.columns
    finally:
        path.unlink()


def test_facts_come_from_source_attributes_or_its_table():
    class Source:
        ids = np.array(["a", "b", "c"])
        redshift = np.array([0.1, 0.2, 0.3])
        table = {"plate": np.array([1, 2, 3]), "snr": np.array([5.0, 6.0, 7.0])}

    facts = objects.object_facts(Source(), np.array([2, 0]))
    assert list(facts) == ["redshift", "snr", "plate"]
    assert facts["plate"].tolist() == [3, 1]
    assert facts["snr"].tolist() == [7.0, 5.0]


def test_top_mistakes_are_the_most_confident_per_class_pair():
    y = np.array([0, 0, 0, 1, 1, 2])
    proba = np.array(
        [
            [0.9, 0.1, 0.0],  # right
            [0.2, 0.7, 0.1],  # 0 -> 1 at 0.7
            [0.1, 0.8, 0.1],  # 0 -> 1 at 0.8, the most confident
            [0.6, 0.3, 0.1],  # 1 -> 0
            [0.1, 0.2, 0.7],  # 1 -> 2
            [0.0, 0.1, 0.9],  # right
        ]
    )
    assert objects.top_mistakes(y, proba, per_pair=1).tolist() == [2, 3, 4]
    assert objects.top_mistakes(y, proba, per_pair=3).tolist() == [2, 1, 3, 4]


def test_each_cell_keeps_its_mistakes_compactly(run):
    report = load_report(run / "report.json")
    result = report["results"][0]
    cell = run / result["path"]
    with np.load(cell / "mistakes.npz") as m:
        n = len(m["ids"])
        assert (n == 0) == (result["metrics"]["accuracy"] == 1.0)
        assert m["flux"].shape[0] == m["inputs"].shape[0] == m["proba"].shape[0] == n
        assert (np.argmax(m["proba"], axis=1) != m["true"]).all()
    assert (cell / "mistakes.npz").stat().st_size < 200_000


def test_leaderboard_export_writes_a_table(run, tmp_path):
    out = tmp_path / "board.csv"
    assert main(["leaderboard", str(run), "--export", str(out)]) == 0
    table = _read(out)
    assert len(table) == 4
    assert {"rank", "model", "value", "vs_above_p"} <= set(table.columns)
    assert table["rank"].tolist() == [1, 2, 3, 4]
