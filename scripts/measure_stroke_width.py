"""How wide is MNIST's pen? The value behind ``ocrlib.preprocess.STROKE_WIDTH``.

The stroke set's traced digits are MNIST test digits turned into strokes (``data/strokes``). Drawn back through
``strokes_to_mnist`` with a pen of width w, they carry as much ink as the MNIST images they were traced from
when w is MNIST's pen::

    python scripts/measure_stroke_width.py
"""

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.paths import STROKE_SET_PATH
from ocrlib.preprocess import strokes_to_mnist
from ocrlib.strokeset import load_stroke_set

WIDTHS = (2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.2)


def main():
    drawings, _ = load_stroke_set(source="mnist-test traced")
    with np.load(STROKE_SET_PATH, allow_pickle=False) as npz:
        traced = npz["source"] == 0
        mnist_index = npz["mnist_index"][traced]
    X_test, _ = load_mnist("test")
    mnist_ink = (X_test[mnist_index] / 255).sum(axis=(1, 2)).mean()
    print(f"MNIST originals: {mnist_ink:.1f} pixels of ink on average ({len(drawings)} digits)")
    for w in WIDTHS:
        ink = np.mean([strokes_to_mnist(strokes, stroke_width=w).sum() for strokes in drawings])
        print(f"stroke width {w:.1f} px: {ink:.1f} pixels of ink ({ink / mnist_ink:.0%} of MNIST's)")


if __name__ == "__main__":
    main()
