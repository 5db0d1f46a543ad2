"""``python -m benchmarks [--out PLOT.png] [--repeats 3]``: see ``benchmarks/__init__.py`` for what is measured."""

import argparse
import datetime
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

import ocrlib

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


def blas_threads():
    """Threads of numpy's BLAS, as threadpoolctl (a scikit-learn dependency) reports them, if it is there."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "?"
    pools = [p for p in threadpool_info() if p["user_api"] == "blas" and "numpy" in p["filepath"]]
    return ", ".join(f"{p['internal_api']} {p.get('version') or ''} {p['num_threads']} threads".replace("  ", " ")
                     for p in pools) or "?"


def one_blas_thread():
    """A context in which numpy's BLAS runs on one thread (threadpoolctl), or None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(1, user_api="blas")


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


def machine(torch, sklearn):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()}, {cores} cores",
        "versions": (f"Python {platform.python_version()}, numpy {np.__version__} (BLAS: {blas_threads()}), "
                     f"torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'absent'}, "
                     f"scikit-learn {sklearn.__version__ if sklearn else 'absent'}, ocrlib {ocrlib.__version__}"),
        "load": load,
    }


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


def drawing_path(net, repeats):
    try:
        from ocrlib.preprocess import rasterize, to_mnist
    except ImportError as error:
        return None, f"skipped: {error}"
    strokes = a_drawn_two()

    def run():
        return net.predict_proba(to_mnist(rasterize(strokes)))
    seconds = median_time(repeats, run, warmup=5)
    return seconds, f"the pad's '2' read as {int(run().argmax())}"


