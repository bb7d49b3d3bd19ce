"""Download spec-lite files from the SDSS Science Archive Server (SAS): resumable, concurrent.

Each file is written to ``NAME.part`` (resumed with an HTTP Range request after a dropped
connection), checked to be whole (every HDU a spec-lite file has: PRIMARY, COADD,
SPALL/SPECOBJ, SPZLINE), to be the object asked for (PLATEID/MJD/FIBERID cards) and a
readable spectrum, then renamed to ``NAME``. A file already at ``NAME`` is kept only when
it passes the same checks (an empty or damaged file is fetched again). Failures never
stop the other files; they come back in :class:`DownloadSummary`. No terminal output:
pass ``progress`` to show it.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.errors import BenchError
from bench.readers import read_spectrum

SAS_BASE_URL = "https://data.sdss.org/sas"
# release -> (survey folder, default run2d) of the BOSS/eBOSS spec-lite files.
RELEASES = {
    "dr12": ("boss", "v5_7_0"),
    "dr13": ("eboss", "v5_9_0"),
    "dr14": ("eboss", "v5_10_0"),
    "dr16": ("eboss", "v5_13_0"),
    "dr17": ("eboss", "v5_13_2"),
}
LEGACY_RUN2D = {"26", "103", "104"}  # SDSS-I/II spectra live under sas/<release>/sdss/
URL_TEMPLATE = "{base}/{release}/{survey}/spectro/redux/{run2d}/spectra/lite/{plate:04d}/{name}"
_RUN2D = re.compile(r"^[A-Za-z0-9_.]+$")
_NAME = re.compile(r"spec-(\d+)-(\d+)-(\d+)\.fits", re.IGNORECASE)
# HDUs of a spec-lite file by name; any one name of a tuple will do.
SPEC_LITE_HDUS = (("PRIMARY",), ("COADD",), ("SPALL", "SPECOBJ"), ("SPZLINE",))
CHUNK = 1 << 20

Target = tuple[int, int, int] | tuple[int, int, int, str]  # plate, mjd, fiber[, run2d]


def spectrum_url(
    plate: int, mjd: int, fiber: int, release: str = "dr17", run2d: str | None = None,
    base_url: str = SAS_BASE_URL,
) -> str:  # fmt: skip
    """The SAS URL of ``spec-PLATE-MJD-FIBER.fits`` (names built from integers only)."""
    if urlsplit(base_url).scheme not in ("http", "https"):
        raise BenchError(f"base_url {base_url!r}: expected an http:// or https:// address")
    if release not in RELEASES:
        raise BenchError(f"release {release!r} is not known; expected one of {sorted(RELEASES)}")
    survey, default_run2d = RELEASES[release]
    run2d = run2d or default_run2d
    if not _RUN2D.match(run2d):
        raise BenchError(f"run2d {run2d!r}: expected letters, digits, '_' or '.' only")
    if run2d in LEGACY_RUN2D:
        survey = "sdss"
    plate, mjd, fiber = int(plate), int(mjd), int(fiber)
    name = f"spec-{plate:04d}-{mjd:05d}-{fiber:04d}.fits"
    return URL_TEMPLATE.format(
        base=base_url.rstrip("/"),
        release=release,
        survey=survey,
        run2d=run2d,
        plate=plate,
        name=name,
    )


@dataclass(frozen=True)
class DownloadResult:
    """The outcome for one file: status is 'downloaded', 'skipped' (already there) or 'failed'."""

    url: str
    path: Path
    status: str
    reason: str = ""
    attempts: int = 0
    nbytes: int = 0


@dataclass
class DownloadSummary:
    """All results, with the failures as (url, reason)."""

    results: list[DownloadResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failures(self) -> list[tuple[str, str]]:
        return [(r.url, r.reason) for r in self.results if r.status == "failed"]


def download_spectra(
    targets: Iterable[Target],
    dest: Path | str,
    *,
    release: str = "dr17",
    base_url: str = SAS_BASE_URL,
    workers: int = 4,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: Callable[[int, int, DownloadResult], None] | None = None,
) -> DownloadSummary:
    """Fetch every target into ``dest`` (``progress(done, total, result)`` after each file)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise BenchError(f"--dest {dest}: is a file; give a folder for the spectra")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(
            f"--dest {dest}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    jobs: list[tuple[str, Path]] = []
    for t in targets:
        run2d = str(t[3]) if len(t) > 3 else None
        url = spectrum_url(t[0], t[1], t[2], release, run2d, base_url)
        jobs.append((url, dest / url.rsplit("/", 1)[1]))
    summary = DownloadSummary()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(fetch, url, path, retries, backoff, timeout) for url, path in jobs]
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            summary.results.append(result)
            if progress is not None:
                progress(done, len(jobs), result)
    return summary


