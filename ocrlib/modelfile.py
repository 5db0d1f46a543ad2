"""Model files: what ``MLP.save`` writes and ``MLP.load`` reads.

Formats:
- ``.npz``: arrays ``W1, b1, W2, b2, ...`` plus ``sizes`` and ``activation``; read member by member, each
  ``.npy`` header checked before its array is (``ocrlib/npzfile.py``), never unpickled.
- ``.json``: ``{"format": "ocrlib.MLP", "sizes": [...], "activation": "relu", "W1": [[...]], "b1": [...], ...}``,
  readable by people.
- The original OCR_AI ``neural_network.json``: keys ``theta1``, ``theta2``, ``b1``, ``b2`` (one sigmoid hidden
  layer), with the thetas in either orientation ((inputs, hidden) or (hidden, inputs)).

- A ``ConvNet`` (``ocrlib/convnet.py``), in either format: ``format`` ("ocrlib.ConvNet"), ``channels``,
  ``hidden``, ``kernel_size`` and the arrays ``K1, b1, K2, b2, W3, b3, W4, b4``. A file of one kind given to
  the other kind's ``load`` is an error that says which kind it is; ``model_kind(path)`` tells them apart and
  ``ocrlib.load_model`` reads either.

Loading never runs code from the file. Saving is atomic (``ocrlib/atomic.py``): a crash or a full disk
mid-save leaves the previous file as it was. Every problem with a model file is a ``ModelFileError``, on save
and on load, naming the file, what was expected and what was found: a damaged archive, a member or key that
should not be there, sizes that are not positive integers or make more than ``MAX_PARAMETERS`` parameters,
weights that are not floats (or, in JSON, not plain numbers: ``true`` is not 1.0), not finite or beyond
float32. A JSON file may hold at most ``MAX_JSON_BYTES``; the arrays of an ``.npz`` at most ``MAX_NPZ_BYTES``.
"""

import json
import re
from itertools import pairwise
from pathlib import Path

import numpy as np

from ocrlib.atomic import atomic_write
from ocrlib.npzfile import npz_members, read_npz

FORMAT = "ocrlib.MLP"
CONVNET_FORMAT = "ocrlib.ConvNet"
CONVNET_NAMES = ("K1", "b1", "K2", "b2", "W3", "b3", "W4", "b4")
SUFFIXES = (".npz", ".json")
ORIGINAL_KEYS = ("theta1", "theta2", "b1", "b2")
MAX_JSON_BYTES = 64 * 2 ** 20       # a JSON model file (the shipped 784-800-10 model would take about 8 MB)


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


