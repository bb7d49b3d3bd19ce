"""Every user mistake is one line naming the file or key, exit 2, nothing half-written; names
and labels are escaped wherever they are printed; a really full or read-only disk (a small
tmpfs, where this platform lets us mount one) loses no finished cell."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cli import main
from bench.results.report import load_report
from tests.test_resume import TOY_CONFIG

CELL = "toy__centroid__f0.7__e1__s0"


@pytest.fixture(autouse=True)
def _no_html(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.results import html as html_report

    monkeypatch.setattr(html_report, "write_html", lambda report, out_dir: None)


def _mount(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "small", "size=1m")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "ro", "ro,size=1m")


def _one_error_line(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _config(tmp_path: Path, text: str = TOY_CONFIG) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def cell(toy_registry, tmp_path: Path) -> Path:
    assert main(["run", str(_config(tmp_path)), "--out", str(tmp_path / "run")]) == 0
    return tmp_path / "run" / "cells" / CELL


def _predict(cell: Path, out: Path) -> int:
    return main(["predict", str(cell), str(cell.parent), "--out", str(out)])


def test_predict_with_a_missing_model_file(cell, tmp_path, capsys):
    (cell / "model" / "centroids.npy").unlink()
    assert _predict(cell, tmp_path / "p.csv") == 2
    _one_error_line(capsys, "model", "cannot load the model")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("key", ["classes", "grid", "model"])
def test_predict_with_a_cell_json_without_its_keys(cell, tmp_path, capsys, key):
    config = json.loads((cell / "cell.json").read_text())
    del config[key]
    (cell / "cell.json").write_text(json.dumps(config))
    assert _predict(cell, tmp_path / "p.csv") == 2
    _one_error_line(capsys, "cell.json", repr(key))


def test_predict_with_a_cell_of_an_unknown_renderer(cell, tmp_path, capsys):
    config = json.loads((cell / "cell.json").read_text())
    config["pipeline"]["renderer"]["name"] = "hologram"
    (cell / "cell.json").write_text(json.dumps(config))
    assert _predict(cell, tmp_path / "p.csv") == 2
    _one_error_line(capsys, "cell.json", "hologram")


def test_predict_out_a_folder_fails_before_any_work(cell, tmp_path, capsys, monkeypatch):
    from bench.run import predict_checks

    monkeypatch.setattr(predict_checks, "get_registry", lambda: pytest.fail("work started"))
    assert _predict(cell, tmp_path) == 2
    _one_error_line(capsys, "--out", "is a folder")
    assert _predict(cell, tmp_path / "missing" / "p.csv") == 2
    _one_error_line(capsys, "does not exist")


def test_predict_out_read_only(cell, read_only, capsys):
    assert _predict(cell, read_only / "p.csv") == 2
    _one_error_line(capsys, "--out", "not writable")


def test_ingest_into_a_read_only_folder(read_only, tmp_path, capsys):
    from tests.fixtures.sdss_files import write_spec_lite

    write_spec_lite(tmp_path / "data" / "a.fits")
    assert main(["data", "ingest", str(tmp_path / "data"), "--cache", str(read_only / "c")]) == 2
    _one_error_line(capsys, str(read_only))


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not a zip", b"\x93NUMPY"])
def test_a_corrupt_cache_index(tmp_path, capsys, damage):
    from tests.fixtures.sdss_files import write_spec_lite

    write_spec_lite(tmp_path / "data" / "a.fits")
    cache = tmp_path / "cache"
    assert main(["data", "ingest", str(tmp_path / "data"), "--cache", str(cache)]) == 0
    table = json.loads((cache / "index.json").read_text())["table"]
    (cache / table).write_bytes(damage)
    capsys.readouterr()
    assert main(["data", "ingest", str(tmp_path / "data"), "--cache", str(cache)]) == 2
    _one_error_line(capsys, "index.json", "not a readable spectrum cache index")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("seeds = [0, 1]", "seeds = [-1]"), ["seeds", "-1"]),
        (('name = "toy"\n\n[dataset]', 'name = "../../x"\n\n[dataset]'), ["[benchmark].name"]),
        (('name = "toy"\n\n[dataset]', 'name = "a\\u0000b"\n\n[dataset]'), ["[benchmark].name"]),
        (('name = "toy"\n\n[dataset]', f'name = "{"x" * 300}"\n\n[dataset]'), ["100"]),
        (('name = "centroid"', 'name = "centroid"\nlabel = "a\\nb"'), ["label"]),
        (("n = 60", "n = 100000000000000000"), ["n: 100000000000000000", "<= 10000000"]),
    ],
)
def test_config_mistakes_are_one_line_before_anything_is_written(
    toy_registry, tmp_path, capsys, change, words
):
    text = TOY_CONFIG.replace(*change)
    if "<= 10000000" in words:  # the synthetic dataset's bound
        text = text.replace('name = "toy"\nn =', 'name = "synthetic"\nn =')
    config = _config(tmp_path, text)
    output = tmp_path / "deep" / "er"
    output.mkdir(parents=True)
    text = config.read_text().replace("[benchmark]", f'[benchmark]\noutput = "{output}"')
    config.write_text(text)
    assert main(["validate", str(config)]) == 2
    _one_error_line(capsys, str(config), *words)
    assert main(["run", str(config)]) == 2
    _one_error_line(capsys, *words)
    assert not list(tmp_path.glob("deep/**/*.json")) and not (tmp_path / "x").exists()


def _rendered(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_names_and_labels_are_escaped_in_markdown_and_on_the_console(
    toy_registry, tmp_path, capsys
):
    text = TOY_CONFIG.replace(
        'name = "toy"\n\n[dataset]', 'name = "[red]loud[bold] <b>x"\n\n[dataset]'
    )
    text = text.replace(
        'name = "centroid"', 'name = "centroid"\nlabel = "<img src=x onerror=alert(1)>|c"'
    )
    out = tmp_path / "run"
    assert main(["run", str(_config(tmp_path, text)), "--out", str(out)]) == 0
    assert "[red]loud[bold]" in capsys.readouterr().out  # shown as written, not styled
    md = (out / "report.md").read_text()
    assert "\\<img" in md and "\\<b>" in md and "&lt;" not in md  # plain text in a terminal
    assert "<img" not in _rendered(md) and "<b>" not in _rendered(md)  # no tag once rendered
    assert main(["leaderboard", str(out), "--format", "md"]) == 0
    board = capsys.readouterr().out
    assert "<img" not in _rendered(board) and "\\<img" in board and "\\|c" in board
    current = json.loads((out / "report.json").read_text())
    for r in current["results"]:
        r["metrics"]["accuracy"] -= 0.5
    (tmp_path / "current.json").write_text(json.dumps(current))
    assert main(["compare", str(out / "report.json"), str(tmp_path / "current.json")]) == 1
    table = capsys.readouterr().out
    assert "\\<img" in table and "<img" not in _rendered(table)


def test_a_really_full_disk_loses_no_finished_cell(toy_registry, tmp_path, small_disk, capsys):
    """A 1 MB tmpfs filled up to a few kB: cells fail or the report cannot be written, but
    nothing half-written is left, and once there is room a rerun reuses what finished."""
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(free - 40_000, 0))
    config, out = _config(tmp_path), small_disk / "run"
    code = main(["run", str(config), "--out", str(out)])
    capsys.readouterr()
    assert code in (1, 2)  # cells failed (1) or the report could not be written (2)
    cells = out / "cells"
    assert not list(cells.glob(".tmp-*")) and not list(cells.glob(".old-*"))
    finished = {p.name for p in cells.iterdir()} if cells.exists() else set()
    for name in finished:
        assert json.loads((cells / name / "metrics.json").read_text())["status"] == "ok"
    filler.unlink()
    assert main(["run", str(config), "--out", str(out)]) == 0
    report = load_report(out / "report.json")
    assert report["summary"]["ok"] == 4
    assert {r["cell"]["id"] for r in report["results"] if r["reused"]} == finished


@pytest.mark.parametrize("where", ["benchmark", "model label", "dataset label"])
def test_names_of_only_spaces_are_refused_at_config_load(toy_registry, tmp_path, capsys, where):
    text = {
        "benchmark": TOY_CONFIG.replace('name = "toy"\n\n[dataset]', 'name = "   "\n\n[dataset]'),
        "model label": TOY_CONFIG.replace('name = "centroid"', 'name = "centroid"\nlabel = " "'),
        "dataset label": TOY_CONFIG.replace(
            '[dataset]\nname = "toy"', '[dataset]\nname = "toy"\nlabel = "  "'
        ),
    }[where]
    assert text != TOY_CONFIG
    config = _config(tmp_path, text)
    assert main(["validate", str(config)]) == 2
    _one_error_line(capsys, "not only spaces")
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    _one_error_line(capsys, "not only spaces")
    assert not (tmp_path / "run").exists()
