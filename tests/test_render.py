"""Renderers: exact shapes and ranges, fidelity to a matplotlib drawing, robust scaling,
numpy/jax agreement, the alternative encodings, the flux passthrough and the gallery."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import BenchError
from bench.feed import Pipeline
from bench.plugins.manager import get_registry
from bench.results.gallery import write_gallery
from bench.spectra import SpectrumBatch, boss_grid, empty_batch
from bench_plugins.preprocess import Mask, MovingAverage
from bench_plugins.render import Area, FluxPassthrough, Fold, Gaf, Line

SHAPES = [(28, 28, 1), (75, 75, 3), (224, 224, 3), (32, 96, 1)]


def spectra(n: int = 6, n_pixels: int = 1500, seed: int = 0, noise: float = 0.3) -> SpectrumBatch:
    """Power-law continuum + Gaussian emission lines + Gaussian noise, uniform ivar."""
    rng = np.random.default_rng(seed)
    batch = empty_batch(boss_grid()[::3][:n_pixels], n)
    wave = batch.wavelength
    flux = rng.uniform(2, 8, (n, 1)) * (wave / 5000.0) ** rng.uniform(-2, 1, (n, 1))
    for centre in (3727.0, 4861.0, 5007.0, 6563.0):
        flux = flux + rng.uniform(0, 10, (n, 1)) * np.exp(-0.5 * ((wave - centre) / 6.0) ** 2)
    batch.flux[:] = flux + rng.normal(0, noise, flux.shape)
    batch.ivar[:] = 1 / noise**2
    batch.ids[:] = np.arange(n)
    batch.labels[:] = np.array(["STAR", "GALAXY", "QSO"])[np.arange(n) % 3]
    return batch


def damaged() -> SpectrumBatch:
    batch = spectra(n=6)
    batch.flux[0, 100:400] = np.nan
    batch.flux[1, 10] = np.inf
    batch.ivar[1, -300:] = 0  # trimmed at the red end
    batch.ivar[2, :] = 0
    batch.ivar[3, 500:900] = 0
    batch.flux[4, :] = np.nan
    batch.ivar[5, 20] = np.nan
    return batch


def image_renderers() -> list:
    registry = get_registry(third_party=False)
    names = sorted(n for n in registry.classes["renderer"] if n != "none")
    return [registry.create("renderer", n, {}, n) for n in names] + [
        Line(line_width=2.5, invert=True, x_axis="loglam")
    ]


def ink_rows(image: np.ndarray) -> np.ndarray:
    """Row indices of the drawn pixels (coverage above a quarter) of a 2-D image."""
    return np.nonzero(image > 0.25)[0]


def test_registered_names() -> None:
    names = set(get_registry(third_party=False).classes["renderer"])
    assert {"line", "area", "fold", "gaf", "none"} <= names


@pytest.mark.parametrize("renderer", image_renderers(), ids=lambda r: f"{r.name}-{r.params}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_exact_shape_dtype_range_and_finite(renderer, shape) -> None:
    images = renderer.render(damaged(), shape)
    assert images.shape == (6, *shape) and images.dtype == np.float32
    assert np.isfinite(images).all()
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.reshape(6, -1).std(axis=1)[[0, 1, 3, 5]].min() > 0, "a picture, not a blank"


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 2), (0, 28, 1), (28, 28, 4)])
def test_bad_shapes_are_one_line_errors(shape) -> None:
    for renderer in (Line(), Fold(), Gaf(), Area()):
        with pytest.raises(BenchError, match="channels 1 or 3"):
            renderer.render(spectra(n=1), shape)


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(BenchError, match="percentiles"):
        Line(percentiles=[99.0, 1.0])
    with pytest.raises(BenchError, match="line_width"):
        Line(line_width=0.0)
    with pytest.raises(BenchError, match="backend"):
        Line(backend="cuda")


def matplotlib_line(wave, flux, bottom, top, shape, line_width) -> np.ndarray:
    """The same spectrum drawn by matplotlib: white line on black, no axes, exactly
    height x width pixels, the same x and y limits; returns coverage in [0, 1]."""
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height, width = shape
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="black")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.plot(wave, flux, color="white", lw=line_width * 72 / dpi, antialiased=True)
    ax.set_xlim(wave[0], wave[-1])
    ax.set_ylim(bottom, top)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    assert rgba.shape[:2] == (height, width)
    return rgba[..., 0] / 255.0


def dilate(drawn: np.ndarray) -> np.ndarray:
    """Binary dilation by one pixel (3x3 square)."""
    out = drawn.copy()
    out[1:] |= drawn[:-1]
    out[:-1] |= drawn[1:]
    wide = out.copy()
    wide[:, 1:] |= out[:, :-1]
    wide[:, :-1] |= out[:, 1:]
    return wide


def tolerant_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the drawn pixels (coverage > 0.25) after a one-pixel dilation of both."""
    da, db = dilate(a > 0.25), dilate(b > 0.25)
    return float((da & db).sum() / (da | db).sum())


