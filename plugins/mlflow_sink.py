"""MLflow tracking as a result sink (``pip install 'specclassbench[mlflow]'``).

Enabled when mlflow (or mlflow-skinny) is installed and ``MLFLOW_TRACKING_URI`` is set
(e.g. ``sqlite:///mlflow.db``, ``http://host:5000``, or a ``file:`` store). The experiment
is ``MLFLOW_EXPERIMENT_NAME`` or ``specclassbench``. A bench run becomes a parent MLflow
run named after its folder, with every protocol option as a param and tags
``bench.benchmark`` and ``bench.commit``; each trained cell a child run with every model
option as a param (``model.<option>``), per-epoch ``loss``/``accuracy``/``val_*``
(step = epoch), final metrics, its confusion-matrix figure and its model folder. Reused
cells were logged by the run that trained them and are skipped.

Tracking never takes a run with it: the client is opened on first use, inside the calls
the core guards, so a store that cannot be opened (a database URI with mlflow-skinny,
which has no SQL store) or a failed upload is one warning line. Artifacts go where the
URI says (into a ``file:`` store, or to a server); with a database store, whose default
would be ``./mlruns`` in the current folder, nothing is copied: the runs are tagged with
``bench.run_dir`` / ``bench.cell_dir``, where the files already are.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench import hookimpl
from bench.interfaces import ResultSink

DEFAULT_EXPERIMENT = "specclassbench"
CELL_PARAMS = ("dataset", "model", "plugin", "train_fraction", "epochs", "seed")
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
MAX_PARAM = 6000  # MLflow's limit on a param value


def store_kind(uri: str) -> str:
    """``file``, ``database`` or ``remote``: what a tracking URI names."""
    scheme = urlparse(uri).scheme.split("+")[0]
    if scheme in ("", "file") or len(scheme) == 1:  # a path (or a Windows drive letter)
        return "file"
    return "database" if scheme in DATABASE_SCHEMES else "remote"


def open_client(uri: str) -> Any:
    """MLflow's client for ``uri``; RuntimeError with one line saying why it cannot."""
    kind = store_kind(uri)
    if kind == "database" and importlib.util.find_spec("sqlalchemy") is None:
        raise RuntimeError(
            f"MLFLOW_TRACKING_URI={uri} needs a database store, which mlflow-skinny lacks "
            "(pip install mlflow, or use a file: store or an http:// server)"
        )
    if kind == "file":  # MLflow 3 keeps file stores opt-in; the URI is the user's choice
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow import MlflowClient

        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # the store opens now, not mid-run
    except Exception as exc:  # noqa: BLE001 - any MLflow failure becomes one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"MLflow cannot use {uri}: {first}") from exc
    return client