def fetch(
    url: str, path: Path, retries: int = 3, backoff: float = 1.0, timeout: float = 60.0
) -> DownloadResult:
    """Download one file to ``path`` via ``path.part``, resuming and retrying with back-off.

    The file must be the object its name (``spec-PLATE-MJD-FIBER.fits``) asks for."""
    if path.exists() and downloaded_problem(path) is None:
        return DownloadResult(url, path, "skipped")
    part = path.with_name(path.name + ".part")
    reason = ""
    for attempt in range(1, retries + 2):
        try:
            whole = _get(url, part, timeout)
            cut = fits_incomplete(part) or missing_hdus(part)
            if cut and whole:  # every byte the server announced is here: the file is damaged
                raise BenchError(f"{part}: incomplete FITS ({cut})")
            if cut:  # a connection closed early without a Content-Length: resume it
                raise http.client.IncompleteRead(b"", None)
            if problem := downloaded_problem(part, path.name):
                raise BenchError(f"{part}: {problem}")
            os.replace(part, path)
            return DownloadResult(
                url, path, "downloaded", attempts=attempt, nbytes=path.stat().st_size
            )
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            if exc.code == 416:  # the .part is not a prefix of the file any more: start over
                part.unlink(missing_ok=True)
            elif 400 <= exc.code < 500 and exc.code not in (408, 429):
                break  # permanent: missing file, forbidden
        except BenchError as exc:
            reason = f"downloaded file is not a valid spectrum ({str(exc).split(': ', 1)[-1]})"
            part.unlink(missing_ok=True)
        except (
            OSError,
            http.client.HTTPException,
        ) as exc:  # URLError, timeouts, dropped connections
            reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            if part.exists() and (cut := fits_incomplete(part) or missing_hdus(part)):
                reason = f"incomplete download ({cut})"
        if attempt <= retries:
            time.sleep(backoff * 2 ** (attempt - 1))
    return DownloadResult(url, path, "failed", reason=reason, attempts=attempt)


