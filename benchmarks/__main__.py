"""``python -m benchmarks [--out PLOT.png] [--repeats 3]``: see ``benchmarks/__init__.py`` for what is measured."""

import argparse
import datetime
import os
import platform
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

import ocrlib
from ocrlib.preprocess import strokes_to_mnist

TEACH_LR = 0.03         # the plain teach step's rate; the pad teaches with Teacher (python -m benchmarks.teaching)
SIZES = (784, 128, 10)
BATCH, LR = 64, 0.1
LAYER_MACS = SIZES[0] * SIZES[1] + SIZES[1] * SIZES[2]      # multiply-adds per image per matmul pass
RESULTS = Path(__file__).parent / "results"


# --- timing ---

def best_of(repeats, run):
    """The shortest of ``repeats`` wall-clock times of ``run()``, and its last return value."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def best_of_each(repeats, runs):
    """{name: (shortest time, last result)} for ``runs`` {name: function}, taking turns ``repeats`` times,
    so that a burst of other work on the machine falls on every contender alike. A first, untimed turn
    lets every library warm up (thread pools, caches, lazy initialisation)."""
    best = {}
    for turn in range(repeats + 1):
        for name, run in runs.items():
            seconds, result = best_of(1, run)
            if turn > 0 and (name not in best or seconds < best[name][0]):
                best[name] = (seconds, result)
    return best


def median_of_each(calls, runs, turns=10, warmup=20):
    """{name: median time of one call} for ``runs`` {name: function}, taking turns in ``turns`` blocks."""
    times = {name: [] for name in runs}
    for name, run in runs.items():
        for _ in range(warmup):
            run()
    for _ in range(turns):
        for name, run in runs.items():
            for _ in range(max(1, calls // turns)):
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def median_time(calls, run, warmup=50):
    """The median wall-clock time of one ``run()`` over ``calls`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(n=2048, repeats=7):
    """This machine's float32 matmul throughput, GFLOP/s: the best of ``repeats`` (n x n) @ (n x n)."""
    rng = np.random.default_rng(0)
    A, B = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    C = A @ B                                                     # warm-up: threads started, pages touched
    seconds, _ = best_of(repeats, lambda: np.matmul(A, B, out=C))
    return 2 * n**3 / seconds / 1e9


# --- the machine ---

def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_threads(threadpoolctl):
    """Threads of numpy's BLAS, as threadpoolctl (a scikit-learn dependency) reports them, if it is there."""
    if threadpoolctl is None:
        return "?"
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas" and "numpy" in p["filepath"]]
    return ", ".join(f"{p['internal_api']} {p.get('version') or ''} {p['num_threads']} threads".replace("  ", " ")
                     for p in pools) or "?"


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat), or None elsewhere."""
    try:
        ticks = [int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")      # minus idle and iowait


def own_cpu_seconds():
    user, system = os.times()[:2]
    return user + system


def machine(libs):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()}, {cores} cores",
        "versions": (f"Python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas_threads(libs.threadpoolctl)}), "
                     f"torch {libs.torch.__version__ + f' ({libs.torch.get_num_threads()} threads)' if libs.torch else 'absent'}, "
                     f"scikit-learn {libs.sklearn.__version__ if libs.sklearn else 'absent'}, ocrlib {ocrlib.__version__}"),
        "load": load,
    }


class Libraries(NamedTuple):
    """The peers measured beside ocrlib, each a module or None when not installed."""
    torch: object
    sklearn: object
    threadpoolctl: object


def optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


# --- ocrlib ---

def ocrlib_epoch(X, y):
    net = ocrlib.MLP(SIZES, seed=0)
    net.fit(X, y, epochs=1, batch_size=BATCH, lr=LR, progress=False)
    return net


def ocrlib_one_example(x, label):
    net = ocrlib.MLP(SIZES, seed=0)
    return lambda: net.train_on_instance(x, label, lr=0.01)


# --- PyTorch: the usual loop over index slices of one float tensor (faster than a DataLoader) ---

def torch_model(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.ReLU(),
                               torch.nn.Linear(SIZES[1], SIZES[2]))


def torch_inputs(torch, images):
    return torch.from_numpy(images).reshape(-1, SIZES[0]).float().div_(255)


def torch_epoch(torch, X, y, threads=None):
    """One epoch, with the loss and accuracy bookkeeping ``MLP.fit`` also does; on ``threads`` if given."""
    F = torch.nn.functional
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads or default_threads)
    try:
        model = torch_model(torch)
        optimizer = torch.optim.SGD(model.parameters(), lr=LR)
        inputs, labels = torch_inputs(torch, X), torch.from_numpy(y.astype(np.int64))
        order = torch.randperm(len(inputs))
        total_loss, correct = 0.0, 0
        for start in range(0, len(inputs), BATCH):
            batch = order[start:start + BATCH]
            xb, yb = inputs[batch], labels[batch]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
        return model
    finally:
        torch.set_num_threads(default_threads)


def torch_one_example(torch, x, label):
    F = torch.nn.functional
    model = torch_model(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    target = torch.tensor([label])

    def step():
        logits = model(torch_inputs(torch, x))
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def torch_predict(torch, model, images):
    with torch.inference_mode():
        return model(torch_inputs(torch, images)).argmax(1).numpy()


# --- scikit-learn ---

def sklearn_epoch(X, y):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    net = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], activation="relu", solver="sgd", batch_size=BATCH,
                        learning_rate_init=LR, momentum=0, nesterovs_momentum=False, alpha=0,
                        max_iter=1, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(sklearn_inputs(X), y)
    return net


def sklearn_inputs(images):
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)


# --- the drawing pad's path ---

def a_drawn_two():
    """Pen strokes of a '2' on the 280 x 280 pad: an arc, a diagonal and a base line, as a hand draws them."""
    t = np.linspace(np.pi, -0.25 * np.pi, 30)
    arc = np.column_stack([140 + 60 * np.cos(t), 105 - 55 * np.sin(t)])
    return [np.vstack([arc, [[85, 225], [200, 225]]])]




# --- the rows of the table: each measures its task for every library present, taking turns ---

@dataclass
class Row:
    key: str                      # the row's name in the plot
    task: str
    times: dict                   # library -> seconds
    limit: float = None           # the FLOP limit, seconds, where the task has one
    target: str = ""
    met: str = ""                 # "yes", "no", "—" (a value missing) or "" (no target)


def row_epoch(libs, X, y, limit, repeats):
    """One epoch of plain mini-batch SGD from uint8 images; returns the row and the trained models."""
    runs = {"ocrlib": lambda: ocrlib_epoch(X, y)}
    if libs.torch:
        runs["torch"] = lambda: torch_epoch(libs.torch, X, y)
    if libs.sklearn:
        runs["sklearn"] = lambda: sklearn_epoch(X, y)
    best = best_of_each(repeats, runs)
    times = {name: seconds for name, (seconds, _) in best.items()}
    vs_torch = ratio(times.get("ocrlib"), times.get("torch"))
    row = Row("epoch", "epoch: 60,000 images, batch 64", times, limit, "≤ 1.5× limit, ≤ 0.5× PyTorch",
              verdict([(times["ocrlib"] / limit, 1.5), (vs_torch, 0.5)]))
    return row, {name: model for name, (_, model) in best.items()}


def row_epoch_one_thread(libs, X, y, limit, repeats):
    runs = {"ocrlib": lambda: ocrlib_epoch(X, y)}
    if libs.torch:
        runs["torch"] = lambda: torch_epoch(libs.torch, X, y, threads=1)
    with libs.threadpoolctl.threadpool_limits(1, user_api="blas"):
        best = best_of_each(repeats, runs)
    return Row("epoch1", "epoch, on one thread", {name: seconds for name, (seconds, _) in best.items()}, limit)


def row_one_example(libs, x, label, calls):
    runs = {"ocrlib": ocrlib_one_example(x, label)}
    if libs.torch:
        runs["torch"] = torch_one_example(libs.torch, x, label)
    times = median_of_each(calls, runs)
    return Row("one", "one example: SGD step", times, None, "≤ 0.2× PyTorch",
               verdict([(ratio(times["ocrlib"], times.get("torch")), 0.2)]))


def row_predict_all(libs, trained, Xt, limit):
    runs = {"ocrlib": lambda: trained["ocrlib"].predict(Xt)}
    if libs.torch:
        runs["torch"] = lambda: torch_predict(libs.torch, trained["torch"], Xt)
    if libs.sklearn:
        runs["sklearn"] = lambda: trained["sklearn"].predict(sklearn_inputs(Xt))
    times = {name: seconds for name, (seconds, _) in best_of_each(10, runs).items()}
    return Row("predict", "predict 10,000 test images", times, limit, "≤ 2× limit", verdict([(times["ocrlib"] / limit, 2.0)]))


def row_predict_one(libs, trained, x, calls):
    runs = {"ocrlib": lambda: trained["ocrlib"].predict(x)}
    if libs.torch:
        runs["torch"] = lambda: torch_predict(libs.torch, trained["torch"], x)
    if libs.sklearn:
        runs["sklearn"] = lambda: trained["sklearn"].predict(sklearn_inputs(x[None]))
    return Row("predict1", "predict 1 image", median_of_each(calls, runs))


def row_drawing(net, calls):
    """The pad at pen-up: strokes -> strokes_to_mnist -> probabilities, with the shipped model."""
    strokes = a_drawn_two()
    seconds = median_time(calls, lambda: net.predict_proba(strokes_to_mnist(strokes)), warmup=5)
    return Row("drawing", "drawing: strokes_to_mnist + forward", {"ocrlib": seconds}, None, "≤ 10 ms",
               verdict([(seconds, 10e-3)]))


def row_teach(net, calls):
    """The plain teach step: one ``train_on_instance`` on the drawing (``Teacher`` is timed in benchmarks/teaching.py)."""
    image = strokes_to_mnist(a_drawn_two())
    seconds = median_time(calls, lambda: net.train_on_instance(image, 2, lr=TEACH_LR), warmup=5)
    return Row("teach", "teach: one step on a drawing, shipped model", {"ocrlib": seconds}, None, "≤ 1 ms",
               verdict([(seconds, 1e-3)]))


# --- report ---

def fmt(seconds):
    if seconds is None:
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def ratio(a, b):
    return None if a is None or b is None else a / b


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def verdict(checks):
    """'yes' when every (value, bound) holds, 'no' when one fails, '—' when a value is missing."""
    if any(value is None for value, _ in checks):
        return "—"
    return "yes" if all(value <= bound for value, bound in checks) else "no"


def table(rows):
    libraries = ("ocrlib", "torch", "sklearn")
    header = ("task", "ocrlib (NumPy)", "PyTorch", "scikit-learn", "FLOP limit", "ocrlib / PyTorch", "target", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        cells = [fmt(row.times[name]) + (f" ({fmt_ratio(row.times[name] / row.limit)})" if row.limit else "")
                 if name in row.times else "—" for name in libraries]
        lines.append("| " + " | ".join([row.task, *cells, fmt(row.limit), fmt_ratio(ratio(row.times.get("ocrlib"),
                                        row.times.get("torch"))), row.target, row.met]) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--out", type=Path, help="where to save the plot (default: benchmarks/results/)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each epoch benchmark, the best is kept")
    parser.add_argument("--calls", type=int, default=1000, help="timed calls of each one-example benchmark")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.calls < 1:
        parser.error(f"--repeats and --calls must be at least 1, got {args.repeats} and {args.calls}")

    libs = Libraries(optional("torch"), optional("sklearn"), optional("threadpoolctl"))
    notes = [f"{name} is not installed (pip install -e .[bench]): {what} skipped."
             for name, module, what in [("PyTorch", libs.torch, "its column is"),
                                        ("scikit-learn", libs.sklearn, "its column is"),
                                        ("threadpoolctl", libs.threadpoolctl, "the one-thread row is")]
             if module is None]
    info = machine(libs)
    start = time.perf_counter(), busy_cpu_seconds(), own_cpu_seconds()
    print(f"{info['date']} · {info['cpu']} · load average {info['load']}", flush=True)

    X, y = ocrlib.load_mnist("train")
    Xt, yt = ocrlib.load_mnist("test")
    x, label = Xt[0], int(yt[0])
    gflops = matmul_gflops()
    epoch_limit = 3 * 2 * len(X) * LAYER_MACS / (gflops * 1e9)
    predict_limit = 2 * len(Xt) * LAYER_MACS / (gflops * 1e9)
    print(f"float32 matmul 2048²: {gflops:.0f} GFLOP/s; FLOP limits: epoch {fmt(epoch_limit)}, "
          f"predict 10,000 {fmt(predict_limit)}", flush=True)

    epoch, trained = row_epoch(libs, X, y, epoch_limit, args.repeats)
    rows = [epoch]
    if libs.threadpoolctl:
        rows.append(row_epoch_one_thread(libs, X, y, epoch_limit, args.repeats))
    print("epochs done", flush=True)
    shipped = ocrlib.load_pretrained()
    rows += [row_one_example(libs, x, label, args.calls),
             row_predict_all(libs, trained, Xt, predict_limit),
             row_predict_one(libs, trained, x, args.calls),
             row_drawing(shipped, max(20, args.calls // 10)),
             row_teach(shipped, max(20, args.calls // 10))]
    accuracy = {"ocrlib": trained["ocrlib"].evaluate(Xt, yt)}           # test accuracy after the one epoch
    if libs.torch:
        accuracy["torch"] = float((torch_predict(libs.torch, trained["torch"], Xt) == yt).mean())
    if libs.sklearn:
        accuracy["sklearn"] = float((trained["sklearn"].predict(sklearn_inputs(Xt)) == yt).mean())

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    others = None if start[1] is None else (busy_cpu_seconds() - start[1]) - (own_cpu_seconds() - start[2])
    info["others"] = "?" if others is None else f"{max(others, 0) / ((time.perf_counter() - start[0]) * cores):.0%}"
    print()
    print(f"Measured {info['date']} on {info['cpu']}; {info['versions']}. "
          f"Float32 matmul throughput (2048²): {gflops:.0f} GFLOP/s. Load average at the start {info['load']}; "
          f"other processes kept {info['others']} of the CPUs busy during the run.")
    print()
    print(table(rows))
    print()
    print(f"Times are the best of {args.repeats} (epoch, predict 10,000) or the median of many calls (the others); "
          f"(×) is the time over the FLOP limit. Test accuracy after the one epoch: "
          + ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items()) + ".")
    notes.append(f"Drawing path: the pad's '2' read as {int(shipped.predict(strokes_to_mnist(a_drawn_two())))}, "
                 f"with the shipped model {shipped.sizes}.")
    for note in notes:
        print(f"- {note}")
    out = args.out or RESULTS / f"benchmarks-{info['date'][:10]}.png"
    plot({(row.key, name): seconds for row in rows for name, seconds in row.times.items()},
         epoch_limit, predict_limit, info, out)
    print(f"\nplot: {out}")


def plot(t, epoch_limit, predict_limit, info, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    libraries = [("ocrlib", "ocrlib (NumPy)", "tab:blue"), ("torch", "PyTorch", "tab:orange"),
                 ("sklearn", "scikit-learn", "tab:green")]
    panels = [("epoch", "one epoch, 60,000 images", 1, "s", epoch_limit),
              ("epoch1", "one epoch, on one thread", 1, "s", epoch_limit),
              ("one", "one-example SGD step", 1e6, "µs", None),
              ("predict", "predict 10,000 images", 1e3, "ms", predict_limit),
              ("predict1", "predict 1 image", 1e6, "µs", None)]
    panels = [panel for panel in panels if any(t.get((panel[0], key)) for key, _, _ in libraries)]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.6))
    for ax, (task, title, scale, unit, limit) in zip(axes, panels):
        shown = [(name, color, t[task, key] * scale) for key, name, color in libraries if t.get((task, key))]
        ax.bar([name for name, _, _ in shown], [v for _, _, v in shown], color=[c for _, c, _ in shown])
        for i, (_, _, v) in enumerate(shown):
            ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom", fontsize=9)
        if limit:
            ax.axhline(limit * scale, color="k", linestyle="--", linewidth=1, label="FLOP limit")
            ax.legend(loc="upper left", fontsize=8)
        ax.margins(y=0.15)                                        # room for the numbers above the bars
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"MLP 784-128-10 · {info['cpu']} · {info['date']}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
