"""Binary FITS tables whose columns are decoded from the file's bytes by name (any case).

~10x faster than building astropy's column objects for the 126-236 column SPALL row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np


def is_table(hdu: Any) -> bool:
    return str(hdu.header.get("XTENSION", "")).strip().upper() == "BINTABLE"


class FitsTable:
    """A binary table HDU whose columns are decoded from the raw bytes by name (any case)."""

    def __init__(self, hdul: Any, index: int, raw: bytes) -> None:
        hdu = hdul[index]
        self.header, self.raw = hdu.header, raw
        self.name = str(self.header.get("EXTNAME", "")).strip().upper()
        self.nrows, self.width = int(self.header["NAXIS2"]), int(self.header["NAXIS1"])
        # _data_offset is fileinfo()["datLoc"] without re-serialising the whole header
        offset = getattr(hdu, "_data_offset", None)
        self.start = int(offset if offset is not None else hdul.fileinfo(index)["datLoc"])
        if self.start + self.width * self.nrows > len(raw):
            raise ValueError(f"table HDU {index} ({self.name or 'unnamed'}) is truncated")
        self.layout: dict[str, tuple[int, str, int, int]] = {}  # name -> (k, code, count, offset)
        at = 0
        for k in range(1, int(self.header["TFIELDS"]) + 1):
            match = _TFORM.match(str(self.header[f"TFORM{k}"]).strip())
            if match is None:
                raise ValueError(f"table HDU {index}: bad TFORM{k}")
            count, code = int(match.group(1) or 1), match.group(2)
            name = str(self.header.get(f"TTYPE{k}", f"col{k}")).strip().lower()
            self.layout.setdefault(name, (k, code, count, at))
            at += (count + 7) // 8 if code == "X" else count * _FITS_TYPES[code][1]

    def has(self, *columns: str) -> bool:
        return all(c.lower() in self.layout for c in columns)

    def column(self, name: str) -> np.ndarray:
        """One column, scaled by TSCALn/TZEROn when the header says so; strings decoded."""
        k, code, count, at = self.layout[name.lower()]
        fmt = f"S{count}" if code == "A" else _FITS_TYPES[code][0]
        if code in "XPQ":
            raise ValueError(f"column {name} has unsupported TFORM {code}")
        shape = "" if count == 1 or code == "A" else f"({count},)"
        dtype = np.dtype(
            {"names": ["c"], "formats": [shape + fmt], "offsets": [at], "itemsize": self.width}
        )
        data = np.frombuffer(self.raw, dtype, count=self.nrows, offset=self.start)["c"]
        scale, zero = self.header.get(f"TSCAL{k}", 1), self.header.get(f"TZERO{k}", 0)
        if data.dtype.kind in "fiu" and (scale != 1 or zero != 0):
            return data * scale + zero
        if data.dtype.kind == "S":
            return np.char.decode(data, "ascii", "replace")
        return data


_TFORM = re.compile(r"^(\d*)([LXBIJKAEDCMPQ])")
_FITS_TYPES = {
    "L": ("i1", 1),
    "B": ("u1", 1),
    "I": (">i2", 2),
    "J": (">i4", 4),
    "K": (">i8", 8),
    "A": ("S1", 1),
    "E": (">f4", 4),
    "D": (">f8", 8),
    "C": (">c8", 8),
    "M": (">c16", 16),
    "P": ("V1", 8),
    "Q": ("V1", 16),
    "X": ("V1", 1),
}


def find_table(
    tables: Sequence[FitsTable], columns: Sequence[str], prefer: Sequence[str]
) -> FitsTable | None:
    """The first table having all ``columns``, preferring tables named in ``prefer``."""
    for table in sorted(tables, key=lambda t: t.name not in prefer):
        if table.has(*columns):
            return table
    return None