@pytest.mark.parametrize("shape", [(224, 224), (75, 75), (64, 200)])
@pytest.mark.parametrize("line_width", [1.0, 2.0])
def test_line_matches_a_matplotlib_drawing(shape, line_width) -> None:
    """Measure: IoU of drawn pixels (coverage > 0.25) after dilating both by one pixel, so
    that Agg's pixel snapping and half-pixel placement do not count. Threshold 0.75: a
    one-pixel-wide line leaves little room, so a renderer with a wrong x or y mapping,
    wrong limits or a missing envelope falls far below it, while the two antialiasing
    schemes still differ slightly at line joins. The same image compared with the
    drawing of a different spectrum must score clearly lower (the measure discriminates).
    """
    batch = spectra(n=4, noise=0.05, seed=3)
    renderer = Line(line_width=line_width)
    images = renderer.render(batch, (*shape, 1))[..., 0]
    bottom, top = renderer.limits(batch)
    drawings = [
        matplotlib_line(batch.wavelength, batch.flux[i], bottom[i], top[i], shape, line_width)
        for i in range(len(batch))
    ]
    for i in range(len(batch)):
        same = tolerant_iou(images[i], drawings[i])
        other = tolerant_iou(images[i], drawings[(i + 1) % len(batch)])
        assert same >= 0.75, f"spectrum {i}: IoU {same:.2f}"
        assert same > other + 0.1, f"spectrum {i}: IoU {same:.2f} vs other {other:.2f}"


@pytest.mark.parametrize(
    ("shape", "params"),
    [
        ((28, 28, 1), {}),
        ((75, 75, 3), {"line_width": 3.0, "invert": True}),
        ((50, 120, 3), {"x_axis": "loglam", "margin": 0.0}),
    ],
)
def test_numpy_and_jax_backends_agree(shape, params) -> None:
    pytest.importorskip("jax")
    batch = damaged()
    cpu = Line(**params).render(batch, shape)
    jitted = Line(backend="jax", **params).render(batch, shape)
    assert jitted.shape == cpu.shape and jitted.dtype == np.float32
    np.testing.assert_allclose(jitted, cpu, atol=1e-4)


