"""Make data/strokes/strokes_test.npz, the pen-drawn test set (see ocrlib/strokeset.py for the format, ocrlib/stroke_synthesis.py for how the strokes are made).

    python scripts/make_stroke_set.py [--mnist 3000] [--per-digit 60] [--seed 0] [--out PATH]

Uses MNIST *test* digits only. The same arguments always give the same file.
"""

import argparse
from pathlib import Path

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.paths import STROKE_SET_PATH
from ocrlib.stroke_synthesis import TEMPLATES, mnist_strokes, place_on_pad, template_strokes
from ocrlib.strokeset import save_stroke_set


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=int, default=3000, help="how many MNIST test digits to trace")
    parser.add_argument("--per-digit", type=int, default=60, help="template drawings per digit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=STROKE_SET_PATH)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    images, labels = load_mnist("test")
    chosen = np.sort(rng.choice(len(images), size=args.mnist, replace=False))
    drawings, digits, source, mnist_index = [], [], [], []
    for i in chosen:
        drawings.append(place_on_pad(mnist_strokes(images[i]), rng))
        digits.append(labels[i])
        source.append(0)
        mnist_index.append(i)
    for digit, styles in TEMPLATES.items():
        for n in range(args.per_digit):
            style = styles[n % len(styles)]
            drawings.append(place_on_pad(template_strokes(style, rng), rng))
            digits.append(digit)
            source.append(1)
            mnist_index.append(-1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_stroke_set(args.out, drawings, digits, source, mnist_index)
    n_points = sum(len(s) for d in drawings for s in d)
    print(f"wrote {args.out}: {len(drawings)} drawings, {n_points} points, {args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
