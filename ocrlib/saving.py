"""Saving and loading models, and atomic file writes.

Formats:
- ``.npz``: arrays ``W1, b1, W2, b2, ...`` plus ``sizes`` and ``activation``; read with ``allow_pickle=False``.
- ``.json``: ``{"format": "ocrlib.MLP", "sizes": [...], "activation": "relu", "W1": [[...]], "b1": [...], ...}``,
  readable by people.
- The original OCR_AI ``neural_network.json``: keys ``theta1``, ``theta2``, ``b1``, ``b2`` (one sigmoid hidden
  layer), with the thetas in either orientation ((inputs, hidden) or (hidden, inputs)).

Loading never runs code from the file. Every write goes to a temporary file in the same folder and is then
renamed over the target, so a crash or a full disk mid-save leaves the previous file as it was.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

FORMAT = "ocrlib.MLP"


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and what is wrong."""


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else _default_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_mode():
    """The permissions a plain ``open(path, "w")`` would give (mkstemp's own are owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_model(net, path):
    path = Path(path)
    if path.suffix not in (".npz", ".json"):
        raise ValueError(f"cannot save a model to {path}: the extension must be .npz or .json")
    for name, value in net.params.items():
        if not np.all(np.isfinite(value)):
            raise ValueError(f"refusing to save to {path}: {name} holds NaN or infinite values")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save a model to {path}: folder {path.parent} does not exist")
    if path.suffix == ".npz":
        arrays = dict(net.params, sizes=np.array(net.sizes), activation=np.array(net.activation))
        atomic_write(path, lambda f: np.savez(f, **arrays))
    else:
        doc = {"format": FORMAT, "sizes": list(net.sizes), "activation": net.activation}
        doc.update({name: value.tolist() for name, value in net.params.items()})
        atomic_write(path, lambda f: f.write(json.dumps(doc).encode()))


def load_model(path):
    from ocrlib.network import ACTIVATIONS, MLP

    path = Path(path)
    if path.suffix not in (".npz", ".json"):
        raise ValueError(f"cannot load a model from {path}: the extension must be .npz or .json")
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
    if activation not in ACTIVATIONS:
        raise ModelFileError(f"{path}: unknown activation {activation!r} (expected one of {sorted(ACTIVATIONS)})")
    try:
        sizes = tuple(int(s) for s in np.asarray(doc["sizes"]).reshape(-1))
    except (TypeError, ValueError):
        raise ModelFileError(f"{path}: 'sizes' must be a list of integers, got {doc['sizes']!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ModelFileError(f"{path}: 'sizes' must list at least two positive layer sizes, got {sizes}")

    net = MLP(sizes, activation=activation)
    for name, current in net.params.items():
        if name not in doc:
            raise ModelFileError(f"{path}: missing key {name!r} for sizes {sizes}")
        try:
            value = np.asarray(doc[name], dtype=np.float32)
        except (TypeError, ValueError):
            raise ModelFileError(f"{path}: {name} is not an array of numbers") from None
        if value.shape != current.shape:
            raise ModelFileError(f"{path}: {name} has shape {value.shape}, expected {current.shape} for sizes {sizes}")
        if not np.all(np.isfinite(value)):
            raise ModelFileError(f"{path}: {name} holds NaN or infinite values")
        current[...] = value
    return net


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