def load_model(path, activations, max_parameters):
    """Read a model file: ``(sizes, activation, params)``, with every array checked against ``sizes``.

    ``activations`` are the known activation names (``network.ACTIVATIONS``); ``max_parameters`` is the
    largest network accepted (``network.MAX_PARAMETERS``), checked before any weight is read.
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: expected a model file name ending in .npz or .json, got {path.suffix!r}")
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    read = _read_npz if path.suffix == ".npz" else _read_json
    doc = read(path, activations, max_parameters)
    sizes = doc["sizes"]
    params = {}
    for l, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
        for name, shape in ((f"W{l}", (n_in, n_out)), (f"b{l}", (n_out,))):
            value = doc[name]
            if value.shape != shape:
                raise ModelFileError(f"{path}: {name} has shape {value.shape}, expected {shape} for sizes {sizes}")
            with np.errstate(over="ignore", invalid="ignore"):
                value = value.astype(np.float32)            # beyond float32's range becomes inf, refused here
            if not np.all(np.isfinite(value)):
                raise ModelFileError(f"{path}: {name} holds NaN, infinite or too large values")
            params[name] = value
    return sizes, doc["activation"], params


# --- .npz: member by member, headers first (ocrlib/npzfile.py) ---

def _read_npz(path, activations, max_parameters):
    names = npz_members(path, ModelFileError)
    if "format" in names or "K1" in names:
        raise ModelFileError(f"{path}: a ConvNet model file, not an MLP's; read it with ocrlib.ConvNet.load "
                             f"or ocrlib.load_model")
    layers = sum(1 for name in names if re.fullmatch(r"W[1-9][0-9]*", name))
    kinds = {"sizes": "iu", "activation": "U"}
    kinds.update({f"{p}{l}": "f" for l in range(1, layers + 1) for p in "Wb"})
    arrays = read_npz(path, kinds, ModelFileError)
    sizes, activation = arrays.pop("sizes"), arrays.pop("activation")
    if sizes.ndim != 1:
        raise ModelFileError(f"{path}: 'sizes' must be a list of layer sizes, got an array of shape {sizes.shape}")
    if activation.ndim != 0:
        raise ModelFileError(f"{path}: 'activation' must be one name, got an array of shape {activation.shape}")
    arrays["sizes"] = _sizes(sizes.tolist(), path, max_parameters)
    arrays["activation"] = _activation(str(activation), path, activations)
    if len(arrays["sizes"]) != layers + 1:
        raise ModelFileError(f"{path}: sizes {arrays['sizes']} need {len(arrays['sizes']) - 1} layers, "
                             f"the file holds {layers} (W1 .. W{layers})")
    return arrays


# --- .json ---

def _read_json(path, activations, max_parameters):
    doc = _json_document(path)
    if "theta1" in doc:
        return _from_original_layout(doc, path, activations, max_parameters)
    if doc.get("format") == CONVNET_FORMAT:
        raise ModelFileError(f"{path}: a ConvNet model file, not an MLP's; read it with ocrlib.ConvNet.load "
                             f"or ocrlib.load_model")
    if doc.get("format") != FORMAT:
        raise ModelFileError(f"{path}: expected \"format\": \"{FORMAT}\", got {_short(doc.get('format'))}")
    for key in ("sizes", "activation"):
        if key not in doc:
            raise ModelFileError(f"{path}: missing key {key!r}")
    sizes = _sizes(doc["sizes"], path, max_parameters)
    expected = ["format", "sizes", "activation"] + [f"{p}{l}" for l in range(1, len(sizes)) for p in "Wb"]
    unexpected = [key for key in doc if key not in expected]
    if unexpected:
        raise ModelFileError(f"{path}: unexpected keys {unexpected} for sizes {sizes}; expected only {expected}")
    arrays = {"sizes": sizes, "activation": _activation(doc["activation"], path, activations)}
    for l, (n_in, n_out) in enumerate(pairwise(sizes), start=1):
        for name, shape in ((f"W{l}", (n_in, n_out)), (f"b{l}", (n_out,))):
            if name not in doc:
                raise ModelFileError(f"{path}: missing key {name!r} for sizes {sizes}")
            arrays[name] = _json_array(doc[name], shape, f"{path}: {name}")
    return arrays


def _json_array(value, shape, where):
    """A JSON list of ``shape[0]`` numbers, or of ``shape[0]`` lists of ``shape[1]``, as float64.

    Only numbers: JSON's true, false, null and strings are refused (NumPy would read true as 1.0).
    """
    rows = value if len(shape) == 2 else [value]
    if (not isinstance(value, list) or len(value) != shape[0]
            or not all(isinstance(row, list) and len(row) == shape[-1] for row in rows)):
        what = f"{shape[0]} lists of {shape[1]} numbers" if len(shape) == 2 else f"a list of {shape[0]} numbers"
        raise ModelFileError(f"{where} must be {what}, got {_short(value)}")
    for row in rows:
        for v in row:
            if type(v) is not float and (type(v) is not int or abs(v) > 2 ** 128):
                raise ModelFileError(f"{where} must hold numbers only, found {_short(v)}")
    return np.array(value, dtype=np.float64)


# --- what both formats share ---

def _sizes(sizes, path, max_parameters):
    """A file's ``sizes``: at least two positive integers, the network within ``max_parameters``."""
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(type(s) is int and s >= 1 for s in sizes)):
        raise ModelFileError(f"{path}: 'sizes' must list at least two positive integers, got {_short(sizes)}")
    parameters = sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))
    if parameters > max_parameters:
        raise ModelFileError(f"{path}: sizes {sizes} make {parameters:,} parameters, more than the "
                             f"{max_parameters:,} of the largest network (MAX_PARAMETERS)")
    return tuple(sizes)


def _activation(activation, path, activations):
    if not isinstance(activation, str) or activation not in activations:
        raise ModelFileError(f"{path}: unknown activation {_short(activation)} (expected one of {sorted(activations)})")
    return activation


def _short(value, n=60):
    text = repr(value)
    return text if len(text) <= n else text[:n] + "..."


