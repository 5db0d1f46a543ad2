"""The stroke-set file: pen-drawn digits kept as strokes, so the pad's whole path can be tested on them.

``data/strokes/strokes_test.npz`` is made by ``scripts/make_stroke_set.py`` from MNIST *test* digits traced
into strokes and from templates (``ocrlib/stroke_synthesis.py``). Taught drawings export to the same format.
The file holds the drawings flat (read with ``allow_pickle=False``):

    points           float32 (P, 2)  every (x, y) point of every stroke, canvas pixels, y down
    stroke_starts    int64 (S + 1,)  stroke s is points[stroke_starts[s]:stroke_starts[s + 1]]
    drawing_starts   int64 (D + 1,)  drawing d is strokes drawing_starts[d] .. drawing_starts[d + 1] - 1
    labels           uint8 (D,)      the digit drawn
    source           uint8 (D,)      0 = traced MNIST test digit, 1 = template, 2 = taught on the pad
    mnist_index      int64 (D,)      index into the MNIST test set, -1 for templates
"""

from itertools import pairwise
from pathlib import Path

import numpy as np

from ocrlib.atomic import atomic_write
from ocrlib.paths import STROKE_SET_PATH
from ocrlib.preprocess import drawings_to_mnist

SOURCES = ("mnist-test traced", "template", "taught")   # the codes 0, 1, 2 of ``source``


class StrokeSetError(ValueError):
    """A stroke-set file that cannot be read; the message names the file and what is wrong."""


# --- the file ---

def pack(drawings, labels, source, mnist_index):
    """Drawings (lists of (k, 2) stroke arrays) -> the flat arrays of the file format."""
    strokes = [np.asarray(s, dtype=np.float32).reshape(-1, 2) for d in drawings for s in d]
    stroke_lengths = [len(s) for s in strokes]
    return {
        "points": np.concatenate(strokes) if strokes else np.zeros((0, 2), np.float32),
        "stroke_starts": np.concatenate([[0], np.cumsum(stroke_lengths)]).astype(np.int64),
        "drawing_starts": np.concatenate([[0], np.cumsum([len(d) for d in drawings])]).astype(np.int64),
        "labels": np.asarray(labels, dtype=np.uint8),
        "source": np.asarray(source, dtype=np.uint8),
        "mnist_index": np.asarray(mnist_index, dtype=np.int64),
    }


def unpack(arrays, name="<arrays>"):
    """The flat arrays -> (drawings, labels); each drawing is a list of (k, 2) float32 stroke arrays."""
    needed = ("points", "stroke_starts", "drawing_starts", "labels")
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise StrokeSetError(f"{name}: missing arrays {missing} (expected {list(needed)})")
    points, stroke_starts = arrays["points"], arrays["stroke_starts"]
    drawing_starts, labels = arrays["drawing_starts"], arrays["labels"]
    if points.ndim != 2 or points.shape[1] != 2:
        raise StrokeSetError(f"{name}: points must be (P, 2), got {points.shape}")
    if stroke_starts[-1] != len(points) or drawing_starts[-1] != len(stroke_starts) - 1:
        raise StrokeSetError(f"{name}: stroke_starts / drawing_starts do not match the number of points / strokes")
    if len(labels) != len(drawing_starts) - 1:
        raise StrokeSetError(f"{name}: {len(labels)} labels for {len(drawing_starts) - 1} drawings")
    strokes = [points[a:b] for a, b in pairwise(stroke_starts)]
    drawings = [strokes[a:b] for a, b in pairwise(drawing_starts)]
    return drawings, labels.astype(np.intp)


def save_stroke_set(path, drawings, labels, source, mnist_index):
    """Write drawings to a stroke-set file, atomically."""
    arrays = pack(drawings, labels, source, mnist_index)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def load_stroke_set(path=None, source=None):
    """The pen-drawn test set: ``(drawings, labels)``, drawings a list of lists of (k, 2) stroke arrays.

    ``source`` keeps only one kind: ``"mnist-test traced"`` or ``"template"`` (default: both).
    """
    path = Path(path) if path is not None else STROKE_SET_PATH
    if not path.is_file():
        raise FileNotFoundError(f"stroke set not found: {path} (make it with: python scripts/make_stroke_set.py)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError) as err:
        raise StrokeSetError(f"{path}: not a readable stroke-set .npz ({err})") from None
    drawings, labels = unpack(arrays, name=str(path))
    if source is not None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES} or None, got {source!r}")
        keep = np.flatnonzero(arrays["source"] == SOURCES.index(source))
        drawings, labels = [drawings[i] for i in keep], labels[keep]
    return drawings, labels


def evaluate_strokes(model, drawings=None, labels=None):
    """Accuracy of ``model`` on pen-drawn digits (default: the whole stroke set), through the pad's path
    (``strokes_to_mnist``)."""
    if drawings is None:
        drawings, labels = load_stroke_set()
    if labels is None or len(labels) != len(drawings):
        raise ValueError(f"labels must give one digit per drawing ({len(drawings)} drawings)")
    return model.evaluate(drawings_to_mnist(drawings), np.asarray(labels))
