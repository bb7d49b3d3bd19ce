"""Plugin options declared as data: name, type, default, help; validated before a run."""

from __future__ import annotations

import builtins
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError, closest

_BOUNDS = {
    "ge": (">=", operator.ge),
    "gt": (">", operator.gt),
    "le": ("<=", operator.le),
    "lt": ("<", operator.lt),
}
_TYPE_NAMES = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "list",
    dict: "table",
}


@dataclass(frozen=True)
class Option:
    """One declared option of a plugin.

    ``type`` is one of int, float, str, bool, list, dict (a TOML table); ``choices`` restricts the value;
    ``item_type`` types the elements of a list option. ``None`` is accepted
    where the default is ``None``. ``ge``, ``gt``, ``le``, ``lt`` bound a number (>=, >,
    <=, <), or each number of a list option: ``Option("n", int, 10, "spectra", ge=1)``.
    """

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    item_type: builtins.type | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __post_init__(self) -> None:
        number = self.item_type if self.type is list else self.type
        if self.bounds and number not in (int, float):
            raise TypeError(f"option {self.name!r}: bounds apply to int and float values only")

    @property
    def bounds(self) -> dict[str, float]:
        """The bounds given, by name (``{"ge": 0, "le": 1}``)."""
        given = {"ge": self.ge, "gt": self.gt, "le": self.le, "lt": self.lt}
        return {k: v for k, v in given.items() if v is not None}

    def _bounds_text(self) -> str:
        """'>= 0 and <= 1'."""
        return " and ".join(f"{_BOUNDS[k][0]} {v}" for k, v in self.bounds.items())

    def describe(self) -> str:
        kind = _TYPE_NAMES.get(self.type, self.type.__name__)
        if self.item_type is not None:
            kind += f" of {_TYPE_NAMES.get(self.item_type, self.item_type.__name__)}"
        extra = f", one of {list(self.choices)}" if self.choices else ""
        if self.bounds:
            extra += f", {'each ' if self.type is list else ''}{self._bounds_text()}"
        return f"{kind}, default {self.default!r}{extra}"

    def check(self, value: Any, where: str) -> Any:
        """Return the value coerced to the declared type or raise BenchError naming ``where``."""
        if value is None and self.default is None:
            return None
        if (
            self.type is list
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            value = [value]  # `path = "data"` means `path = ["data"]`
        value = _coerce(value, self.type, f"{where}.{self.name}")
        if self.item_type is not None:
            value = [
                _coerce(v, self.item_type, f"{where}.{self.name}[{i}]") for i, v in enumerate(value)
            ]
        if self.bounds:
            key = f"{where}.{self.name}"
            if self.type is list:
                for i, item in enumerate(value):
                    self._check_bounds(item, f"{key}[{i}]")
            else:
                self._check_bounds(value, key)
        if self.choices is not None and value not in self.choices:
            raise BenchError(
                f"{where}.{self.name}: {value!r} is not valid; expected one of {list(self.choices)}"
            )
        return value

    def _check_bounds(self, value: float, key: str) -> None:
        if not all(_BOUNDS[k][1](value, bound) for k, bound in self.bounds.items()):
            number = self.item_type if self.type is list else self.type
            kind = "an integer" if number is int else "a number"
            raise BenchError(
                f"{key}: {value!r} is not valid; expected {kind} {self._bounds_text()}"
            )


def _coerce(value: Any, kind: type, key: str) -> Any:
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise BenchError(
            f"{key}: expected {_TYPE_NAMES.get(kind, kind.__name__)}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def resolve_options(
    declared: Sequence[Option], given: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """Merge ``given`` over the declared defaults; unknown keys list the valid ones."""
    by_name = {o.name: o for o in declared}
    for key in given:
        if key not in by_name:
            valid = ", ".join(sorted(by_name)) or "none"
            raise BenchError(
                f"{where}: unknown option {key!r}{closest(key, by_name)}; valid options: {valid}"
            )
    return {
        o.name: o.check(given[o.name], where) if o.name in given else o.default for o in declared
    }
