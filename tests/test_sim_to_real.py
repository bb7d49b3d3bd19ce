"""Train on synthetic spectra, test on real SDSS files: ids, report and bins say so."""

from __future__ import annotations

import importlib.util
import json
import textwrap
import tomllib
from pathlib import Path
from types import ModuleType

from bench.cli import main
from bench.config.overrides import parse_override

ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "presets" / "sim_to_real.toml"
PERF = ROOT / "tests" / "perf" / "sim_to_real.py"


def test_sim_to_real_names_the_real_test_set_and_bins_its_snr(shared_data, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [benchmark]
            name = "s2r"
            [dataset]
            name = "synthetic"
            n = 300
            [test_dataset]
            name = "sdss"
            path = "{shared_data / "sdss"}"
            [[preprocess]]
            name = "normalize"
            [[models]]
            name = "logreg"
            [protocol]
            epochs = [1]
            """
        )
    )
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    result = report["results"][0]
    assert result["cell"]["id"] == "synthetic~sdss__logreg__f0.8__e1__s0"
    assert result["n_test"] == report["datasets"]["test"]["n_used"]  # the real files
    assert result["n_validation"] == 24 and result["n_train"] == 216  # from synthetic
    md = (out / "report.md").read_text()
    assert "trained on synthetic" in md and "tested on sdss" in md
    assert f"{result['n_test']} test spectra" in md
    snr_bins = result["metrics"]["bins"]["snr"]
    assert sum(b["n"] for b in snr_bins) == result["n_test"]
    assert all(b["n"] >= 20 for b in snr_bins) or len(snr_bins) == 1
    assert "against S/N" in md
    # spec-lite files carry SN_MEDIAN_ALL and SPECTROSYNFLUX (r-band magnitude)
    mag_bins = result["metrics"]["bins"]["magnitude"]
    assert 0 < sum(b["n"] for b in mag_bins) <= result["n_test"]
    assert "against magnitude" in md


def perf_driver() -> ModuleType:
    """tests/perf/sim_to_real.py as a module."""
    spec = importlib.util.spec_from_file_location("perf_sim_to_real", PERF)
    assert spec is not None and spec.loader is not None
    perf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(perf)
    return perf


def test_sim_to_real_preset_is_valid(shared_data, capsys):
    assert main(["validate", str(PRESET)]) == 0
    assert "valid" in capsys.readouterr().out


def test_perf_driver_sets_each_preset_model_as_toml_bench_reads_back():
    """tests/perf/sim_to_real.py trains one model at a time with
    ``--set models=[<table>]``: the inline TOML it writes must parse to the same table."""
    perf = perf_driver()
    for model in tomllib.loads(PRESET.read_text())["models"]:
        _, value = parse_override("models=" + perf.toml_value([model]))
        assert value == [model]
    odd = {"name": 'a "quoted" name', "flag": False, "x": 0.25, "items": [1, 2], "sub": {"k": "v"}}
    assert parse_override("models=" + perf.toml_value([odd]))[1] == [odd]


def test_perf_driver_gives_each_model_only_its_own_model_overrides():
    """``--set models.cnn1d.x=1 --set models.mnist_cnn.x=2`` for a two-model preset: each
    child run holds one model, so it gets that model's override only (bench run refuses
    a ``models.<X>`` key naming no model of the run); the others go to every run."""
    perf = perf_driver()
    sets = ["models.cnn1d.average_epochs=3", "models.mnist_cnn.average_epochs=2",
            "dataset.n=500", "protocol.seeds=[1]", "models.fast.ensemble = 2"]  # fmt: skip
    assert perf.own_overrides({"name": "cnn1d"}, sets) == [sets[0], sets[2], sets[3]]
    assert perf.own_overrides({"name": "mnist_cnn"}, sets) == sets[1:4]
    assert perf.own_overrides({"name": "cnn1d", "label": "fast"}, sets) == [
        sets[0], sets[2], sets[3], sets[4],
    ]  # fmt: skip


def test_perf_driver_recall_counts_each_true_class():
    perf = perf_driver()
    pairs = [("STAR", "STAR"), ("STAR", "QSO"), ("QSO", "QSO"), ("GALAXY", "STAR")]
    scores = perf.per_class(pairs, ["STAR", "GALAXY", "QSO"])
    assert scores["n"] == 4 and scores["accuracy"] == 0.5
    assert scores["STAR"] == {"n": 2, "recall": 0.5}
    assert scores["GALAXY"] == {"n": 1, "recall": 0.0}
    assert scores["QSO"] == {"n": 1, "recall": 1.0}
    assert perf.per_class([], ["STAR"])["STAR"] == {"n": 0, "recall": None}


def test_perf_driver_check_set_takes_the_next_seed_and_typed_overrides():
    """The hard synthetic check set: the training generator's options with n, the next
    seed and the --synthetic-set overrides parsed as TOML values (numbers stay numbers)."""
    perf = perf_driver()
    dataset = {"n": 6000, "seed": 3, "snr_scale_max": 4.0, "legacy_fraction": 0.15}
    options = perf.check_options(dataset, 500, ["snr_scale=0.5", "legacy_fraction = 0.5"])
    assert options == {
        "n": 500,
        "seed": 4,
        "snr_scale_max": 4.0,
        "legacy_fraction": 0.5,
        "snr_scale": 0.5,
    }
    assert dataset["seed"] == 3 and dataset["n"] == 6000
    assert perf.check_options({}, 10, ['legacy_survey="dr12"'])["legacy_survey"] == "dr12"


def test_perf_driver_check_set_sets_the_sdss_i_share_one_way():
    """The synthetic options refuse legacy_fraction beside legacy_survey: an override of
    one replaces the training set's other."""
    perf = perf_driver()
    survey = {"seed": 0, "legacy_survey": "dr12_redshift"}
    options = perf.check_options(survey, 10, ["legacy_fraction=0.5"])
    assert options["legacy_fraction"] == 0.5 and "legacy_survey" not in options
    # so is the S/N: by magnitude (snr_scale_max) or the same for every class (snr_target)
    options = perf.check_options({"snr_target": [1.0, 50.0]}, 10, ["snr_scale_max=4"])
    assert options == {"n": 10, "seed": 1, "snr_scale_max": 4}
    options = perf.check_options({"snr_scale_max": 4.0}, 10, ["snr_target=[2.0, 9.0]"])
    assert options["snr_target"] == [2.0, 9.0] and "snr_scale_max" not in options
    options = perf.check_options({"legacy_fraction": 0.15}, 10, ['legacy_survey="dr12"'])
    assert options["legacy_survey"] == "dr12" and "legacy_fraction" not in options


