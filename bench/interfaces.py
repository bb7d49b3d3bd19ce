"""The four plugin kinds, :class:`ModelInput` (what the core hands a model),
:class:`Command` (a CLI subcommand a plugin adds) and :class:`ResultSink` (what happens
with finished cells and runs). A plugin is a class with a ``name``, declared ``options``
and the methods below; an instance is built with its resolved options in ``self.params``.

Keep plugin modules free of heavy imports at module level (keras, jax, matplotlib):
``bench plugins`` and ``bench validate`` import every plugin and must start fast.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from bench.options import Option, resolve_options
from bench.spectra import SpectrumBatch, SpectrumSource


class Plugin:
    """Base of every plugin: a registered name, declared options, resolved ``params``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    version: ClassVar[str] = "1"

    def __init__(self, **params: Any) -> None:
        self.params: dict[str, Any] = resolve_options(self.options, params, self.name or "plugin")


class Dataset(Plugin, ABC):
    """Yields labelled spectra. ``open()`` may read files or generate; it is called once a run."""

    @abstractmethod
    def open(self) -> SpectrumSource:
        """Return the spectra as a :class:`SpectrumSource`."""


# A device implementation: a jit-able JAX function of (flux, ivar), both (N, P) float32.
DeviceFunction = Callable[[Any, Any], Any]
# ``fn(batch, rng) -> batch``: a random change of the raw spectra (training-time augmentation)
Augmentation = Callable[[SpectrumBatch, np.random.Generator], SpectrumBatch]
# How images may travel from the host to the device: float32 (exact, the default),
# float16 (half the bytes, ~3 significant digits) or uint8 (a quarter, 1/255 steps).
TRANSFER_DTYPES = ("float32", "float16", "uint8")


class Preprocessor(Plugin, ABC):
    """Maps a batch of spectra to a batch (same objects, same order)."""

    @abstractmethod
    def __call__(self, batch: SpectrumBatch) -> SpectrumBatch: ...

    def device_function(self, loglam: np.ndarray) -> DeviceFunction | None:
        """Optional: a jit-able JAX ``f(flux, ivar) -> (flux, ivar)`` doing what
        :meth:`__call__` does to spectra on the grid ``loglam`` (float32, same values to
        float32 rounding), or None (the default) when this step only runs in numpy. It
        sees flux and ivar only (no and_mask or metadata) and must keep the grid."""
        return None


class Renderer(Plugin, ABC):
    """Maps a batch to model inputs: images ``(N, height, width, channels)`` float32 in
    [0, 1], or flux vectors ``(N, pixels, 1)`` for 1-D models."""

    # The model input kind ("image" or "flux") this renderer draws when a config names no
    # renderer for such a model; "" (the default): only when named. One per kind.
    default_for: ClassVar[str] = ""

    @abstractmethod
    def render(self, batch: SpectrumBatch, shape: tuple[int, ...]) -> np.ndarray: ...

    def device_function(self, loglam: np.ndarray, shape: tuple[int, ...]) -> DeviceFunction | None:
        """Optional: a jit-able JAX ``f(flux, ivar) -> inputs (N, *shape) float32`` giving
        the pixels of :meth:`render` (to float32 rounding) for spectra on the grid
        ``loglam``, so the picture can be drawn on the accelerator inside the model's
        compiled step; None (the default) when only the numpy :meth:`render` exists.
        Import jax inside it."""
        return None


@dataclass
class DeviceStage:
    """The part of a pipeline that runs on the accelerator (:meth:`ModelInput.device_stage`).

    The host applies the first ``n_host`` preprocessors (those without a device version,
    and everything before them); ``function(flux, ivar)`` (jit-able JAX, (N, P) float32
    each on the grid ``loglam``) applies the remaining ones and the renderer's device
    version and returns the model inputs ``(N, *shape)`` float32.
    """

    n_host: int
    loglam: np.ndarray
    function: DeviceFunction
    device_steps: tuple[str, ...] = ()

    @property
    def n_pixels(self) -> int:
        return len(self.loglam)


