"""How well the shipped model reads real people's digits, through the pad's own path::

    python -m benchmarks.pen_digits            # Markdown tables on stdout, for the README

Measured on the UNIPEN pen digits (``data/pen_digits``: 7,815 digits, 257 writers, 12 collection sites), none
of whom the shipped model has seen. Each digit is placed on the pad's canvas as a person draws
(``place_on_canvas``) and read two ways:

- the pad's path, ``strokes_to_mnist``: the size normalised first, then drawn with MNIST's pen;
- a picture's path, ``to_mnist(rasterize(strokes))``: drawn with the pad's fixed pen, then scaled.

Digits are drawn 50-80 % of the pad's height, as people draw; once more small (15-30 %), where the fixed
pen comes out thick.

Also: MNIST test accuracy, and the time from pen-up to prediction on a ``Pad`` (median and slowest over
pen digits, each the median of several pen-ups), with numpy's BLAS as it is and, where threadpoolctl is
installed (the ``bench`` extra), on one thread: on a busy machine the threads of one small matrix product
wait for each other. Targets: >= 96 % on the pen digits overall and no site
below 90 %; MNIST test >= 99.0 %; pen-up -> prediction <= 10 ms. A benchmark, not a test: nothing fails.
"""

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.pad import Pad
from ocrlib.pendigits import load_pen_digits, pen_digits_to_mnist, place_on_canvas
from ocrlib.pretrained import load_pretrained

TARGET_OVERALL, TARGET_SITE, TARGET_MNIST, TARGET_LATENCY = 0.96, 0.90, 0.990, 0.010
SMALL = (0.15, 0.30)        # a digit drawn small: its height as a fraction of the pad's


def machine():
    cpu = "?"
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu}, {cores} cores; "
            f"Python {platform.python_version()}, numpy {np.__version__}; load average {load}")


def accuracy_table(rows, columns):
    """Markdown: one row per (name, mask), one accuracy column per (title, correct)."""
    lines = ["| | digits | " + " | ".join(title for title, _ in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for name, mask in rows:
        cells = " | ".join(f"{correct[mask].mean():.1%}" for _, correct in columns)
        lines.append(f"| {name} | {mask.sum():,} | {cells} |")
    return "\n".join(lines)


def pen_up_latency(model, drawings, repeats, seed=0, pad_class=Pad, **options):
    """Seconds from the last pen-up of a drawing to the pad's prediction: one median per drawing. ``pad_class``
    and ``options`` make the pad (e.g. ``DigitPad``, ``explaining=True``)."""
    rng = np.random.default_rng(seed)
    medians = []
    with tempfile.TemporaryDirectory() as folder:
        pad = pad_class(model=model, taught_path=Path(folder) / "taught.npz", **options)
        for strokes in drawings:
            placed = place_on_canvas(strokes, rng)
            pad.clear()
            for stroke in placed[:-1]:
                draw(pad, stroke)
            times = []
            for _ in range(repeats):
                draw(pad, placed[-1], lift=False)
                start = time.perf_counter()
                pad.on_pen_up(*placed[-1][-1])
                times.append(time.perf_counter() - start)
                pad.undo()
            medians.append(statistics.median(times))
    return np.array(medians)


def draw(pad, stroke, lift=True):
    pad.on_pen_down(*stroke[0])
    for x, y in stroke[1:]:
        pad.on_pen_move(x, y)
    if lift:
        pad.on_pen_up(*stroke[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pen_digits", description=__doc__.split("::")[0])
    parser.add_argument("--latency-digits", type=int, default=100, help="pen digits timed at pen-up")
    parser.add_argument("--repeats", type=int, default=11, help="pen-ups timed per digit")
    args = parser.parse_args(argv)

    print(f"Measured {machine()}.\n")
    net = load_pretrained()
    drawings, labels, _writers, sites = load_pen_digits()
    pad_path = net.predict(pen_digits_to_mnist(drawings, seed=0)) == labels
    fixed_pen = net.predict(pen_digits_to_mnist(drawings, seed=0, fixed_pen=True)) == labels
    columns = [("the pad's path, `strokes_to_mnist`", pad_path), ("fixed pen, `to_mnist(rasterize())`", fixed_pen)]
    everything = np.ones(len(labels), bool)
    small = [(title, net.predict(pen_digits_to_mnist(drawings, seed=0, height=SMALL, fixed_pen=fixed)) == labels)
             for title, fixed in (("the pad's path", False), ("fixed pen", True))]

    print("Per collection site:\n")
    print(accuracy_table([(site, sites == site) for site in np.unique(sites)] + [("**all**", everything)], columns))
    print(f"\nDrawn small ({SMALL[0]:.0%}-{SMALL[1]:.0%} of the pad's height), all sites: "
          + ", ".join(f"{title} {correct.mean():.1%}" for title, correct in small) + ".")
    print("\nPer digit:\n")
    print(accuracy_table([(str(k), labels == k) for k in range(10)], columns))

    X_test, y_test = load_mnist("test")
    mnist = net.evaluate(X_test, y_test)
    rng = np.random.default_rng(1)
    timed = rng.choice(len(drawings), min(args.latency_digits, len(drawings)), replace=False)
    latency = pen_up_latency(net, [drawings[i] for i in timed], args.repeats)
    one_thread = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        with threadpool_limits(1, user_api="blas"):
            one_thread = pen_up_latency(net, [drawings[i] for i in timed], args.repeats)
    worst_site = min(pad_path[sites == site].mean() for site in np.unique(sites))

    print(f"\nShipped model {net.sizes}: MNIST test {mnist:.2%}; pen digits {pad_path.mean():.1%} "
          f"(lowest site {worst_site:.1%}); pen-up -> prediction median {np.median(latency) * 1e3:.1f} ms, "
          f"slowest {latency.max() * 1e3:.1f} ms over {len(timed)} pen digits"
          + (f"; on one BLAS thread median {np.median(one_thread) * 1e3:.1f} ms, slowest "
             f"{one_thread.max() * 1e3:.1f} ms." if one_thread is not None else "."))
    checks = [("pen digits overall >= 96 %", pad_path.mean() >= TARGET_OVERALL),
              ("no site below 90 %", worst_site >= TARGET_SITE),
              ("MNIST test >= 99.0 %", mnist >= TARGET_MNIST),
              ("pen-up -> prediction <= 10 ms (median over pen digits)", np.median(latency) <= TARGET_LATENCY)]
    print("Targets: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks) + ".")


if __name__ == "__main__":
    main()
