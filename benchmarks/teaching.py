"""``python -m benchmarks.teaching``: does teaching the pad help a writer, and what does it cost everyone else?

A person is simulated on pen-drawn digits from real writers (``data/pen_digits``, UNIPEN): each digit is put
on the canvas as a person draws it and sent through the pad's path (``place_on_canvas``, then
``strokes_to_mnist``). For each of the writers the shipped model reads worst (among those with at least 20 digits),
starting from a fresh pretrained model, the person draws the first half of their digits in order and
teaches each misread one once; then the second half ("later digits") and MNIST's test set are scored.
Three ways to teach, side by side: none, the plain step ``train_on_instance(lr=0.03)``, and ``Teacher``.

``Teacher`` samples its rehearsal batches at random, so one run of it is one draw: with different seeds its
gain moves by about half a point. It is run ``--repeats`` times (seeds 0, 1, ...); the table gives the mean
over the runs, and the worst writer over all of them.

``--ceiling`` adds a reference that is not a way to teach: each writer's whole first half, the digits read
right as well, trained on jointly (``CEILING_STEPS`` steps on batches of half the writer's digits and half
MNIST). It shows how much the first half of a writer's digits can teach this model at all.

    python -m benchmarks.teaching [--writers 20] [--repeats 4] [--ceiling] [--model mlp|convnet|path.npz] [--steps 10 ...]
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
from ocrlib.activations import ACTIVATIONS
from ocrlib.fastpath import Trainer
from ocrlib.pendigits import load_pen_digits, pen_digits_to_mnist
from ocrlib.teacher import Teacher

PLAIN_LR = 0.03         # the pad's one-step teach before Teacher
MIN_DIGITS = 20         # a writer needs this many digits: half to teach from, half to score
REPEATS = 4             # runs of Teacher, each with its own sampling seed
CEILING_STEPS = 400     # --ceiling: steps of rate CEILING_LR on batches of 64, half the writer's, half MNIST
CEILING_LR = 0.1
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


def train_jointly(model, images, labels, rehearsal, seed=0):
    """``--ceiling``: train on all of ``images`` at once, each batch half of them and half MNIST digits."""
    X = np.round(images.reshape(len(images), -1) * 255).astype(np.uint8)      # as Teacher stores drawings
    X_mnist, y_mnist = rehearsal[0].reshape(len(rehearsal[0]), -1), rehearsal[1]
    trainer = Trainer(model.weights, model.biases, ACTIVATIONS[model.activation], 64)
    rng = np.random.default_rng(seed)
    for _ in range(CEILING_STEPS):
        mine, theirs = rng.integers(0, len(X), 32), rng.integers(0, len(X_mnist), 32)
        batch, lit = trainer.batch_input(np.concatenate([X[mine], X_mnist[theirs]]))
        trainer.step(batch, np.concatenate([labels[mine], y_mnist[theirs]]).astype(np.intp), CEILING_LR, 0.0, lit)
    return len(X), []


def run(base, method, writer_digits, X_test, y_test, rehearsal, teacher_options):
    """Every writer from a fresh copy of ``base``; per writer: later digits right, MNIST test, presses, times."""
    rows = []
    for images, labels in writer_digits:
        half = len(labels) // 2
        model = copy.deepcopy(base)
        if method == "plain":
            presses, times = simulate(model, functools.partial(model.train_on_instance, lr=PLAIN_LR),
                                      images[:half], labels[:half])
        elif method == "Teacher":
            teacher = Teacher(model, rehearsal=rehearsal, **teacher_options)
            presses, times = simulate(model, teacher.teach, images[:half], labels[:half])
        elif method == "ceiling":
            presses, times = train_jointly(model, images[:half], labels[:half], rehearsal)
        else:
            presses, times = 0, []
        rows.append({"later": model.evaluate(images[half:], labels[half:]), "mnist": model.evaluate(X_test, y_test),
                     "presses": presses, "times": times})
    return rows


def summarise(runs, none_rows):
    """One method's figures from its runs (each a list of per-writer rows): means over the runs; the worst
    writer over all of them; latencies over every teach of every run."""
    later = [np.mean([r["later"] for r in rows]) for rows in runs]
    none = np.mean([r["later"] for r in none_rows])
    times = [wall * 1e3 for rows in runs for r in rows for wall, _ in r["times"]]
    cpu = [cpu * 1e3 for rows in runs for r in rows for _, cpu in r["times"]]
    return {"later": np.mean(later), "gain": np.mean(later) - none, "gains": [v - none for v in later],
            "mnist_mean": np.mean([r["mnist"] for rows in runs for r in rows]),
            "mnist_worst": min(r["mnist"] for rows in runs for r in rows),
            "presses": np.mean([sum(r["presses"] for r in rows) for rows in runs]),
            "median_ms": statistics.median(times) if times else float("nan"),
            "p95_ms": float(np.percentile(times, 95)) if times else float("nan"),
            "cpu_ms": statistics.median(cpu) if cpu else float("nan")}


def table(results, n_writers):
    met = lambda ok: "yes" if ok else "no"
    s = results["Teacher"]
    repeats = len(s["gains"])
    methods = ["none", "plain", "Teacher"]
    header = (f"| {n_writers} worst-read writers | no teaching | plain step (lr {PLAIN_LR}) | "
              f"Teacher (mean of {repeats} runs) | target | met |")
    lines = [header, "|---|---|---|---|---|---|"]
    cells = lambda key, fmt: " | ".join(fmt(results[m][key]) for m in methods)
    pct = lambda v: f"{v:.1%}"
    lines.append(f"| later digits read right (mean over writers) | {cells('later', pct)} | "
                 f"≥ +{TARGETS['gain'] * 100:.0f} points over no teaching | {met(s['gain'] >= TARGETS['gain'])} |")
    lines.append(f"| gain over no teaching | — | {results['plain']['gain'] * 100:+.1f} points | "
                 f"{s['gain'] * 100:+.1f} points | | |")
    lines.append(f"| gain of each Teacher run (seeds 0-{repeats - 1}) | — | — | "
                 f"{', '.join(f'{g * 100:+.1f}' for g in s['gains'])} | | |")
    lines.append(f"| MNIST test after teaching, mean over writers | {cells('mnist_mean', lambda v: f'{v:.2%}')} | "
                 f"≥ {TARGETS['mnist_mean']:.1%} | {met(s['mnist_mean'] >= TARGETS['mnist_mean'])} |")
    lines.append(f"| MNIST test after teaching, worst writer | {cells('mnist_worst', lambda v: f'{v:.2%}')} | "
                 f"≥ {TARGETS['mnist_worst']:.1%} | {met(s['mnist_worst'] >= TARGETS['mnist_worst'])} |")
    lines.append(f"| presses (misread digits taught) | {cells('presses', lambda v: f'{v:g}')} | | |")
    lines.append(f"| teach latency, median | — | {results['plain']['median_ms']:.2f} ms | {s['median_ms']:.1f} ms | "
                 f"≤ {TARGETS['median_ms']:.0f} ms | {met(s['median_ms'] <= TARGETS['median_ms'])} |")
    plain = results["plain"]
    lines.append(f"| teach latency, 95th percentile | — | {plain['p95_ms']:.2f} ms | {s['p95_ms']:.1f} ms | | |")
    lines.append(f"| teach CPU time, median | — | {plain['cpu_ms']:.2f} ms | {s['cpu_ms']:.1f} ms | | |")
    if "ceiling" in results:
        c = results["ceiling"]
        lines.append(f"\nReference (`--ceiling`, not a way to teach): every digit of each writer's first half "
                     f"({c['presses']:g} in all), trained on jointly for {CEILING_STEPS} steps: later digits "
                     f"{c['later']:.1%} ({c['gain'] * 100:+.1f} points), MNIST test {c['mnist_mean']:.2%} mean, "
                     f"{c['mnist_worst']:.2%} for the worst writer.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20, help="how many of the worst-read writers (default 20)")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"runs of Teacher, with sampling seeds 0, 1, ... (default {REPEATS})")
    parser.add_argument("--ceiling", action="store_true",
                        help="also train on each writer's whole first half at once, for reference")
    parser.add_argument("--model", default="mlp",
                        help="the network to teach: 'mlp' (default), 'convnet' (the shipped ones) or a model file")
    for name in TEACHER_OPTIONS:
        value = getattr(defaults, name.upper())
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value,
                            help=f"Teacher's {name} (default {value})")
    args = parser.parse_args(argv)
    if args.writers < 1 or args.repeats < 1:
        parser.error(f"--writers and --repeats must be at least 1, got {args.writers} and {args.repeats}")
    options = {name: getattr(args, name) for name in TEACHER_OPTIONS}

    base = ocrlib.load_pretrained(args.model) if args.model in ("mlp", "convnet") else ocrlib.load_model(args.model)
    X_test, y_test = ocrlib.load_mnist("test")
    rehearsal = ocrlib.load_mnist("train")
    drawings, labels, writers, _sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings)                                   # (N, 28, 28) as the pad sees them
    chosen = worst_writers(base, images, labels, writers, args.writers)
    writer_digits = [(images[writers == w], labels[writers == w]) for w in chosen]    # in the order drawn

    print(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu_model()}, "
          f"{os.cpu_count()} cores, load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"model {base!r} reads {base.evaluate(X_test, y_test):.2%} of MNIST test; "
          f"Teacher({', '.join(f'{k}={v}' for k, v in options.items())}) run {args.repeats} times.")
    rows = {method: [run(base, method, writer_digits, X_test, y_test, rehearsal, options)]
            for method in ("none", "plain") + (("ceiling",) if args.ceiling else ())}
    rows["Teacher"] = [run(base, "Teacher", writer_digits, X_test, y_test, rehearsal, dict(options, seed=seed))
                       for seed in range(args.repeats)]
    results = {method: summarise(runs, rows["none"][0]) for method, runs in rows.items()}
    print(table(results, len(chosen)))
    print(f"Load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}.")
    return results


if __name__ == "__main__":
    main()
