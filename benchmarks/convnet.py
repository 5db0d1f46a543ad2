"""``python -m benchmarks.convnet``: the ConvNet's speed beside its peers, measured in the same run.

- **Training epoch** on ``--images`` MNIST digits (batches of 128, momentum 0.9, no augmentation): ocrlib's
  ``ConvNet.fit`` against (a) the float32 matmul limit of the FLOPs it does, the time this machine's BLAS
  needs for that many FLOPs at its best (n x n) @ (n x n) rate, and (b) PyTorch's CPU ConvNet of the same
  shape (conv 5x5 - ReLU - pool - conv 5x5 - ReLU - pool - dense - ReLU - dense), when torch is installed.
  Targets: the epoch within 2x the matmul limit; the PyTorch ratio is reported, not a target.
- **Pen-up -> prediction** on a ``Pad`` with the ConvNet and with the MLP (median over pen digits, each
  the median of several pen-ups), and one ``Teacher.teach`` with each (median). Targets (ConvNet): <= 15 ms
  and <= 40 ms.

A benchmark, not a test: nothing fails. Run it on a quiet machine; it prints the load average.
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import ocrlib
from benchmarks.__main__ import cpu_model, matmul_gflops, optional
from benchmarks.pen_digits import draw
from ocrlib.convnet import POOL
from ocrlib.pad import Pad
from ocrlib.pendigits import load_pen_digits, place_on_canvas
from ocrlib.teacher import Teacher

BATCH = 128
TARGET_RATIO, TARGET_LATENCY, TARGET_TEACH = 2.0, 0.015, 0.040


def training_flops(net):
    """Multiply-adds x 2 of one image's forward and backward pass through ``net``'s matrix products.

    Forward: each layer's product. Backward: dW of every layer, and dloss/dinput of every layer but the
    first (the input needs none): 3 products per layer, 2 for the first.
    """
    k, (c1, c2), side1 = net.kernel_size, net.channels, 28 - net.kernel_size + 1
    side2 = side1 // POOL - k + 1
    conv1 = side1 * side1 * k * k * c1
    conv2 = side2 * side2 * k * k * c1 * c2
    dense = net.flat * net.hidden + net.hidden * 10
    return 2 * (2 * conv1 + 3 * conv2 + 3 * dense)


def torch_convnet(torch, net):
    nn = torch.nn
    torch.manual_seed(0)
    (c1, c2), k = net.channels, net.kernel_size
    return nn.Sequential(nn.Conv2d(1, c1, k), nn.ReLU(), nn.MaxPool2d(POOL), nn.Conv2d(c1, c2, k), nn.ReLU(),
                         nn.MaxPool2d(POOL), nn.Flatten(), nn.Linear(net.flat, net.hidden), nn.ReLU(),
                         nn.Linear(net.hidden, 10))


def torch_epoch(torch, net, X, y):
    model = torch_convnet(torch, net)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    inputs = torch.from_numpy(X).float().div_(255).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(y.astype(np.int64))
    order = torch.randperm(len(inputs))
    for start in range(0, len(inputs), BATCH):
        pick = order[start:start + BATCH]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs[pick]), labels[pick])
        loss.backward()
        optimizer.step()


def pen_up_and_teach(model, drawings, labels, repeats=5, seed=0):
    """(median seconds pen-up -> prediction, median seconds of one teach) on a ``Pad`` with ``model``."""
    rng = np.random.default_rng(seed)
    pen_up, teach = [], []
    with tempfile.TemporaryDirectory() as folder:
        pad = Pad(model=model, taught_path=Path(folder) / "taught.sqlite")
        teacher = Teacher(pad.model)
        for strokes, label in zip(drawings, labels):
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
            pen_up.append(statistics.median(times))
            draw(pad, placed[-1])
            start = time.perf_counter()
            teacher.teach(pad.image, int(label))
            teach.append(time.perf_counter() - start)
    return statistics.median(pen_up), statistics.median(teach)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convnet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="MNIST digits in the timed epoch")
    parser.add_argument("--drawings", type=int, default=60, help="pen digits for the latencies")
    args = parser.parse_args(argv)
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", len(os.sched_getaffinity(0)))))
    X, y = ocrlib.load_mnist("train")
    X, y = X[:args.images], y[:args.images]
    shipped = ocrlib.load_pretrained("convnet")
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC on {cpu_model()}, "
          f"{len(os.sched_getaffinity(0))} cores; load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"torch {f'{torch.__version__}, {torch.get_num_threads()} threads' if torch else 'absent'}")

    gflops = matmul_gflops()
    flops = training_flops(shipped) * len(X)
    limit = flops / (gflops * 1e9)
    net = ocrlib.ConvNet(shipped.channels, shipped.hidden, shipped.kernel_size, seed=0)
    start = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=BATCH, lr=0.02, momentum=0.9, progress=False)
    ours = time.perf_counter() - start
    rows = [("ocrlib ConvNet.fit, one epoch", ours)]
    if torch is not None:
        torch_epoch(torch, net, X[:1024], y[:1024])                  # warm-up
        start = time.perf_counter()
        torch_epoch(torch, net, X, y)
        rows.append(("PyTorch, the same ConvNet, one epoch", time.perf_counter() - start))
    print(f"\n{shipped!r}: {training_flops(shipped) / 1e6:.1f} MFLOP per image trained; "
          f"{args.images:,} images; float32 matmul {gflops:.0f} GFLOP/s, so the matmul limit is {limit:.2f} s\n")
    print("| | seconds | × the matmul limit (target ≤ 2) | × PyTorch |")
    print("|---|---|---|---|")
    for name, seconds in rows:
        ratio = f"{seconds / rows[1][1]:.1f}" if len(rows) > 1 else "—"
        print(f"| {name} | {seconds:.1f} | {seconds / limit:.1f} | {ratio} |")

    drawings, labels, _, _ = load_pen_digits()
    picks = np.random.default_rng(0).choice(len(labels), args.drawings, replace=False)
    chosen = [drawings[i] for i in picks]
    print("\n| network | pen-up → prediction, median | one teach, median |")
    print("|---|---|---|")
    for name in ("convnet", "mlp"):
        pen_up, teach = pen_up_and_teach(name, chosen, labels[picks])
        targets = f" (target ≤ {TARGET_LATENCY * 1e3:.0f} ms)" if name == "convnet" else ""
        teach_target = f" (target ≤ {TARGET_TEACH * 1e3:.0f} ms)" if name == "convnet" else ""
        print(f"| {name} | {pen_up * 1e3:.1f} ms{targets} | {teach * 1e3:.1f} ms{teach_target} |")


if __name__ == "__main__":
    main()