class Prefetch(Protocol):
    """Batches of a :class:`ModelInput` prepared ahead by background threads
    (:meth:`ModelInput.prefetched`): ``get(i)`` is ``inputs[i]``, bit-identical whatever
    the number of threads; ``wait_s`` the seconds ``get`` waited; ``close()`` stops them."""

    wait_s: float

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None: ...


class ModelInput(Protocol):
    """What the core hands :meth:`Model.fit` and :meth:`Model.predict_proba`: the samples
    of one split, as batches ``(x, y)`` in a seeded order per epoch.

    ``x`` is what the model's ``input_kind`` asks for: images ``(N, *input_shape)`` in
    [0, 1] (``"image"``), flux vectors ``(N, pixels, 1)`` (``"flux"``); a ``"spectra"``
    model reads the spectra themselves, with wavelength and inverse variance, through
    :meth:`spectra`. ``y`` holds class indices into ``classes`` (-1 for a label outside
    them). A batch depends only on its positions and, for an augmented input, the epoch.

    The core's implementation renders batch by batch and keeps small inputs in memory;
    models never build one. The last group of members is for models that run part of the
    pipeline on an accelerator (the Keras models): everyone else can ignore it.
    """

    classes: list[str]
    y: np.ndarray
    seed: int
    batch_size: int
    epoch: int

    @property
    def n_samples(self) -> int:
        """Number of samples (objects)."""
        ...

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one yielded ``x``: the model's input shape, or (2, pixels) on the device path."""
        ...

    def __len__(self) -> int:
        """Number of batches."""
        ...

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``i`` of the current order: ``(x, y)``."""
        ...

    def positions(self, i: int) -> np.ndarray:
        """Positions (0 .. n_samples - 1) of the samples of batch ``i`` in the current order."""
        ...

    def set_epoch(self, epoch: int) -> None:
        """Call before each epoch (absolute, 0-based): reshuffles a shuffled input with
        ``(seed, epoch)`` and draws that epoch's augmentation."""
        ...

    def inputs(self) -> np.ndarray:
        """Every ``x`` in position order (rendered once and kept when small enough)."""
        ...

    def rebatched(self, batch_size: int, seed: int | None = None) -> ModelInput:
        """This input in batches of ``batch_size`` and, given ``seed``, shuffled and
        augmented with that seed instead (e.g. a seed-ensemble member's)."""
        ...

    def in_order(self) -> ModelInput:
        """This input never shuffled (for features and predictions)."""
        ...

    def spectra(self, positions: np.ndarray, preprocessed: bool = False) -> SpectrumBatch:
        """The spectra at ``positions`` (loglam, flux, ivar, mask, ids, redshift), raw as
        the dataset gives them, or through the run's preprocessing steps when
        ``preprocessed`` (for models that fit spectra themselves)."""
        ...

    def with_augmentation(self, fn: Augmentation) -> ModelInput:
        """This input applying ``fn(batch, rng)`` to the raw spectra before the pipeline;
        ``rng`` is seeded by (seed, epoch, positions), so a batch stays reproducible."""
        ...

    def prefetched(self, workers: int) -> Prefetch:
        """Batches prepared ahead in ``workers`` threads (bit-identical to ``self[i]``)."""
        ...

    # -- the accelerator path -------------------------------------------------------

    stage: DeviceStage | None
    transfer_dtype: str

    def device_stage(self, shape: tuple[int, ...]) -> DeviceStage | None:
        """The device stage drawing this input's pictures of ``shape`` on the accelerator,
        or None when the renderer has no device version or draws another shape."""
        ...

    def for_device(self, stage: DeviceStage) -> ModelInput:
        """This input yielding spectra ``(N, 2, P)`` float32 (flux and ivar after the host
        part of the pipeline) for ``stage.function`` to render inside the compiled step."""
        ...

    def with_transfer_dtype(self, dtype: str) -> ModelInput:
        """This input yielding images encoded as ``dtype`` (one of ``TRANSFER_DTYPES``:
        float32 exact, float16, uint8 as round(255 x))."""
        ...


