"""report.html: self-contained, escaped, with the plots; opened in headless chromium."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.results.html import write_html
from bench.results.report import load_report
from tests.test_leaderboard import with_errors, write_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Y = np.tile(np.arange(3), 100)
REDSHIFT = np.random.default_rng(0).uniform(0.0, 3.5, len(Y))
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


class Images(HTMLParser):
    """The decoded bytes of every ``<img src="data:image/png;base64,...">``."""

    def __init__(self) -> None:
        super().__init__()
        self.pngs: list[bytes] = []
        self.other_sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        src = dict(attrs).get("src") or ""
        if tag == "img" and src.startswith("data:image/png;base64,"):
            self.pngs.append(base64.b64decode(src.split(",", 1)[1], validate=True))
        elif tag in ("img", "script", "link", "iframe"):
            self.other_sources.append(src)


def figure_kinds(html: str) -> list[str]:
    """What each figure shows, from its alt text ("kind: title")."""
    alts = re.findall(r'<img alt="([^"]*)"', html)
    return [alt.split(":")[0] for alt in alts]


def images(html: str) -> Images:
    parser = Images()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def paper_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two models at two train fractions, with redshifts: two groups of three figures."""
    tmp_path = tmp_path_factory.mktemp("paper")
    for fraction in (0.6, 0.8):
        write_run(
            tmp_path / f"f{fraction}",
            Y,
            {"resnet50": with_errors(Y, np.arange(30)), "mnist": with_errors(Y, np.arange(90))},
            plugin="resnet50",
            fraction=fraction,
            redshift=REDSHIFT,
        )
    a = load_report(tmp_path / "f0.6" / "report.json")
    b = load_report(tmp_path / "f0.8" / "report.json")
    a["results"] += b["results"]
    return write_html(a, tmp_path)


def test_html_is_self_contained_with_three_figures_per_split(paper_html):
    html = paper_html.read_text()
    found = images(html)
    # confusion grid, loss curves, recall versus redshift for each of two train fractions
    assert len(found.pngs) == 6
    assert all(png.startswith(PNG_SIGNATURE) and len(png) > 1000 for png in found.pngs)
    assert found.other_sources == []  # nothing loaded from outside the file
    assert "http://" not in html and "https://" not in html


def test_paper_section_places_published_figures_beside_ours(paper_html):
    html = paper_html.read_text()
    assert "Lara Cruz &amp; García 2024" in html
    report = load_report(paper_html.parent / "f0.8" / "report.json")
    star = next(r for r in report["results"] if r["cell"]["model"] == "resnet50")
    recall = star["metrics"]["per_class"]["STAR"]["recall"]
    # the row for the paper's 83 % ResNet 50 stars at 80/20 quotes our STAR recall
    row = next(tr for tr in html.split("<tr>") if "RESNET 50" in tr and "83%" in tr)
    assert f"rec {recall:.2f}" in row
    md = (paper_html.parent / "f0.8" / "report.md").read_text()
    md_row = next(line for line in md.splitlines() if "RESNET 50 | 0.8 | STAR" in line)
    assert "| 83% |" in md_row and f"rec {recall:.2f}" in md_row
    # the paper measured real SDSS spectra, this run synthetic ones: both pages say so
    assert "real SDSS spectra" in md and "real SDSS spectra" in html
    paper_rows = md.split("## Published figures")[1]
    assert "| None |" not in paper_rows and "| not stated |" in paper_rows
    assert ">None<" not in html


def test_every_string_from_the_run_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    path = write_run(
        tmp_path / "run",
        Y,
        {evil: with_errors(Y, np.arange(10)), "$x^$": Y.copy()},
        failed={"bad": '<img src=x onerror="alert(2)">'},
    )
    html = write_html(load_report(path), path.parent).read_text()
    assert "<script" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "onerror=&quot;alert(2)&quot;" in html
    md = (path.parent / "report.md").read_text()
    from markdown_it import MarkdownIt

    assert "\\<script>" in md and "&lt;" not in md  # plain text in a terminal
    assert "<script" not in MarkdownIt("commonmark").enable("table").render(md)


