"""``python -m benchmarks.teaching``: does teaching the pad help a writer, and what does it cost everyone else?

A person is simulated on pen-drawn digits from real writers (``data/pen_digits``, UNIPEN): each digit is put
on the canvas as a person draws it and sent through the pad's path (``place_on_canvas``, then
``strokes_to_mnist``). For each of the writers the shipped model reads worst (among those with at least 20 digits),
starting from a fresh pretrained model, the person draws the first half of their digits in order and
teaches each misread one once; then the second half ("later digits") and MNIST's test set are scored.
Three ways to teach, side by side: none, the plain step ``train_on_instance(lr=0.03)``, and ``Teacher``.

    python -m benchmarks.teaching [--writers 20] [--model path.npz] [--steps 10 --lr 0.05 ...]
"""

import argparse
import copy
import datetime
import functools
import os
import statistics
import time

import numpy as np

import ocrlib
from benchmarks.__main__ import cpu_model
from ocrlib import teacher as defaults
from ocrlib.network import MLP
from ocrlib.pendigits import load_pen_digits, pen_digits_to_mnist
from ocrlib.teacher import Teacher

PLAIN_LR = 0.03         # the pad's one-step teach before Teacher
MIN_DIGITS = 20         # a writer needs this many digits: half to teach from, half to score
TEACHER_OPTIONS = ("steps", "batch_size", "copies", "taught_per_step", "at_risk", "lr", "consolidation")
TARGETS = {"mnist_mean": 0.988, "mnist_worst": 0.985, "gain": 0.08, "median_ms": 20.0}


def worst_writers(model, images, labels, writers, n, min_digits=MIN_DIGITS):
    """The ``n`` writers (with at least ``min_digits`` digits) whose digits ``model`` reads worst."""
    right = model.predict(images) == labels
    names, counts = np.unique(writers, return_counts=True)
    accuracy = {w: right[writers == w].mean() for w, c in zip(names, counts) if c >= min_digits}
    return sorted(accuracy, key=lambda w: (accuracy[w], w))[:n]


def simulate(model, teach, images, labels):
    """One writer: teach each misread digit of the first half once, in order.

    Returns (presses, [(wall-clock seconds, CPU seconds of this process) of each teach]). On a busy machine
    the wall clock also counts the time other programs had the CPU; the CPU time counts only the teach's work.
    """
    presses, times = 0, []
    for image, label in zip(images, labels):
        if model.predict(image) != label:
            start, start_cpu = time.perf_counter(), time.process_time()
            teach(image, int(label))
            times.append((time.perf_counter() - start, time.process_time() - start_cpu))
            presses += 1
    return presses, times


def run(base, method, writer_digits, X_test, y_test, rehearsal, teacher_options):
    """Every writer from a fresh copy of ``base``; per writer: later digits right, MNIST test, presses, times."""
    rows = []
    for images, labels in writer_digits:
        half = len(labels) // 2
        model = copy.deepcopy(base)
        if method == "plain":
            teach = functools.partial(model.train_on_instance, lr=PLAIN_LR)
        elif method == "Teacher":
            teach = Teacher(model, rehearsal=rehearsal, **teacher_options).teach
        else:
            teach = None
        presses, times = simulate(model, teach, images[:half], labels[:half]) if teach else (0, [])
        rows.append({"later": model.evaluate(images[half:], labels[half:]), "mnist": model.evaluate(X_test, y_test),
                     "presses": presses, "times": times})
    return rows


def summarise(rows, none_rows):
    later = np.mean([r["later"] for r in rows])
    times = [wall * 1e3 for r in rows for wall, _ in r["times"]]
    cpu = [cpu * 1e3 for r in rows for _, cpu in r["times"]]
    return {"later": later, "gain": later - np.mean([r["later"] for r in none_rows]),
            "mnist_mean": np.mean([r["mnist"] for r in rows]), "mnist_worst": min(r["mnist"] for r in rows),
            "presses": sum(r["presses"] for r in rows),
            "median_ms": statistics.median(times) if times else float("nan"),
            "p95_ms": float(np.percentile(times, 95)) if times else float("nan"),
            "cpu_ms": statistics.median(cpu) if cpu else float("nan")}