def _get(url: str, part: Path, timeout: float) -> bool:
    """GET ``url`` into ``part``, asking only for the missing bytes when ``part`` exists;
    whether the server said how long the file is (and all of it came)."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have > 0 and response.status == 206
        length = response.headers.get("Content-Length")
        expected = int(length) + (have if resumed else 0) if length is not None else None
        with part.open("ab" if resumed else "wb") as fh:
            while chunk := response.read(CHUNK):
                fh.write(chunk)
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise http.client.IncompleteRead(b"", expected - size)
    return expected is not None


def downloaded_problem(path: Path, name: str | None = None) -> str | None:
    """Why the file at ``path`` is not a whole, readable spec-lite file of the object that
    ``name`` (default: its own name) asks for; ``None`` when it is."""
    try:
        if path.stat().st_size == 0:
            return "empty file"
        cut = fits_incomplete(path) or missing_hdus(path)
        if cut:
            return f"incomplete FITS ({cut})"
        spec = read_spectrum(path)  # the FITS opens and holds a spectrum
        if spec.meta.get("incomplete"):
            return f"incomplete FITS ({spec.meta['incomplete']})"
        return identity_problem(path, name or path.name)
    except BenchError as exc:
        return str(exc).split(": ", 1)[-1]
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"


def missing_hdus(path: Path) -> str | None:
    """Which HDUs of a spec-lite file (:data:`SPEC_LITE_HDUS`, in that order; named or
    not) ``path`` lacks, if any: a file cut exactly at an HDU boundary is a whole FITS
    file, but not a whole spec-lite file."""
    names = hdu_names(path)
    if len(names) >= len(SPEC_LITE_HDUS):
        return None
    lacking = [" or ".join(want) for want in SPEC_LITE_HDUS[len(names) :]]
    return f"{len(names)} HDUs ({', '.join(names)}); no {', '.join(lacking)} HDU"


def hdu_names(path: Path) -> list[str]:
    """EXTNAME of every HDU (PRIMARY for the first), read from the headers alone."""
    from astropy.io import fits

    try:
        with fits.open(path, lazy_load_hdus=True) as hdul:
            return [str(h.name).strip().upper() or "(unnamed)" for h in hdul]
    except Exception as exc:  # astropy raises OSError, ValueError, ... on bad bytes
        raise BenchError(f"{path}: unreadable FITS file ({' '.join(str(exc).split())})") from None


def identity_problem(path: Path, name: str) -> str | None:
    """Whether the object in ``path`` (PLATEID/MJD/FIBERID cards of the primary header, else
    the PLATE/MJD/FIBERID columns of its SPALL/SPECOBJ row) is the one ``name`` asks for."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    wanted = tuple(int(g) for g in match.groups())
    found = file_identity(path)
    if found is None:
        return "no PLATEID/MJD/FIBERID in its header or PLATE/MJD/FIBERID in its SPALL row"
    if found != wanted:
        got = "-".join(str(v) for v in found)
        return f"names another object: plate-mjd-fiber {got}, expected {'-'.join(match.groups())}"
    return None


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """(plate, mjd, fiber) by card name from the primary header, else from the class row."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        header = hdul[0].header
        if all(k in header for k in ("PLATEID", "MJD", "FIBERID")):
            return int(header["PLATEID"]), int(header["MJD"]), int(header["FIBERID"])
        for hdu in hdul[1:]:
            if str(hdu.name).upper() not in ("SPALL", "SPECOBJ") or not len(hdu.data):
                continue
            names = {c.upper(): c for c in hdu.columns.names}
            if all(k in names for k in ("PLATE", "MJD", "FIBERID")):
                row = hdu.data[0]
                plate, mjd, fiber = (int(row[names[k]]) for k in ("PLATE", "MJD", "FIBERID"))
                return plate, mjd, fiber
    return None


BLOCK = 2880  # FITS files are made of 2880-byte blocks; a header is 36 cards of 80 bytes


def fits_incomplete(path: Path) -> str | None:
    """Why ``path`` is not a whole FITS file (a header or data cut short), or ``None`` when
    every HDU's header and data are there. Walks the headers block by block; reads no data."""
    size = path.stat().st_size
    offset, hdu = 0, 0
    with path.open("rb") as fh:
        while offset < size:
            fh.seek(offset)
            header = b""
            while True:
                block = fh.read(BLOCK)
                if len(block) < BLOCK:
                    at = offset + len(header) + len(block)
                    return f"HDU {hdu}: header cut short at byte {at}"
                header += block
                if any(block[i : i + 8] == b"END     " for i in range(0, BLOCK, 80)):
                    break
            data = _data_bytes(header)
            if data is None:
                return f"HDU {hdu}: header without BITPIX/NAXIS"
            if size < offset + len(header) + data:
                return f"HDU {hdu}: data cut short ({size} of {offset + len(header) + data} bytes)"
            offset += len(header) + -(-data // BLOCK) * BLOCK
            hdu += 1
    return None if hdu else "empty file"


def _data_bytes(header: bytes) -> int | None:
    """Size of an HDU's data from its header cards (BITPIX, NAXISn, PCOUNT, GCOUNT)."""
    cards: dict[str, int] = {}
    for i in range(0, len(header), 80):
        key, value = header[i : i + 8].decode("ascii", "replace").strip(), header[i + 10 : i + 80]
        if header[i + 8 : i + 10] == b"= " and (
            key in ("BITPIX", "PCOUNT", "GCOUNT") or key.startswith("NAXIS")
        ):
            try:
                cards[key] = int(value.split(b"/")[0].strip())
            except ValueError:
                return None
    if "BITPIX" not in cards or "NAXIS" not in cards:
        return None
    if cards["NAXIS"] == 0:
        return 0
    pixels = 1
    for axis in range(1, cards["NAXIS"] + 1):
        pixels *= cards.get(f"NAXIS{axis}", 0)
    return abs(cards["BITPIX"]) // 8 * cards.get("GCOUNT", 1) * (cards.get("PCOUNT", 0) + pixels)


def targets_from_sample(sample: Mapping[str, Any]) -> list[Target]:
    """(plate, mjd, fiber[, run2d]) tuples from a sample made by ``catalog.select_sample``."""
    keys = zip(sample["plate"], sample["mjd"], sample["fiber"], strict=True)
    if "run2d" in sample:
        return [
            (int(p), int(m), int(f), str(r))
            for (p, m, f), r in zip(keys, sample["run2d"], strict=True)
        ]
    return [(int(p), int(m), int(f)) for p, m, f in keys]