def test_one_spike_does_not_squash_the_spectrum() -> None:
    batch = spectra(n=3, noise=0.05)
    spiked = batch.take(np.arange(3))
    spiked.flux[:, 700] = 1e4 * np.abs(batch.flux[:, 700]).max()
    spiked.flux[:, 900] = -1e4
    height = 75
    clean, hit = (Line().render(b, (height, 75, 1))[..., 0] for b in (batch, spiked))
    wave = batch.wavelength
    keep = np.ones(75, bool)  # columns away from the spikes' own
    for k in (700, 900):
        c = int((wave[k] - wave[0]) / (wave[-1] - wave[0]) * 75)
        keep[max(c - 1, 0) : c + 2] = False
    # the limits stay within the real data's range (plus the margin), far from the spikes
    lo, hi = batch.flux.min(axis=1), batch.flux.max(axis=1)
    bottom, top = Line().limits(spiked)
    assert (top <= hi + 0.2 * (hi - lo)).all() and (bottom >= lo - 0.2 * (hi - lo)).all()
    for i in range(3):
        rows = ink_rows(hit[i][:, keep])
        assert np.percentile(rows, 95) - np.percentile(rows, 5) > 0.3 * height
        assert tolerant_iou(clean[i][:, keep], hit[i][:, keep]) > 0.6
    # the contrast: min/max limits (matplotlib's autoscale) squash the spectrum to a line
    squashed = Line(percentiles=[0.0, 100.0]).render(spiked, (height, 75, 1))[..., 0]
    for i in range(3):
        rows = ink_rows(squashed[i][:, keep])
        assert np.percentile(rows, 95) - np.percentile(rows, 5) < 0.1 * height


def test_bad_pixels_are_bridged() -> None:
    batch = spectra(n=2, noise=0.05)
    batch.flux[0, 600:800] = np.nan
    batch.ivar[1, 600:800] = 0
    batch.flux[1, 600:800] = 1e6  # masked garbage must not be drawn
    images = Line().render(batch, (56, 56, 1))[..., 0]
    assert (images > 0.25).any(axis=1).all(), "every column has ink: the gap is bridged"
    wave = batch.wavelength
    cols = ((wave[[600, 800]] - wave[0]) / (wave[-1] - wave[0]) * 56).astype(int)
    masked_cols = images[1, :, cols[0] + 1 : cols[1]]
    assert (masked_cols[:10] < 0.25).all(), "the masked 1e6 is not drawn (no line there)"


def test_columns_beyond_the_good_pixels_stay_blank() -> None:
    batch = spectra(n=2, noise=0.05)
    batch.ivar[0, :300] = 0  # a spectrum trimmed at the blue end
    batch.ivar[1, -300:] = 0  # and one at the red end
    wave = batch.wavelength
    split = [int((wave[k] - wave[0]) / (wave[-1] - wave[0]) * 60) for k in (300, 1199)]
    for renderer in (Line(), Area()):
        images = renderer.render(batch, (40, 60, 1))[..., 0]
        assert images[0, :, : split[0]].max() == 0 and images[0, :, split[0] + 1 :].max() > 0
        assert images[1, :, split[1] + 1 :].max() == 0 and images[1, :, : split[1]].max() > 0


@pytest.mark.parametrize("x_axis", ["wavelength", "loglam"])
def test_an_emission_line_is_drawn_at_its_wavelength(x_axis) -> None:
    batch = spectra(n=1, noise=0.02)
    batch.flux[:] = 1.0 + 50 * np.exp(-0.5 * ((batch.wavelength - 6000.0) / 3.0) ** 2)
    width = 200
    image = Line(x_axis=x_axis, percentiles=[0.0, 100.0]).render(batch, (60, width, 1))[0, ..., 0]
    coord = batch.wavelength if x_axis == "wavelength" else batch.loglam
    at = 6000.0 if x_axis == "wavelength" else np.log10(6000.0)
    expected = (at - coord[0]) / (coord[-1] - coord[0]) * width
    top_row = int(np.nonzero((image > 0.25).any(axis=1))[0][0])
    assert abs(np.nonzero(image[top_row] > 0.25)[0].mean() - expected) <= 1.5


def test_line_width_and_invert() -> None:
    batch = spectra(n=3, noise=0.05)
    thin = Line().render(batch, (64, 64, 1))
    thick = Line(line_width=3.0).render(batch, (64, 64, 1))
    assert (thick.sum(axis=(1, 2, 3)) > 2 * thin.sum(axis=(1, 2, 3))).all()
    np.testing.assert_allclose(Line(invert=True).render(batch, (64, 64, 1)), 1 - thin, atol=1e-6)
    color = Line().render(batch, (64, 64, 3))
    assert (color == color[..., :1]).all() and np.allclose(color[..., 0], thin[..., 0])


