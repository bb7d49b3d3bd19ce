"""The realism discriminator: scale-invariant features, AUC ~0.5 for two draws of the same
generator, high AUC with the right feature named for a distorted copy, and the real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.spectra import ArraySource
from bench_plugins.synthetic import Synthetic
from bench_plugins.synthetic.commands import format_report
from bench_plugins.synthetic.realism import feature_names, features, realism_report


def test_features_shape_names_and_scale_invariance() -> None:
    batch = Synthetic(n=12, seed=3).open().read(np.arange(12))
    x = features(batch)
    assert x.shape == (12, len(feature_names())) and len(set(feature_names())) == x.shape[1]
    assert np.isfinite(x[:, feature_names().index("log_snr")]).all()
    scaled = batch.with_arrays(flux=batch.flux * 7.0, ivar=batch.ivar / 49.0)
    np.testing.assert_allclose(features(scaled), x, rtol=1e-5, atol=1e-6)


def test_same_generator_is_indistinguishable_and_a_distortion_is_found() -> None:
    kw = {"n": 160, "classes": ["QSO", "GALAXY"], "snr_scale": 2.0}
    first = Synthetic(seed=1, **kw).open()
    second = Synthetic(seed=2, **kw).open()
    report = realism_report(first, ArraySource(second.read(np.arange(40))), pool=80, trees=60)
    for label in ("QSO", "GALAXY"):
        assert report["classes"][label]["auc"] < 0.75, format_report(report)
    # a red tilt of the "real" spectra: the colours must give the synthetic ones away
    batch = second.read(np.arange(40))
    tilt = np.linspace(0.5, 2.0, batch.flux.shape[1]).astype(np.float32)
    tilted = batch.with_arrays(flux=batch.flux * tilt, ivar=batch.ivar / tilt**2)
    report = realism_report(first, ArraySource(tilted), pool=80, trees=60)
    assert report["all"]["auc"] > 0.9, format_report(report)
    names = [f["name"] for f in report["all"]["top_features"][:3]]
    assert any(n.startswith(("colour_", "arm_")) for n in names), names
    assert report["settings"]["seed"] == 0 and "STAR" in report["classes"]
    assert report["classes"]["STAR"]["auc"] is None  # no stars generated


def test_coverage_kinds_are_counted_for_real_and_matched_synthetic_spectra() -> None:
    """Each class entry counts its real and matched synthetic spectra per wavelength range:
    here the "real" ones are BOSS spectra, half of them cut to a Ly-alpha forest window,
    against SDSS-I/II synthetic ones."""
    from bench.spectra import NODATA
    from bench_plugins.synthetic.realism import coverage_kind

    np.testing.assert_array_equal(
        coverage_kind(
            np.array([3570.0, 3805.0, 3710.0, np.nan]), np.array([10350.0, 9200.0, 4400.0, 9000.0])
        ),
        ["BOSS", "SDSS-I/II", "trimmed", ""],
    )
    kw = {"n": 60, "classes": ["QSO"], "snr_scale": 2.0}
    synthetic = Synthetic(seed=1, legacy_fraction=1.0, **kw).open()
    batch = Synthetic(seed=2, legacy_fraction=0.0, **kw).open().read(np.arange(20))
    lam = np.power(10.0, batch.loglam)
    outside = (lam < 3708) | (lam > 4365)
    cut = np.zeros(batch.flux.shape, bool)
    cut[:10] = outside
    real = batch.with_arrays(
        ivar=np.where(cut, 0.0, batch.ivar).astype(np.float32),
        mask=np.where(cut, NODATA, batch.mask).astype(np.int32),
    )
    report = realism_report(synthetic, ArraySource(real), per_real=2, pool=60, trees=30)
    qso = report["classes"]["QSO"]
    assert qso["coverage"] == {
        "real": {"BOSS": 10, "SDSS-I/II": 0, "trimmed": 10},
        "synthetic": {"BOSS": 0, "SDSS-I/II": 40, "trimmed": 0},
    }
    assert report["all"]["coverage"] == qso["coverage"]
    assert (
        "coverage, real / synthetic: BOSS 10 / 0, SDSS-I/II 0 / 40, trimmed 10 / 0"
        in format_report(report)
    )


def test_report_is_deterministic() -> None:
    kw = {"n": 40, "classes": ["QSO"]}
    a = realism_report(Synthetic(seed=1, **kw).open(), Synthetic(seed=4, **kw).open(), trees=30)
    b = realism_report(Synthetic(seed=1, **kw).open(), Synthetic(seed=4, **kw).open(), trees=30)
    assert a == b


def test_real_files(shared_data: Path) -> None:
    from bench_plugins.sdss.dataset import SdssDataset

    real = SdssDataset(path=[str(shared_data / "sdss")]).open()
    synthetic = Synthetic(n=150, seed=0).open()
    report = realism_report(synthetic, real, pool=40, per_real=1, max_real=30, trees=60)
    for label, entry in report["classes"].items():
        assert entry["auc"] is None or 0.0 <= entry["auc"] <= 1.0, label
    assert report["classes"]["QSO"]["n_real"] == 30
    assert len(report["all"]["top_features"]) == 6


def test_bench_data_realism_command(tmp_path, capsys) -> None:
    """`bench data realism CONFIG REAL` prints an AUC per class (real files: the shared
    SDSS folder, skipped when absent)."""
    from bench.cli import main

    real = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sdss" / "spectra"
    if not real.is_dir():
        pytest.skip("no shared SDSS data")
    config = tmp_path / "bench.toml"
    config.write_text('[dataset]\nname = "synthetic"\nn = 300\n[[models]]\nname = "logreg"\n')
    figure = tmp_path / "realism.png"
    args = ["data", "realism", str(config), str(real), "--json", "--figure", str(figure)]
    assert main([*args, "--exclude", "first_good_A,last_good_A", "--exclude", "d4000"]) == 0
    report = json.loads(capsys.readouterr().out)  # the figure's line goes to stderr
    assert report["settings"]["exclude"] == ["d4000", "first_good_A", "last_good_A"]
    assert report["settings"]["match_coverage"] is True
    assert "d4000" not in report["features"] and "log_snr" in report["features"]
    assert set(report["classes"]) == {"STAR", "GALAXY", "QSO"}
    qso = report["classes"]["QSO"]
    assert qso["auc"] is None or 0.0 <= qso["auc"] <= 1.0
    assert figure.read_bytes().startswith(PNG)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert main(["data", "realism", str(config), str(real), "--json", "--any-coverage"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["match_coverage"] is False


PNG = b"\x89PNG\r\n\x1a\n"


def test_the_figure_is_a_png_with_a_row_per_measured_class(tmp_path) -> None:
    from PIL import Image

    from bench_plugins.synthetic.realism_figure import DPI, draw_realism, write_png

    kw = {"n": 60, "classes": ["QSO", "GALAXY"]}
    rows: dict = {}
    report = realism_report(
        Synthetic(seed=1, **kw).open(), Synthetic(seed=2, **kw).open(), trees=20, keep=rows
    )
    assert set(rows) == {"QSO", "GALAXY"}  # STAR: none generated, no row
    for label, (x, y) in rows.items():
        assert x.shape == (len(y), len(feature_names()))
        assert y.sum() == report["classes"][label]["n_real"]
        assert (1 - y).sum() == report["classes"][label]["n_synthetic"]
    path = write_png(draw_realism(report, rows), tmp_path / "realism.png")
    assert path.read_bytes().startswith(PNG)
    with Image.open(path) as image:
        width, height = image.size
        assert width >= 4 * 2 * DPI and height >= 2 * 2 * DPI  # two rows of four panels
        assert np.allclose(image.info["dpi"], (DPI, DPI), atol=0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["realism.png"]


@pytest.mark.parametrize(
    ("figure", "expected"),
    [
        ("missing/realism.png", "does not exist"),
        ("realism.pdf", "expected a .png"),
        (".", "expected a .png"),
    ],
)
def test_a_bad_figure_path_is_one_line_exit_2_before_any_work(
    tmp_path, capsys, monkeypatch, figure, expected
) -> None:
    from bench.cli import main

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bench.toml"
    config.write_text('[dataset]\nname = "synthetic"\nn = 30\n[[models]]\nname = "logreg"\n')
    args = ["data", "realism", str(config), str(tmp_path / "none"), "--figure", figure]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "--figure" in lines[0] and expected in lines[0], lines
    assert "Traceback" not in captured.err and captured.out == ""


def test_an_unknown_excluded_feature_is_one_line_exit_2_before_any_work(tmp_path, capsys) -> None:
    from bench.cli import main

    config = tmp_path / "bench.toml"
    config.write_text('[dataset]\nname = "synthetic"\nn = 30\n[[models]]\nname = "logreg"\n')
    args = ["data", "realism", str(config), str(tmp_path / "none"), "--exclude", "log_snr,blue"]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "--exclude: ['blue'] are not realism features" in lines[0], lines
    assert "Traceback" not in captured.err and captured.out == ""


def test_realism_set_overrides_the_config_and_a_bad_key_is_one_line_exit_2(
    tmp_path, capsys
) -> None:
    from bench.cli import main

    config = tmp_path / "bench.toml"
    config.write_text('[dataset]\nname = "synthetic"\nn = 60\n[[models]]\nname = "logreg"\n')
    real = tmp_path / "none"
    assert main(["data", "realism", str(config), str(real), "--set", "dataset.nn=3"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "nn" in lines[0] and "Traceback" not in captured.err, lines
    # a good key reaches the synthetic dataset: 0 spectra of it is an error of that dataset
    assert main(["data", "realism", str(config), str(real), "--set", "dataset.n=0"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "n" in lines[0] and ">= 1" in lines[0], lines


def test_auc_interval_holds_the_auc_and_narrows_with_more_real_spectra() -> None:
    from bench_plugins.synthetic.realism import auc_interval

    rng = np.random.default_rng(0)

    def interval(n_real: int) -> tuple[float, list[float]]:
        y = np.r_[np.ones(n_real), np.zeros(300)].astype(int)
        score = np.r_[rng.normal(1.0, 1.0, n_real), rng.normal(0.0, 1.0, 300)]
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(y, score)), auc_interval(y, score, seed=1)

    auc_small, (lo_small, hi_small) = interval(12)
    auc_large, (lo_large, hi_large) = interval(300)
    assert lo_small <= auc_small <= hi_small and lo_large <= auc_large <= hi_large
    assert hi_small - lo_small > 2 * (hi_large - lo_large)
    assert auc_interval(np.r_[1, 1, 0, 0], np.r_[0.9, 0.8, 0.1, 0.2], seed=1) == [1.0, 1.0]


def test_excluded_features_are_left_out_of_the_discriminator() -> None:
    """The "real" copy differs from the generator in its coverage only (the SDSS-I/II
    3800-9200 A range): the coverage features give it away, and without them (and the end
    bands' colours, measured over what is left) the two look alike again."""
    from bench.errors import BenchError
    from bench.spectra import NODATA

    kw = {"n": 160, "classes": ["QSO", "GALAXY"], "snr_scale": 2.0}
    first = Synthetic(seed=1, **kw).open()
    batch = Synthetic(seed=2, **kw).open().read(np.arange(40))
    lam = 10**batch.loglam
    out = (lam < 3800) | (lam > 9200)
    trimmed = batch.with_arrays(
        flux=np.where(out, 0.0, batch.flux).astype(np.float32),
        ivar=np.where(out, 0.0, batch.ivar).astype(np.float32),
        mask=np.where(out, batch.mask | NODATA, batch.mask),
    )
    full = realism_report(first, ArraySource(trimmed), pool=80, trees=60)
    coverage = ["first_good_A", "last_good_A", "masked_fraction", "colour_3600_4200",
                "colour_8700_9500", "colour_9500_10300", "scatter_oh"]  # fmt: skip
    blind = realism_report(first, ArraySource(trimmed), pool=80, trees=60, exclude=coverage)
    assert full["all"]["auc"] > 0.95, format_report(full)
    assert blind["all"]["auc"] < 0.8, format_report(blind)
    shown = {f["name"] for e in [blind["all"], *blind["classes"].values()]
             for f in e.get("top_features", [])}  # fmt: skip
    assert shown and not shown & set(coverage)
    assert blind["features"] == [n for n in feature_names() if n not in coverage]
    assert blind["settings"]["exclude"] == sorted(coverage)
    assert "features left out of the discriminator: colour_3600_4200" in format_report(blind)
    with pytest.raises(BenchError, match=r"exclude: \['colour_blue'\] are not realism features"):
        realism_report(first, ArraySource(trimmed), exclude=["colour_blue"])


def test_matching_takes_each_real_spectrum_s_coverage_kind() -> None:
    """Real-like spectra all from the SDSS-I/II spectrographs, a pool with half of them: matched
    on coverage, every synthetic one is SDSS-I/II too and the coverage features no longer
    give the mix away; matched on redshift and S/N alone, some are BOSS and the coverage
    features lead."""
    kw = {"n": 240, "classes": ["QSO", "GALAXY"], "snr_scale": 2.0}
    synthetic = Synthetic(seed=1, legacy_fraction=0.5, **kw).open()
    real = ArraySource(Synthetic(seed=2, legacy_fraction=1.0, **kw).open().read(np.arange(40)))
    matched = realism_report(synthetic, real, per_real=2, trees=60)
    mixed = realism_report(synthetic, real, per_real=2, trees=60, match_coverage=False)
    assert matched["all"]["coverage"] == {
        "real": {"BOSS": 0, "SDSS-I/II": 40, "trimmed": 0},
        "synthetic": {"BOSS": 0, "SDSS-I/II": 80, "trimmed": 0},
    }
    assert mixed["all"]["coverage"]["synthetic"]["BOSS"] > 20
    assert matched["settings"]["match_coverage"] and not mixed["settings"]["match_coverage"]
    coverage = {"first_good_A", "last_good_A", "masked_fraction"}
    top = [[f["name"] for f in r["all"]["top_features"][:3]] for r in (matched, mixed)]
    assert not coverage & set(top[0]), format_report(matched)
    assert set(top[1]) == coverage, format_report(mixed)
    assert "(matched in redshift and S/N only" in format_report(mixed)
    assert "matched in redshift and S/N only" not in format_report(matched)
    assert "from a pool of 120" in format_report(matched)  # each class's 120, all of them


def test_the_pool_grows_with_the_spectra_to_match() -> None:
    """POOL_PER_MATCH synthetic spectra per matched one, so that many real spectra do not
    exhaust the pool (the matches then drift off in S/N); a few keep ``pool``."""
    from bench_plugins.synthetic.realism import POOL_PER_MATCH

    kw = {"n": 200, "classes": ["QSO"]}
    synthetic = Synthetic(seed=1, **kw).open()
    second = Synthetic(seed=2, **kw).open()
    many = realism_report(synthetic, ArraySource(second.read(np.arange(30))), pool=30,
                          per_real=1, trees=20)  # fmt: skip
    few = realism_report(synthetic, ArraySource(second.read(np.arange(6))), pool=30,
                         per_real=1, trees=20)  # fmt: skip
    assert many["classes"]["QSO"]["n_pool"] == POOL_PER_MATCH * 30
    assert few["classes"]["QSO"]["n_pool"] == 30
