"""The SDSS pipeline template files (spEigenStar, spEigenGal, spEigenQSO FITS): where the
package ships them and how they are read (:func:`bench.readers.read_template_file`, one
:class:`~bench.readers.TemplateFile` per class). Used by template mode, the galaxies' old
stars and the stars' line forest."""

from __future__ import annotations

from pathlib import Path

from bench.readers import TemplateFile, find_template_file, read_template_file

# the SDSS templates shipped with the package (data folder, shared with template_fit)
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "templates"


def load(folder: str, classes: list[str]) -> dict[str, TemplateFile]:
    """Read the template file of each class; BenchError naming the folder when one is missing."""
    return {
        label: read_template_file(
            find_template_file(folder, label, "synthetic.template_dir"), label
        )
        for label in classes
    }
