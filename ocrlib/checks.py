"""Arguments and inputs checked at the network's door: each bad one named, with what was expected.

``MLP`` calls these before any arithmetic, so that a wrong shape, dtype, label or learning rate is an error
that says what is wrong, never a silent wrong answer or a NumPy traceback from deep inside.
"""

import math
from numbers import Real

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE, N_PIXELS


def layer_sizes(sizes):
    """The layer sizes of a network: at least (inputs, outputs), each a whole number >= 1."""
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least (inputs, outputs) of positive ints, got {sizes}")
    return sizes


def one_of(value, known, name):
    """``value`` must be a key of ``known``."""
    if value not in known:
        raise ValueError(f"{name} must be one of {sorted(known)}, got {value!r}")


def image_rows(X, n_in, dtype):
    """Images (..., 28, 28) or (..., n_in) -> float rows (N, n_in) of ``dtype``. uint8 is scaled by 1/255."""
    X = np.asarray(X)
    if X.shape[-2:] == IMAGE_SHAPE and n_in == N_PIXELS:
        X = X.reshape(X.shape[:-2] + (N_PIXELS,))
    if X.ndim == 0 or X.shape[-1] != n_in:
        raise ValueError(f"X must have shape (..., 28, 28) or (..., {n_in}), got {X.shape}")
    if X.dtype == np.uint8:
        return X.reshape(-1, n_in).astype(dtype) / dtype.type(255)
    if not np.issubdtype(X.dtype, np.floating):
        raise TypeError(f"X must be uint8 pixels (0..255) or floats in [0, 1], got dtype {X.dtype}"
                        + ("; for pixel values use X.astype(np.uint8)" if X.dtype.kind in "iu" else ""))
    return X.reshape(-1, n_in).astype(dtype, copy=False)


def labels(y, n, n_classes):
    """Labels y as integers (n,), one per input, each in 0 .. n_classes - 1."""
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ValueError(f"y has {len(y)} labels for {n} inputs")
    if not np.issubdtype(y.dtype, np.integer) or y.min(initial=0) < 0 or y.max(initial=0) >= n_classes:
        raise ValueError(f"y must hold integer labels 0..{n_classes - 1}, got {y.dtype} {y[:10]}...")
    return y.astype(np.intp)


def learning_rate(lr, name="lr"):
    """A learning rate is a finite number > 0 (NaN fails every comparison, so it is tested for)."""
    if isinstance(lr, bool) or not isinstance(lr, Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {lr!r}")
    return float(lr)


def fit_arguments(epochs, batch_size, momentum):
    """``fit``'s counts are whole numbers >= 1 and its momentum is in [0, 1)."""
    def whole(value):
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1

    if not (whole(epochs) and whole(batch_size) and isinstance(momentum, Real) and 0 <= momentum < 1):
        raise ValueError(f"need epochs >= 1, batch_size >= 1 (whole numbers) and 0 <= momentum < 1; got "
                         f"epochs={epochs!r}, batch_size={batch_size!r}, momentum={momentum!r}")


def training_rows(images, n_in, augment=None, n=None):
    """Training images (n, 28, 28) or (n, n_in) as rows (n, n_in), checked like ``image_rows`` but kept in their
    own dtype (``fit`` converts one batch at a time). ``n``: the number of images ``augment`` must return."""
    images = np.asarray(images)
    if augment is not None and (images.dtype != np.uint8 or images.shape[-2:] != IMAGE_SHAPE):
        raise ValueError(f"augment needs uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
    if images.ndim == 0:
        raise ValueError(f"X must have shape (N, 28, 28) or (N, {n_in}), got a scalar")
    image_rows(images[:1], n_in, np.dtype(np.float32))                  # checks the shape and dtype
    rows = images.reshape(-1, n_in)
    if n is not None and len(rows) != n:
        raise ValueError(f"augment must return {n} images, got an array of shape {images.shape}")
    if len(rows) == 0:
        raise ValueError("fit needs at least one example, got 0")
    return rows