def test_perf_driver_scores_each_seed_and_summarises_over_seeds():
    """A run with several seeds: each cell keeps its own figures (keyed by model and
    seed) and the summary gives the mean, sd and range of the accuracy per set."""
    perf = perf_driver()
    assert perf.cell_label({"model": "cnn1d", "seed": 2}) == "cnn1d seed 2"

    def figures(model: str, acc_real: float, acc_check: float) -> dict:
        real = {"n": 4, "accuracy": acc_real, "STAR": {"n": 2, "recall": acc_real},
                "QSO": {"n": 2, "recall": 1.0}, "GALAXY": {"n": 0, "recall": None}}  # fmt: skip
        return {"model": model, "test": {"sdss": real}, "real": {"sdss": real},
                "synthetic_test": {"n": 10, "accuracy": acc_check}}  # fmt: skip

    results = {
        "cnn1d seed 0": figures("cnn1d", 0.5, 0.9),
        "cnn1d seed 1": figures("cnn1d", 1.0, 0.8),
        "logreg seed 0": figures("logreg", 0.25, 0.7),
    }
    spread = perf.across_seeds(results)
    assert set(spread) == {"cnn1d"}  # one seed: no spread
    real = spread["cnn1d"]["real sdss"]
    assert real["seeds"] == 2 and real["accuracy_mean"] == 0.75
    assert real["accuracy_sd"] == round(0.5 / 2**0.5, 4)
    assert real["accuracy_range"] == [0.5, 1.0]
    assert real["STAR_recall_mean"] == 0.75 and "GALAXY_recall_mean" not in real
    assert spread["cnn1d"]["synthetic test"]["accuracy_mean"] == 0.85