# ``create(name, options, where)``: a new model plugin with resolved ``options``; a bad
# name or option raises BenchError naming ``where`` (the config key of those options).
ModelFactory = Callable[[str, Mapping[str, Any], str], "Model"]


class Model(Plugin, ABC):
    """A classifier: built from an input shape and class list, trained on a :class:`ModelInput`.

    ``fit`` may be called again with a larger ``epochs`` and ``initial_epoch`` set to the
    previous ``epochs``: it must then continue training where it stopped (the runner
    snapshots one training run at each requested epoch count).
    """

    # What the model takes: "image" (rendered pictures), "flux" (flux vectors (pixels, 1)),
    # or "spectra" (it fits the spectra itself via ModelInput.spectra; its batches carry
    # flux vectors).
    input_kind: ClassVar[str] = "image"
    # Set by the runner before ``fit``: a model that supports it calls
    # ``progress(epoch, logs)`` after each epoch (1-based, absolute; logs such as
    # ``{"loss": 0.41, "val_loss": 0.45}``) so the console can show it. Optional.
    progress: Callable[[int, dict[str, float]], None] | None = None
    # Option values for `bench run --quick`: the smallest inputs the model accepts.
    quick_options: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def input_shape(self, n_pixels: int) -> tuple[int, ...]:
        """The input shape this model wants, from its options (``n_pixels`` for 1-D models)."""

    @abstractmethod
    def build(self, input_shape: tuple[int, ...], classes: Sequence[str], seed: int) -> None: ...

    @abstractmethod
    def fit(
        self, train: ModelInput, validation: ModelInput | None, epochs: int, initial_epoch: int = 0
    ) -> dict[str, list[float]]:
        """Train to ``epochs``; return per-epoch ``loss``, ``accuracy`` and, with validation
        data, ``val_loss``, ``val_accuracy`` for the epochs run in this call."""

    @abstractmethod
    def predict_proba(self, inputs: ModelInput) -> np.ndarray:
        """Class probabilities ``(N, n_classes)`` in the order of ``classes``; rows sum to 1."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything needed by :meth:`load` into ``directory``."""

    @abstractmethod
    def load(self, directory: Path) -> None:
        """Restore a model written by :meth:`save` (the instance has the same params)."""

    def describe(self) -> Mapping[str, Any]:
        """Facts for the report (backend, devices, parameter count)."""
        return {}

    def reports_epochs(self) -> bool:
        """Whether :meth:`fit` calls :attr:`progress` after each epoch (a network trained
        epoch by epoch, whose first epoch also renders its inputs and compiles). False (the
        default): the console says ``fitting`` until ``fit`` returns."""
        return False

    def timing(self) -> Mapping[str, float]:
        """Optional: where the time of the last :meth:`fit` call went, in seconds, e.g.
        ``compile_s`` (first step: tracing and compiling), ``data_s`` (the training loop
        waiting for input batches), ``step_s`` (training steps after the first),
        ``validation_s``. {} (the default) when the model does not measure it."""
        return {}

    # -- optional hooks: the defaults do nothing -------------------------------------

    def redshifts(self, inputs: ModelInput) -> np.ndarray | None:
        """Optional: the best redshift of every object for every class ``(N, n_classes)``
        (NaN where unknown), written as ``z_<CLASS>`` per-object columns of runs and
        ``bench predict``; None (the default) for models that measure none."""
        return None

    def object_facts(self, inputs: ModelInput) -> Mapping[str, np.ndarray]:
        """Optional: more per-object columns, name -> ``(N,)`` values (e.g. ``template_fit``'s
        ``subclass`` and ``delta_chi2``); numbers are written as numbers. {} by default."""
        return {}

    def make_members(self, create: ModelFactory) -> None:
        """Optional, for composite models (``blend``): called by the core right after the
        model is constructed, with a factory of the registered model plugins, to create
        the members the options name. Does nothing by default."""

    @classmethod
    def code_dependencies(cls, params: Mapping[str, Any]) -> list[str]:
        """Optional, for composite models: the names of the other model plugins whose code
        the model runs with these ``params`` (``blend``: its members). Their code goes into
        the cell key, so editing a member retrains the composite. [] by default."""
        return []

    @classmethod
    def quick_params(
        cls, params: Mapping[str, Any], model_class: Callable[[str], type[Model]]
    ) -> dict[str, Any]:
        """The option values for ``bench run --quick`` given the configured ``params``
        (``model_class(name)`` looks a registered model up): :attr:`quick_options` by
        default; composite models shrink their members too."""
        return dict(cls.quick_options)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """The default of :attr:`Command.add_arguments`: the command takes no arguments."""


