"""The Keras models (JAX backend): the paper's InceptionV3, ResNet50 and MNIST-style CNN, and
a QuasarNET-like 1-D CNN. Keras is imported inside methods, never at module import.

- ``base.py``: :class:`KerasModel`, one network trained on a ModelInput (device shipping,
  data parallelism, timing, save/load); subclasses give ``make_network``.
- ``ensemble.py``: :class:`SeedEnsemble`, the composite a model with ``ensemble`` > 1 is.
- ``options.py``: the training options every Keras model declares.
- ``data.py``, ``callbacks.py``, ``layers.py``: the PyDatasets, callbacks and layers of a
  fit (these import keras at module level: import them lazily).
- ``mnist_cnn.py``, ``cnn1d.py``, ``applications.py`` (+ ``features.py``, the frozen
  backbone's cached features): one module per model family.
"""
