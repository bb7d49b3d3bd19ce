"""A frozen backbone saved by reference, not by copy (``mode = "frozen"``).

A frozen keras.applications backbone is never changed by training, so a saved model
holds only what was trained (the head: ``head.npz``, every layer's weights but the
backbone's) and, in ``model.json``, the backbone's reference: its constructor, its
``weights`` argument ('imagenet', 'none' or a file), the build seed (random weights of
'none' come from it) and the SHA-256 of its weights. Loading rebuilds the backbone with
the same arguments and seed and refuses it when the hash differs (other ImageNet
weights, an edited weights file, a Keras whose initialisers changed). A backbone that
changed since it was built is saved whole (``model.keras``), as are older cells.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.errors import BenchError

if TYPE_CHECKING:
    import keras

HEAD_FILE = "head.npz"
BACKBONE = "backbone"  # the backbone's layer name in the network


def weights_hash(layer: keras.Layer) -> str:
    """SHA-256 of every weight of ``layer`` (shape, dtype and bytes, in layer order; not
    names: Keras numbers unnamed layers per session, conv2d_94 in a second build)."""
    digest = hashlib.sha256()
    for weight in layer.weights:
        value = np.ascontiguousarray(np.asarray(weight))
        digest.update(f"{value.shape}|{value.dtype}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def save_head(
    network: keras.Model, directory: Path, meta: dict[str, Any], reference: dict[str, Any]
) -> None:
    """``head.npz`` (the weights of every layer but the backbone) and ``model.json``
    (``meta`` with the backbone's ``reference``)."""
    head = {
        f"{layer.name}/{i}": np.asarray(w)
        for layer in network.layers
        if layer.name != BACKBONE
        for i, w in enumerate(layer.get_weights())
    }
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / HEAD_FILE).open("wb") as fh:
        np.savez(fh, **head)  # type: ignore[arg-type]
    (directory / "model.json").write_text(
        json.dumps({**meta, BACKBONE: reference}, indent=1) + "\n"
    )


def check_backbone(rebuilt: dict[str, Any] | None, reference: dict[str, Any], where: Path) -> None:
    """BenchError unless the ``rebuilt`` backbone's weights hash to the saved ``reference``'s."""
    got = "" if rebuilt is None else str(rebuilt["sha256"])
    if got != reference["sha256"]:
        raise BenchError(
            f"{where / 'model.json'}: the {reference['constructor']} backbone rebuilt with "
            f"weights {reference['weights']!r} (seed {reference['seed']}) is not the one this "
            f"head was trained on (weights SHA-256 {got[:12]}..., saved "
            f"{reference['sha256'][:12]}...); were the weights or Keras changed? Retrain the cell"
        )


def load_head(network: keras.Model, directory: Path) -> None:
    """Set every layer but the backbone from ``head.npz``; BenchError when it does not fit."""
    path = directory / HEAD_FILE
    try:
        with np.load(path, allow_pickle=False) as npz:
            saved = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: unreadable head weights ({exc})") from None
    for layer in network.layers:
        n = len(layer.get_weights())
        if layer.name == BACKBONE or n == 0:
            continue
        keys = [f"{layer.name}/{i}" for i in range(n)]
        if not all(k in saved for k in keys):
            raise BenchError(f"{path}: no weights for layer {layer.name!r}; retrain the cell")
        try:
            layer.set_weights([saved[k] for k in keys])
        except ValueError as exc:
            raise BenchError(f"{path}: layer {layer.name!r} does not fit ({exc})") from None
        if hasattr(layer, "finalize_state"):  # Normalization: mean and variance from its state
            layer.finalize_state()
