"""From ink on a drawing pad to the network's 28x28 input (notebook 08).

Two steps, and a third that uses what only the pad knows:

1. ``rasterize(strokes)``: pen strokes (lists of (x, y) points, y down, in canvas pixels) become a square
   uint8 image, white ink on black, drawn with round, anti-aliased pen tips.
2. ``to_mnist(canvas)``: any picture of one digit becomes what MNIST's makers did to theirs:

       ink      the ink as floats in [0, 1], background 0 (dark ink on light paper is inverted)
       crop     cut to the bounding box of the ink
       scale    the longer side to 20 pixels, keeping the aspect ratio, by area averaging
       centre   paste into 28x28 so that the centre of mass of the ink sits at the centre

   A blank canvas gives None: there is nothing to recognise.

3. ``strokes_to_mnist(strokes)``: the pad's own path. It has the strokes, not just pixels, so it scales the
   strokes to MNIST's size first and then draws them with MNIST's pen, ``STROKE_WIDTH`` pixels wide in the
   28x28 image whatever size the digit was drawn. (``to_mnist(rasterize(strokes))`` scales a drawing made
   with a fixed pen: a small digit comes out thick, a large one thin.) It ends in ``to_mnist``, so a picture
   and a drawing meet the same crop, scale and centring.

Pixel (i, j) of a canvas covers x in [j, j + 1) and y in [i, i + 1); its centre is (j + 0.5, i + 0.5).
"""

import math

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE

CANVAS_SIZE = 280    # the drawing pad is 280 x 280 pixels, ten times MNIST's 28
PEN_WIDTH = 20       # pen diameter in canvas pixels: after to_mnist a stroke is about as thick as MNIST's
BOX = 20             # MNIST scales each digit to fit a 20 x 20 box ...
SIZE = IMAGE_SHAPE[0]  # ... and centres it in a 28 x 28 image
NOISE_FLOOR = 0.1    # ink fainter than this (after normalising to a maximum of 1) counts as background
PIECE = 8.0          # segments are cut into pieces at most max(PIECE, line_width) long, each drawn in a small tile
TILE_PIXELS = 2 ** 20 # pixels of all the tiles drawn at a time (each of rasterize's arrays: at most 8 MB)
MAX_SIZE = 1024     # the largest canvas rasterize draws (pixels per side)
MAX_LINE_WIDTH = 50 # the widest pen (pixels)
MAX_POINTS = 5_000  # points of all the strokes of one drawing (a pad sends about 60 a second)
MAX_COORDINATE = 1e9 # pixels: farther points are refused (points off the canvas are fine up to there)
MAX_INK = 50        # ink on the canvas: at most 50 times the canvas's width of stroke (a digit takes 2 to 5)
STROKE_WIDTH = 2.6   # MNIST's pen in pixels of the 28x28 image: traced MNIST test digits drawn with it
                     # carry as much ink as the originals (scripts/measure_stroke_width.py)
DETAIL = 4           # strokes_to_mnist draws the 20 px box at 4 x 4 canvas pixels per pixel, then averages


# --- 1. strokes -> canvas ---

def _as_strokes(strokes):
    """``strokes`` checked: a list of (k, 2) arrays of finite numbers, MAX_POINTS at most in all."""
    if isinstance(strokes, np.ndarray) and strokes.ndim == 2:
        raise TypeError("strokes must be a list of (k, 2) arrays, one per stroke; "
                        "got a single 2-d array (wrap it in a list: [points])")
    if not isinstance(strokes, (list, tuple, np.ndarray)):
        raise TypeError(f"strokes must be a list of (k, 2) arrays, one per stroke; got {type(strokes).__name__}")
    checked, total = [], 0
    for n, stroke in enumerate(strokes):
        try:
            points = np.asarray(stroke)
        except ValueError:                                              # ragged lists
            raise ValueError(f"strokes[{n}] must be a (k, 2) array of (x, y) points, got {stroke!r:.60}") from None
        if points.dtype.kind not in "iuf":
            raise TypeError(f"strokes[{n}] must hold numbers, got dtype {points.dtype}")
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
            raise ValueError(f"strokes[{n}] must be a (k, 2) array of (x, y) points with k >= 1, "
                             f"got shape {points.shape}")
        points = points.astype(np.float64)
        if not np.all(np.isfinite(points)):
            raise ValueError(f"strokes[{n}] holds NaN or infinite coordinates")
        if np.abs(points).max() > MAX_COORDINATE:
            raise ValueError(f"strokes[{n}] holds coordinates beyond ±{MAX_COORDINATE:g} pixels (MAX_COORDINATE): "
                             f"{np.abs(points).max():g}")
        total += len(points)
        if total > MAX_POINTS:
            raise ValueError(f"strokes hold more than {MAX_POINTS:,} points (MAX_POINTS)")
        checked.append(points)
    return checked


