"""Train the model that ships with ocrlib::

    python -m ocrlib.train            # writes ocrlib/models/mlp.npz, prints test accuracy and time

A plain MLP on MNIST stops near 98.2 % test accuracy: it memorises where the ink of each training
digit sits. Each epoch here sees every training digit slightly changed instead, in the ways two
drawings of the same digit differ: a thicker or thinner pen, a small rotation, slant, change of size
and shift. The network cannot memorise pixels that move, so it learns shapes; and the same changes
make it read digits drawn on the drawing pad, whose pen differs from MNIST's.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.network import MLP
from ocrlib.pretrained import MODEL_PATH

SIZES = (784, 800, 10)
EPOCHS = 20
BATCH_SIZE = 128
LR = 0.05
MOMENTUM = 0.9
SEED = 0


def thicken(images):
    """Grey-level dilation with a 3x3 cross: every stroke gets about one pixel wider. (N, 28, 28) uint8."""
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    return np.maximum.reduce([p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])


def thin(images):
    """Half-strength grey-level erosion with a 3x3 cross: strokes get thinner but never vanish."""
    p = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    eroded = np.minimum.reduce([p[:, 1:-1, 1:-1], p[:, :-2, 1:-1], p[:, 2:, 1:-1], p[:, 1:-1, :-2], p[:, 1:-1, 2:]])
    return ((images.astype(np.uint16) + eroded) // 2).astype(np.uint8)


def affine_warp(images, A, shift):
    """Resample each image through x_in = A @ (x_out - c) + c + shift, bilinearly; outside the image is 0.

    ``images`` (N, 28, 28) uint8, ``A`` (N, 2, 2) acting on (x, y), ``shift`` (N, 2) in pixels.
    """
    n = len(images)
    c = 13.5
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float32) - c
    grid = np.stack([xs.ravel(), ys.ravel()])                       # (2, 784)
    src = A.astype(np.float32) @ grid + (shift.astype(np.float32) + c)[:, :, None]   # (N, 2, 784)
    sx = np.clip(src[:, 0], -1, 28)
    sy = np.clip(src[:, 1], -1, 28)
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = sx - x0, sy - y0
    padded = np.pad(images, ((0, 0), (1, 2), (1, 2))).reshape(n, -1).astype(np.float32)   # (N, 31*31)
    i00 = ((y0 + 1) * 31 + (x0 + 1)).astype(np.intp)                 # (N, 784) corner indices
    v00 = np.take_along_axis(padded, i00, axis=1)
    v01 = np.take_along_axis(padded, i00 + 1, axis=1)
    v10 = np.take_along_axis(padded, i00 + 31, axis=1)
    v11 = np.take_along_axis(padded, i00 + 32, axis=1)
    out = (v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy
    return np.rint(out).astype(np.uint8).reshape(n, 28, 28)


def augment(images, rng, max_rotation=12.0, max_slant=0.3, scale=(0.85, 1.15), max_shift=2.0, p_thick=0.35,
            p_thin=0.15):
    """Random pen width, rotation (degrees), slant (shear), size and shift for each image. (N, 28, 28) uint8."""
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
        out[s] = affine_warp(images[s], A[s], shift[s])
    return out


def train(sizes=SIZES, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, momentum=MOMENTUM, seed=SEED,
          progress=True):
    """Train on the 60,000 MNIST training images with augmentation. Returns (net, history, seconds)."""
    X, y = load_mnist("train")
    net = MLP(sizes, activation="relu", seed=seed)
    start = time.perf_counter()
    history = net.fit(X, y, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                      lr_schedule="cosine", progress=progress, seed=seed, augment=augment)
    return net, history, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ocrlib.train", description=__doc__.split("::")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=list(SIZES[1:-1]), help="hidden layer sizes")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--momentum", type=float, default=MOMENTUM)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help=f"where to save (default {MODEL_PATH})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    sizes = (784, *args.hidden, 10)
    net, history, seconds = train(sizes, args.epochs, args.batch_size, args.lr, args.momentum, args.seed,
                                  progress=not args.no_progress)
    X_test, y_test = load_mnist("test")
    accuracy = net.evaluate(X_test, y_test)
    net.save(args.out)
    print(f"{sizes} trained in {seconds:.0f} s ({args.epochs} epochs, final training loss "
          f"{history['loss'][-1]:.4f}); test accuracy {accuracy:.4f}; saved to {args.out}")


if __name__ == "__main__":
    main()
