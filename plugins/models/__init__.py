"""Built-in model plugins: the paper's InceptionV3, ResNet50 and MNIST-style CNN on Keras 3
(JAX backend), and 1-D baselines on the flux vector (a QuasarNET-like CNN, logistic
regression), and a template fit (SDSS pipeline / redrock style). No heavy imports here:
keras, jax and sklearn load inside the methods."""

from __future__ import annotations

from collections.abc import Callable

import bench
from bench_plugins.models.blend import Blend
from bench_plugins.models.keras.applications import InceptionV3, ResNet50
from bench_plugins.models.keras.cnn1d import CNN1D
from bench_plugins.models.keras.mnist_cnn import MnistCNN
from bench_plugins.models.logreg import LogisticRegression
from bench_plugins.models.template_fit import TemplateFit

MODELS = (InceptionV3, ResNet50, MnistCNN, CNN1D, LogisticRegression)
# models that fit templates instead of learning weights (no Keras, nothing to train)
FITTERS = (TemplateFit,)
# models made of other models
BLENDS = (Blend,)


@bench.hookimpl
def register_models(register: Callable[[type], None]) -> None:
    for model in (*MODELS, *FITTERS, *BLENDS):
        register(model)
