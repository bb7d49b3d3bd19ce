"""The per-class figures published in Lara Cruz & García (2024), as data, and ours beside them.

Source: Lara Cruz, V. & García, L. Á. 2024, "Clasificación de Espectros Astrofísicos usando
Algoritmos de Aprendizaje Profundo Preentrenados", doi:10.19053/01217488.v15.n2.2024.15965
(text in /work/shared/paper/lara-cruz-garcia-2024.md). Only what the text states in numbers
is recorded; the figures themselves (confusion matrices) are images we cannot read. The
paper evaluates after 40 epochs ("con 40 iteraciones", section 3), so we compare with our
40-epoch cells. ``metric`` is None where the text gives a percentage without naming the
metric; ``model``/``train_fraction`` are None where the text does not say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAPER = "Lara Cruz & García 2024"
PAPER_EPOCHS = 40
# where the paper names no metric, show ours for all three it used
UNSTATED = (("accuracy", "acc"), ("precision", "prec"), ("recall", "rec"))
MODEL_NAMES = {"inception_v3": "INCEPTION V3", "resnet50": "RESNET 50", "mnist_cnn": "MNIST"}


@dataclass(frozen=True)
class PaperFigure:
    model: str | None  # our model plugin name
    train_fraction: float | None
    cls: str  # STAR, GALAXY, QSO
    metric: str | None  # accuracy (exactitud), precision, recall (sensibilidad)
    value: float
    qualifier: str  # "", "about", "more than"
    where: str
    quote: str


FIGURES: tuple[PaperFigure, ...] = (
    # Conclusiones (section 4): "el modelo INCEPTION V3 es mejor clasificador para espectros
    # de estrellas y galaxias con un 85 % y 75 %, respectivamente ... con una proporción de
    # datos del 20 % para prueba y el 80 % para entrenamiento."
    PaperFigure("inception_v3", 0.8, "STAR", None, 0.85, "", "sec. 4", "85 % estrellas"),
    PaperFigure("inception_v3", 0.8, "GALAXY", None, 0.75, "", "sec. 4", "75 % galaxias"),
    # Conclusiones: "el algoritmo RESNET 50 clasifica mejor los espectros de estrellas y
    # galaxias con un 83 % y 73 %, respecticamente."
    PaperFigure("resnet50", 0.8, "STAR", None, 0.83, "", "sec. 4", "83 % estrellas"),
    PaperFigure("resnet50", 0.8, "GALAXY", None, 0.73, "", "sec. 4", "73 % galaxias"),
    # Conclusiones: "el modelo de MNIST presenta una clasificación parcial para las tres clases
    # de espectro con un 78 % para estrellas, 22 % para estrellas y 62 % para galaxias". The
    # text names stars twice; with "las tres clases" the 22 % is read as quasars (our reading).
    PaperFigure("mnist_cnn", 0.8, "STAR", None, 0.78, "", "sec. 4", "78 % estrellas"),
    PaperFigure(
        "mnist_cnn", 0.8, "QSO", None, 0.22, "", "sec. 4", "22 % (text says estrellas; read QSO)"
    ),
    PaperFigure("mnist_cnn", 0.8, "GALAXY", None, 0.62, "", "sec. 4", "62 % galaxias"),
    # Resultados, Figura 8 (60/40): "INCEPTION V3 y RESNET 50 clasifican cuásares en un 80 %
    # ... con la métrica de exactitud. Además, con la métrica de precisión la clasificación se
    # mantiene en un 80 % para la clase de cuásares, aún con la métrica de sensibilidad se
    # reduce al 70 %."
    *(
        PaperFigure(m, 0.6, "QSO", metric, value, "about", "sec. 3, Fig. 8", quote)
        for m in ("inception_v3", "resnet50")
        for metric, value, quote in (
            ("accuracy", 0.80, "cuásares 80 % exactitud"),
            ("precision", 0.80, "cuásares 80 % precisión"),
            ("recall", 0.70, "cuásares 70 % sensibilidad"),
        )
    ),
    # Resultados, Figura 9 (70/30): "manteniendo la clasificación de los espectros de cuásar
    # con una bondad del 80 % para los algoritmos RESNET 50 y MNIST"; "ResNet 50 clasifica al
    # 50 % de los espectros de prueba" of stars.
    PaperFigure("resnet50", 0.7, "QSO", None, 0.80, "about", "sec. 3, Fig. 9", "cuásar 80 %"),
    PaperFigure("mnist_cnn", 0.7, "QSO", None, 0.80, "about", "sec. 3, Fig. 9", "cuásar 80 %"),
    PaperFigure("resnet50", 0.7, "STAR", None, 0.50, "", "sec. 3, Fig. 9", "estrellas 50 %"),
    # Abstract: "the best classifier for quasar spectra is RESNET 50 with a performance of
    # more than 60 % accuracy" (split not stated).
    PaperFigure("resnet50", None, "QSO", "accuracy", 0.60, "more than", "abstract", "> 60 %"),
)


def _ours(metrics: dict[str, Any], cls: str, metric: str | None) -> str:
    per = metrics["per_class"].get(cls)
    if per is None:
        return "class not in run"
    if metric is not None:
        return f"{per[metric]:.2f}"
    return " / ".join(f"{short} {per[k]:.2f}" for k, short in UNSTATED)


def comparison(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per published figure with our matching value(s) from ``report``.

    Matches cells by model plugin name, train fraction (any where the paper gives none) and
    40 epochs (the largest epoch count in the run when 40 was not run).
    """
    ok = [r for r in report["results"] if r["status"] == "ok"]
    rows = []
    for fig in FIGURES:
        cells = [
            r
            for r in ok
            if r["cell"]["plugin"] == fig.model
            and (fig.train_fraction is None or r["cell"]["train_fraction"] == fig.train_fraction)
        ]
        if cells:
            epochs = max(r["cell"]["epochs"] for r in cells)
            epochs = (
                PAPER_EPOCHS if any(r["cell"]["epochs"] == PAPER_EPOCHS for r in cells) else epochs
            )
            cells = [r for r in cells if r["cell"]["epochs"] == epochs]
        rows.append(
            {
                "model": MODEL_NAMES.get(fig.model or "", "?"),
                "train_fraction": fig.train_fraction,
                "class": fig.cls,
                "metric": fig.metric or "not stated",
                "paper": f"{fig.qualifier} {fig.value:.0%}".strip(),
                "where": f"{fig.where}: {fig.quote}",
                "ours": "; ".join(
                    f"{r['cell']['id']}: {_ours(r['metrics'], fig.cls, fig.metric)}" for r in cells
                )
                or "not run",
            }
        )
    return rows


def relevant(report: dict[str, Any]) -> bool:
    """Whether the run trained any of the paper's models (then reports show the comparison)."""
    return any(r["cell"]["plugin"] in MODEL_NAMES for r in report["results"])
