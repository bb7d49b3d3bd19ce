"""The `bench` command line: argument parsing, commands, and all terminal output."""

from bench.cli.main import main

__all__ = ["main"]
