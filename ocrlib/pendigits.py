"""Pen-drawn digits from real writers (UNIPEN), for measuring how the pad reads handwriting it never trained on.

``data/pen_digits/unipen_1a_dev.json.gz`` holds 7,815 isolated digits from 257 writers at 12 collection sites
(see ``data/pen_digits/README.md`` for the format, licence and credit). They are never used for training
the shipped model: they stand for the people who will draw on the pad.

    drawings, labels, writers, sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings, seed=0)      # float32 (N, 28, 28), as the pad would see them
"""

import gzip
import json
from pathlib import Path

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE
from ocrlib.paths import PEN_DIGITS_PATH
from ocrlib.preprocess import CANVAS_SIZE, rasterize, strokes_to_mnist, to_mnist


def load_pen_digits(path=None):
    """``(drawings, labels, writers, sources)``: drawings a list of lists of (k, 2) float64 strokes (tablet units,
    y down), labels int (N,), writers and sources str (N,)."""
    path = Path(path) if path is not None else PEN_DIGITS_PATH
    if not path.is_file():
        raise FileNotFoundError(f"pen digits not found: {path}")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        records = json.load(f)
    drawings = [[np.asarray(stroke, dtype=np.float64).reshape(-1, 2) for stroke in r["strokes"]] for r in records]
    labels = np.array([r["label"] for r in records], dtype=np.intp)
    writers = np.array([r["writer"] for r in records])
    sources = np.array([r["source"] for r in records])
    return drawings, labels, writers, sources


def place_on_canvas(strokes, rng, height=(0.5, 0.8), size=CANVAS_SIZE):
    """Scale a digit in tablet units so that its height is a random ``height`` fraction of the canvas, and put
    it anywhere inside the canvas, as a person draws on the pad. A flat digit (a bare stroke) is scaled to fit."""
    points = np.concatenate(strokes)
    lo, hi = points.min(axis=0), points.max(axis=0)
    extent = hi - lo                                                   # (width, height)
    target = rng.uniform(*height) * size
    with np.errstate(divide="ignore"):
        scale = min(target / extent[1], 0.9 * size / extent[0])        # inf for a single point: min picks the other
    if not np.isfinite(scale):
        scale = 1.0
    placed = extent * scale
    offset = rng.uniform(0, 1, 2) * (size - placed)                   # top-left corner, anywhere inside
    return [(s - lo) * scale + offset for s in strokes]


def pen_digits_to_mnist(drawings, seed=0, size=CANVAS_SIZE, height=(0.5, 0.8), fixed_pen=False):
    """Each drawing placed on the canvas (``height`` as in ``place_on_canvas``), then through the pad's path
    ``strokes_to_mnist``: (N, 28, 28).

    ``fixed_pen=True`` takes the path of a picture instead, ``to_mnist(rasterize(strokes))``: drawn with the
    pad's fixed pen, then scaled (a small digit comes out thick, a large one thin).
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((len(drawings),) + IMAGE_SHAPE, dtype=np.float32)
    for i, strokes in enumerate(drawings):
        placed = place_on_canvas(strokes, rng, height=height, size=size)
        image = to_mnist(rasterize(placed, size=size)) if fixed_pen else strokes_to_mnist(placed)
        if image is not None:
            images[i] = image
    return images
