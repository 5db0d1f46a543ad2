"""Pen-drawn digits from real writers (UNIPEN), for measuring how the pad reads handwriting it never trained on.

``data/pen_digits/unipen_1a_dev.json.gz`` holds 7,815 isolated digits from 257 writers at 12 collection sites
(see ``data/pen_digits/README.md`` for the format, licence and credit). They are never used for training
the shipped model: they stand for the people who will draw on the pad.

    drawings, labels, writers, sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings, seed=0)      # float32 (N, 28, 28), as the pad would see them
    flagged = load_flags()                              # bool (N,): digits whose label is not what the ink shows

``find_mislabelled`` finds those digits from the evidence of three readers, the writer's own digits and the
ink's geometry; ``python -m benchmarks.flag_pen_digits`` runs it and keeps the list in ``flagged.csv``.
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


# --- evidence that a digit's ink does not show its label (data/pen_digits/README.md, "Mislabelled digits") ---

EVIDENCE = ("readers", "writer", "stroke", "shifted")


def agreed_reading(readings, labels):
    """(N,) int: the digit all readers give, where they agree on one that is not the label; -1 elsewhere.
    ``readings`` (R, N), one row of digits per reader; ``labels`` (N,)."""
    readings, labels = np.atleast_2d(readings), np.asarray(labels)
    if readings.shape[1:] != labels.shape:
        raise ValueError(f"readings must be (readers, N) with labels (N,); got {readings.shape} and {labels.shape}")
    agree = (readings == readings[0]).all(axis=0) & (readings[0] != labels)
    return np.where(agree, readings[0], -1)


def nearest_neighbour_reading(images, labels, writers, k=5, batch=1024):
    """Each digit read by its ``k`` nearest digits of other writers: the label most of them carry, a tie going to
    the label of the nearer ones. (N,) int. Nearest by Euclidean distance between the (N, 28, 28) ``images``; a
    writer's own digits never vote, so this reader knows neither MNIST nor the writer's habits."""
    X = np.asarray(images, dtype=np.float32).reshape(len(images), -1)           # (N, 784)
    labels = np.asarray(labels)
    writer = np.unique(np.asarray(writers), return_inverse=True)[1]              # (N,) int code per writer
    sq = (X * X).sum(axis=1)                                                     # (N,)
    read = np.empty(len(X), dtype=np.intp)
    for start in range(0, len(X), batch):
        rows = np.arange(start, min(start + batch, len(X)))                     # (b,)
        d2 = sq[rows, None] - 2 * X[rows] @ X.T + sq[None, :]                   # (b, N) squared distances
        d2[writer[rows, None] == writer[None, :]] = np.inf                      # the writer's own digits: out
        nearest = np.argpartition(d2, k, axis=1)[:, :k]                         # (b, k), in no order
        order = np.argsort(np.take_along_axis(d2, nearest, axis=1), axis=1)
        nearest = np.take_along_axis(nearest, order, axis=1)                    # (b, k), nearest first
        votes = np.zeros((len(rows), labels.max() + 1))                          # (b, 10)
        for rank in range(k):                                                    # one vote each, a nearer one
            np.add.at(votes, (np.arange(len(rows)), labels[nearest[:, rank]]), 1 + (k - rank) * 1e-3)  # breaks ties
        read[rows] = votes.argmax(axis=1)
    return read


def unlike_own_digits(images, labels, writers, sure, factor=2.35, min_digits=5):
    """(N,) bool: digits unlike every digit their writer surely wrote with the same label.

    ``sure`` (N,) bool marks the digits that may vouch for their label (those the readers read as it). For
    digit i, ``d[i]`` is the Euclidean distance between its image and the nearest image of another sure digit
    of the same writer and label. True where ``d[i]`` is more than ``factor`` times the writer's median ``d``.
    A writer with fewer than ``min_digits`` finite ``d`` gives no evidence, nor does a digit whose writer has
    no sure digit of its label. A habit (a writer's 9s that often look like 3s) is never unlike the writer's
    own 9s; a bare stroke under a writer's label "4" is, and so are two pieces of one cut digit that each
    other's company would otherwise vouch for.
    """
    labels, writers, sure = np.asarray(labels), np.asarray(writers), np.asarray(sure, dtype=bool)
    unlike = np.zeros(len(labels), dtype=bool)
    for name in dict.fromkeys(writers.tolist()):
        members = np.flatnonzero(writers == name)                                # (n,) file order
        X = np.asarray(images[members], dtype=np.float32).reshape(len(members), -1)   # (n, 784)
        sq = (X * X).sum(axis=1)
        d = np.sqrt(np.maximum(sq[:, None] - 2 * X @ X.T + sq[None, :], 0))       # (n, n)
        vouches = (labels[members, None] == labels[None, members]) & sure[None, members]
        np.fill_diagonal(vouches, False)                                          # a digit never vouches for itself
        nearest = np.where(vouches, d, np.inf).min(axis=1)                       # (n,), inf: no one vouches
        finite = np.isfinite(nearest)
        if finite.sum() >= min_digits:
            unlike[members] = finite & (nearest > factor * np.median(nearest[finite]))
    return unlike


def bare_strokes(drawings, labels, straightness=0.1, flat=60):
    """(N,) bool: digits whose ink is one straight line (a 1 at most) labelled another digit, or lying flat.

    The ink is a straight line when, about the mean of all its points, their spread across its main direction
    is less than ``straightness`` times their spread along it (the ratio of the two singular values of the
    centred points, (m, 2)); it lies flat when that direction is more than ``flat`` degrees from upright. A
    single point is a line too.
    """
    bare = np.zeros(len(drawings), dtype=bool)
    for i, strokes in enumerate(drawings):
        points = np.concatenate(strokes)                                         # (m, 2), y down
        _, spread, axes = np.linalg.svd(points - points.mean(axis=0), full_matrices=False)
        if len(spread) < 2 or spread[1] <= straightness * spread[0]:
            along = axes[0]                                                      # (2,) the main direction
            degrees = np.degrees(np.arctan2(abs(along[0]), abs(along[1])))      # 0: upright, 90: flat
            bare[i] = labels[i] != 1 or degrees > flat
    return bare


def find_mislabelled(readings, labels, writers, images, drawings):
    """Digits whose ink does not show their label, by independent pieces of evidence: ``(flagged, evidence, ink)``.

    ``readings`` (R, N): each reader's digits, the first two rows the two networks; ``images`` (N, 28, 28) as
    the readers saw them; ``drawings`` as ``load_pen_digits`` gives them. ``evidence`` maps each name of
    ``EVIDENCE`` to a (N,) bool:

    - ``readers``: all readers agree on one digit that is not the label (``agreed_reading``);
    - ``writer``: unlike every digit its writer surely wrote with that label, the ones both networks read as
      it (``unlike_own_digits``);
    - ``stroke``: a bare straight stroke labelled other than 1, or a 1 lying flat (``bare_strokes``);
    - ``shifted``: in a run of at least two digits that all readers read as a neighbour's label, one or two
      places along (``shifted_runs``).

    A digit is flagged when both networks misread it and either its ink is a bare stroke that cannot be its
    label (the geometry alone settles it), or two of ``readers``, ``writer`` and ``shifted`` hold. A lone
    misread of a messy digit has one piece at most: the readers may agree on a 9 with a curved tail as a 3, but
    it looks like its writer's other 9s. ``ink`` (N,): the agreed reading, -1 where the readers differ.
    """
    readings, labels, writers = np.atleast_2d(readings), np.asarray(labels), np.asarray(writers)
    ink = agreed_reading(readings, labels)
    misread = (readings[:2] != labels).all(axis=0)                               # (N,) by both networks
    shifted = np.zeros(len(labels), dtype=bool)
    shifted[shifted_runs(readings, labels, writers, min_run=2, offsets=(1, -1, 2, -2))[0]] = True
    evidence = {"readers": ink >= 0, "writer": unlike_own_digits(images, labels, writers, sure=~misread),
                "stroke": bare_strokes(drawings, labels), "shifted": shifted}
    pieces = evidence["readers"].astype(int) + evidence["writer"] + evidence["shifted"]    # (N,)
    return misread & (evidence["stroke"] | (pieces >= 2)), evidence, ink


def flag_runs(flagged, writers, near=4):
    """(N,) int: a run id for each flagged digit (0, 1, ... in file order), -1 for the others. Flagged digits of
    one writer at most ``near`` places apart share a run."""
    writers = np.asarray(writers)
    run = np.full(len(writers), -1, dtype=np.intp)
    last = None                                                                  # the last flagged index
    for i in np.flatnonzero(flagged):
        if last is None or writers[i] != writers[last] or i - last > near:
            run[i] = run.max() + 1
        else:
            run[i] = run[last]
        last = i
    return run


FLAG_COLUMNS = ("index", "writer", "source", "label", "ink", "run", "reason")
FLAG_REASONS = EVIDENCE + ("seen",)       # "seen": no digit at all, found by looking (benchmarks.flag_pen_digits)


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
            raise ValueError(f"{path}, line {line}: ink must be a digit 0-9 or -1 (no agreed reading), got {ink}")
        if not set(row[6].split("+")) <= set(FLAG_REASONS):
            raise ValueError(f"{path}, line {line}: reason must be names from {FLAG_REASONS} joined by '+', "
                             f"got {row[6]!r}")
        mask[i] = True
    return mask
