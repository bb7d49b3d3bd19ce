"""The preprocessing chain and renderer that turn spectra into model inputs, on the host
and, where the steps have device versions, split between host and accelerator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.feed.device import StepFunction
from bench.interfaces import DeviceFunction, DeviceStage, Preprocessor, Renderer
from bench.spectra import SpectrumBatch, empty_batch


@dataclass
class Pipeline:
    """The preprocessing chain and renderer that turn spectra into model inputs."""

    preprocessors: Sequence[Preprocessor]
    renderer: Renderer
    shape: tuple[int, ...]
    # (grid, stage) of :meth:`device_stage_for`, made once
    _device: tuple[np.ndarray, DeviceStage | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def apply(self, batch: SpectrumBatch) -> np.ndarray:
        for step in self.preprocessors:
            batch = step(batch)
        x = self.renderer.render(batch, self.shape)
        if x.shape[1:] != self.shape:
            raise ValueError(
                f"renderer {self.renderer.name!r} returned shape {x.shape[1:]}, expected {self.shape}"
            )
        return np.asarray(x, dtype=np.float32)

    def preprocess(self, batch: SpectrumBatch) -> SpectrumBatch:
        """``batch`` through every preprocessor (no renderer)."""
        return self.apply_host(batch, len(self.preprocessors))

    def apply_host(self, batch: SpectrumBatch, n_host: int) -> SpectrumBatch:
        """``batch`` through the first ``n_host`` preprocessors (the host part)."""
        for step in self.preprocessors[:n_host]:
            batch = step(batch)
        return batch

    def device_stage(
        self, loglam: np.ndarray, step_function: StepFunction | None = None
    ) -> DeviceStage | None:
        """The accelerator part of this pipeline for spectra on ``loglam``, or None when the
        renderer has no device version. The device takes the longest run of trailing
        preprocessors that have one (``step_function(step, grid)``, by default
        ``step.device_function(grid)``) and keep the grid; the host does the rest."""
        find = step_function or (lambda step, grid: step.device_function(grid))
        grids = [np.asarray(loglam, np.float64)]
        probe = empty_batch(grids[0], 1)
        for step in self.preprocessors:  # the grid each step sees (resample changes it)
            probe = step(probe)
            grids.append(np.asarray(probe.loglam, np.float64))
        render = self.renderer.device_function(grids[-1], self.shape)
        if render is None:
            return None
        k = len(self.preprocessors)
        fns: list[DeviceFunction] = []
        while k > 0:
            same_grid = grids[k].shape == grids[k - 1].shape and np.array_equal(
                grids[k], grids[k - 1]
            )
            fn = find(self.preprocessors[k - 1], grids[k - 1]) if same_grid else None
            if fn is None:
                break
            fns.insert(0, fn)
            k -= 1
        steps = tuple(fns)

        def function(flux: Any, ivar: Any) -> Any:
            for fn in steps:
                flux, ivar = fn(flux, ivar)
            return render(flux, ivar)

        names = tuple(p.name for p in self.preprocessors[k:]) + (self.renderer.name,)
        return DeviceStage(k, grids[k], function, names)

    def device_stage_for(self, loglam: np.ndarray) -> DeviceStage | None:
        """:meth:`device_stage` with the default step functions, made once and kept."""
        if self._device is None or not np.array_equal(self._device[0], loglam):
            self._device = (np.asarray(loglam), self.device_stage(loglam))
        return self._device[1]

    def to_config(self) -> dict[str, Any]:
        """JSON-able description from which :func:`bench.run.pipeline.pipeline_from_config` rebuilds it."""
        return {
            "preprocess": [{"name": p.name, "params": p.params} for p in self.preprocessors],
            "renderer": {"name": self.renderer.name, "params": self.renderer.params},
            "shape": list(self.shape),
        }
