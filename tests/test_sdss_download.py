"""SAS downloads against a loopback HTTP server: happy path, drops, truncation, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.errors import BenchError
from bench_plugins.sdss.download import download_spectra, fetch, spectrum_url
from tests.fixtures.sdss_files import spec_name, write_spec_lite
from tests.httpserver import Behaviour, serve

RUN2D = "v5_13_2"


def _url_path(plate: int, mjd: int, fiber: int) -> str:
    return (
        f"/dr17/eboss/spectro/redux/{RUN2D}/spectra/lite/{plate:04d}/{spec_name(plate, mjd, fiber)}"
    )


def _sas_file(path: Path, plate: int, mjd: int, fiber: int, header_ids=None) -> bytes:
    """A spec-lite file with the four HDUs SAS serves (PRIMARY, COADD, SPALL, SPZLINE);
    ``header_ids`` puts PLATEID/MJD/FIBERID cards in the primary header."""
    from astropy.io import fits

    write_spec_lite(path, plate=plate, mjd=mjd, fiber=fiber, seed=fiber)
    with fits.open(path) as hdul:
        zline = fits.BinTableHDU.from_columns(
            [fits.Column(name="LINEWAVE", format="D", array=np.array([6564.6, 4862.7]))],
            name="SPZLINE",
        )
        hdus = fits.HDUList([h.copy() for h in hdul] + [zline])
    if header_ids is not None:
        for card, value in zip(("PLATEID", "MJD", "FIBERID"), header_ids, strict=True):
            hdus[0].header[card] = value
    hdus.writeto(path, overwrite=True)
    return path.read_bytes()


@pytest.fixture
def served(tmp_path: Path) -> dict[str, bytes]:
    """Three small spec-lite files keyed by their SAS URL path."""
    return {
        _url_path(3586, 55181, fiber): _sas_file(
            tmp_path / "src" / f"{fiber}.fits", 3586, 55181, fiber
        )
        for fiber in (1, 2, 3)
    }


TARGETS = [(3586, 55181, 1), (3586, 55181, 2), (3586, 55181, 3)]


def test_spectrum_url_templates() -> None:
    assert spectrum_url(3586, 55181, 1, "dr12") == (
        "https://data.sdss.org/sas/dr12/boss/spectro/redux/v5_7_0/spectra/lite/3586/spec-3586-55181-0001.fits"
    )
    assert spectrum_url(266, 51602, 13, "dr17", run2d="26", base_url="http://m/sas/").startswith(
        "http://m/sas/dr17/sdss/spectro/redux/26/spectra/lite/0266/spec-0266-51602-0013"
    )
    with pytest.raises(BenchError, match="dr99"):
        spectrum_url(1, 2, 3, "dr99")
    with pytest.raises(BenchError, match="run2d"):
        spectrum_url(1, 2, 3, "dr17", run2d="../../etc")


def test_happy_path_downloads_all_and_reports_progress(
    tmp_path: Path, served: dict[str, bytes]
) -> None:
    behaviour = Behaviour(dict(served))
    seen: list[tuple[int, int, str]] = []
    with serve(behaviour) as base:
        summary = download_spectra(
            TARGETS, tmp_path / "out", base_url=base, workers=3, backoff=0.01,
            progress=lambda done, total, r: seen.append((done, total, r.status)),
        )  # fmt: skip
    assert summary.count("downloaded") == 3 and summary.failures == []
    for plate, mjd, fiber in TARGETS:
        got = (tmp_path / "out" / spec_name(plate, mjd, fiber)).read_bytes()
        assert got == served[_url_path(plate, mjd, fiber)]
    assert sorted(d for d, _, _ in seen) == [1, 2, 3] and {t for _, t, _ in seen} == {3}
    assert not list((tmp_path / "out").glob("*.part"))
    with serve(behaviour) as base:  # a second run finds them all in place
        again = download_spectra(TARGETS, tmp_path / "out", base_url=base, backoff=0.01)
    assert again.count("skipped") == 3


def test_dropped_connection_is_retried_and_resumed(
    tmp_path: Path, served: dict[str, bytes]
) -> None:
    path = _url_path(*TARGETS[0])
    behaviour = Behaviour(dict(served), drop={path: 2})
    with serve(behaviour) as base:
        summary = download_spectra(TARGETS[:1], tmp_path, base_url=base, retries=3, backoff=0.01)
    result = summary.results[0]
    assert result.status == "downloaded" and result.attempts == 3
    assert (tmp_path / spec_name(*TARGETS[0])).read_bytes() == served[path]
    ranges = [r for p, r in behaviour.requests if p == path]
    assert ranges[0] is None and all(r is not None and r != "bytes=0-" for r in ranges[1:])


def test_truncated_file_is_detected_and_not_kept(tmp_path: Path, served: dict[str, bytes]) -> None:
    path = _url_path(*TARGETS[1])
    behaviour = Behaviour(dict(served), truncate={path})
    with serve(behaviour) as base:
        summary = download_spectra(TARGETS, tmp_path, base_url=base, retries=1, backoff=0.01)
    assert summary.count("downloaded") == 2
    [(url, reason)] = summary.failures
    assert url.endswith(path) and "not a valid spectrum" in reason
    assert not (tmp_path / spec_name(*TARGETS[1])).exists()
    assert not list(tmp_path.glob("*.part"))


def test_resume_from_existing_part_file(tmp_path: Path, served: dict[str, bytes]) -> None:
    path = _url_path(*TARGETS[2])
    body = served[path]
    final = tmp_path / spec_name(*TARGETS[2])
    final.with_name(final.name + ".part").write_bytes(body[:1000])
    behaviour = Behaviour(dict(served))
    with serve(behaviour) as base:
        result = fetch(base + path, final, retries=0)
    assert result.status == "downloaded" and final.read_bytes() == body
    assert behaviour.requests == [(path, "bytes=1000-")]


def test_missing_file_fails_without_retrying(tmp_path: Path, served: dict[str, bytes]) -> None:
    behaviour = Behaviour(dict(served))
    with serve(behaviour) as base:
        summary = download_spectra(
            [(9999, 59999, 9)], tmp_path, base_url=base, retries=3, backoff=0.01
        )
    assert summary.failures[0][1].startswith("HTTP 404") and len(behaviour.requests) == 1


def test_downloaded_files_read_back(tmp_path: Path, served: dict[str, bytes]) -> None:
    from bench.readers import read_spectrum

    with serve(Behaviour(dict(served))) as base:
        download_spectra(TARGETS, tmp_path, base_url=base, backoff=0.01)
    spec = read_spectrum(tmp_path / spec_name(*TARGETS[0]))
    assert spec.id == "3586-55181-0001" and np.all(spec.ivar > 0)


@pytest.mark.parametrize("base_url", ["file:///etc", "ftp://example.org/sas", "sas.example.org"])
def test_downloads_only_over_http(base_url):
    from bench_plugins.sdss.download import spectrum_url

    with pytest.raises(BenchError, match="expected an http:// or https:// address"):
        spectrum_url(1, 2, 3, "dr17", base_url=base_url)


def test_a_download_cut_inside_its_last_hdu_without_a_length_is_resumed(
    tmp_path: Path, served: dict[str, bytes]
) -> None:
    path = _url_path(*TARGETS[0])
    behaviour = Behaviour(dict(served), cut={path: 2})
    with serve(behaviour) as base:
        summary = download_spectra(TARGETS[:1], tmp_path, base_url=base, backoff=0.0)
    assert summary.count("downloaded") == 1, summary.failures
    assert (tmp_path / spec_name(*TARGETS[0])).read_bytes() == served[path]
    ranges = [r for p, r in behaviour.requests if p == path]
    assert ranges[0] is None and ranges[1] is not None  # resumed, not started over


def test_a_download_that_stays_cut_fails_and_is_not_kept(
    tmp_path: Path, served: dict[str, bytes]
) -> None:
    path = _url_path(*TARGETS[0])
    behaviour = Behaviour(dict(served), cut={path: 99})
    with serve(behaviour) as base:
        summary = download_spectra(TARGETS[:1], tmp_path, base_url=base, backoff=0.0, retries=1)
    assert summary.count("failed") == 1
    assert "incomplete download (HDU" in summary.failures[0][1]
    assert not (tmp_path / spec_name(*TARGETS[0])).exists()


def test_dest_that_is_a_file_is_one_line(tmp_path: Path, capsys) -> None:
    from bench.cli import main

    sample, dest = tmp_path / "sample.csv", tmp_path / "dest"
    sample.write_text("plate,mjd,fiber,class,z\n1000,55000,1,QSO,1.0\n")
    dest.write_text("not a folder")
    assert main(["data", "download", str(sample), "--dest", str(dest)]) == 2
    err = capsys.readouterr().err
    assert "is a file; give a folder" in err and "Traceback" not in err


def _hdu_boundaries(body: bytes) -> list[int]:
    """Byte offsets where each HDU after the first starts."""
    import io

    from astropy.io import fits

    with fits.open(io.BytesIO(body)) as hdul:
        return [hdul.fileinfo(i)["hdrLoc"] for i in range(1, len(hdul))]


@pytest.mark.parametrize("hdus", [2, 3])
def test_a_file_cut_at_an_hdu_boundary_with_a_length_is_refused(
    tmp_path: Path, served: dict[str, bytes], hdus: int
) -> None:
    path = _url_path(*TARGETS[0])
    cut = served[path][: _hdu_boundaries(served[path])[hdus - 1]]  # a whole FITS of `hdus` HDUs
    with serve(Behaviour({path: cut})) as base:
        summary = download_spectra(
            TARGETS[:1], tmp_path / "out", base_url=base, backoff=0.0, retries=1
        )
    [(_, reason)] = summary.failures
    assert f"{hdus} HDUs" in reason and "SPZLINE" in reason
    assert not list((tmp_path / "out").iterdir())  # neither the file nor a .part


class _BoundaryCut:
    """Serves ``body`` cut at ``at`` bytes with no Content-Length for the first ``times``
    plain requests, then honours Range requests with the rest."""

    def __init__(self, body: bytes, at: int, times: int) -> None:
        self.body, self.at, self.times, self.ranges = body, at, times, []

    def __enter__(self) -> str:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                rng = self.headers.get("Range")
                state.ranges.append(rng)
                start = int(rng[6:-1]) if rng else 0
                if state.times > 0:
                    state.times -= 1
                    self.send_response(206 if rng else 200)
                    self.end_headers()
                    self.wfile.write(state.body[start : state.at])
                    self.close_connection = True
                    return
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(state.body) - start))
                self.end_headers()
                self.wfile.write(state.body[start:])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_file_cut_at_an_hdu_boundary_without_a_length_is_resumed_or_refused(
    tmp_path: Path, served: dict[str, bytes]
) -> None:
    path = _url_path(*TARGETS[0])
    body = served[path]
    at = _hdu_boundaries(body)[1]  # PRIMARY + COADD: a whole FITS file, half a spectrum
    server = _BoundaryCut(body, at, times=1)
    with server as base:
        summary = download_spectra(TARGETS[:1], tmp_path / "a", base_url=base, backoff=0.0)
    assert summary.count("downloaded") == 1, summary.failures
    assert (tmp_path / "a" / spec_name(*TARGETS[0])).read_bytes() == body
    assert server.ranges == [None, f"bytes={at}-"]  # resumed where the cut was
    with _BoundaryCut(body, at, times=99) as base:
        summary = download_spectra(
            TARGETS[:1], tmp_path / "b", base_url=base, backoff=0.0, retries=1
        )
    [(_, reason)] = summary.failures
    assert "incomplete download" in reason and "no SPALL or SPECOBJ, SPZLINE HDU" in reason
    assert not (tmp_path / "b" / spec_name(*TARGETS[0])).exists()  # only the .part, to resume


@pytest.mark.parametrize("where", ["header", "spall"])
def test_a_file_of_another_object_is_refused(tmp_path: Path, where: str) -> None:
    plate, mjd, fiber = TARGETS[0]
    if where == "header":  # the cards say fiber 7; the SPALL row agrees with the name
        body = _sas_file(tmp_path / "x.fits", plate, mjd, fiber, header_ids=(plate, mjd, 7))
    else:  # no cards; the SPALL row is fiber 7's
        body = _sas_file(tmp_path / "x.fits", plate, mjd, 7)
    with serve(Behaviour({_url_path(*TARGETS[0]): body})) as base:
        summary = download_spectra(TARGETS[:1], tmp_path / "out", base_url=base, retries=0)
    [(_, reason)] = summary.failures
    assert f"names another object: plate-mjd-fiber {plate}-{mjd}-7" in reason
    assert not list((tmp_path / "out").iterdir())


def test_header_cards_that_match_are_accepted(tmp_path: Path) -> None:
    body = _sas_file(tmp_path / "x.fits", *TARGETS[0], header_ids=TARGETS[0])
    with serve(Behaviour({_url_path(*TARGETS[0]): body})) as base:
        summary = download_spectra(TARGETS[:1], tmp_path / "out", base_url=base, retries=0)
    assert summary.count("downloaded") == 1, summary.failures


@pytest.mark.parametrize("existing", [b"", b"SIMPLE  =  garbage", "half"])
def test_an_empty_or_invalid_file_in_place_is_fetched_again(
    tmp_path: Path, served: dict[str, bytes], existing
) -> None:
    path = _url_path(*TARGETS[0])
    final = tmp_path / spec_name(*TARGETS[0])
    final.write_bytes(
        served[path][: _hdu_boundaries(served[path])[1]] if existing == "half" else existing
    )
    behaviour = Behaviour(dict(served))
    with serve(behaviour) as base:
        summary = download_spectra(TARGETS[:1], tmp_path, base_url=base, retries=0)
    assert summary.count("downloaded") == 1 and summary.count("skipped") == 0
    assert final.read_bytes() == served[path] and len(behaviour.requests) == 1
