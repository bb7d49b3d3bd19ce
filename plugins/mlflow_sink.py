"""MLflow tracking as a result sink (``pip install 'specclassbench[mlflow]'``).

Enabled when mlflow is importable and ``MLFLOW_TRACKING_URI`` is set (e.g.
``sqlite:///mlflow.db``, ``http://host:5000``, or a ``file:`` store). The experiment is
``MLFLOW_EXPERIMENT_NAME`` or ``specclassbench``. A bench run becomes a parent MLflow run
named after its folder
(report.json, report.html and the objects table as artifacts); each trained cell a
child run with its parameters, per-epoch ``loss``/``accuracy``/``val_*`` (step = epoch),
final metrics, its confusion-matrix figure and its model folder. Reused cells were
logged by the run that trained them and are skipped.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import hookimpl
from bench.interfaces import ResultSink

DEFAULT_EXPERIMENT = "specclassbench"
CELL_PARAMS = ("dataset", "model", "plugin", "train_fraction", "epochs", "seed")


class MlflowSink(ResultSink):
    name = "mlflow"
    description = "log cells and runs to MLflow (when MLFLOW_TRACKING_URI is set)"

    def __init__(self) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
        self.parent: str | None = None
        self.experiment: str | None = None

    @classmethod
    def enabled(cls) -> bool:
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            return False
        try:
            import mlflow  # noqa: F401
        except ImportError:
            return False
        return True

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
        run = self.client.create_run(
            str(self.experiment), run_name=cell["id"], tags={"mlflow.parentRunId": parent}
        )
        run_id = run.info.run_id
        if result["status"] != "ok":
            self.client.set_tag(run_id, "bench.error", str(result["error"]["message"])[:5000])
            self.client.set_terminated(run_id, status="FAILED")
            return
        self._log_values(run_id, result)
        cell_dir = run_dir / result["path"]
        with tempfile.TemporaryDirectory() as tmp:
            _confusion_png(result, Path(tmp) / "confusion_matrix.png")
            self.client.log_artifact(run_id, str(Path(tmp) / "confusion_matrix.png"))
        if (cell_dir / "model").is_dir():
            self.client.log_artifacts(run_id, str(cell_dir / "model"), artifact_path="model")
        for name in ("cell.json", "predictions.csv"):
            if (cell_dir / name).exists():
                self.client.log_artifact(run_id, str(cell_dir / name))
        self.client.set_terminated(run_id)

    def _log_values(self, run_id: str, result: dict[str, Any]) -> None:
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        cell, m = result["cell"], result["metrics"]
        params = {k: cell[k] for k in CELL_PARAMS if k in cell}
        params |= {"n_train": result.get("n_train"), "n_test": result.get("n_test")}
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
            run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()]
        )

    def run_finished(self, *, run_dir: Path, report: dict[str, Any]) -> None:
        parent = self._parent(run_dir)
        self.client.set_tag(parent, "bench.benchmark", report["config"]["benchmark"]["name"])
        summary = report.get("summary", {})
        for key in ("n_cells", "ok", "failed"):
            if isinstance(summary.get(key), int | float):
                self.client.log_metric(parent, f"cells_{key}", float(summary[key]))
        for path in sorted(run_dir.glob("report.*")) + sorted(run_dir.glob("objects.*")):
            self.client.log_artifact(parent, str(path))
        failed = summary.get("failed")
        self.client.set_terminated(parent, status="FAILED" if failed else "FINISHED")


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
    fig.savefig(path, dpi=80)


@hookimpl
def register_result_sinks(register: Any) -> None:
    register(MlflowSink)
