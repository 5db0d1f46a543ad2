"""Model files: what ``MLP.save`` writes and ``MLP.load`` reads.

Formats:
- ``.npz``: arrays ``W1, b1, W2, b2, ...`` plus ``sizes`` and ``activation``; read with ``allow_pickle=False``.
- ``.json``: ``{"format": "ocrlib.MLP", "sizes": [...], "activation": "relu", "W1": [[...]], "b1": [...], ...}``,
  readable by people.
- The original OCR_AI ``neural_network.json``: keys ``theta1``, ``theta2``, ``b1``, ``b2`` (one sigmoid hidden
  layer), with the thetas in either orientation ((inputs, hidden) or (hidden, inputs)).

Loading never runs code from the file. Saving is atomic (``ocrlib/atomic.py``): a crash or a full disk
mid-save leaves the previous file as it was. Every problem with a model file is a ``ModelFileError``, on save
and on load, naming the file, what was expected and what was found.
"""

import json
from itertools import pairwise
from pathlib import Path

import numpy as np

from ocrlib.atomic import atomic_write

FORMAT = "ocrlib.MLP"
SUFFIXES = (".npz", ".json")


class ModelFileError(ValueError):
    """A model file that cannot be written or read; the message names the file and what is wrong."""


def save_model(path, sizes, activation, params):
    """Write a model (its ``sizes``, ``activation`` name and ``params`` {"W1": ..., "b1": ...}) to ``path``."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: expected a model file name ending in .npz or .json, got {path.suffix!r}")
    for name, value in params.items():
        if not np.all(np.isfinite(value)):
            raise ModelFileError(f"{path}: refusing to save {name}, which holds NaN or infinite values")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save a model to {path}: folder {path.parent} does not exist")
    if path.suffix == ".npz":
        arrays = dict(params, sizes=np.array(sizes), activation=np.array(activation))
        atomic_write(path, lambda f: np.savez(f, **arrays))
    else:
        doc = {"format": FORMAT, "sizes": list(sizes), "activation": activation}
        doc.update({name: value.tolist() for name, value in params.items()})
        atomic_write(path, lambda f: f.write(json.dumps(doc).encode()))


def load_model(path, activations):
    """Read a model file: ``(sizes, activation, params)``, with every array checked against ``sizes``.

    ``activations`` are the known activation names (``network.ACTIVATIONS``).
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: expected a model file name ending in .npz or .json, got {path.suffix!r}")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")

    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                doc = {key: npz[key] for key in npz.files}
        except (ValueError, OSError, EOFError) as err:
            raise ModelFileError(f"{path}: not a readable .npz model ({err})") from None
    else:
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise ModelFileError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(doc, dict):
            raise ModelFileError(f"{path}: expected a JSON object, got {type(doc).__name__}")
        if "theta1" in doc:
            doc = _from_original_layout(doc, path)

    for key in ("sizes", "activation"):
        if key not in doc:
            raise ModelFileError(f"{path}: missing key {key!r}")
    activation = str(np.asarray(doc["activation"]))
    if activation not in activations:
        raise ModelFileError(f"{path}: unknown activation {activation!r} (expected one of {sorted(activations)})")
    try:
        sizes = tuple(int(s) for s in np.asarray(doc["sizes"]).reshape(-1))
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: 'sizes' must be a list of integers, got {doc['sizes']!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ModelFileError(f"{path}: 'sizes' must list at least two positive layer sizes, got {sizes}")

    params = {}
    for l, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
        for name, shape in ((f"W{l}", (n_in, n_out)), (f"b{l}", (n_out,))):
            if name not in doc:
                raise ModelFileError(f"{path}: missing key {name!r} for sizes {sizes}")
            try:
                value = np.asarray(doc[name], dtype=np.float32)
            except (TypeError, ValueError):
                raise ModelFileError(f"{path}: {name} is not an array of numbers") from None
            if value.shape != shape:
                raise ModelFileError(f"{path}: {name} has shape {value.shape}, expected {shape} for sizes {sizes}")
            if not np.all(np.isfinite(value)):
                raise ModelFileError(f"{path}: {name} holds NaN or infinite values")
            params[name] = value
    return sizes, activation, params


def _from_original_layout(doc, path):
    """The original OCR_AI layout: theta1, b1, theta2, b2, one sigmoid hidden layer."""
    for key in ("theta1", "theta2", "b1", "b2"):
        if key not in doc:
            raise ModelFileError(f"{path}: original OCR_AI layout is missing key {key!r}")
    try:
        theta1, theta2, b1, b2 = (np.asarray(doc[k], dtype=np.float32) for k in ("theta1", "theta2", "b1", "b2"))
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: theta1, theta2, b1 and b2 must be arrays of numbers") from None
    b1, b2 = b1.reshape(-1), b2.reshape(-1)
    if theta1.ndim != 2 or theta2.ndim != 2:
        raise ModelFileError(f"{path}: theta1 and theta2 must be matrices, got shapes {theta1.shape}, {theta2.shape}")
    hidden, outputs = len(b1), len(b2)
    W1 = theta1 if theta1.shape[1] == hidden else theta1.T          # -> (inputs, hidden)
    W2 = theta2 if theta2.shape == (hidden, outputs) else theta2.T  # -> (hidden, outputs)
    if W1.shape[1] != hidden or W2.shape != (hidden, outputs):
        raise ModelFileError(f"{path}: theta1 {theta1.shape} and theta2 {theta2.shape} do not fit "
                             f"b1 ({hidden},) and b2 ({outputs},) in either orientation")
    return {"sizes": [W1.shape[0], hidden, outputs], "activation": doc.get("activation", "sigmoid"),
            "W1": W1, "b1": b1, "W2": W2, "b2": b2}