def teach_step(net, repeats):
    """The pad's "This is a 2" button: one train_on_instance step on the drawing, at the pad's learning rate."""
    try:
        from ocrlib.pad import TEACH_LR
        from ocrlib.preprocess import rasterize, to_mnist
    except ImportError:
        return None
    image = to_mnist(rasterize(a_drawn_two()))
    return median_time(repeats, lambda: net.train_on_instance(image, 2, lr=TEACH_LR), warmup=5)


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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--out", type=Path, help="where to save the plot (default: benchmarks/results/)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each epoch benchmark, the best is kept")
    parser.add_argument("--calls", type=int, default=1000, help="timed calls of each one-example benchmark")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.calls < 1:
        parser.error(f"--repeats and --calls must be at least 1, got {args.repeats} and {args.calls}")

    torch, sklearn = optional("torch"), optional("sklearn")
    notes = []
    if torch is None:
        notes.append("PyTorch is not installed (pip install -e .[bench]): its column is skipped.")
    if sklearn is None:
        notes.append("scikit-learn is not installed (pip install -e .[bench]): its column is skipped.")
    info = machine(torch, sklearn)
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

    # Every measurement takes turns between the libraries, so that other work on the machine hits all alike.
    epochs = {"ocrlib": lambda: ocrlib_epoch(X, y)}
    if torch is not None:
        epochs["torch"] = lambda: torch_epoch(torch, X, y)
    if sklearn is not None:
        epochs["sklearn"] = lambda: sklearn_epoch(X, y)
    best = best_of_each(args.repeats, epochs)
    t = {("epoch", name): seconds for name, (seconds, _) in best.items()}       # (task, library) -> seconds
    trained = {name: model for name, (_, model) in best.items()}
    print("epochs done", flush=True)

    single = one_blas_thread()
    if single is None:
        notes.append("threadpoolctl is not installed: the one-thread epoch row is skipped.")
    else:
        epochs = {"ocrlib": lambda: ocrlib_epoch(X, y)}
        if torch is not None:
            epochs["torch"] = lambda: torch_epoch(torch, X, y, threads=1)
        with single:
            t.update({("epoch1", name): seconds for name, (seconds, _) in best_of_each(args.repeats, epochs).items()})
        print("one-thread epochs done", flush=True)

    steps = {"ocrlib": ocrlib_one_example(x, label)}
    predict_all = {"ocrlib": lambda: trained["ocrlib"].predict(Xt)}
    predict_one = {"ocrlib": lambda: trained["ocrlib"].predict(x)}
    accuracy = {"ocrlib": trained["ocrlib"].evaluate(Xt, yt)}           # test accuracy after the one epoch
    if torch is not None:
        steps["torch"] = torch_one_example(torch, x, label)
        predict_all["torch"] = lambda: torch_predict(torch, trained["torch"], Xt)
        predict_one["torch"] = lambda: torch_predict(torch, trained["torch"], x)
        accuracy["torch"] = float((torch_predict(torch, trained["torch"], Xt) == yt).mean())
    if sklearn is not None:
        predict_all["sklearn"] = lambda: trained["sklearn"].predict(sklearn_inputs(Xt))
        predict_one["sklearn"] = lambda: trained["sklearn"].predict(sklearn_inputs(x[None]))
        accuracy["sklearn"] = float((trained["sklearn"].predict(sklearn_inputs(Xt)) == yt).mean())
    t.update({("one", name): seconds for name, seconds in median_of_each(args.calls, steps).items()})
    t.update({("predict", name): seconds for name, (seconds, _) in best_of_each(10, predict_all).items()})
    t.update({("predict1", name): seconds for name, seconds in median_of_each(args.calls, predict_one).items()})
    print("one example and predictions done", flush=True)
    t["drawing", "ocrlib"], drawing_note = drawing_path(ocrlib.load_pretrained(), max(20, args.calls // 10))
    if t["drawing", "ocrlib"] is None:
        notes.append(f"Drawing path {drawing_note}.")
    t["teach", "ocrlib"] = teach_step(ocrlib.load_pretrained(), max(20, args.calls // 10))

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if start[1] is not None:
        others = (busy_cpu_seconds() - start[1]) - (own_cpu_seconds() - start[2])
        info["others"] = f"{max(others, 0) / ((time.perf_counter() - start[0]) * cores):.0%}"
    else:
        info["others"] = "?"

    def cell(task, library, limit=None):
        seconds = t.get((task, library))
        if seconds is None:
            return "—"
        return fmt(seconds) + (f" ({fmt_ratio(seconds / limit)})" if limit else "")

    def vs_torch(task):
        return ratio(t.get((task, "ocrlib")), t.get((task, "torch")))

    epoch_r, predict_r = t["epoch", "ocrlib"] / epoch_limit, t["predict", "ocrlib"] / predict_limit
    rows = [
        ("epoch: 60,000 images, batch 64", cell("epoch", "ocrlib", epoch_limit), cell("epoch", "torch", epoch_limit),
         cell("epoch", "sklearn", epoch_limit), fmt(epoch_limit), fmt_ratio(vs_torch("epoch")),
         "≤ 1.5× limit, ≤ 0.5× PyTorch", verdict([(epoch_r, 1.5), (vs_torch("epoch"), 0.5)])),
        ("epoch, on one thread", cell("epoch1", "ocrlib", epoch_limit), cell("epoch1", "torch", epoch_limit),
         "—", "—", fmt_ratio(vs_torch("epoch1")), "", ""),
        ("one example: SGD step", cell("one", "ocrlib"), cell("one", "torch"), "—", "—",
         fmt_ratio(vs_torch("one")), "≤ 0.1× PyTorch", verdict([(vs_torch("one"), 0.1)])),
        ("predict 10,000 test images", cell("predict", "ocrlib", predict_limit),
         cell("predict", "torch", predict_limit), cell("predict", "sklearn", predict_limit), fmt(predict_limit),
         fmt_ratio(vs_torch("predict")), "≤ 2× limit", verdict([(predict_r, 2.0)])),
        ("predict 1 image", cell("predict1", "ocrlib"), cell("predict1", "torch"), cell("predict1", "sklearn"),
         "—", fmt_ratio(vs_torch("predict1")), "", ""),
        ("drawing: rasterize + to_mnist + forward", cell("drawing", "ocrlib"), "—", "—", "—", "—", "≤ 10 ms",
         verdict([(t["drawing", "ocrlib"], 10e-3)])),
        ("teach: one step on a drawing, shipped model", cell("teach", "ocrlib"), "—", "—", "—", "—", "≤ 1 ms",
         verdict([(t["teach", "ocrlib"], 1e-3)])),
    ]
    header = ("task", "ocrlib (NumPy)", "PyTorch", "scikit-learn", "FLOP limit", "ocrlib / PyTorch", "target",
              "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    print()
    print(f"Measured {info['date']} on {info['cpu']}; {info['versions']}. "
          f"Float32 matmul throughput (2048²): {gflops:.0f} GFLOP/s. Load average at the start {info['load']}; "
          f"other processes kept {info['others']} of the CPUs busy during the run.")
    print()
    print("\n".join(lines))
    print()
    print("Times are the best of {r} (epoch, predict 10,000) or the median of many calls (the others); "
          "(×) is the time over the FLOP limit. Test accuracy after the one epoch: {acc}."
          .format(r=args.repeats, acc=", ".join(f"{k} {v:.4f}" for k, v in accuracy.items())))
    if drawing_note and t["drawing", "ocrlib"] is not None:
        notes.append(f"Drawing path: {drawing_note}, with the shipped model {ocrlib.load_pretrained().sizes}.")
    for note in notes:
        print(f"- {note}")

    out = args.out or RESULTS / f"benchmarks-{info['date'][:10]}.png"
    plot(t, epoch_limit, predict_limit, info, out)
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
