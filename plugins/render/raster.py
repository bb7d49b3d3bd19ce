"""Rasterising a polyline: flux against wavelength as an antialiased line of columns.

Each pixel column c holds the part of the polyline with c <= x < c+1; its vertical extent
is the min/max of the line's y over that column (the samples inside it and the line's
value at both column edges): ``envelope``. The column is inked from
``ymin - line_width/2`` to ``ymax + line_width/2``, and a line wider than 1.5 pixels also
takes the extent of its neighbouring columns: ``stroke``. A span is painted with exact
fractional coverage at both ends (antialiasing): ``paint_spans`` in numpy (only the inked
pixels are computed, one scatter over the batch, so the cost follows the ink),
``coverage`` densely (every pixel, static shapes: what jit compiles).

``envelope`` and ``stroke`` take the array module first (``xp``: numpy or jax.numpy).
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import numpy as np

from bench_plugins.render.geometry import Columns

# Pixels painted per step: big enough to amortise numpy calls, small enough for the cache.
CHUNK_PIXELS = 1 << 18


def envelope(xp: Any, y: Any, cols: Columns) -> tuple[Any, Any]:
    """Per column, the min and max y of the polyline through (cols.x, y): (N, W) each."""
    p = y.shape[1]
    i = cols.boundary_index
    nxt = np.minimum(i + 1, p - 1)
    t = cols.boundary_t
    at_bounds = y[:, i] * (1 - t) + y[:, nxt] * t
    ymin = xp.minimum(at_bounds[:, :-1], at_bounds[:, 1:])
    ymax = xp.maximum(at_bounds[:, :-1], at_bounds[:, 1:])
    # The samples inside each column, two ways: numpy reduces runs of sorted samples
    # (reduceat) and updates the non-empty columns in place; jax has no reduceat but
    # segment reductions (empty columns give +-inf, which min/max ignore).
    if xp is np:
        inner_min = np.minimum.reduceat(y, cols.starts, axis=1)
        inner_max = np.maximum.reduceat(y, cols.starts, axis=1)
        ymin[:, cols.nonempty] = np.minimum(ymin[:, cols.nonempty], inner_min)
        ymax[:, cols.nonempty] = np.maximum(ymax[:, cols.nonempty], inner_max)
        return ymin, ymax
    import jax

    column = xp.asarray(cols.column)
    lowest = jax.ops.segment_min(y.T, column, num_segments=cols.width).T
    highest = jax.ops.segment_max(y.T, column, num_segments=cols.width).T
    return xp.minimum(ymin, lowest), xp.maximum(ymax, highest)


def stroke(xp: Any, ymin: Any, ymax: Any, line_width: float) -> tuple[Any, Any]:
    """The inked span [top, bottom] of each column for a line ``line_width`` pixels wide."""
    top = ymin - np.float32(line_width / 2)
    bottom = ymax + np.float32(line_width / 2)
    radius = int(round((line_width - 1) / 2))
    if radius > 0:  # each column also takes the extent of ``radius`` columns each side
        w = top.shape[1]
        pads = ((0, 0), (radius, radius))
        pad_top = xp.pad(top, pads, constant_values=np.inf)
        pad_bottom = xp.pad(bottom, pads, constant_values=-np.inf)
        shifts = range(2 * radius + 1)
        top = reduce(xp.minimum, [pad_top[:, k : k + w] for k in shifts])
        bottom = reduce(xp.maximum, [pad_bottom[:, k : k + w] for k in shifts])
    return top, bottom


def coverage(xp: Any, top: Any, bottom: Any, height: int) -> Any:
    """Coverage (N, height, W) of the spans [top, bottom] (clipped to the image) in each
    pixel, min(bottom, r + 1) - max(top, r) clipped to [0, 1]: dense, for jit (the numpy
    renderers use :func:`paint_spans`, which skips the empty pixels)."""
    a = xp.clip(top, 0, height)[:, None, :]
    b = xp.clip(bottom, 0, height)[:, None, :]
    r = xp.arange(height, dtype=xp.float32)[None, :, None]
    return xp.clip(xp.minimum(b, r + 1) - xp.maximum(a, r), 0.0, 1.0)


def paint_spans(
    top: np.ndarray,
    bottom: np.ndarray,
    height: int,
    channels: int,
    invert: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Images (N, height, W, channels) float32: coverage of [top, bottom] in each column
    (1 = ink), or 1 - coverage with ``invert``; written into ``out`` when given.

    Coverage of row r is 1 for floor(top) <= r < floor(bottom), plus frac(bottom) at row
    floor(bottom) minus frac(top) at row floor(top). The full rows come from one integer
    comparison per pixel (channels laid side by side so every loop is long and
    contiguous); the two fractional ends per column are scattered afterwards.
    """
    n, w = top.shape
    wide = w * channels
    a = np.clip(top, 0, height)
    b = np.clip(bottom, 0, height)
    if channels > 1:
        a = np.repeat(a, channels, axis=1)
        b = np.repeat(b, channels, axis=1)
    first = np.floor(a)
    stop = np.floor(b)
    frac_a = a - first
    frac_b = b - stop
    small = np.uint8 if height < 255 else np.uint16 if height < 65535 else np.uint32
    first_row = first.astype(small)
    length = (stop - first).astype(small)
    rows = np.arange(height, dtype=small)[:, None]
    last = height - 1
    sign = np.float32(-1.0 if invert else 1.0)
    pixel = (np.arange(n)[:, None] * (height * wide) + np.arange(wide)).astype(np.intp)
    at_stop = pixel + np.minimum(stop, last).astype(np.intp) * wide
    at_first = pixel + np.minimum(first, last).astype(np.intp) * wide
    add_stop = np.where(stop < height, frac_b, 0).astype(np.float32) * sign
    sub_first = np.where(first < height, frac_a, 0).astype(np.float32) * sign
    if out is None:
        out = np.empty((n, height, w, channels), np.float32)
    assert out.flags.c_contiguous and out.shape == (n, height, w, channels)
    chunk = max(1, CHUNK_PIXELS // (height * wide))
    offset = np.empty((chunk, height, wide), small)
    inside = np.empty((chunk, height, wide), bool)
    images = out.reshape(n, height, wide)
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        np.subtract(rows, first_row[s:e, None, :], out=offset[: e - s])
        np.less(offset[: e - s], length[s:e, None, :], out=inside[: e - s])
        if invert:
            np.logical_not(inside[: e - s], out=inside[: e - s])
        np.copyto(images[s:e], inside[: e - s])
    flat = out.reshape(-1)
    flat[at_stop] += add_stop
    flat[at_first] -= sub_first
    return out
