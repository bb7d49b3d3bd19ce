"""`bench plot spectra` and `bench plot gallery` write real pictures."""

from __future__ import annotations

import textwrap

import numpy as np

from bench.cli import main


def _image(path):
    import matplotlib.image

    return np.asarray(matplotlib.image.imread(path))


def test_plot_spectra_draws_each_class(tmp_path):
    out = tmp_path / "spectra.png"
    assert main(["plot", "spectra", "--out", str(out)]) == 0
    img = _image(out)
    assert img.ndim == 3 and img.shape[0] > 200 and img[..., :3].std() > 0.05


def test_plot_gallery_renders_what_the_model_sees(tmp_path, capsys):
    config = tmp_path / "b.toml"
    config.write_text(
        textwrap.dedent(
            """
            [dataset]
            name = "synthetic"
            n = 60
            [render]
            name = "line"
            [[models]]
            name = "mnist_cnn"
            """
        )
    )
    out = tmp_path / "gallery.png"
    assert main(["plot", "gallery", str(config), "--per-class", "2", "--out", str(out)]) == 0
    assert "mnist_cnn: 28x28x1" in capsys.readouterr().err
    assert _image(out)[..., :3].std() > 0.05
    assert main(["plot", "gallery", str(config), "--model", "resnet", "--out", str(out)]) == 2
    assert "no model labelled 'resnet'; labels: mnist_cnn" in capsys.readouterr().err
