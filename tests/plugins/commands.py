"""A plugin that adds `bench greet` and `bench data count` through register_commands."""

from __future__ import annotations

from bench import hookimpl
from bench.interfaces import Command


def _greet(args):  # type: ignore[no-untyped-def]
    print(f"hello {args.name}")
    return 3


@hookimpl
def register_commands(register):  # type: ignore[no-untyped-def]
    register(Command(("greet",), "say hello", _greet, lambda p: p.add_argument("name")))
    register(Command(("data", "count"), "count nothing", lambda args: 0))
