"""Arguments and inputs checked at the network's door: each bad one named, with what was expected.

``MLP`` calls these before any arithmetic, so that a wrong shape, dtype, label or learning rate is an error
that says what is wrong, never a silent wrong answer or a NumPy traceback from deep inside.
"""

import math
from collections.abc import Hashable
from itertools import pairwise
from numbers import Integral, Real

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE, N_PIXELS

MAX_PARAMETERS = 10_000_000     # the largest network MLP() builds or MLP.load reads (784-800-10: 636,010)


def layer_sizes(sizes):
    """The layer sizes of a network: at least (inputs, outputs), each a whole number >= 1, in all at most
    ``MAX_PARAMETERS`` weights and biases."""
    if not isinstance(sizes, (list, tuple, np.ndarray)) or np.ndim(sizes) != 1:
        raise TypeError(f"sizes must be a list of layer sizes such as (784, 25, 10), got {sizes!r}")
    if len(sizes) < 2 or not all(whole(s) for s in sizes):
        raise ValueError(f"sizes must be at least (inputs, outputs), whole numbers >= 1, got {sizes!r}")
    sizes = tuple(int(s) for s in sizes)
    parameters = sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))
    if parameters > MAX_PARAMETERS:
        raise ValueError(f"sizes {sizes} make {parameters:,} parameters, more than the {MAX_PARAMETERS:,} "
                         f"of the largest network (MAX_PARAMETERS)")
    return sizes


def whole(value):
    """A whole number >= 1 (a bool is not one)."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)) and value >= 1


def one_of(value, known, name):
    """``value`` must be a key of ``known``."""
    if not isinstance(value, Hashable) or value not in known:
        raise ValueError(f"{name} must be one of {sorted(known)}, got {value!r}")


def float_dtype(dtype):
    """The dtype of a network's weights: float32 or float64."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype}")
    return dtype


def random_generator(seed):
    """NumPy's generator for ``seed`` (None, a whole number >= 0, ...), or an error naming the seed."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be None or a whole number >= 0, got {seed!r}") from None


def image_rows(X, n_in, dtype, name="X"):
    """Images (..., 28, 28) or (..., n_in) -> float rows (N, n_in) of ``dtype``. uint8 is scaled by 1/255.

    Floats must already be pixels in [0, 1]: anything else (NaN, -1..1, 0..255) raises, naming ``name``.
    """
    X = np.asarray(X)
    if X.shape[-2:] == IMAGE_SHAPE and n_in == N_PIXELS:
        X = X.reshape(X.shape[:-2] + (N_PIXELS,))
    if X.ndim == 0 or X.shape[-1] != n_in:
        raise ValueError(f"{name} must have shape (..., 28, 28) or (..., {n_in}), got {X.shape}")
    if X.dtype == np.uint8:
        return X.reshape(-1, n_in).astype(dtype) / dtype.type(255)
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 pixels (0..255) or floats in [0, 1], got dtype {X.dtype}"
                        + (f"; for pixel values use {name}.astype(np.uint8)" if X.dtype.kind in "iu" else ""))
    X = X.reshape(-1, n_in).astype(dtype, copy=False)
    pixels(X, name)
    return X


def pixels(X, name="X"):
    """Float pixels must lie in [0, 1] (NaN fails both comparisons, so it is caught too)."""
    if X.size and not (X.min() >= 0 and X.max() <= 1):
        found = "NaN" if np.isnan(X).any() else f"values in [{X.min():g}, {X.max():g}]"
        hint = f" (for 0..255 pixels use {name}.astype(np.uint8))" if X.max() > 1 else ""
        raise ValueError(f"{name} of dtype {X.dtype} must hold pixels in [0, 1], found {found}{hint}")


def labels(y, n, n_classes, name="y"):
    """Labels y as integers (n,), one per input, each in 0 .. n_classes - 1."""
    y = np.asarray(y)
    if y.ndim > 1 and y.size != len(y):
        raise ValueError(f"{name} must be one label per input, shape ({n},), got shape {y.shape}")
    y = y.reshape(-1)
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} inputs")
    if not np.issubdtype(y.dtype, np.integer) or y.min(initial=0) < 0 or y.max(initial=0) >= n_classes:
        raise ValueError(f"{name} must hold integer labels 0..{n_classes - 1}, got {y.dtype} {y[:10]}...")
    return y.astype(np.intp)


def label(value, n_classes):
    """One label, as ``train_on_instance`` takes it: an integer 0 .. n_classes - 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or not 0 <= value < n_classes:
        raise ValueError(f"label must be an integer 0..{n_classes - 1}, got {value!r}")
    return int(value)


def count(value, name):
    """A whole number >= 1: epochs, batch_size."""
    if not whole(value):
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def learning_rate(lr, name="lr"):
    """A learning rate is a finite number > 0 (NaN fails every comparison, so it is tested for)."""
    if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {lr!r}")
    return float(lr)


def fit_arguments(epochs, batch_size, momentum, validation, augment, n_in, n_classes):
    """``fit``'s counts are whole numbers >= 1, its momentum is in [0, 1), ``validation`` is a pair of images
    and labels, ``augment`` a function."""
    count(epochs, "epochs")
    count(batch_size, "batch_size")
    if isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, Real) or not 0 <= momentum < 1:
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise ValueError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__}")
        X_val = training_rows(validation[0], n_in, name="validation[0] (X_val)")
        labels(validation[1], len(X_val), n_classes, name="validation[1] (y_val)")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a function (images, rng) -> images, got {augment!r}")


def training_rows(images, n_in, augment=None, n=None, name="X"):
    """Training images (n, 28, 28) or (n, n_in) as rows (n, n_in), checked like ``image_rows`` but kept in their
    own dtype (``fit`` converts one batch at a time). ``n``: the number of images ``augment`` must return."""
    images = np.asarray(images)
    if augment is not None and (images.dtype != np.uint8 or images.shape[-2:] != IMAGE_SHAPE):
        raise ValueError(f"augment needs uint8 images {name} (N, 28, 28), got {images.dtype} {images.shape}")
    if images.ndim == 0:
        raise ValueError(f"{name} must have shape (N, 28, 28) or (N, {n_in}), got a scalar")
    image_rows(images[:1], n_in, np.dtype(np.float32), name)          # checks the shape and dtype
    rows = images.reshape(-1, n_in)
    if n is not None and len(rows) != n:
        raise ValueError(f"augment must return {n} images, got an array of shape {images.shape}")
    if len(rows) == 0:
        raise ValueError(f"{name} holds no images: fit needs at least one example")
    if rows.dtype.kind == "f":
        pixels(rows, name)
    return rows
