"""What each CLI command does; returns the exit code. Output goes through bench.cli.console."""

from __future__ import annotations

import json
import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path

from bench.cli import console
from bench.config import load_config
from bench.errors import BenchError
from bench.plugins.manager import KINDS, get_registry


def validate(config_path: Path) -> int:
    config = load_config(config_path, get_registry())
    from bench.run.runner import count_cells

    console.out.print(f"{config_path}: valid, {count_cells(config)} cells", markup=False)
    return 0


def plugins(as_json: bool) -> int:
    registry = get_registry()
    rows = []
    for kind in KINDS:
        for name, cls in sorted(registry.classes[kind].items()):
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "source": registry.sources[(kind, name)],
                    "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
                    "options": [
                        {
                            "name": o.name,
                            "type": o.type.__name__,
                            "default": o.default,
                            "help": o.help,
                        }
                        | ({"choices": list(o.choices)} if o.choices else {})
                        | ({"bounds": o.bounds} if o.bounds else {})
                        for o in cls.options
                    ],
                }
            )
    if as_json:
        console.out.print_json(json.dumps(rows))
    else:
        console.plugins_table(rows)
    return 0


def _prepare_out(out: Path | None, config_benchmark: dict[str, object]) -> tuple[Path, bool]:
    if out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        out = Path(str(config_benchmark["output"])) / f"{config_benchmark['name']}-{stamp}"
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BenchError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    _take_lock(out / ".lock")
    return out, created


def _take_lock(lock: Path) -> None:
    """Create ``lock`` holding "PID HOST"; take over a lock whose process died on this host."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if not _lock_is_stale(lock):
                raise BenchError(
                    f"{lock.parent}: another run is writing here (remove {lock} if none is)"
                ) from None
            console.info(f"{lock}: its run (pid {_lock_owner(lock)[0]}) is gone; taking over")
            lock.unlink(missing_ok=True)
            continue
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        os.close(fd)
        return
    raise BenchError(f"{lock.parent}: another run took the lock first")


def _lock_owner(lock: Path) -> tuple[int | None, str | None]:
    try:
        fields = lock.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None, None
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    return pid, fields[1] if len(fields) > 1 else None


def _lock_is_stale(lock: Path) -> bool:
    """Stale only when written on this host by a process that no longer exists; a lock
    from another host (shared file system) or in an unknown format is respected."""
    pid, host = _lock_owner(lock)
    if pid is None or host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


def run(config_path: Path, out: Path | None, quick: bool, fresh: bool = False) -> int:
    """Run a benchmark into ``out``; finished cells there are reused unless ``fresh``."""
    from bench.backend import ensure_jax_backend

    registry = get_registry()
    config = load_config(config_path, registry, quick=quick)
    ensure_jax_backend()
    out_dir, created = _prepare_out(out, config.benchmark)
    try:
        from bench.results.report import build_report, now, write_report
        from bench.run.runner import run_matrix

        started = now()
        with console.RunProgress() as progress:
            results, datasets = run_matrix(config, registry, out_dir, progress, fresh)
        report = build_report(
            config.to_json(), results, datasets, started, config.protocol["seeds"]
        )
        path = write_report(report, out_dir)
    except BenchError:
        # a user mistake found while running (bad file, empty dataset): leave nothing behind
        (out_dir / ".lock").unlink(missing_ok=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    except BaseException:
        (out_dir / ".lock").unlink(missing_ok=True)
        raise
    try:
        from bench.results.html import write_html

        write_html(report, out_dir)
    except Exception as exc:  # noqa: BLE001 - report.json is complete; the HTML is a view of it
        console.error(f"{out_dir / 'report.html'}: not written ({type(exc).__name__}: {exc})")
    finally:
        (out_dir / ".lock").unlink(missing_ok=True)
    console.summary_table(report)
    console.info(f"report: {path}")
    failed = report["summary"]["failed"]
    if failed:
        console.error(
            f"{failed} of {report['summary']['n_cells']} cells failed; see {out_dir / 'logs'}"
        )
    return 1 if failed else 0


def predict(cell_dir: Path, paths: list[Path], out: Path) -> int:
    from bench.run.predict import predict_files

    rows_written, failures = predict_files(cell_dir, paths, out)
    for path, reason in failures:
        console.error(f"{path}: {reason}")
    console.info(f"{rows_written} predictions written to {out}")
    return 1 if failures else 0


def leaderboard(paths: list[Path], metric: str, fmt: str) -> int:
    from bench.results.leaderboard import format_leaderboard
    from bench.results.leaderboard import leaderboard as rank

    shown = format_leaderboard(rank(paths or [Path("reports")], metric), fmt)
    if isinstance(shown, list):
        console.leaderboard_table(shown, metric)
    else:
        console.out.print(shown, markup=False, highlight=False, soft_wrap=True, end="")
    return 0


def compare(baseline: Path, current: Path, tolerance: float) -> int:
    from bench.results.compare import compare as compare_reports

    result = compare_reports(baseline, current, tolerance)
    console.out.print(result.markdown(), markup=False, highlight=False, soft_wrap=True, end="")
    if result.exit_code:
        console.error(f"regression against {baseline}")
    return result.exit_code