def _segments(strokes, lo, hi):
    """Every stroke as straight segments a -> b (a one-point stroke is a segment of length 0), each cut to the
    square [lo, hi] x [lo, hi] (Liang-Barsky clipping); segments wholly outside it are dropped. (M, 2) each."""
    a = np.concatenate([points[:-1] if len(points) > 1 else points for points in strokes])
    b = np.concatenate([points[1:] if len(points) > 1 else points for points in strokes])
    d = b - a
    t0, t1 = np.zeros(len(a)), np.ones(len(a))            # the part a + t d, t0 <= t <= t1, inside the square
    for axis in (0, 1):
        p, q_lo, q_hi = d[:, axis], lo - a[:, axis], hi - a[:, axis]
        inside = (q_lo <= 0) & (q_hi >= 0)                 # where a segment parallel to this side must start
        with np.errstate(divide="ignore", invalid="ignore"):
            t_lo, t_hi = q_lo / p, q_hi / p
        moving = p != 0
        t0 = np.maximum(t0, np.where(moving, np.minimum(t_lo, t_hi), np.where(inside, -np.inf, np.inf)))
        t1 = np.minimum(t1, np.where(moving, np.maximum(t_lo, t_hi), np.where(inside, np.inf, -np.inf)))
    keep = t0 <= t1
    a, d, t0, t1 = a[keep], d[keep], t0[keep, None], t1[keep, None]
    return a + t0 * d, a + t1 * d


def _pieces(a, b, n):
    """Segments a -> b (M, 2) cut into n[i] equal pieces each: the pieces' ends A -> B, (sum(n), 2) each."""
    seg = np.repeat(np.arange(len(a)), n)                               # which segment each piece is on
    first = np.repeat(np.cumsum(n) - n, n)
    t0 = (np.arange(n.sum()) - first) / n[seg]                          # piece start, as a fraction of its segment
    t1 = t0 + 1 / n[seg]
    d = b[seg] - a[seg]
    return a[seg] + t0[:, None] * d, a[seg] + t1[:, None] * d


def _draw(canvas, A, B, r, tile, size):
    """Ink pieces A -> B (N, 2) with a pen of radius r into the flat (size * size,) canvas: the darker ink wins."""
    origin = np.floor(np.minimum(A, B) - r - 1).astype(int)             # (N, 2) top-left pixel of each tile
    cols = origin[:, 0, None] + np.arange(tile)                         # (N, tile) pixel columns (x)
    rows = origin[:, 1, None] + np.arange(tile)                         # (N, tile) pixel rows (y)
    px = (cols + 0.5 - A[:, 0, None])[:, None, :]                       # (N, 1, tile) pixel centre - A, x part
    py = (rows + 0.5 - A[:, 1, None])[:, :, None]                       # (N, tile, 1) y part
    d = B - A                                                           # (N, 2)
    length2 = (d ** 2).sum(axis=1)
    inv = np.divide(1.0, length2, out=np.zeros_like(length2), where=length2 > 0)
    t = np.clip((px * d[:, 0, None, None] + py * d[:, 1, None, None]) * inv[:, None, None], 0, 1)
    dist = np.hypot(px - t * d[:, 0, None, None], py - t * d[:, 1, None, None])     # (N, tile, tile)
    ink = np.clip(r + 0.5 - dist, 0, 1)
    inside = (ink > 0) & ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    flat = (rows[:, :, None] * size + cols[:, None, :])[inside]
    np.maximum.at(canvas, flat, ink[inside].astype(np.float32))


