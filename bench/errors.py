"""The one error type shown to users, and its exit code."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

USER_ERROR_EXIT = 2


class BenchError(Exception):
    """A user mistake (bad config, bad file, unknown plugin): printed as one line, exit 2."""


def closest(name: str, valid: Iterable[str]) -> str:
    """Return ' (did you mean X?)' for the closest valid name, or '' when none is close."""
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""