@dataclass(frozen=True)
class Command:
    """A ``bench`` subcommand added through the ``register_commands`` hook.

    ``path`` is the words that call it: ``("data", "sample")`` is ``bench data sample``
    (groups such as ``data`` and ``plot`` are shared with the core). ``add_arguments``
    declares its arguments on an argparse parser; ``run(args, context)`` gets the parsed
    arguments and a :class:`CommandContext`, and returns the exit code (a ``run(args)`` of
    one argument still works). Import heavy modules inside ``run``, not at module level.
    """

    path: tuple[str, ...]
    help: str
    run: Callable[[argparse.Namespace, CommandContext], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


def add_set_argument(
    parser: argparse.ArgumentParser,
    example: str = "protocol.epochs=[3], models.mnist_cnn.batch_size=16 (a model by its label "
    "or name), dataset.n=500",
) -> None:
    """``--set KEY=VALUE`` as ``bench run`` has it (repeatable, into ``args.overrides``), for
    a command that loads a benchmark: it passes ``args.overrides`` to
    :meth:`CommandContext.load_benchmark`. ``example``: the help's examples."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override one config key (repeatable; VALUE is TOML), e.g. {example}",
    )


class ProgressBar(Protocol):
    """``with context.console.progress("reading") as bar: bar.update(done, total)``."""

    def __enter__(self) -> ProgressBar: ...
    def __exit__(self, *exc: object) -> None: ...
    def update(self, done: int, total: int) -> None: ...


class CommandConsole(Protocol):
    """The terminal, as a command writes to it (the CLI owns all output)."""

    def info(self, message: str) -> None: ...  # a line on stderr
    def error(self, message: str) -> None: ...  # "error: message" on stderr, no traceback
    def print(self, text: str) -> None: ...  # plain text on stdout
    def print_json(self, text: str) -> None: ...  # a JSON document on stdout
    def progress(self, what: str) -> ProgressBar: ...  # a transient bar on stderr


class ChosenPlugin(Protocol):
    """A plugin a benchmark config chose: registered name, label, resolved options."""

    name: str
    label: str
    params: dict[str, Any]


class BenchmarkConfig(Protocol):
    """A benchmarks.toml resolved against the registered plugins, as a command reads it."""

    @property
    def classes(self) -> list[str]: ...
    @property
    def datasets(self) -> Sequence[ChosenPlugin]: ...


class CommandContext(Protocol):
    """What ``bench`` hands :attr:`Command.run`: its console, its benchmarks and plugins."""

    @property
    def console(self) -> CommandConsole: ...
    def load_benchmark(self, path: Path, overrides: Sequence[str] = ()) -> BenchmarkConfig:
        """``path`` read and resolved, with ``--set KEY=VALUE`` ``overrides`` applied
        (a BenchError naming the file or key on a problem)."""

    def create_plugin(self, kind: str, name: str, params: Mapping[str, Any], where: str) -> Any:
        """An instance of the registered ``kind`` plugin ``name`` (errors name ``where``)."""


class ResultSink:
    """Receives finished cells and the finished run. ``enabled()`` decides whether the
    sink takes part in a run (e.g. only when its library is installed and configured)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @classmethod
    def enabled(cls) -> bool:
        return True

    def cell_finished(self, *, run_dir: Path, result: dict[str, Any]) -> None:
        """Called in the main process as each cell finishes (ok, failed or reused)."""

    def run_finished(self, *, run_dir: Path, report: dict[str, Any]) -> None:
        """Called once report.json is written."""
