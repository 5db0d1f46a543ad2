"""Training-time augmentation: each epoch sees every digit slightly changed, in the ways two drawings of the
same digit differ (a thicker or thinner pen, a small rotation, slant, change of size, shift).

``augment(images, rng)`` is what ``MLP.fit(..., augment=augment)`` calls at the start of every epoch.
A plain MLP on MNIST memorises where the ink of each training digit sits; it cannot memorise pixels that
move, so it learns shapes, and the same changes make it read digits drawn on the pad.
"""

import numpy as np

from ocrlib.mnist import IMAGE_SHAPE

ALPHA = 20.0    # elastic distortion: displacement scale (pixels; Simard et al. used 34 without affine changes) ...
SIGMA = 4.0     # ... and smoothness (pixels), Simard et al.'s value for MNIST


def thicken(images):
    """Grey-level dilation with a 3x3 cross: every stroke gets about one pixel wider. (N, 28, 28) uint8."""
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return np.maximum.reduce([p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])


def thin(images):
    """Half-strength grey-level erosion with a 3x3 cross: strokes get thinner but never vanish."""
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    eroded = np.minimum.reduce([p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])
    return ((images.astype(np.uint16) + eroded) // 2).astype(np.uint8)


def gaussian_blur_matrix(n, sigma):
    """(n, n) Gaussian smoothing along one axis, each row summing to 1: ``G @ image @ G.T`` blurs an image."""
    i = np.arange(n)
    G = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
    return (G / G.sum(axis=1, keepdims=True)).astype(np.float32)


def elastic_field(n, rng, alpha=ALPHA, sigma=SIGMA):
    """Random smooth displacements (N, 2, 784) in pixels: the elastic distortion of Simard, Steinkraus and
    Platt (2003). Each pixel's (dx, dy) is uniform in [-1, 1], blurred by a Gaussian of width ``sigma`` pixels
    (neighbours move together, so strokes bend instead of breaking), then scaled by ``alpha``."""
    side = IMAGE_SHAPE[0]
    G = gaussian_blur_matrix(side, sigma)                               # (28, 28)
    u = rng.uniform(-1, 1, (n, 2, side, side)).astype(np.float32)       # (N, 2, 28, 28): dx and dy
    return (alpha * (G @ u @ G.T)).reshape(n, 2, side * side)


def affine_warp(images, A, shift, field=None):
    """Resample each image through x_in = A @ (x_out - c) + c + shift (+ field), bilinearly; outside is 0.

    ``images`` (N, 28, 28) uint8, ``A`` (N, 2, 2) acting on (x, y), ``shift`` (N, 2) in pixels, ``field``
    optional (N, 2, 784) displacements of each output pixel's source (``elastic_field``).
    """
    n = len(images)
    side = IMAGE_SHAPE[0]                                               # 28
    c = (side - 1) / 2                                                  # the centre pixel, 13.5
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) - c
    grid = np.stack([xs.ravel(), ys.ravel()])                           # (2, 784)
    src = A.astype(np.float32) @ grid + (shift.astype(np.float32) + c)[:, :, None]   # (N, 2, 784)
    if field is not None:
        src += field
    sx = np.clip(src[:, 0], -1, side)
    sy = np.clip(src[:, 1], -1, side)
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    wide = side + 3                                                     # 1 pixel of 0 before, 2 after: 31
    padded = np.pad(images, ((0, 0), (1, 2), (1, 2))).reshape(n, -1).astype(np.float32)   # (N, 31*31)
    i00 = ((y0 + 1) * wide + (x0 + 1)).astype(np.intp)                 # (N, 784) corner indices
    v00 = np.take_along_axis(padded, i00, axis=1)
    v01 = np.take_along_axis(padded, i00 + 1, axis=1)
    v10 = np.take_along_axis(padded, i00 + wide, axis=1)
    v11 = np.take_along_axis(padded, i00 + wide + 1, axis=1)
    out = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy
    return np.rint(out).astype(np.uint8).reshape((n,) + IMAGE_SHAPE)


def augment(images, rng, max_rotation=12.0, max_slant=0.3, scale=(0.85, 1.15), max_shift=2.0, p_thick=0.35,
            p_thin=0.15, alpha=ALPHA, sigma=SIGMA):
    """Random pen width, rotation (degrees), slant (shear), size, shift and elastic distortion (``alpha``,
    ``sigma``; ``alpha=0`` for none) for each image. (N, 28, 28) uint8."""
    images = images.copy()
    n = len(images)
    pen = rng.random(n)
    thick, slim = pen < p_thick, pen > 1 - p_thin
    images[thick] = thicken(images[thick])
    images[slim] = thin(images[slim])

    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    slant = rng.uniform(-max_slant, max_slant, n)
    zoom = rng.uniform(*scale, n)
    cos, sin = np.cos(angle), np.sin(angle)
    # A maps output coordinates to input coordinates: inverse of (zoom * rotation * shear)
    forward = np.empty((n, 2, 2))
    forward[:, 0, 0], forward[:, 0, 1] = cos, -sin + slant * cos
    forward[:, 1, 0], forward[:, 1, 1] = sin, cos + slant * sin
    forward *= zoom[:, None, None]
    A = np.linalg.inv(forward)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))
    out = np.empty_like(images)
    for start in range(0, n, 10_000):                # chunks keep the temporaries in cache-sized pieces
        s = slice(start, start + 10_000)
        field = elastic_field(len(A[s]), rng, alpha, sigma) if alpha > 0 else None
        out[s] = affine_warp(images[s], A[s], shift[s], field)
    return out
