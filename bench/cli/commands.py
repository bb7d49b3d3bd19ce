"""What each core command does, on the registry the CLI hands it; returns the exit code.
Output goes through bench.cli.console."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.cli import console
from bench.config import Config, load_config
from bench.plugins.registry import KINDS, Registry


def validate(config_path: Path, registry: Registry, overrides: Sequence[str] = ()) -> int:
    """Every check `bench run` makes before training, in one pass: all problems listed
    (and the checks a broken section kept from running named), exit 2 if any."""
    from bench.config import apply_overrides, check_config, read_toml
    from bench.errors import USER_ERROR_EXIT

    raw = apply_overrides(read_toml(config_path), list(overrides))
    config, problems, broken = check_config(raw, str(config_path), registry)
    skipped = _plan_checks(config, broken, problems, registry)
    for problem in problems:
        console.error(problem)
    for line in skipped:
        console.info(line)
    if len(problems) > 1:
        console.error(f"{config_path}: {len(problems)} problem(s); `bench run` would stop")
    if problems:
        return USER_ERROR_EXIT
    console.out.print(f"{config_path}: valid, {config.n_cells} cells", markup=False)  # type: ignore[union-attr]
    return 0


def _plan_checks(
    config: Config | None, broken: set[str], problems: list[str], registry: Registry
) -> list[str]:
    """The data and model checks on the sections that resolved (appended to
    ``problems``); one line per check a broken section kept from running."""
    from bench.run.plan import check_plan

    def needs(sections: set[str]) -> str:
        return ", ".join(f"[{name}]" for name in sorted(broken & sections))

    data = {"benchmark", "protocol", "datasets", "test_dataset"}
    skipped = []
    if config is None or broken & {"models", "test_dataset"}:
        names = needs(data | {"models"})
        skipped.append(f"not checked: colliding cell ids (they need {names}, which broke)")
    if config is None or broken & data:
        names = needs(data)
        skipped.append(
            f"not checked: the datasets, splits and models' input shapes (they need {names}, "
            "which broke)"
        )
        return skipped
    if "models" in broken:
        config = replace(config, models=[])
        skipped.append("not checked: the models' input shapes (they need [models], which broke)")
    problems += [p for p in check_plan(config, registry) if p not in problems]
    return skipped


def plugins(as_json: bool, registry: Registry, kind: str | None = None) -> int:
    """Every registered plugin (or those of one ``kind``) with its options, and the result
    sinks, as a listing or as JSON."""
    from bench.errors import BenchError, closest

    kinds = [*KINDS, "sink"]
    if kind is not None and kind not in kinds:
        raise BenchError(
            f"unknown plugin kind {kind!r}{closest(kind, kinds)}; valid: {', '.join(kinds)}"
        )
    rows = []
    for k in KINDS if kind in (None, *KINDS) else ():
        if kind not in (None, k):
            continue
        for name, cls in sorted(registry.classes[k].items()):
            rows.append(
                {
                    "kind": k,
                    "name": name,
                    "source": registry.sources[(k, name)],
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
    for sink in registry.sinks if kind in (None, "sink") else ():
        description = sink.description or (sink.__doc__ or "").strip().split("\n")[0]
        source = registry.sources.get(("sink", sink.name), "")
        on = "" if sink.enabled() else " (off: not enabled here)"
        rows.append(
            {"kind": "sink", "name": sink.name, "source": source, "options": [],
             "description": description + on, "enabled": sink.enabled()}
        )  # fmt: skip
    if as_json:
        console.out.print_json(json.dumps(rows))
    else:
        console.plugins_table(rows)
    return 0


def run(
    config_path: Path,
    out: Path | None,
    quick: bool,
    registry: Registry,
    fresh: bool = False,
    overrides: Sequence[str] = (),
) -> int:
    """Run a benchmark into ``out`` with ``--set`` ``overrides``; finished cells there are
    reused unless ``fresh``."""
    from bench.backend import ensure_jax_backend
    from bench.run.benchmark import prepare_run_dir, run_benchmark

    config = load_config(config_path, registry, quick=quick, overrides=overrides)
    ensure_jax_backend()
    run_dir, created = prepare_run_dir(out, config, console.info)
    with console.RunProgress() as progress:
        outcome = run_benchmark(config, registry, run_dir, created, progress, fresh)
    for message in outcome.sink_errors:
        console.error(message)
    report = outcome.report
    console.summary_table(report)
    console.info(f"report: {run_dir.report_json}")
    if run_dir.report_html.exists():
        console.info(f"open:   {run_dir.report_html}")
    failed = report["summary"]["failed"]
    if failed:
        console.error(
            f"{failed} of {report['summary']['n_cells']} cells failed; see {run_dir.logs}"
        )
    unread = unreadable_files(report)
    for path, reason in unread:
        console.file_error(path, reason)
    if unread:
        console.error(f"{len(unread)} spectrum files could not be read and were left out")
    return 1 if failed or unread else 0


def unreadable_files(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, reason) of the files a dataset could not read (its ``failures``), once each."""
    seen: dict[str, str] = {}
    for summary in report.get("datasets", {}).values():
        source = summary.get("source", {}) if isinstance(summary, dict) else {}
        for failure in source.get("failures", []) if isinstance(source, dict) else []:
            if isinstance(failure, dict) and "path" in failure:
                seen.setdefault(str(failure["path"]), str(failure.get("reason", "")))
    return list(seen.items())


def leaderboard(paths: list[Path], metric: str, fmt: str, export: Path | None = None) -> int:
    from bench.results.leaderboard import format_leaderboard, significance_note
    from bench.results.leaderboard import leaderboard as rank

    rows = rank(paths or [Path("reports")], metric)
    if export is not None:
        from bench.results.objects import tidy_columns, write_table

        console.info(f"wrote {write_table(tidy_columns(rows), export)}")
    shown = format_leaderboard(rows, fmt)
    if isinstance(shown, list):
        console.leaderboard_table(shown, metric)
    else:
        console.out.print(shown, markup=False, highlight=False, soft_wrap=True, end="")
    note = significance_note(rows)
    if note and fmt != "json":
        console.info(note)
    return 0