def test_area_fills_below_the_line() -> None:
    batch = spectra(n=2, noise=0.05)
    line = Line().render(batch, (40, 40, 1))[..., 0]
    area = Area().render(batch, (40, 40, 1))[..., 0]
    assert (area >= line - 1e-6).all()
    assert np.allclose(area[:, -1], 1.0), "the bottom row is filled everywhere"
    assert (np.diff(area, axis=1) >= -1e-6).all(), "ink never decreases going down a column"


def test_fold_keeps_wavelength_order() -> None:
    batch = spectra(n=1)
    batch.flux[:] = np.linspace(0.0, 10.0, batch.flux.shape[1])
    image = Fold(percentiles=[0.0, 100.0], margin=0.0).render(batch, (8, 10, 1))[0, ..., 0]
    assert (np.diff(image.ravel()) > 0).all()
    assert image.ravel()[0] < 0.1 and image.ravel()[-1] > 0.9
    three = Fold().render(damaged(), (8, 10, 3))
    good_fraction = three[3, ..., 2].ravel()  # spectrum 3 has ivar 0 on pixels 500-900 of 1500
    assert good_fraction[:26].min() == 1.0 and good_fraction[28:47].max() == 0.0


def test_gaf_is_symmetric_and_gadf_antisymmetric() -> None:
    images = Gaf().render(spectra(n=2), (30, 30, 3))
    for image in images:
        np.testing.assert_allclose(image[..., 0], image[..., 0].T, atol=1e-6)
        np.testing.assert_allclose(image[..., 1] + image[..., 1].T, 1.0, atol=1e-6)


def test_flux_passthrough() -> None:
    batch = spectra(n=2, n_pixels=1500)
    batch.flux[0, 3] = np.nan
    batch.flux[1, 7] = -np.inf
    same = FluxPassthrough().render(batch, (1500, 1))
    assert same.shape == (2, 1500, 1) and same.dtype == np.float32
    assert same[0, 3, 0] == 0 and same[1, 7, 0] == 0
    np.testing.assert_array_equal(same[0, 4:, 0], batch.flux[0, 4:])
    shorter = FluxPassthrough().render(batch, (150, 1))
    expected = np.nan_to_num(batch.flux, nan=0, neginf=0).reshape(2, 150, 10).mean(axis=2)
    np.testing.assert_allclose(shorter[..., 0], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(BenchError, match="pixels, 1"):
        FluxPassthrough().render(batch, (28, 28, 1))


def test_line_and_none_are_the_defaults_for_images_and_flux() -> None:
    assert Line.default_for == "image" and FluxPassthrough.default_for == "flux"
    assert all(cls.default_for == "" for cls in (Area, Fold, Gaf))
    registry = get_registry(third_party=False)
    assert registry.default_renderer("image") == "line"
    assert registry.default_renderer("flux") == "none"


def test_pipeline_with_preprocessors_gives_the_model_shape() -> None:
    pipeline = Pipeline([Mask(), MovingAverage(window=5)], Line(), (28, 28, 1))
    x = pipeline.apply(damaged())
    assert x.shape == (6, 28, 28, 1) and np.isfinite(x).all()


def test_gallery_writes_a_png_per_class(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.image

    batch = spectra(n=9)
    path = write_gallery(batch, Line(), (28, 28, 1), tmp_path / "look" / "gallery.png", per_class=2)
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    one_class = batch.take(np.flatnonzero(batch.labels == "QSO"))
    single = write_gallery(one_class, Line(), (28, 28, 1), tmp_path / "one.png", per_class=2)
    rows_three = matplotlib.image.imread(path).shape[0]
    rows_one = matplotlib.image.imread(single).shape[0]
    assert rows_three > 2 * rows_one, "one row of images per class"
