"""A plugin that adds `bench greet` and `bench data count` through register_commands:
``greet`` prints through the context it is handed, ``data count`` is a ``run(args)`` of
one argument, written before commands got a context."""

from __future__ import annotations

from bench import hookimpl
from bench.interfaces import Command


def _greet(args, context):  # type: ignore[no-untyped-def]
    context.console.print(f"hello {args.name}")
    return 3


@hookimpl
def register_commands(register):  # type: ignore[no-untyped-def]
    register(Command(("greet",), "say hello", _greet, lambda p: p.add_argument("name")))
    register(Command(("data", "count"), "count nothing", lambda args: 0))
