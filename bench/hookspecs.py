"""Every hook a plugin can implement. Call hooks with keyword arguments only.

Each ``register_*`` hook receives a ``register`` callback and calls it once per plugin
class it provides; the core owns the registries, names and duplicate checks. All hooks
are called for every plugin (none stops at the first result); none returns a value.
Example::

    from bench import hookimpl
    from bench.interfaces import Model

    class Majority(Model):
        name = "majority"
        ...

    @hookimpl
    def register_models(register):
        register(Majority)
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from bench.executors import Executor
from bench.interfaces import Command, Dataset, Model, Preprocessor, Renderer, ResultSink

hookspec = pluggy.HookspecMarker("bench")


@hookspec
def register_datasets(register: Callable[[type[Dataset]], None]) -> None:
    """Called once at start-up; call ``register(cls)`` for each Dataset class."""


@hookspec
def register_preprocessors(register: Callable[[type[Preprocessor]], None]) -> None:
    """Called once at start-up; call ``register(cls)`` for each Preprocessor class."""


@hookspec
def register_renderers(register: Callable[[type[Renderer]], None]) -> None:
    """Called once at start-up; call ``register(cls)`` for each Renderer class."""


@hookspec
def register_models(register: Callable[[type[Model]], None]) -> None:
    """Called once at start-up; call ``register(cls)`` for each Model class."""


@hookspec
def register_executors(register: Callable[[type[Executor]], None]) -> None:
    """Called once at start-up; call ``register(cls)`` for each Executor class (where the
    training runs of a matrix execute; chosen by the config's ``[executor]`` table)."""


@hookspec
def register_commands(register: Callable[[Command], None]) -> None:
    """Called when the ``bench`` command starts; call ``register(Command(...))`` for each
    subcommand the plugin adds (a ``bench.interfaces.Command``; the core's own commands are
    registered the same way, first). ``run(args, context)`` gets the parsed arguments and
    a ``bench.interfaces.CommandContext``: print through ``context.console``, read a
    benchmark with ``context.load_benchmark(path)``. Example::

        def add_arguments(parser):
            parser.add_argument("catalog", type=Path)

        def count(args, context):
            context.console.info(f"{args.catalog}: {len(args.catalog.read_text().splitlines())}")
            return 0

        @hookimpl
        def register_commands(register):
            register(Command(("data", "count"), "count a catalog's rows", count, add_arguments))
    """


@hookspec
def register_result_sinks(register: Callable[[type[ResultSink]], None]) -> None:
    """Called at the start of each run; call ``register(cls)`` for each ResultSink class
    (what happens with each finished cell and with the finished run: files, trackers).
    The core's report writers are sinks registered the same way, first. Example::

        from bench import hookimpl
        from bench.interfaces import ResultSink

        class Printer(ResultSink):
            name = "printer"

            def run_finished(self, *, run_dir, report):
                print(run_dir, report["summary"])

        @hookimpl
        def register_result_sinks(register):
            register(Printer)
    """