def table(results, n_writers):
    met = lambda ok: "yes" if ok else "no"
    s = results["Teacher"]
    lines = [f"| {n_writers} worst-read writers | no teaching | plain step (lr {PLAIN_LR}) | Teacher | target | met |",
             "|---|---|---|---|---|---|"]
    cells = lambda key, fmt: " | ".join(fmt(results[m][key]) for m in ("none", "plain", "Teacher"))
    pct = lambda v: f"{v:.1%}"
    lines.append(f"| later digits read right (mean over writers) | {cells('later', pct)} | "
                 f"≥ +{TARGETS['gain'] * 100:.0f} points over no teaching | {met(s['gain'] >= TARGETS['gain'])} |")
    lines.append(f"| gain over no teaching | — | {results['plain']['gain'] * 100:+.1f} points | "
                 f"{s['gain'] * 100:+.1f} points | | |")
    lines.append(f"| MNIST test after teaching, mean over writers | {cells('mnist_mean', lambda v: f'{v:.2%}')} | "
                 f"≥ {TARGETS['mnist_mean']:.1%} | {met(s['mnist_mean'] >= TARGETS['mnist_mean'])} |")
    lines.append(f"| MNIST test after teaching, worst writer | {cells('mnist_worst', lambda v: f'{v:.2%}')} | "
                 f"≥ {TARGETS['mnist_worst']:.1%} | {met(s['mnist_worst'] >= TARGETS['mnist_worst'])} |")
    lines.append(f"| presses (misread digits taught) | {cells('presses', str)} | | |")
    lines.append(f"| teach latency, median | — | {results['plain']['median_ms']:.2f} ms | {s['median_ms']:.1f} ms | "
                 f"≤ {TARGETS['median_ms']:.0f} ms | {met(s['median_ms'] <= TARGETS['median_ms'])} |")
    plain = results["plain"]
    lines.append(f"| teach latency, 95th percentile | — | {plain['p95_ms']:.2f} ms | {s['p95_ms']:.1f} ms | | |")
    lines.append(f"| teach CPU time, median | — | {plain['cpu_ms']:.2f} ms | {s['cpu_ms']:.1f} ms | | |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20, help="how many of the worst-read writers (default 20)")
    parser.add_argument("--model", help="model file to teach (default: the shipped pretrained model)")
    parser.add_argument("--seed", type=int, default=0, help="seed of where each digit is placed on the canvas")
    for name in TEACHER_OPTIONS:
        value = getattr(defaults, name.upper())
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                            help=f"Teacher's {name} (default {value})")
    args = parser.parse_args(argv)
    options = {name: getattr(args, name) for name in TEACHER_OPTIONS}

    base = MLP.load(args.model) if args.model else ocrlib.load_pretrained()
    X_test, y_test = ocrlib.load_mnist("test")
    rehearsal = ocrlib.load_mnist("train")
    drawings, labels, writers, _sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings, seed=args.seed)                   # (N, 28, 28) as the pad sees them
    chosen = worst_writers(base, images, labels, writers, args.writers)
    writer_digits = [(images[writers == w], labels[writers == w]) for w in chosen]    # in the order drawn

    print(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu_model()}, "
          f"{os.cpu_count()} cores, load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"model {base.sizes} reads {base.evaluate(X_test, y_test):.2%} of MNIST test; "
          f"Teacher({', '.join(f'{k}={v}' for k, v in options.items())}).")
    rows = {method: run(base, method, writer_digits, X_test, y_test, rehearsal, options)
            for method in ("none", "plain", "Teacher")}
    results = {method: summarise(r, rows["none"]) for method, r in rows.items()}
    print(table(results, len(chosen)))
    print(f"Load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}.")
    return results


if __name__ == "__main__":
    main()