def _from_original_layout(doc, path, activations, max_parameters):
    """The original OCR_AI layout: theta1, b1, theta2, b2, one sigmoid hidden layer."""
    for key in ORIGINAL_KEYS:
        if key not in doc:
            raise ModelFileError(f"{path}: original OCR_AI layout is missing key {key!r}")
    unexpected = [key for key in doc if key not in ORIGINAL_KEYS + ("activation",)]
    if unexpected:
        raise ModelFileError(f"{path}: unexpected keys {unexpected} in the original OCR_AI layout "
                             f"(expected {list(ORIGINAL_KEYS)} and optionally 'activation')")
    theta1, theta2 = (_json_matrix(doc[key], f"{path}: {key}") for key in ("theta1", "theta2"))
    b1, b2 = (_json_vector(doc[key], f"{path}: {key}") for key in ("b1", "b2"))
    hidden, outputs = len(b1), len(b2)
    W1 = theta1 if theta1.shape[1] == hidden else theta1.T          # -> (inputs, hidden)
    W2 = theta2 if theta2.shape == (hidden, outputs) else theta2.T  # -> (hidden, outputs)
    if W1.shape[1] != hidden or W2.shape != (hidden, outputs):
        raise ModelFileError(f"{path}: theta1 {theta1.shape} and theta2 {theta2.shape} do not fit "
                             f"b1 ({hidden},) and b2 ({outputs},) in either orientation")
    return {"sizes": _sizes([W1.shape[0], hidden, outputs], path, max_parameters),
            "activation": _activation(doc.get("activation", "sigmoid"), path, activations),
            "W1": W1, "b1": b1, "W2": W2, "b2": b2}


def _json_matrix(value, where):
    """A rectangular JSON list of lists of numbers, as float64 (rows, columns)."""
    if not isinstance(value, list) or not value or not isinstance(value[0], list) or not value[0]:
        raise ModelFileError(f"{where} must be a non-empty list of lists of numbers, got {_short(value)}")
    return _json_array(value, (len(value), len(value[0])), where)


def _json_vector(value, where):
    """A JSON list of numbers, or a matrix of one row or one column of them, as float64 (n,)."""
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        matrix = _json_matrix(value, where)
        if 1 not in matrix.shape:
            raise ModelFileError(f"{where} must be a vector, got a matrix of shape {matrix.shape}")
        return matrix.reshape(-1)
    if not isinstance(value, list) or not value:
        raise ModelFileError(f"{where} must be a non-empty list of numbers, got {_short(value)}")
    return _json_array(value, (len(value),), where)


# --- the ConvNet's files ---

def model_kind(path):
    """``"mlp"`` or ``"convnet"``: which network the model file ``path`` holds, from its member names or its
    ``format`` key (the file is checked in full only by the ``load`` of that kind)."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: expected a model file name ending in .npz or .json, got {path.suffix!r}")
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix == ".npz":
        names = npz_members(path, ModelFileError)
        return "convnet" if "format" in names or "K1" in names else "mlp"
    return "convnet" if _json_document(path).get("format") == CONVNET_FORMAT else "mlp"


def save_convnet(path, channels, hidden, kernel_size, params):
    """Write a ConvNet (its ``channels`` (C1, C2), ``hidden``, ``kernel_size`` and ``params`` by name)."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: expected a model file name ending in .npz or .json, got {path.suffix!r}")
    for name, value in params.items():
        if not np.all(np.isfinite(value)):
            raise ModelFileError(f"{path}: refusing to save {name}, which holds NaN or infinite values")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save a model to {path}: folder {path.parent} does not exist")
    if path.suffix == ".npz":
        arrays = dict(params, format=np.array(CONVNET_FORMAT), channels=np.array(channels),
                      hidden=np.array(hidden), kernel_size=np.array(kernel_size))
        atomic_write(path, lambda f: np.savez(f, **arrays))
    else:
        doc = {"format": CONVNET_FORMAT, "channels": list(channels), "hidden": hidden, "kernel_size": kernel_size}
        doc.update({name: value.tolist() for name, value in params.items()})
        atomic_write(path, lambda f: f.write(json.dumps(doc).encode()))


