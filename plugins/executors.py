"""Built-in executors: ``local`` (in this process, in order) and ``dask`` (dask.distributed).

dask is imported only when a ``dask`` executor starts, never at module import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from bench import hookimpl
from bench.errors import BenchError
from bench.executors import Executor, run_isolated
from bench.options import Option

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor(Executor):
    """Runs every training run in this process, one after the other (the default)."""

    name = "local"
    description = "run every training run in this process, in order (the default)"
    in_process = True
    is_default = True

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        for task in tasks:
            yield fn(task)


class DaskExecutor(Executor):
    """Sends each training run to a dask.distributed cluster as one task.

    Workers write their cells into the run folder themselves: with a remote scheduler,
    the output folder and the data must be on a file system every worker sees."""

    name = "dask"
    description = "run training runs as dask.distributed tasks (a scheduler or a LocalCluster)"
    options = (
        Option(
            "address",
            str,
            None,
            "scheduler address, e.g. tcp://10.0.0.5:8786; unset: start a LocalCluster",
        ),
        Option("n_workers", int, 2, "worker processes of the LocalCluster (without address)", ge=1),
        Option(
            "isolate",
            bool,
            True,
            "train each run in a fresh process on its worker: results repeat those of 'local'",
        ),
    )

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._client: Any = None
        self._cluster: Any = None

    def make_cluster(self) -> Any:
        """The cluster to start, or None to connect to ``address``. Subclasses return
        another dask cluster (a dask-jobqueue ``SLURMCluster``, a ``KubeCluster``)."""
        if self.params.get("address") is not None:
            return None
        from distributed import LocalCluster

        return LocalCluster(
            n_workers=self.params["n_workers"],
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        try:
            from distributed import Client
        except ImportError:
            raise BenchError(
                "[executor] dask needs dask.distributed: pip install 'specclassbench[dask]'"
            ) from None
        self._cluster = self.make_cluster()
        if self._cluster is not None:
            self._client = Client(self._cluster)
            return self._client
        address = self.params["address"]
        try:
            self._client = Client(address, timeout="20s")
        except OSError as exc:
            raise BenchError(
                f"[executor].address: cannot reach a dask scheduler at {address!r} ({exc})"
            ) from None
        return self._client

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        from distributed import as_completed

        client = self._connect()
        if self.params.get("isolate", True):
            futures = client.map(run_isolated, [fn] * len(tasks), list(tasks), pure=False)
        else:
            futures = client.map(fn, list(tasks), pure=False)
        lost: BaseException | None = None
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - yield the others, then raise
                lost = lost or exc
                continue
            yield result
        if lost is not None:
            raise lost

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "address": self.params.get("address")}
        if self._client is not None:
            info["n_workers"] = len(self._client.scheduler_info().get("workers", {}))
        return info

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None


@hookimpl
def register_executors(register: Callable[[type[Executor]], None]) -> None:
    register(LocalExecutor)
    register(DaskExecutor)
