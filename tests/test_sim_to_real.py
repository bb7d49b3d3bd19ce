"""Train on synthetic spectra, test on real SDSS files: ids, report and bins say so."""

from __future__ import annotations

import json
import textwrap

from bench.cli import main


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