def load_convnet(path, architecture, shapes):
    """Read a ConvNet file: ``(channels, hidden, kernel_size, params)``, every array checked against the shapes
    its architecture gives. ``architecture(channels, hidden, kernel_size)`` checks those three (a
    ``ValueError`` becomes a ``ModelFileError`` naming the file) before any weight is read; ``shapes(...)``
    gives each parameter's shape."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ModelFileError(f"{path}: expected a model file name ending in .npz or .json, got {path.suffix!r}")
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix == ".npz":
        names = npz_members(path, ModelFileError)
        if "format" not in names and "K1" not in names:
            raise ModelFileError(f"{path}: an MLP model file, not a ConvNet's; read it with ocrlib.MLP.load "
                                 f"or ocrlib.load_model")
        kinds = {"format": "U", "channels": "iu", "hidden": "iu", "kernel_size": "iu"}
        kinds.update({name: "f" for name in CONVNET_NAMES})
        doc = read_npz(path, kinds, ModelFileError)
        if doc["format"].shape != () or str(doc["format"]) != CONVNET_FORMAT:
            raise ModelFileError(f"{path}: expected format {CONVNET_FORMAT!r}, got {_short(doc['format'].tolist())}")
        if doc["channels"].shape != (2,) or doc["hidden"].shape != () or doc["kernel_size"].shape != ():
            raise ModelFileError(f"{path}: expected channels of two numbers and one hidden and one kernel_size, got "
                                 f"shapes {doc['channels'].shape}, {doc['hidden'].shape}, {doc['kernel_size'].shape}")
        meta = (doc["channels"].tolist(), doc["hidden"].tolist(), doc["kernel_size"].tolist())
    else:
        doc = _json_document(path)
        if doc.get("format") == FORMAT or "theta1" in doc:
            raise ModelFileError(f"{path}: an MLP model file, not a ConvNet's; read it with ocrlib.MLP.load "
                                 f"or ocrlib.load_model")
        if doc.get("format") != CONVNET_FORMAT:
            raise ModelFileError(f"{path}: expected \"format\": \"{CONVNET_FORMAT}\", got {_short(doc.get('format'))}")
        expected = ["format", "channels", "hidden", "kernel_size", *CONVNET_NAMES]
        unexpected = [key for key in doc if key not in expected]
        missing = [key for key in expected if key not in doc]
        if unexpected or missing:
            raise ModelFileError(f"{path}: expected the keys {expected}; unexpected {unexpected}, missing {missing}")
        meta = (doc["channels"], doc["hidden"], doc["kernel_size"])
    channels, hidden, kernel_size = meta
    if not (isinstance(channels, list) and all(type(c) is int for c in channels)
            and type(hidden) is int and type(kernel_size) is int):
        raise ModelFileError(f"{path}: channels, hidden and kernel_size must be whole numbers, got "
                             f"{_short(channels)}, {_short(hidden)}, {_short(kernel_size)}")
    try:
        channels, hidden, kernel_size = architecture(channels, hidden, kernel_size)
    except ValueError as err:
        raise ModelFileError(f"{path}: {err}") from None
    params = {}
    for name, shape in shapes(channels, hidden, kernel_size).items():
        value = doc[name]
        if path.suffix == ".json":
            value = _json_nested(value, shape, f"{path}: {name}")
        if value.shape != shape:
            raise ModelFileError(f"{path}: {name} has shape {value.shape}, expected {shape} for channels "
                                 f"{channels}, hidden {hidden}, kernel_size {kernel_size}")
        with np.errstate(over="ignore", invalid="ignore"):
            value = value.astype(np.float32)
        if not np.all(np.isfinite(value)):
            raise ModelFileError(f"{path}: {name} holds NaN, infinite or too large values")
        params[name] = value
    return channels, hidden, kernel_size, params


def _json_document(path):
    """A JSON model file's top-level object, within ``MAX_JSON_BYTES``."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: {size:,} bytes is more than a JSON model may hold "
                             f"({MAX_JSON_BYTES:,}, MAX_JSON_BYTES)")
    def once(pairs):                                # a key given twice would hold two models: refuse it
        doc = dict(pairs)
        if len(doc) < len(pairs):
            seen, repeated = set(), []
            for key, _ in pairs:
                if key in seen:
                    repeated.append(key)
                seen.add(key)
            raise ModelFileError(f"{path}: the key {repeated[0]!r} is given more than once; a model file gives "
                                 f"each key once")
        return doc

    try:
        doc = json.loads(path.read_bytes(), object_pairs_hook=once)
    except RecursionError:
        raise ModelFileError(f"{path}: not a model: its JSON is nested too deeply") from None
    except ModelFileError:
        raise
    except ValueError as err:
        raise ModelFileError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    return doc


def _json_nested(value, shape, where):
    """Nested JSON lists of plain numbers of exactly ``shape``, as float64."""
    level = [value]
    for depth, n in enumerate(shape):
        if not all(isinstance(v, list) and len(v) == n for v in level):
            raise ModelFileError(f"{where} must be nested lists of shape {shape}, wrong at depth {depth}: "
                                 f"{_short(value)}")
        level = [item for v in level for item in v]
    for v in level:
        if type(v) is not float and (type(v) is not int or abs(v) > 2 ** 128):
            raise ModelFileError(f"{where} must hold numbers only, found {_short(v)}")
    return np.array(level, dtype=np.float64).reshape(shape)
