"""Train the model that ships with ocrlib::

    python -m ocrlib.train            # writes ocrlib/models/mlp.npz, prints test accuracy and time

A plain MLP on MNIST stops near 98.2 % test accuracy: it memorises where the ink of each training
digit sits. Each epoch here sees every training digit changed a little (``ocrlib/augment.py``), so the
network learns shapes instead; and the same changes make it read digits drawn on the pad.
"""

import argparse
import time
from pathlib import Path

from ocrlib.augment import augment
from ocrlib.mnist import load_mnist
from ocrlib.network import MLP
from ocrlib.paths import MODEL_PATH

SIZES = (784, 800, 10)
EPOCHS = 20
BATCH_SIZE = 128
LR = 0.05
MOMENTUM = 0.9
SEED = 0


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
