"""How fast the pad explains a reading, and what its explanations find, on real pen digits::

    python -m benchmarks.explain            # about a minute; Markdown on stdout, for the README

- **Pen-up -> prediction and explanation** (``ocrlib.explain.explain``: two saliency maps, the hidden units,
  a counterfactual) on a ``Pad`` with "Why?" on, beside the same pad with it off, measured in the same run and
  given as a ratio; and on a ``DigitPad``, the widget, which also paints the pictures it sends the browser
  (PNG encoding included). Median over pen digits, each the median of several pen-ups, for the MLP and the
  ConvNet. Target (MLP): <= 15 ms.
- **Counterfactuals on the digits the MLP misreads**: how often a few strokes' worth of ink (``counterfactual``)
  makes it read the label, how many pixels change, and how many steps it takes.

A benchmark, not a test: nothing fails.
"""

import argparse
import statistics
import time

import numpy as np

from benchmarks.pen_digits import machine, pen_up_latency
from ocrlib.explain import counterfactual
from ocrlib.pendigits import load_flags, load_pen_digits, pen_digits_to_mnist
from ocrlib.pretrained import load_pretrained
from ocrlib.widget import DigitPad

TARGET = 0.015


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explain", description=__doc__.split("::")[0])
    parser.add_argument("--drawings", type=int, default=60, help="pen digits timed at pen-up")
    parser.add_argument("--repeats", type=int, default=7, help="pen-ups timed per digit")
    args = parser.parse_args(argv)
    print(f"Measured {machine()}.\n")
    drawings, labels, _, _ = load_pen_digits()
    picks = np.random.default_rng(1).choice(len(drawings), args.drawings, replace=False)
    chosen = [drawings[i] for i in picks]

    print("| network | pen-up → prediction | … and explanation (Pad) | ratio | … and pictures (DigitPad) |")
    print("|---|---|---|---|---|")
    for name in ("mlp", "convnet"):
        plain = pen_up_latency(load_pretrained(name), chosen, args.repeats)
        explained = pen_up_latency(load_pretrained(name), chosen, args.repeats, explaining=True)
        shown = pen_up_latency(load_pretrained(name), chosen, args.repeats, pad_class=DigitPad, explaining=True)
        target = f" (target ≤ {TARGET * 1e3:.0f} ms: {'met' if np.median(shown) <= TARGET else 'NOT met'})" \
            if name == "mlp" else ""
        print(f"| {name} | {np.median(plain) * 1e3:.1f} ms | {np.median(explained) * 1e3:.1f} ms | "
              f"{np.median(explained) / np.median(plain):.1f}× | {np.median(shown) * 1e3:.1f} ms{target} |")

    images = pen_digits_to_mnist(drawings, seed=0)
    flagged = load_flags()
    print("\n| network | misread digits (flagged left out) | made to read the label | pixels changed, median "
          "| steps, median | seconds |")
    print("|---|---|---|---|---|---|")
    for name in ("mlp", "convnet"):
        net = load_pretrained(name)
        wrong = np.flatnonzero((net.predict(images) != labels) & ~flagged)
        start = time.perf_counter()
        changes = [counterfactual(net, images[i], int(labels[i])) for i in wrong]
        seconds = time.perf_counter() - start
        pixels = [int(((c.added > 0.05) | (c.removed > 0.05)).sum()) for c in changes]
        reached = sum(c.reached for c in changes)
        print(f"| {name} | {len(wrong)} | {reached} ({reached / len(wrong):.0%}) | {statistics.median(pixels)} | "
              f"{statistics.median(c.steps for c in changes)} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
