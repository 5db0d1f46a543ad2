"""Pen-drawn digits from real writers (UNIPEN), for measuring how the pad reads handwriting it never trained on.

``data/pen_digits/unipen_1a_dev.json.gz`` holds 7,815 isolated digits from 257 writers at 12 collection sites
(see ``data/pen_digits/README.md`` for the format, licence and credit). They are never used for training
the shipped model: they stand for the people who will draw on the pad.

    drawings, labels, writers, sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings, seed=0)      # float32 (N, 28, 28), as the pad would see them
    flagged = load_flags()                              # bool (N,): digits whose label is not what the ink shows
"""

import csv
import gzip
import json
from pathlib import Path

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE
from ocrlib.paths import FLAGS_PATH, PEN_DIGITS_PATH
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


def shifted_runs(predicted, labels, writers, min_run=3, offsets=(1, -1, 2, -2)):
    """Runs of digits whose labels are shifted against their ink: ``(index, ink, run)``, int arrays (M,).

    ``predicted`` is one model's predictions (N,) or a list of several models' (each (N,)); ``labels`` and
    ``writers`` are as ``load_pen_digits`` gives them. Within each writer, in file order, a label sequence that
    slipped by ``k`` places (``k`` in ``offsets``) gives digit ``i`` the label that belongs to the ink of
    digit ``i - k``, so the ink of digit ``i`` shows ``labels[i + k]``. Digit ``i`` fits offset ``k`` when every
    model reads ``labels[i + k]`` there. A run is a stretch of consecutive digits that all fit the same offset;
    it is kept when at least ``min_run`` of its digits are read against their own label (a digit whose label
    equals its neighbour's fits the shift too, and continues a run without counting). Those digits are
    returned: ``index`` into the set, ``ink`` the label the ink shows, ``run`` 0, 1, ... one id per run, runs
    numbered in file order. A single misread of a messy digit that happens to match a neighbour's label is a
    run of one and is left alone. Offsets are tried in the order given; a digit goes to the first run found.
    """
    labels = np.asarray(labels)
    writers = np.asarray(writers)
    predicted = np.atleast_2d(np.asarray(predicted))                      # (models, N)
    if predicted.shape[1:] != labels.shape or writers.shape != labels.shape:
        raise ValueError(f"predicted (models, N), labels (N,) and writers (N,) must agree in N; got "
                         f"{predicted.shape}, {labels.shape}, {writers.shape}")
    if min_run < 1:
        raise ValueError(f"min_run must be >= 1, got {min_run}")
    agreed = np.where((predicted == predicted[0]).all(axis=0), predicted[0], -1)   # (N,): -1 where models differ
    found = []                                                            # (first index, indices, ink)
    taken = np.zeros(len(labels), dtype=bool)
    for writer in dict.fromkeys(writers.tolist()):                        # writers in order of first digit
        members = np.flatnonzero(writers == writer)                       # (n,) file order
        own, read = labels[members], agreed[members]
        for k in offsets:
            shifted = np.full(len(members), -1)                           # (n,): labels[i + k] within the writer
            if 0 < k < len(members):
                shifted[:-k] = own[k:]
            elif -len(members) < k < 0:
                shifted[-k:] = own[:k]
            fits = (read == shifted) & (shifted >= 0) & ~taken[members]     # models agree on labels[i + k]
            against = fits & (shifted != own)                             # read against its own label
            for start, stop in _true_stretches(fits):
                hits = np.flatnonzero(against[start:stop]) + start
                if len(hits) >= min_run:
                    taken[members[hits]] = True
                    found.append((members[hits[0]], members[hits], shifted[hits]))
    found.sort(key=lambda f: f[0])
    index = np.array([i for _, indices, _ in found for i in indices], dtype=np.intp)
    ink = np.array([x for _, _, inks in found for x in inks], dtype=np.intp)
    run = np.array([r for r, (_, indices, _) in enumerate(found) for _ in indices], dtype=np.intp)
    return index, ink, run


def _true_stretches(mask):
    """``(start, stop)`` of each stretch of consecutive True values in the boolean (n,) ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


FLAG_COLUMNS = ("index", "writer", "source", "label", "ink", "run", "reason")
FLAG_REASONS = ("shifted", "cut")     # a label shifted against the ink; a segment cut from its digit (ink -1: no digit)


def load_flags(path=None):
    """Boolean mask (N,) over ``load_pen_digits()``: True for the digits listed in the flags file (default
    ``data/pen_digits/flagged.csv``, columns ``index, writer, source, label, ink, run, reason``, made by
    ``python -m benchmarks.flag_pen_digits``). Each row's writer, source and label must match the digit at its
    index, so a file made for another version of the set is refused."""
    path = Path(path) if path is not None else FLAGS_PATH
    if not path.is_file():
        raise FileNotFoundError(f"flags file not found: {path}")
    _, labels, writers, sources = load_pen_digits()
    mask = np.zeros(len(labels), dtype=bool)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != FLAG_COLUMNS:
        raise ValueError(f"{path}: the first line must be the columns {','.join(FLAG_COLUMNS)}, "
                         f"got {','.join(rows[0]) if rows else 'an empty file'}")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(FLAG_COLUMNS):
            raise ValueError(f"{path}, line {line}: expected {len(FLAG_COLUMNS)} values, got {len(row)}: {row}")
        try:
            i, label, ink, _ = int(row[0]), int(row[3]), int(row[4]), int(row[5])
        except ValueError:
            raise ValueError(f"{path}, line {line}: index, label, ink and run must be integers, got {row}") from None
        if not 0 <= i < len(labels):
            raise ValueError(f"{path}, line {line}: index {i} is outside the {len(labels)} pen digits")
        if (row[1], row[2], label) != (writers[i], sources[i], labels[i]):
            raise ValueError(f"{path}, line {line}: digit {i} is writer {writers[i]}, source {sources[i]}, "
                             f"label {labels[i]}; the file says {row[1]}, {row[2]}, {label}")
        if not -1 <= ink <= 9:
            raise ValueError(f"{path}, line {line}: ink must be a digit 0-9 or -1 (no digit), got {ink}")
        if row[6] not in FLAG_REASONS:
            raise ValueError(f"{path}, line {line}: reason must be one of {FLAG_REASONS}, got {row[6]!r}")
        mask[i] = True
    return mask
