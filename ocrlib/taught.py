"""Drawings taught on the pad: a dataset file that grows by one drawing at each teach.

Each taught drawing keeps its strokes, the 28x28 image the network saw, and its label, in the stroke-set
format (``ocrlib/strokeset.py``) plus an ``images`` array. The file is rewritten atomically after each
teach, so none is lost if the kernel dies. ``load_taught()`` gives them back as a training set.
"""

import os
from pathlib import Path

import numpy as np

from ocrlib.atomic import atomic_write
from ocrlib.mnist import IMAGE_SHAPE
from ocrlib.npzfile import read_npz
from ocrlib.paths import TAUGHT_PATH
from ocrlib.strokeset import KINDS, SOURCES, StrokeSetError, pack, unpack


class TaughtFileError(ValueError):
    """A taught-drawings file that cannot be read; the message names the file and what is wrong."""


def resolve_path(path=None):
    """``path``, else env ``OCRLIB_TAUGHT_PATH``, else ``data/taught/taught.npz``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("OCRLIB_TAUGHT_PATH", TAUGHT_PATH))


def read_taught(path):
    """All taught drawings in ``path``: ``(drawings, images uint8 (N, 28, 28), labels (N,))``; empty if no file."""
    path = Path(path)
    if not path.is_file():
        return [], np.zeros((0,) + IMAGE_SHAPE, dtype=np.uint8), np.zeros(0, dtype=np.intp)
    try:
        arrays = read_npz(path, dict(KINDS, images="u"), StrokeSetError)
        drawings, labels = unpack(arrays, name=str(path))
    except StrokeSetError as err:
        raise TaughtFileError(f"{err} (expected a taught-drawings file)") from None
    images = arrays.get("images")
    if images is None or images.shape != (len(labels),) + IMAGE_SHAPE or images.dtype != np.uint8:
        raise TaughtFileError(f"{path}: expected 'images' uint8 ({len(labels)}, 28, 28), got "
                              f"{None if images is None else (images.dtype, images.shape)}")
    return drawings, images, labels


def load_taught(path=None):
    """The taught digits as a training set: ``X`` uint8 (N, 28, 28) (like MNIST) and labels ``y`` (N,)."""
    _, images, labels = read_taught(resolve_path(path))
    return images, labels


def write_taught(path, drawings, images, labels):
    """Write the whole dataset to ``path`` atomically (a temporary file renamed over the old one)."""
    taught = SOURCES.index("taught")
    arrays = pack(drawings, labels, source=np.full(len(labels), taught), mnist_index=np.full(len(labels), -1))
    arrays["images"] = np.asarray(images, dtype=np.uint8).reshape((-1,) + IMAGE_SHAPE)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.savez(f, **arrays))
