"""Read MNIST from its original IDX files (notebook 01 reads one by hand first).

An IDX file is a 4-byte magic number, then one big-endian uint32 per dimension, then the data:

    byte 0, 1   always 0
    byte 2      dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)
    byte 3      number of dimensions
    4 * ndim    the size of each dimension, big-endian uint32
    rest        the values, row-major, big-endian

Files ending in ``.gz`` are decompressed as they are read. The header is checked before anything is allocated:
the array it declares must fit the file (an uncompressed file's own size) and ``MAX_IDX_BYTES``, and a ``.gz``
is inflated only as far as its header declares. Every problem is an ``IDXError`` naming the file.
"""

import gzip
import hashlib
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ocrlib.paths import MNIST_DIR

# dtype code -> big-endian NumPy dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

IMAGE_SHAPE = (28, 28)     # every MNIST image, and so the network's input
N_PIXELS = 28 * 28         # 784: an image as one row of inputs

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 of each committed file (see data/README.md for where they come from).
SHA256 = {
    "train-images-idx3-ubyte.gz": "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
    "train-labels-idx1-ubyte.gz": "fe03b8bd7915f70bf5aa08be480aa413fbd85afcaa58b35d230d335f284fd88e",
    "t10k-images-idx3-ubyte.gz": "5634745efa576a17e7d4cf5cd9d09123c75e6538e5114267c2d156edaf519341",
    "t10k-labels-idx1-ubyte.gz": "ae18e77e031ccde52407f794d123116439864147d33ac992975f85dd4dc42af6",
}


MAX_IDX_BYTES = 128 * 2 ** 20     # the largest array an IDX file may declare (MNIST's training images: 47 MB)
CHUNK = 2 ** 20                   # bytes read at a time


class IDXError(ValueError):
    """An IDX file that cannot be read; the message names the file and what is wrong."""


def read_idx(path):
    """Read any IDX file (gzip-compressed if its name ends in ``.gz``) into a NumPy array.

    The header is read first; the array it declares must fit ``MAX_IDX_BYTES`` (and, uncompressed, the file's
    own size) before anything is allocated, and a ``.gz`` is inflated only as far as the header declares.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as raw:
        if path.suffix != ".gz":
            return _read_idx(raw, str(path), size=path.stat().st_size)
        try:
            with gzip.GzipFile(fileobj=raw) as f:
                return _read_idx(f, str(path))
        except (OSError, EOFError, zlib.error) as err:         # gzip.BadGzipFile is an OSError
            raise IDXError(f"{path}: not a valid gzip file ({type(err).__name__}: {err})") from None


def parse_idx(data, name="<bytes>"):
    """Parse the bytes of an (uncompressed) IDX file into a native-endian NumPy array."""
    return _read_idx(io.BytesIO(data), name, size=len(data))


def _read_idx(f, name, size=None):
    """The IDX array in the open file ``f``; ``size`` is the file's size in bytes when it is known."""
    magic = f.read(4)
    if len(magic) < 4:
        raise IDXError(f"{name}: {len(magic)} bytes is too short for the 4-byte IDX magic number")
    zero1, zero2, code, ndim = struct.unpack(">BBBB", magic)
    if zero1 != 0 or zero2 != 0:
        raise IDXError(f"{name}: bad magic number {magic.hex()}: the first two bytes must be 0")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXError(f"{name}: unknown dtype code 0x{code:02X} (expected one of {known})")
    header_size = 4 + 4 * ndim
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXError(f"{name}: truncated header: {ndim} dimensions need {header_size} bytes, "
                       f"got {4 + len(dims)}")
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize       # Python ints: a huge header cannot overflow
    if size is not None and size - header_size < expected:
        raise IDXError(f"{name}: truncated data: header shape {shape} needs {expected} bytes, "
                       f"found {size - header_size}")
    if size is not None and size - header_size > expected:
        raise IDXError(f"{name}: header shape {shape} needs {expected} bytes but the file holds {size - header_size}")
    if math.prod(d for d in shape if d) * dtype.itemsize > MAX_IDX_BYTES:        # an empty shape counts too
        raise IDXError(f"{name}: header shape {shape} declares more than an IDX file may hold here "
                       f"({MAX_IDX_BYTES:,} bytes, MAX_IDX_BYTES)")
    array = np.empty(expected // dtype.itemsize, dtype)
    buffer = memoryview(array.view(np.uint8))
    done = 0
    while done < expected:                             # in chunks: a .gz inflates only as far as declared
        n = f.readinto(buffer[done:done + CHUNK])
        if not n:
            raise IDXError(f"{name}: truncated data: header shape {shape} needs {expected} bytes, found {done}")
        done += n
    if f.read(1):
        raise IDXError(f"{name}: header shape {shape} needs {expected} bytes but the file holds more")
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _check_sha256(path):
    expected = SHA256.get(path.name)
    if expected is None:
        return
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise IDXError(f"{path}: SHA-256 checksum mismatch (expected {expected}, got {actual})")


def load_mnist(split="train", data_dir=None, verify=None):
    """Load an MNIST split: ``images`` uint8 (N, 28, 28) and ``labels`` uint8 (N,).

    ``split`` is ``"train"`` (60,000 images) or ``"test"`` (10,000). ``data_dir`` defaults to the
    repository's ``data/mnist``. ``verify`` checks each file against the SHA-256 in ``data/README.md``;
    by default it does so for the repository's own files and not for a ``data_dir`` of your own.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(data_dir) if data_dir is not None else MNIST_DIR
    paths = [folder / name for name in FILES[split]]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"MNIST file not found: {path} (looked in {folder.resolve()})")
        if verify or (verify is None and data_dir is None):
            _check_sha256(path)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or images.dtype != np.uint8:
        raise IDXError(f"{paths[0]}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise IDXError(f"{paths[1]}: expected uint8 labels of shape (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise IDXError(f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels")
    if len(images) == 0:
        raise IDXError(f"{paths[0]}: holds no images")
    if labels.max() > 9:
        raise IDXError(f"{paths[1]}: labels must be digits 0..9, found {labels.max()} "
                       f"(at index {int(labels.argmax())})")
    return images, labels