def rasterize(strokes, size=CANVAS_SIZE, line_width=None):
    """Draw pen strokes into a (size, size) uint8 image: ink 255 on background 0.

    ``strokes`` is a list of (k, 2) arrays of (x, y) canvas pixels, y pointing down, as pointer events
    deliver them. Each stroke is a polyline drawn with a round pen of diameter ``line_width``
    (default ``PEN_WIDTH``); a one-point stroke is a dot. A pixel's ink is 1 inside the pen's reach and
    falls linearly to 0 over one pixel at the edge (anti-aliasing):

        ink(pixel) = clip(r + 1/2 - distance(pixel centre, nearest stroke), 0, 1),   r = line_width / 2

    Work and memory go to the canvas only: strokes are first cut to the canvas and the pen's reach around it,
    then drawn a bounded number of pieces at a time. Limits: ``size`` at most ``MAX_SIZE``, ``line_width``
    at most ``MAX_LINE_WIDTH``, ``MAX_POINTS`` points, coordinates within ±``MAX_COORDINATE``, and at most
    ``MAX_INK`` times the canvas's width of stroke on the canvas.
    """
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) or not 1 <= size <= MAX_SIZE:
        raise ValueError(f"size must be a whole number of pixels 1 .. {MAX_SIZE} (MAX_SIZE), got {size!r}")
    size = int(size)
    if line_width is None:
        line_width = PEN_WIDTH
    if (isinstance(line_width, (bool, np.bool_)) or not isinstance(line_width, (int, float, np.integer, np.floating))
            or not 0 < line_width <= MAX_LINE_WIDTH):
        raise ValueError(f"line_width must be a number of pixels > 0 and <= {MAX_LINE_WIDTH} (MAX_LINE_WIDTH), "
                         f"got {line_width!r}")
    line_width = float(line_width)
    canvas = np.zeros(size * size, dtype=np.float32)
    strokes = _as_strokes(strokes)
    if strokes:
        r = line_width / 2
        a, b = _segments(strokes, lo=-r - 1, hi=size + r + 1)          # beyond this margin no ink reaches the canvas
        length = np.hypot(*(b - a).T)                                  # (M,) of each segment, on the canvas
        if length.sum() > MAX_INK * size:
            raise ValueError(f"strokes hold {length.sum():,.0f} pixels of ink on the canvas, more than {MAX_INK} "
                             f"times its width ({MAX_INK * size:,}, MAX_INK)")
        piece = max(PIECE, line_width)
        n = np.maximum(np.ceil(length / piece), 1).astype(np.int64)    # pieces per segment
        tile = math.ceil(piece + 2 * r + 3)                            # every piece and its ink fit a tile x tile square
        at_once = max(1, TILE_PIXELS // tile ** 2)                     # pieces drawn at a time
        ends = np.cumsum(n)
        start = 0
        while start < len(a):
            stop = max(start + 1, int(np.searchsorted(ends, ends[start] - n[start] + at_once, side="right")))
            A, B = _pieces(a[start:stop], b[start:stop], n[start:stop])
            _draw(canvas, A, B, r, tile, size)
            start = stop
    return np.round(canvas * 255).astype(np.uint8).reshape(size, size)


# --- 2. canvas -> 28 x 28 ---

def _border(image):
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def ink(canvas):
    """The ink of any picture as floats (H, W) in [0, 1], background 0 and the darkest ink 1, or None if blank.

    Grey (H, W) or colour (H, W, 3) / (H, W, 4) pixels, uint8 or floats in [0, 1]. With an alpha channel
    and a transparent background (a browser canvas), the ink is the alpha; otherwise it is the
    brightness, inverted when the border is mostly light (dark ink on paper). The background level
    (the border's median) is subtracted, the rest scaled to a maximum of 1, and ink fainter than
    ``NOISE_FLOOR`` dropped.
    """
    pixels = np.asarray(canvas)
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
        raise ValueError(f"canvas must be grey (H, W) or colour (H, W, 3) / (H, W, 4) pixels, got shape {pixels.shape}")
    if min(pixels.shape[:2]) < 1:
        raise ValueError(f"canvas is empty: shape {pixels.shape}")
    if pixels.dtype == np.uint8:
        values = pixels.astype(np.float32) / 255
    elif pixels.dtype == np.bool_:
        values = pixels.astype(np.float32)
    elif np.issubdtype(pixels.dtype, np.floating):
        values = pixels.astype(np.float32)
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
            raise ValueError(f"canvas of dtype {pixels.dtype} must hold values in [0, 1], "
                             f"got range [{np.nanmin(values)}, {np.nanmax(values)}]")
    else:
        raise TypeError(f"canvas must be uint8 pixels or floats in [0, 1], got dtype {pixels.dtype}")

    if values.ndim == 3:
        if values.shape[2] == 4 and np.median(_border(values[:, :, 3])) < 0.5:
            values = values[:, :, 3]                                    # transparent background: alpha is the ink
        else:
            values = values[:, :, :3] @ np.float32([0.299, 0.587, 0.114])  # luminance
    background = float(np.median(_border(values)))
    if background > 0.5:                                                # light paper, dark ink
        values = 1 - values
        background = 1 - background
    values = np.clip(values - background, 0, None)
    peak = values.max()
    if peak < NOISE_FLOOR:
        return None
    values /= peak
    values[values < NOISE_FLOOR] = 0
    return values


def crop(image):
    """Cut an ink image to the bounding box of its non-zero pixels."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _area_matrix(n_in, n_out):
    """(n_out, n_in) weights for area averaging: output pixel k covers input [k, k + 1) * n_in / n_out."""
    step = n_in / n_out
    lo = (np.arange(n_out) * step)[:, None]
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + step, j + 1) - np.maximum(lo, j), 0, None)
    return (overlap / step).astype(np.float32)                         # each row sums to 1


def scale_to_box(image, box=BOX):
    """Resize so the longer side is ``box`` pixels, keeping the aspect ratio, by averaging areas (anti-aliased)."""
    h, w = image.shape
    s = box / max(h, w)
    h_out, w_out = max(1, round(h * s)), max(1, round(w * s))
    return _area_matrix(h, h_out) @ image @ _area_matrix(w, w_out).T   # (h_out, h) (h, w) (w, w_out)


def center_of_mass(image):
    """(row, column) of the ink's centre of mass, in pixel-index coordinates."""
    total = image.sum()
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    cols = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return float(rows), float(cols)


def paste_centered(image, size=SIZE):
    """Place ``image`` in a (size, size) frame so that its centre of mass lands on the frame's centre.

    The shift is sub-pixel: the image moves by the fractional part with bilinear interpolation.
    Ink shifted past the frame's edge is cut off.
    """
    cy, cx = center_of_mass(image)
    dy, dx = (size - 1) / 2 - cy, (size - 1) / 2 - cx                  # the shift, in pixels
    iy, ix = math.floor(dy), math.floor(dx)
    fy, fx = dy - iy, dx - ix
    h, w = image.shape
    shifted = np.zeros((h + 1, w + 1), dtype=np.float32)                # image moved by (fy, fx) in [0, 1)
    shifted[:h, :w] += (1 - fy) * (1 - fx) * image
    shifted[1:, :w] += fy * (1 - fx) * image
    shifted[:h, 1:] += (1 - fy) * fx * image
    shifted[1:, 1:] += fy * fx * image
    frame = np.zeros((size, size), dtype=np.float32)
    top, left = max(iy, 0), max(ix, 0)
    bottom, right = min(iy + h + 1, size), min(ix + w + 1, size)
    if bottom > top and right > left:
        frame[top:bottom, left:right] = shifted[top - iy:bottom - iy, left - ix:right - ix]
    return frame


def to_mnist(canvas):
    """A picture of one digit -> float32 (28, 28) in [0, 1] as MNIST would have it, or None if blank.

    ink -> crop to the bounding box -> longer side to 20 px -> centre of mass to the centre of 28 x 28.
    """
    image = ink(canvas)
    if image is None:
        return None
    return np.clip(paste_centered(scale_to_box(crop(image))), 0, 1)


# --- 3. strokes -> 28 x 28, size first ---

def normalize_strokes(strokes, stroke_width=STROKE_WIDTH, detail=DETAIL):
    """Strokes scaled and moved for ``strokes_to_mnist``: ``(strokes, size, line_width)`` to ``rasterize`` them with.

    The longer side of the strokes' bounding box becomes L = 20 * detail canvas pixels, centred on a square
    canvas of ``size`` pixels. ``to_mnist`` will scale the ink's box, L + w with a pen of width w, to 20
    pixels; for the pen to come out ``stroke_width`` pixels wide there:

        20 w / (L + w) = stroke_width   =>   w = L * stroke_width / (20 - stroke_width)

    A single dot keeps its size: there is no length to scale. A scribble with more stroke than ``rasterize``
    draws (``MAX_INK`` times the canvas's width) is scaled less, to fit: it comes out with a wider pen.
    """
    if not 0 < stroke_width < BOX:
        raise ValueError(f"stroke_width must be between 0 and {BOX} pixels, got {stroke_width}")
    strokes = _as_strokes(strokes)
    L = BOX * detail
    w = L * stroke_width / (BOX - stroke_width)
    size = math.ceil(L + w) + 4                                         # the ink and a 2 px margin all round
    if not strokes:
        return [], size, w
    points = np.concatenate(strokes)                                    # (P, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    extent = float(np.max(hi - lo))
    k = L / extent if extent > 0 else 1.0
    length = sum(np.hypot(*np.diff(points, axis=0).T).sum() for points in strokes)
    if k * length > 0.9 * MAX_INK * size:
        k = 0.9 * MAX_INK * size / length
    centre = (lo + hi) / 2
    return [(s - centre) * k + size / 2 for s in strokes], size, w


def strokes_to_mnist(strokes, stroke_width=STROKE_WIDTH):
    """Pen strokes -> float32 (28, 28) in [0, 1], the size made MNIST's before the ink is drawn; None if blank.

    ``to_mnist(rasterize(*normalize_strokes(strokes)))``: the same 28x28 image for a digit drawn small or
    large, anywhere on the pad, with the pen ``stroke_width`` pixels wide in it.
    """
    placed, size, w = normalize_strokes(strokes, stroke_width)
    if not placed:
        return None
    return to_mnist(rasterize(placed, size=size, line_width=w))


def drawings_to_mnist(drawings, stroke_width=STROKE_WIDTH):
    """Each drawing through the pad's path, ``strokes_to_mnist(strokes)``: float32 (D, 28, 28); blank is 0."""
    images = np.zeros((len(drawings),) + IMAGE_SHAPE, dtype=np.float32)
    for i, strokes in enumerate(drawings):
        image = strokes_to_mnist(strokes, stroke_width)
        if image is not None:
            images[i] = image
    return images
