"""The continuum as real dwarfs have it: a broad-band flux correction of the synthetic
stars, built from the SDSS pipeline's own dwarf templates (spEigenStar) against the
uncorrected stellar model (:mod:`bench_plugins.synthetic.stars` builds it and applies it).

Black body, blanketing law and lines leave the synthetic dwarfs off the templates in
broad-band shape: beside a star of the same Teff (Pecaut & Mamajek, below), the median
log10 template / synthetic flux at 3800-4200 A over 5300-5600 A was A +0.15, F +0.11,
G +0.12, K +0.04, M1 +0.18, and at 7100-9400 A A -0.09, F -0.04, G -0.02, K +0.03 (the
4000 A break G +0.07, K +0.14). So each star's flux is multiplied by the templates'
broad-band ratio to the uncorrected model, per spectral-type half-class (A0-4, A5-9, ...
M0-4: the median of its dwarf and subgiant templates, peculiar ones left out), in bins of
CONTINUUM_BIN_DEX in log wavelength, interpolated in log Teff between the half-classes'
median Teffs; held at the coolest (M1: no cooler dwarf template is shipped, so M2-M9 take
M1's, unchecked) and faded out above the hottest (to nothing at CONTINUUM_FADE_K; B and O
stars, white dwarfs and carbon stars keep the uncorrected model). Line depths stay the
model's: a bin is ~80-230 A wide.

Held out (each template against the correction built without it;
``tests/perf/stars_vs_templates.py --paired``), the median |template - synthetic| at
3800-4200 A falls from 0.14-0.16 to 0.05 (A), 0.11 to 0.015 (F), 0.09-0.14 to 0.02-0.04
(G), and at 7100-9400 A from 0.09-0.10 to 0.03 (A), 0.04 to 0.01 (F), 0.02 to 0.01 (G);
K's own scatter is larger than its bias (0.03-0.09 to 0.05-0.07 at 3800-4200 A, 0.02-0.04
to 0.03-0.04 in the red: its templates disagree).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

# (node Teffs, bin centres in log10 rest A, log10 correction per node and bin)
Table = tuple[np.ndarray, np.ndarray, np.ndarray]

# Dwarf Teff (K) by spectral subtype 0-9: Pecaut & Mamajek 2013 (ApJS 208, 9), Table 5 as
# updated by E. Mamajek, "A Modern Mean Dwarf Stellar Color and Effective Temperature
# Sequence", version 2022.04.16.
DWARF_TEFF = {
    "A": (9700, 9300, 8800, 8600, 8250, 8100, 7910, 7760, 7590, 7400),
    "F": (7220, 7020, 6820, 6750, 6670, 6550, 6350, 6280, 6180, 6050),
    "G": (5930, 5860, 5770, 5720, 5680, 5660, 5600, 5550, 5480, 5380),
    "K": (5270, 5170, 5100, 4830, 4600, 4440, 4300, 4100, 3990, 3930),
    "M": (3850, 3660, 3560),
}
CONTINUUM_BIN_DEX = 0.01
CONTINUUM_FADE_K = 12000.0
CONTINUUM_RANGE_A = (3550.0, 10450.0)  # rest-frame span measured (the BOSS grid and a bit)
TEMPLATE_NAME = re.compile(r"(?:sd:?)?([AFGKM])(\d)(?:\.\d)?(?:/[A-Z]\d)?([IVab]*)([a-z]*)")


def dwarf_template_types(names: Sequence[str]) -> list[tuple[int, str, int]]:
    """(index, class letter, subtype) of the templates named as dwarfs or subgiants of types
    A-M (luminosity class V or IV, or none: ``M1``, ``sd:F0``), not peculiar (``p``, ``m``
    suffixes: ``K3p``, ``A1m``, ``Am``), whose type has a Teff in DWARF_TEFF."""
    out = []
    for i, name in enumerate(names):
        m = TEMPLATE_NAME.fullmatch(name.split(" ")[0].rstrip("."))
        if m is None or m.group(3) not in ("", "V", "IV", "Va", "IVa"):
            continue
        kind, subtype = m.group(1), int(m.group(2))
        if "p" in m.group(4) or "m" in m.group(4) or subtype >= len(DWARF_TEFF[kind]):
            continue
        out.append((i, kind, subtype))
    return out


def correction_table(
    names: Sequence[str],
    t_loglam: np.ndarray,
    t_flux: np.ndarray,
    model: Callable[[np.ndarray, np.ndarray], np.ndarray],
    leave_out: int | None = None,
) -> Table | None:
    """(node Teffs (K,) ascending, bin centres in log10 rest A (L,), log10 flux correction
    (K, L), zero at 6200 A) from the dwarf templates among ``names`` (rows of ``t_flux`` on
    ``t_loglam``), without template ``leave_out``, against ``model(loglam, teff)``: the
    uncorrected flux (B, P) of a typical star at each Teff, at rest; None without any."""
    picked = [p for p in dwarf_template_types(names) if p[0] != leave_out]
    if not picked:
        return None
    lo, hi = np.log10(CONTINUUM_RANGE_A)
    loglam = np.arange(lo, hi, 1e-4)
    teff = np.array([DWARF_TEFF[c][k] for _, c, k in picked], float)
    flux = model(loglam, teff)
    real = np.array([np.interp(loglam, t_loglam, t_flux[i]) for i, _, _ in picked])
    which = np.floor((loglam - lo) / CONTINUUM_BIN_DEX).astype(int)
    bins = np.unique(which)
    ratio = np.stack(
        [
            np.log10(real[:, which == b].mean(axis=1) / flux[:, which == b].mean(axis=1))
            for b in bins
        ],
        axis=1,
    )
    centres = np.array([loglam[which == b].mean() for b in bins])
    ratio -= np.array([np.interp(np.log10(6200.0), centres, r) for r in ratio])[:, None]
    groups: dict[tuple[str, int], list[int]] = {}
    for row, (_, c, k) in enumerate(picked):
        groups.setdefault((c, k // 5), []).append(row)
    nodes = sorted(
        (
            (float(np.median(teff[rows])), np.median(ratio[rows], axis=0))
            for rows in groups.values()
        ),
        key=lambda node: node[0],
    )
    return (
        np.array([n[0] for n in nodes]),
        centres,
        np.array([n[1] for n in nodes], np.float32),
    )


def correction(
    loglam: np.ndarray,
    z: np.ndarray,
    teff: np.ndarray,
    off: np.ndarray,
    table: Table | None,
) -> np.ndarray:
    """Flux factor (B, P) of ``table`` (:func:`correction_table`) at each star's ``teff``
    and rest wavelength; 1 for the ``off`` rows and without a table."""
    out = np.ones((len(z), len(loglam)), np.float32)
    if table is None:
        return out
    nodes, centres, corr = table
    x = np.log10(np.clip(teff, nodes[0], nodes[-1]))
    k = np.clip(np.searchsorted(np.log10(nodes), x) - 1, 0, len(nodes) - 2)
    w = (x - np.log10(nodes[k])) / (np.log10(nodes[k + 1]) - np.log10(nodes[k]))
    fade = np.clip(np.log(CONTINUUM_FADE_K / teff) / np.log(CONTINUUM_FADE_K / nodes[-1]), 0, 1)
    for row in np.flatnonzero(~off & (fade > 0)):
        c = (1 - w[row]) * corr[k[row]] + w[row] * corr[k[row] + 1]
        rest = loglam - np.log10(1.0 + z[row])
        out[row] = np.power(10.0, fade[row] * np.interp(rest, centres, c))
    return out