def flat_params(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    """Options as MLflow params (``prefix.name``), lists as JSON, cut to MLflow's limit."""
    out = {}
    for key, value in values.items():
        text = value if isinstance(value, str) else json.dumps(value)
        out[f"{prefix}.{key}"] = text[:MAX_PARAM]
    return out


class MlflowSink(ResultSink):
    name = "mlflow"
    description = "log cells and runs to MLflow (when MLFLOW_TRACKING_URI is set)"

    def __init__(self) -> None:  # never fails: the client opens inside guarded calls
        self.uri = os.environ.get("MLFLOW_TRACKING_URI", "")
        self._client: Any = None
        self.parent: str | None = None
        self.experiment: str | None = None
        self.children: list[str] = []

    @classmethod
    def enabled(cls) -> bool:
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            return False
        return importlib.util.find_spec("mlflow") is not None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = open_client(self.uri)
        return self._client

    @property
    def copies_artifacts(self) -> bool:
        """False for a database store (its default artifact root is ./mlruns here)."""
        return store_kind(self.uri) != "database"

    def _parent(self, run_dir: Path) -> str:
        if self.parent is None:
            experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
            found = self.client.get_experiment_by_name(experiment)
            self.experiment = (
                found.experiment_id if found else self.client.create_experiment(experiment)
            )
            run = self.client.create_run(
                self.experiment, run_name=run_dir.name, tags={"bench.run_dir": str(run_dir)}
            )
            self.parent = run.info.run_id
        return self.parent

    def cell_finished(self, *, run_dir: Path, result: dict[str, Any]) -> None:
        if result.get("reused"):
            return
        cell = result["cell"]
        parent = self._parent(run_dir)
        cell_dir = run_dir / result["path"] if result.get("path") else run_dir
        tags = {"mlflow.parentRunId": parent, "bench.cell_dir": str(cell_dir)}
        run = self.client.create_run(str(self.experiment), run_name=cell["id"], tags=tags)
        run_id = run.info.run_id
        self.children.append(run_id)
        if result["status"] != "ok":
            self.client.set_tag(run_id, "bench.error", str(result["error"]["message"])[:5000])
            self.client.set_terminated(run_id, status="FAILED")
            return
        self._log_values(run_id, result, _model_params(cell_dir))
        if self.copies_artifacts:
            self._log_cell_files(run_id, result, cell_dir)
        self.client.set_terminated(run_id)

    def _log_cell_files(self, run_id: str, result: dict[str, Any], cell_dir: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            _confusion_png(result, Path(tmp) / "confusion_matrix.png")
            self.client.log_artifact(run_id, str(Path(tmp) / "confusion_matrix.png"))
        if (cell_dir / "model").is_dir():
            self.client.log_artifacts(run_id, str(cell_dir / "model"), artifact_path="model")
        for name in ("cell.json", "predictions.csv"):
            if (cell_dir / name).exists():
                self.client.log_artifact(run_id, str(cell_dir / name))

    def _log_values(self, run_id: str, result: dict[str, Any], model: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        cell, m = result["cell"], result["metrics"]
        params = {k: str(cell[k]) for k in CELL_PARAMS if k in cell}
        params |= {"n_train": str(result.get("n_train")), "n_test": str(result.get("n_test"))}
        params |= flat_params("model", model)
        metrics = [
            Metric(key, float(v), now, epoch)
            for key, values in result.get("history", {}).items()
            for epoch, v in enumerate(values, start=1)
        ]
        final = {"test_accuracy": m.get("accuracy"), "test_macro_f1": m.get("macro_f1")}
        final["test_roc_auc"] = m.get("roc_auc")
        for cls, per in m.get("per_class", {}).items():
            final |= {f"{name}_{cls}": per.get(name) for name in ("precision", "recall", "f1")}
        metrics += [Metric(k, float(v), now, 0) for k, v in final.items() if v is not None]
        self.client.log_batch(
            run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()]
        )

    def run_finished(self, *, run_dir: Path, report: dict[str, Any]) -> None:
        from mlflow.entities import Param, RunTag

        parent = self._parent(run_dir)
        config, provenance = report["config"], report.get("provenance", {})
        tags = [RunTag("bench.benchmark", str(config["benchmark"]["name"]))]
        tags.append(RunTag("bench.commit", str(provenance.get("git_commit") or "unknown")))
        protocol = [Param(k, v) for k, v in flat_params("protocol", config["protocol"]).items()]
        for run_id in [parent, *self.children]:
            self.client.log_batch(run_id, params=protocol, tags=tags)
        summary = report.get("summary", {})
        for key in ("n_cells", "ok", "failed"):
            if isinstance(summary.get(key), int | float):
                self.client.log_metric(parent, f"cells_{key}", float(summary[key]))
        if self.copies_artifacts:
            for path in sorted(run_dir.glob("report.*")) + sorted(run_dir.glob("objects.*")):
                self.client.log_artifact(parent, str(path))
        failed = summary.get("failed")
        self.client.set_terminated(parent, status="FAILED" if failed else "FINISHED")


def _model_params(cell_dir: Path) -> dict[str, Any]:
    """Every option of the cell's model, from its ``cell.json`` (empty when unreadable)."""
    try:
        config = json.loads((cell_dir / "cell.json").read_text(encoding="utf-8"))
        return dict(config["model"]["params"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _confusion_png(result: dict[str, Any], path: Path) -> None:
    """The cell's confusion matrix (counts, colour by row fraction) as a small PNG."""
    import numpy as np
    from matplotlib.figure import Figure

    cm = result["metrics"]["confusion_matrix"]
    counts = np.asarray(cm["counts"], dtype=float)
    fig = Figure(figsize=(3.6, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.imshow(counts / np.maximum(counts.sum(axis=1, keepdims=True), 1), vmin=0, vmax=1)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, f"{int(n)}", ha="center", va="center", color="w", fontsize=9)
    ax.set_xticks(range(len(cm["labels"])), cm["labels"], fontsize=8)
    ax.set_yticks(range(len(cm["labels"])), cm["labels"], fontsize=8)
    ax.set(xlabel="predicted", ylabel="true")
    fig.savefig(path, dpi=150)


@hookimpl
def register_result_sinks(register: Any) -> None:
    register(MlflowSink)
