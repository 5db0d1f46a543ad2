"""The stroke-set file: pen-drawn digits kept as strokes, so the pad's whole path can be tested on them.

``data/strokes/strokes_test.npz`` is made by ``scripts/make_stroke_set.py`` from MNIST *test* digits traced
into strokes and from templates (``ocrlib/stroke_synthesis.py``). Taught drawings export to the same format.
The file holds the drawings flat (read member by member, headers first: ``ocrlib/npzfile.py``):

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
from ocrlib.npzfile import read_npz
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


KINDS = {"points": "f", "stroke_starts": "iu", "drawing_starts": "iu", "labels": "iu", "source": "iu",
         "mnist_index": "iu"}          # the arrays of the file and the dtype kinds each may have


def unpack(arrays, name="<arrays>"):
    """The flat arrays -> (drawings, labels); each drawing is a list of (k, 2) float32 stroke arrays.

    Every array is checked first (``StrokeSetError`` naming ``name``): shapes, dtypes, finite points,
    starts that begin at 0, never go back and end at the number of points / strokes, labels 0..9.
    """
    needed = ("points", "stroke_starts", "drawing_starts", "labels")
    missing = [key for key in needed if key not in arrays]
    if missing:
        raise StrokeSetError(f"{name}: missing arrays {missing} (expected {list(needed)})")
    for key, kinds in KINDS.items():
        if key in arrays and (arrays[key].dtype.kind not in kinds or arrays[key].ndim != (2 if key == "points" else 1)):
            raise StrokeSetError(f"{name}: {key} must be {'(P, 2) floats' if key == 'points' else 'integers (n,)'}, "
                                 f"got {arrays[key].dtype} {arrays[key].shape}")
    points, stroke_starts = arrays["points"], arrays["stroke_starts"]
    drawing_starts, labels = arrays["drawing_starts"], arrays["labels"]
    if points.shape[1] != 2:
        raise StrokeSetError(f"{name}: points must be (P, 2), got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise StrokeSetError(f"{name}: points hold NaN or infinite coordinates")
    _check_starts(stroke_starts, len(points), "stroke_starts", "points", name, empty_parts=False)
    _check_starts(drawing_starts, len(stroke_starts) - 1, "drawing_starts", "strokes", name, empty_parts=True)
    n = len(drawing_starts) - 1
    for key in ("labels", "source", "mnist_index"):
        if key in arrays and len(arrays[key]) != n:
            raise StrokeSetError(f"{name}: {len(arrays[key])} {key} for {n} drawings")
    if labels.size and not (labels.min() >= 0 and labels.max() <= 9):
        raise StrokeSetError(f"{name}: labels must be digits 0..9, found {labels.min()} .. {labels.max()}")
    if "source" in arrays and arrays["source"].size and not 0 <= arrays["source"].min() <= arrays["source"].max() < len(SOURCES):
        raise StrokeSetError(f"{name}: source codes must be 0..{len(SOURCES) - 1} ({', '.join(SOURCES)}), "
                             f"found {arrays['source'].min()} .. {arrays['source'].max()}")
    if "mnist_index" in arrays and arrays["mnist_index"].size and arrays["mnist_index"].min() < -1:
        raise StrokeSetError(f"{name}: mnist_index must be an index or -1, found {arrays['mnist_index'].min()}")
    strokes = [points[a:b] for a, b in pairwise(stroke_starts.tolist())]
    drawings = [strokes[a:b] for a, b in pairwise(drawing_starts.tolist())]
    return drawings, labels.astype(np.intp)


def _check_starts(starts, total, key, parts, name, empty_parts):
    """``starts`` (n + 1,): 0, then never back (strictly up if no part may be empty), ending at ``total``."""
    steps = np.diff(starts)
    if len(starts) == 0 or starts[0] != 0 or starts[-1] != total or (steps < (0 if empty_parts else 1)).any():
        rule = "never decrease" if empty_parts else "increase (no stroke without points)"
        raise StrokeSetError(f"{name}: {key} must start at 0, {rule} and end at the number of {parts} "
                             f"({total}); got {_short(starts)}")


def _short(array, n=8):
    values = array.tolist()
    return str(values) if len(values) <= n else f"{str(values[:n])[:-1]}, ... {values[-1]}] ({len(values)} values)"


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
    arrays = read_npz(path, dict(KINDS, images="u"), StrokeSetError, optional=["images"])   # taught: + images
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
