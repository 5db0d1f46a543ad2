"""Train the models that ship with ocrlib::

    python -m ocrlib.train                       # the MLP: writes ocrlib/models/mlp.npz, prints test accuracy and time
    python -m ocrlib.train --network convnet     # the ConvNet: ocrlib/models/convnet.npz

A plain MLP on MNIST stops near 98.2 % test accuracy: it memorises where the ink of each training
digit sits. Each epoch here sees every training digit changed a little (``ocrlib/augment.py``: pen width,
rotation, slant, size, shift and an elastic distortion), so the network learns shapes instead; and the
same changes make it read digits drawn on the pad. MNIST's writers were American; digits drawn from
templates in the styles they seldom used (crossed zeros, a 1 with a flag and a foot, a 7 with a bar, an
open 4, a 9 with a curved tail: ``ocrlib/stroke_synthesis.py``) join the training set, drawn through the
pad's own path.
"""

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np

from ocrlib.augment import ALPHA, augment
from ocrlib.convnet import ConvNet
from ocrlib.mnist import load_mnist
from ocrlib.network import MLP
from ocrlib.paths import CONVNET_PATH, MODEL_PATH
from ocrlib.stroke_synthesis import redrawn_digits, styles_with_habits, synthetic_digits

SIZES = (784, 800, 10)
EPOCHS = 20
BATCH_SIZE = 128
LR = 0.05
MOMENTUM = 0.9
SEED = 0
SYNTHETIC = 20_000      # template digits added to MNIST's 60,000

# The ConvNet (ocrlib/convnet.py): the same data and augmentation, fewer epochs (each costs about 8 of the MLP's)
CONVNET = {"channels": (16, 32), "hidden": 128}
CONVNET_EPOCHS = 10
CONVNET_LR = 0.05


def train(sizes=SIZES, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, momentum=MOMENTUM, seed=SEED,
          synthetic=SYNTHETIC, alpha=ALPHA, progress=True, network="mlp", habits=False, redrawn=0):
    """Train on the 60,000 MNIST training images and ``synthetic`` template digits, with augmentation
    (elastic distortion of strength ``alpha``, 0 for none). ``network``: "mlp" (of ``sizes``) or "convnet"
    (of ``CONVNET``'s shape). Two stroke-level variations, measured and left off (README, "The ConvNet"):
    ``habits`` adds real writers' habits (``HABITS``) to the template digits' styles, and ``redrawn`` MNIST
    training digits drawn again through the pad's path (``redrawn_digits``) join the training set.
    Returns (net, history, seconds)."""
    start = time.perf_counter()
    X, y = load_mnist("train")
    rng = np.random.default_rng(seed)
    extra_X, extra_y = [X], [y]
    if synthetic:
        X_synthetic, y_synthetic = synthetic_digits(synthetic, rng, lacking=styles_with_habits() if habits else None)
        extra_X.append(X_synthetic)
        extra_y.append(y_synthetic)
    if redrawn:
        chosen = rng.choice(len(X), redrawn, replace=False)
        extra_X.append(redrawn_digits(X[chosen], rng, progress=progress))
        extra_y.append(y[chosen])
    X, y = np.concatenate(extra_X), np.concatenate(extra_y)
    net = MLP(sizes, activation="relu", seed=seed) if network == "mlp" else ConvNet(**CONVNET, seed=seed)
    history = net.fit(X, y, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                      lr_schedule="cosine", progress=progress, seed=seed, augment=partial(augment, alpha=alpha))
    return net, history, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ocrlib.train", description=__doc__.split("::")[0])
    parser.add_argument("--network", choices=("mlp", "convnet"), default="mlp",
                        help="which network: the MLP (default) or the ConvNet")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(SIZES[1:-1]), help="the MLP's hidden layer sizes")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"default {EPOCHS} for the MLP, {CONVNET_EPOCHS} for the ConvNet")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--lr", type=float, default=None, help=f"default {LR} for the MLP, {CONVNET_LR} for the ConvNet")
    parser.add_argument("--momentum", type=float, default=MOMENTUM)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--synthetic", type=int, default=SYNTHETIC,
                        help=f"template digits in styles MNIST lacks, added to training (default {SYNTHETIC:,})")
    parser.add_argument("--habits", action="store_true",
                        help="add real writers' habits (curled-tail 9s, ...: HABITS) to the template digits' styles")
    parser.add_argument("--redrawn", type=int, default=0,
                        help="MNIST training digits drawn again through the pad's path, added to training (default 0)")
    parser.add_argument("--alpha", type=float, default=ALPHA,
                        help=f"strength of the elastic distortion, 0 for none (default {ALPHA:g})")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where to save (default {MODEL_PATH} or {CONVNET_PATH})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.synthetic < 0 or args.alpha < 0:
        parser.error(f"--synthetic and --alpha must be >= 0, got {args.synthetic} and {args.alpha}")
    if not 0 <= args.redrawn <= 60_000:
        parser.error(f"--redrawn must be between 0 and 60,000 (MNIST's training digits), got {args.redrawn}")

    convnet = args.network == "convnet"
    epochs = args.epochs if args.epochs is not None else CONVNET_EPOCHS if convnet else EPOCHS
    lr = args.lr if args.lr is not None else CONVNET_LR if convnet else LR
    out = args.out if args.out is not None else CONVNET_PATH if convnet else MODEL_PATH
    sizes = (784, *args.hidden, 10)
    net, history, seconds = train(sizes, epochs, args.batch_size, lr, args.momentum, args.seed,
                                  args.synthetic, args.alpha, progress=not args.no_progress, network=args.network,
                                  habits=args.habits, redrawn=args.redrawn)
    X_test, y_test = load_mnist("test")
    accuracy = net.evaluate(X_test, y_test)
    net.save(out)
    print(f"{net!r} trained in {seconds:.0f} s ({epochs} epochs, final training loss "
          f"{history['loss'][-1]:.4f}); test accuracy {accuracy:.4f}; saved to {out}")


if __name__ == "__main__":
    main()