def test_html_from_a_real_run(toy_registry, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text(
        textwrap.dedent(
            """
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
            """
        )
    )
    main(["run", str(config), "--out", str(tmp_path / "run")])
    report = load_report(tmp_path / "run" / "report.json")
    html = write_html(report, tmp_path / "run").read_text()
    # one split: grid, curves, then from predictions.csv: ROC/PR, coverage, completeness/purity
    # versus redshift and S/N (the toy dataset knows no magnitude; the model makes no mistake)
    assert figure_kinds(html) == [
        "confusion matrices",
        "loss and accuracy curves",
        "ROC and precision-recall",
        "accuracy against coverage",
        "completeness and purity versus redshift",
        "completeness and purity versus median S/N per pixel",
    ]
    assert report["results"][0]["cell"]["id"] in html


def chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]  # fmt: skip
    return subprocess.run(
        [str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120, check=True
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_with_its_plots_in_headless_chromium(paper_html, tmp_path):
    from PIL import Image

    page = paper_html.resolve()
    dom = chromium("--dump-dom", page.as_uri(), tmp=tmp_path).stdout
    found = images(dom)
    assert len(found.pngs) == 6
    sizes = [Image.open(io.BytesIO(png)).size for png in found.pngs]
    assert all(w > 200 and h > 200 for w, h in sizes)
    assert "Published figures" in dom

    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri(), tmp=tmp_path)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (2000, 1200)
    non_white = (pixels.min(axis=2) < 240).mean()
    # the confusion matrices are drawn in blues: plenty of clearly blue pixels on screen
    blue = ((pixels[..., 2] - pixels[..., 0]) > 60).mean()
    assert non_white > 0.05
    assert blue > 0.01


FULL = """
[dataset]
name = "toy"
n = 150
noise = 8.0
facts = true
[render]
name = "flat"
[[models]]
name = "centroid"
render = { name = "flat" }
[protocol]
epochs = [1, 2]
seeds = [0, 1]
"""
EVERY_FIGURE = [
    "confusion matrices",
    "loss and accuracy curves",
    "ROC and precision-recall",
    "accuracy against coverage",
    "completeness and purity versus redshift",
    "completeness and purity versus median S/N per pixel",
    "completeness and purity versus magnitude",
    "mistakes gallery",
]


@pytest.fixture(scope="module")
def full_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose source knows z, S/N and magnitude, with mistakes and two seeds."""
    from bench.plugins import manager
    from tests.plugins import toy

    tmp = tmp_path_factory.mktemp("full")
    (tmp / "bench.toml").write_text(textwrap.dedent(FULL))
    with manager.using_registry(manager.get_registry(extra=[toy], third_party=False)):
        assert main(["run", str(tmp / "bench.toml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run" / "report.html"


def test_every_figure_is_in_the_report(full_html):
    kinds = figure_kinds(full_html.read_text())
    for seed in (0, 1):  # one group of figures per seed, in order
        assert kinds[seed * len(EVERY_FIGURE) : (seed + 1) * len(EVERY_FIGURE)] == EVERY_FIGURE
    assert kinds[-1] == "across seeds"
    assert full_html.stat().st_size < 2_000_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_every_figure_is_visible_in_headless_chromium(full_html, tmp_path):
    from PIL import Image

    dom = chromium("--dump-dom", full_html.resolve().as_uri(), tmp=tmp_path).stdout
    assert set(figure_kinds(dom)) == {*EVERY_FIGURE, "across seeds"}
    for png in images(dom).pngs:  # each figure decodes and is drawn (not blank)
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
        assert min(pixels.shape) > 150 and pixels.std() > 10
    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,9000", full_html.resolve().as_uri(),
             tmp=tmp_path)  # fmt: skip
    pixels = np.asarray(Image.open(shot).convert("L")).astype(int)
    inked_rows = (pixels < 200).any(axis=1)
    # figures all the way down the page: ink in every 1000-pixel band of the first 8000
    assert all(inked_rows[k : k + 1000].any() for k in range(0, 8000, 1000))


def test_figures_use_the_tables_bins_and_intervals_and_a_colour_blind_safe_palette():
    """Completeness in the figure comes from the same bins and Wilson intervals as the
    table; a bin of one or two objects still has a bar; Okabe-Ito colours with markers;
    no ``z=-0.000``; padded pixels are not drawn as zeros."""
    from bench.results import figures, plots
    from bench.results.bins import binned, wilson

    classes = ["STAR", "GALAXY", "QSO"]
    true = np.array(["QSO"] * 21 + ["STAR", "GALAXY"])
    predicted = np.array(["QSO"] * 20 + ["STAR", "STAR", "GALAXY"])
    z = np.array([2.5] * 21 + [0.0, 0.05])
    p = {"true": true, "predicted": predicted, "redshift": z}
    rows = figures.bins_of(p, classes, "redshift")
    y_true = np.array([classes.index(t) for t in true])
    y_pred = np.array([classes.index(t) for t in predicted])
    assert rows == binned(y_true, y_pred, classes, z, "redshift")  # the table's rows
    y, err = plots.wilson_bars(
        [b["recall"]["GALAXY"] for b in rows], [b["recall_interval"]["GALAXY"] for b in rows]
    )
    few = [i for i, b in enumerate(rows) if b["support"]["GALAXY"] == 1]
    assert few and all(err[:, i].sum() > 0.5 for i in few)  # one object: a wide bar
    assert rows[few[0]]["recall_interval"]["GALAXY"] == wilson(1, 1)
    assert plots.PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")  # Okabe-Ito
    assert len({plots.style(k)["marker"] for k in range(len(plots.PALETTE))}) == len(plots.PALETTE)
    assert figures.z_text(-0.00001) == "z=0.000" and figures.z_text(float("nan")) == "z unknown"
    flux = np.array([0, 0, 1.5, 0.0, 2.0, 0, 0], dtype=np.float16)
    drawn = figures.drawn_flux(flux)
    assert np.isnan(drawn[[0, 1, 5, 6]]).all() and drawn[3] == 0.0  # interior zero is data
    ivar = np.array([1, 1, 1, 0, 1, 1, 1])
    assert np.isnan(figures.drawn_flux(flux, ivar)[3])


def test_figures_are_150_dpi(tmp_path):
    from PIL import Image

    from bench.results import figures

    rng = np.random.default_rng(0)
    true = rng.choice(["STAR", "GALAXY", "QSO"], 60)
    proba = rng.dirichlet([1, 1, 1], 60)
    p = {"true": true, **{f"p_{c}": proba[:, k] for k, c in enumerate(["STAR", "GALAXY", "QSO"])}}
    png = figures.risk_coverage([({"cell": {"model": "m"}}, p)], ["STAR", "GALAXY", "QSO"], "t")
    assert png is not None
    image = Image.open(io.BytesIO(png))
    assert round(image.info["dpi"][0]) == 150 and image.size[0] >= 6 * 150


def test_the_transfer_table_escapes_what_comes_from_the_run():
    from bench.results.html import transfer_html

    row = {"model": "<script>x</script>", "cell_id": "c", "validation_accuracy": 0.9}
    row |= {"validation_interval": [0.8, 0.95], "n_validation": 40, "test_accuracy": 0.6}
    row |= {"test_interval": None, "n_test": 50, "gap": 0.3}
    group = {"dataset": "syn<", "test_dataset": "real&", "train_fraction": 0.8, "epochs": 1}
    group |= {"seed": 0, "models": [row], "kendall_tau": None, "tau_interval": None}
    group["note"] = "Kendall tau undefined: 1 model; a rank agreement needs at least 3"
    page = transfer_html({"transfer": {"groups": [group]}})
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "syn&lt; validation against real&amp; test" in page
    assert "<td>0.900 [0.800, 0.950]</td>" in page and "<td>0.600</td>" in page
    assert "<td>+0.300</td>" in page
    assert "Kendall tau undefined: 1 model;" in page
    assert transfer_html({"results": []}) == ""
