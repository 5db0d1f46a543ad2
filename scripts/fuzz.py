"""Throw thousands of generated bad inputs at ocrlib and count how each one ends.

    python scripts/fuzz.py                       # every family, the default number of cases, seed 0
    python scripts/fuzz.py --family idx --show unclear,silent --seed 3

Families: IDX files, model files (.npz, .json, the original OCR_AI layout; the ConvNet's .npz and .json, read
by ``ConvNet.load`` and ``ocrlib.load_model``), stroke-set files, the
taught-drawings database (SQLite) and a pad teaching over it, the arguments of ``MLP()``, ``fit``,
``train_on_instance``, ``predict`` / ``predict_proba`` / ``evaluate`` / ``loss``, ``rasterize`` /
``to_mnist``, ``Teacher`` and ``Teacher.teach``, and the options of ``python -m ocrlib.app`` (parsed and
checked as the app does before it starts a server; none is started). Each case runs in a child process
(``fork``) whose address space may grow by at most ``--memory`` MB (``resource.RLIMIT_AS``) and which is
killed after ``--seconds``. Every case ends one way:

    clear     an exception of the documented family whose message names the file or argument
    valid     the input was valid after all (a harmless mutation) and the answer is right
    unclear   any other exception, or a message that does not name the file or argument
    silent    returned normally on bad input, returned a wrong answer, or left broken state behind
    blow-up   needed more memory than the cap (a MemoryError anywhere in the exception chain)
    crash     the child died (a signal, a hard exit) or ran past the time cap
    lost      taught drawings that were in the store before the case are gone after it

The target: 0 unclear, 0 silent, 0 blow-up, 0 crash, 0 lost.
"""

import argparse
import gzip
import io
import json
import math
import os
import pickle
import random
import re
import resource
import select
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")      # one thread: a forked child holds no BLAS pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

import ocrlib
from ocrlib import checks, mnist, modelfile, preprocess, strokeset
from ocrlib.convnet import ConvNet
from ocrlib.network import MLP, TrainingDiverged

OUTCOMES = ("clear", "valid", "unclear", "silent", "blow-up", "crash", "lost")
MB = 1 << 20


class Case:
    """One generated input: ``run()`` does the call; the rest says what a right ending is.

    - ``bad``: True if the input is certainly bad (returning normally is silently wrong); False or None
      if it may be valid, in which case ``check(result)`` returns None for a right answer or what is wrong.
    - ``errors``: the exception classes that count as the documented family; ``names``: strings the
      message must contain (the file, the argument).
    - ``after()``: run whatever happened; returns None, or what state was left broken.
    - ``on_error(exception)``: run after an exception of the family; returns None, or how the message lied.
    - ``lost()``: returns how many stored drawings went missing.
    """

    def __init__(self, family, what, run, errors, names=(), bad=True, check=None, after=None, lost=None,
                 on_error=None):
        self.family, self.what, self.run = family, what, run
        self.errors, self.names, self.bad = errors, tuple(names), bad
        self.check, self.after, self.lost, self.on_error = check, after, lost, on_error


# --- running one case in a child process ---

def _status(field):
    """A field of /proc/self/status in bytes (VmSize, VmPeak, VmHWM, VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _chain(err):
    """An exception and every exception it was raised from or during."""
    seen = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return seen


def _short(value, n=160):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[:n] + "..."


def _names_in(message, names):
    return all(re.search(r"(?<![\w])" + re.escape(name) + r"(?![\w])", message) if name.isidentifier()
               else name in message for name in names)


def judge(case, memory):
    """Run ``case`` here (in the child) and say how it ended: (outcome, detail)."""
    start = _status("VmSize")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (start + memory, hard))
    try:
        result = case.run()
    except BaseException as err:  # noqa: BLE001 -- judging every ending is the point
        result, error = None, err
    else:
        error = None
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    if error is not None and any(isinstance(e, MemoryError) for e in _chain(error)):
        return "blow-up", f"MemoryError past {memory // MB} MB ({type(error).__name__}: {_short(str(error))})"
    if _status("VmPeak") - start > memory:
        return "blow-up", f"address space grew by {(_status('VmPeak') - start) // MB} MB"
    if case.lost is not None:
        missing = case.lost()
        if missing:
            return "lost", f"{missing} stored drawings lost"
    if case.after is not None:
        broken = case.after()
        if broken:
            return "silent", broken
    if error is not None:
        message = f"{type(error).__name__}: {error}"
        if isinstance(error, case.errors) and _names_in(str(error), case.names):
            lie = case.on_error(error) if case.on_error is not None else None
            return ("silent", lie) if lie else ("clear", _short(message, 240))
        where = traceback.extract_tb(error.__traceback__)[-1]
        return "unclear", _short(message, 240) + f"  [{Path(where.filename).name}:{where.lineno}]"
    if case.bad:
        return "silent", "returned " + _short(_describe(result))
    wrong = case.check(result) if case.check is not None else None
    return ("silent", wrong) if wrong else ("valid", "")


def _describe(result):
    if isinstance(result, np.ndarray):
        return f"array {result.dtype} {result.shape}"
    if isinstance(result, tuple):
        return "(" + ", ".join(_describe(r) for r in result) + ")"
    return repr(result)


def run_case(case, memory, seconds):
    """Fork, judge the case in the child, and read its verdict back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                        # the child
        os.close(r)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            verdict = judge(case, memory)
        except BaseException as err:  # noqa: BLE001 -- the harness itself failed: say so
            verdict = ("crash", f"while judging: {type(err).__name__}: {_short(str(err))}")
        os.write(w, pickle.dumps(verdict))
        os._exit(0)
    os.close(w)
    deadline = time.monotonic() + seconds
    data = b""
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([r], [], [], max(left, 0))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            return "crash", f"ran past the time cap of {seconds} s"
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "crash", f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    if not data:
        return "crash", f"exited with status {os.waitstatus_to_exitcode(status)} and no verdict"
    return pickle.loads(data)


# --- IDX files ---

IDX_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
             np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}
IDX_TYPES = {code: dtype for dtype, code in IDX_CODES.items()}


def idx_bytes(array, shape=None, code=None):
    array = np.asarray(array)
    dtype = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    shape = array.shape if shape is None else shape
    code = IDX_CODES[dtype] if code is None else code
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + array.astype(dtype).tobytes()


def idx_reference(data):
    """An independent reading of IDX bytes: the native-endian array, or None if they are not a valid file."""
    if len(data) < 4 or data[0] or data[1] or data[2] not in IDX_TYPES:
        return None
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        return None
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = IDX_TYPES[data[2]]
    if len(data) - 4 - 4 * ndim != math.prod(shape) * dtype.itemsize:
        return None
    return np.frombuffer(data[4 + 4 * ndim:], dtype).reshape(shape).astype(dtype.newbyteorder("="))


def gz(data, mtime=0):
    return gzip.compress(data, mtime=mtime)


def same_array(expected):
    def check(result):
        if not isinstance(result, np.ndarray) or result.dtype != expected.dtype or result.shape != expected.shape:
            return f"returned {_describe(result)}, expected {_describe(expected)}"
        if not np.array_equal(result, expected, equal_nan=True):
            return "returned other values than the file holds"
        return None
    return check


def flip(data, rng, n=None):
    data = bytearray(data)
    for _ in range(n or rng.randint(1, 4)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def idx_cases(rng, tmp, n):
    images = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    good = idx_bytes(images)
    cases = []

    def file_case(what, data, suffix=".idx", bad=True):
        path = tmp / f"idx_{len(cases)}{suffix}"
        path.write_bytes(data)
        check = None
        if not bad:
            raw = _gunzips(data) if suffix == ".gz" else data
            ref = idx_reference(raw) if raw is not None else None
            if ref is None:
                bad = True
            else:
                check = same_array(ref)
        cases.append(Case("IDX files", what, lambda: mnist.read_idx(path), (mnist.IDXError,), [str(path)],
                          bad=bad, check=check))

    for i in range(n):
        kind = i % 16
        if kind == 0:
            cut = rng.randrange(len(good))
            file_case(f"truncated to {cut} bytes", good[:cut])
        elif kind == 1:
            file_case("trailing bytes", good + bytes(rng.randrange(1, 50)))
        elif kind == 2:
            dims = [5, 28, 28]
            dims[rng.randrange(3)] = rng.choice([0, 1, 6, 29, 60000, 2 ** 31, 2 ** 32 - 1])
            if rng.random() < 0.2:
                dims = [0, 2 ** 32 - 1, 2 ** 32 - 1]           # no values, yet more than NumPy can shape
            file_case(f"declared shape {tuple(dims)}", bytes([0, 0, 8, 3]) + struct.pack(">3I", *dims) + good[16:])
        elif kind == 3:
            ndim = rng.choice([0, 1, 2, 4, 7, 50, 255])
            file_case(f"ndim {ndim}", good[:3] + bytes([ndim]) + good[4:], bad=None)
        elif kind == 4:
            code = rng.choice([0, 1, 7, 0x0A, 0x0F, 0xFF])
            file_case(f"dtype code {code:#x}", good[:2] + bytes([code]) + good[3:])
        elif kind == 5:
            file_case("bad magic", bytes([rng.randrange(1, 256), 0]) + good[2:])
        elif kind in (6, 7):
            file_case("bits flipped", flip(good[:rng.choice([16, 40, len(good)])], rng), bad=None)
        elif kind == 8:
            file_case("gzip truncated", gz(good)[:rng.randrange(1, len(gz(good)))], suffix=".gz")
        elif kind == 9:
            file_case("gzip bits flipped", flip(gz(good), rng), suffix=".gz", bad=None)
        elif kind == 10:
            file_case("not gzip at all", good, suffix=".gz")
        elif kind == 11:
            file_case("gzip with trailing data", gz(good) + gz(bytes(rng.randrange(1, 1000))), suffix=".gz")
        elif kind == 12:
            # A small .gz whose header declares about 1 GiB of images and delivers it (a decompression bomb).
            count = rng.choice([1_400_000, 2_000_000])
            path = tmp / f"idx_bomb_{count}.gz"
            if not path.exists():
                _write_gzip_bomb(path, bytes([0, 0, 8, 3]) + struct.pack(">3I", count, 28, 28), count * 784)
            cases.append(Case("IDX files", f".gz bomb: {count} images declared and delivered",
                              lambda path=path: mnist.read_idx(path), (mnist.IDXError,), [str(path)]))
        elif kind == 13:
            # Small .gz, huge declared size, short data: must fail before allocating the declared size.
            dims = (rng.choice([10 ** 6, 10 ** 7, 4 * 10 ** 8]), 28, 28)
            file_case(f".gz declaring {dims}", gz(bytes([0, 0, 8, 3]) + struct.pack(">3I", *dims) + bytes(10 ** 5)),
                      suffix=".gz")
        elif kind == 14:
            cases.append(_load_mnist_case(rng, tmp, images, labels, len(cases)))
        else:
            what = rng.choice(["missing", "directory", "empty"])
            path = tmp / f"idx_{len(cases)}_{what}.idx"
            if what == "directory":
                path.mkdir()
            elif what == "empty":
                path.write_bytes(b"")
            errors = (mnist.IDXError,) if what == "empty" else (OSError,)
            cases.append(Case("IDX files", f"{what} file", lambda path=path: mnist.read_idx(path), errors, [str(path)]))
    return cases


def _gunzips(data):
    try:
        return gzip.decompress(data)
    except Exception:  # noqa: BLE001 -- not gzip, whatever the reason
        return None


def _write_gzip_bomb(path, header, n_zero_bytes):
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(header)
        chunk = bytes(16 * MB)
        for start in range(0, n_zero_bytes, len(chunk)):
            f.write(chunk[:min(len(chunk), n_zero_bytes - start)])


def _load_mnist_case(rng, tmp, images, labels, i):
    folder = tmp / f"mnist_{i}"
    folder.mkdir()
    bad_images, bad_labels = images, labels
    what = rng.choice(["label 10..255", "int16 images", "27x27 images", "count mismatch", "valid", "empty split",
                       "2-d labels", "float labels"])
    if what == "label 10..255":
        bad_labels = labels.copy()
        bad_labels[rng.randrange(5)] = rng.randrange(10, 256)
    elif what == "int16 images":
        bad_images = images.astype(">i2")
    elif what == "27x27 images":
        bad_images = images[:, :27, :27]
    elif what == "count mismatch":
        bad_labels = labels[:4]
    elif what == "empty split":
        bad_images, bad_labels = images[:0], labels[:0]
    elif what == "2-d labels":
        bad_labels = labels.reshape(5, 1)
    elif what == "float labels":
        bad_labels = labels.astype(">f4")
    names = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    (folder / names[0]).write_bytes(gz(idx_bytes(bad_images)))
    (folder / names[1]).write_bytes(gz(idx_bytes(bad_labels)))
    bad = what != "valid"

    def check(result):
        X, y = result
        return None if np.array_equal(X, images) and np.array_equal(y, labels) else "other arrays than the files hold"
    return Case("IDX files", f"load_mnist: {what}", lambda: mnist.load_mnist("test", data_dir=folder),
                (mnist.IDXError,), [str(folder / names[1 if "label" in what else 0])],
                bad=bad, check=check)


# --- model files ---

SIZES = (784, 16, 10)


def model_arrays(seed=0, sizes=SIZES, activation="relu"):
    net = MLP(sizes, activation=activation, seed=seed)
    return dict(net.params, sizes=np.array(sizes), activation=np.array(activation))


def npz_bytes(arrays, compressed=False):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def same_model(arrays):
    def check(net):
        if not isinstance(net, MLP):
            return f"returned {_describe(net)}, not an MLP"
        if net.sizes != tuple(int(s) for s in arrays["sizes"]) or net.activation != str(arrays["activation"]):
            return f"returned {net!r}, expected sizes {tuple(arrays['sizes'])}"
        for name, value in net.params.items():
            if value.dtype != np.float32 or not np.array_equal(value, np.asarray(arrays[name], np.float32)):
                return f"{name} differs from the file's"
        return None
    return check


def _zip_patch(data, member_index, offset_in_header, value, central=True):
    """Overwrite bytes at ``offset_in_header`` of a member's local header (and its central directory entry)."""
    data = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.infolist()[member_index]
    data[info.header_offset + offset_in_header:info.header_offset + offset_in_header + len(value)] = value
    if central:
        pos = -1
        for _ in range(member_index + 1):
            pos = data.index(b"PK\x01\x02", pos + 1)
        central_offset = {6: 8, 8: 10}[offset_in_header]       # flags and method sit 2 bytes later there
        data[pos + central_offset:pos + central_offset + len(value)] = value
    return bytes(data)


def _npy_member(header_dict, payload=b"", version=(1, 0)):
    buffer = io.BytesIO()
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header_dict)
    else:
        np.lib.format.write_array_header_2_0(buffer, header_dict)
    return buffer.getvalue() + payload


def _zip_of(members, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def model_npz_cases(rng, tmp, n):
    cases = []
    base = model_arrays(seed=1)
    good = npz_bytes(base)

    def add(what, data, bad=True, check=None, suffix=".npz", path=None):
        if path is None:
            path = tmp / f"model_{len(cases)}{suffix}"
            path.write_bytes(data)
        cases.append(Case("model .npz", what, lambda: MLP.load(path), (modelfile.ModelFileError,), [str(path)],
                          bad=bad, check=check))

    def with_arrays(what, change):
        arrays = dict(base)
        change(arrays)
        add(what, npz_bytes(arrays))

    bomb = tmp / "model_bomb.npz"
    for i in range(n):
        kind = i % 20
        if kind == 0:
            add("truncated", good[:rng.randrange(len(good))])
        elif kind in (1, 2):
            add("bits flipped", flip(good, rng), bad=None, check=same_model(base))
        elif kind == 3:
            compressed = npz_bytes(base, compressed=True)
            add("compressed, bits flipped", flip(compressed, rng), bad=None, check=same_model(base))
        elif kind == 4:
            shape = rng.choice([(100000, 100000), (2 ** 40,), (784, 400000), (10 ** 9, 10 ** 9), (0, 2 ** 40, 2 ** 40)])
            members = {k + ".npy": _npy_bytes(v) for k, v in base.items()}
            members["W1.npy"] = _npy_member({"descr": "<f4", "fortran_order": False, "shape": shape}, b"\0" * 64)
            add(f"W1 header claims {shape}", _zip_of(members))
        elif kind == 5:
            sizes = rng.choice([[784, 400000, 10], [784, 10 ** 9, 10], [10 ** 6, 10 ** 6]])
            with_arrays(f"sizes {sizes} with small arrays", lambda a, s=sizes: a.__setitem__("sizes", np.array(s)))
        elif kind == 6:
            bad = rng.choice([np.array([784.9, 16, 10]), np.array([784.0, 16.0, 10.0]), np.array([True, True]),
                              np.array([[784, 16, 10]]), np.array([784, -16, 10]), np.array([784]), np.array("784"),
                              np.array([784, 0, 10]), np.array([784, 16, 10], dtype="datetime64[s]")])
            with_arrays(f"sizes {bad!r}", lambda a, b=bad: a.__setitem__("sizes", b))
        elif kind == 7:
            dtype = rng.choice(["datetime64[s]", "complex64", "uint64", "bool", "int32", "S4", "U3", "m8[s]"])
            name = rng.choice(["W1", "b1", "W2", "b2"])
            with_arrays(f"{name} of dtype {dtype}", lambda a, n=name, d=dtype: a.__setitem__(n, a[n].astype(d)))
        elif kind == 8:
            name = rng.choice(["W3", "b3", "W4", "junk", "W1_old"])
            with_arrays(f"extra member {name}", lambda a, n=name: a.__setitem__(n, np.zeros(3, np.float32)))
        elif kind == 9:
            name = rng.choice(["W1", "b2", "sizes", "activation"])
            with_arrays(f"missing {name}", lambda a, n=name: a.pop(n))
        elif kind == 10:
            value = rng.choice([np.array("softplus"), np.array(3), np.array(["relu", "relu"]), np.array(b"relu"),
                                np.array("")])
            with_arrays(f"activation {value!r}", lambda a, v=value: a.__setitem__("activation", v))
        elif kind == 11:
            name, bad = rng.choice(["W1", "b1", "W2"]), rng.choice([np.nan, np.inf, -np.inf])
            def poison(a, n=name, b=bad):
                a[n] = a[n].copy()
                a[n].flat[rng.randrange(a[n].size)] = b
            with_arrays(f"{bad} in {name}", poison)
        elif kind == 12:
            name = rng.choice(["W1", "b1", "W2", "b2"])
            with_arrays(f"{name} of the wrong shape",
                        lambda a, n=name: a.__setitem__(n, np.zeros(a[n].shape[:-1] + (a[n].shape[-1] + 1,), np.float32)))
        elif kind == 13:
            members = {k + ".npy": _npy_bytes(v) for k, v in base.items()}
            members["W2.npy"] = _npy_bytes(np.array([{"a": 1}, None], dtype=object))
            add("W2 an object array (pickle)", _zip_of(members))
        elif kind == 14:
            which = rng.choice(["method 99", "encrypted", "method lzma"])
            if which == "method 99":
                data = _zip_patch(good, rng.randrange(6), 8, struct.pack("<H", 99))
            elif which == "encrypted":
                data = _zip_patch(good, rng.randrange(6), 6, struct.pack("<H", 1))
            else:
                data = _zip_patch(good, rng.randrange(6), 8, struct.pack("<H", 14))
            add(f"zip member with {which}", data)
        elif kind == 15:
            if not bomb.exists():
                _write_npz_bomb(bomb, base, 1 << 30)
            add("unused member inflating to 1 GiB", None, path=bomb)
        elif kind == 16:
            header = rng.choice([b"\x93NUMPY\x03\x00" + b"\0" * 20, b"\x93NUMPX\x01\x00", b"",
                                 b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 100,
                                 _npy_member({"descr": "<f4", "fortran_order": False, "shape": (16, 10)})[:-3]])
            members = {k + ".npy": _npy_bytes(v) for k, v in base.items()}
            members["W2.npy"] = header
            add("damaged .npy header", _zip_of(members))
        elif kind == 17:
            what = rng.choice(["random bytes", "empty", "a JSON model", "missing", "directory"])
            path = tmp / f"model_{len(cases)}_{what.replace(' ', '_')}.npz"
            if what == "random bytes":
                path.write_bytes(rng.randbytes(rng.randrange(1, 5000)))
            elif what == "empty":
                path.write_bytes(b"")
            elif what == "a JSON model":
                path.write_text(json.dumps({"sizes": [1, 1]}))
            elif what == "directory":
                path.mkdir()
            errors = (OSError,) if what in ("missing", "directory") else (modelfile.ModelFileError,)
            cases.append(Case("model .npz", what, lambda p=path: MLP.load(p), errors, [str(path)]))
        elif kind == 18:
            arrays = {k: (np.asfortranarray(v) if v.ndim == 2 else v) for k, v in base.items()}
            arrays["W1"] = arrays["W1"].astype(rng.choice(["float64", "float32", "float16"]))
            arrays["W1"] = np.asfortranarray(arrays["W1"])
            expected = dict(arrays)
            add("valid: Fortran order, other float widths", npz_bytes(arrays), bad=False, check=same_model(expected))
        else:
            add("valid, compressed", npz_bytes(base, compressed=True), bad=False, check=same_model(base))
    return cases


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=array.dtype == object)
    return buffer.getvalue()


def _write_npz_bomb(path, arrays, n_bytes):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, value in arrays.items():
            zf.writestr(name + ".npy", _npy_bytes(value))
        with zf.open("padding.npy", "w", force_zip64=True) as f:
            f.write(_npy_member({"descr": "|u1", "fortran_order": False, "shape": (n_bytes,)}))
            chunk = bytes(16 * MB)
            for _ in range(n_bytes // len(chunk)):
                f.write(chunk)


# --- model .json and the original OCR_AI layout ---

def json_reference(doc):
    """An independent reading of a model JSON document: (sizes, activation, {name: float32 array}) or None."""
    if not isinstance(doc, dict):
        return None
    if "theta1" in doc:
        return None                                     # judged by the structured cases only
    names = {"format", "sizes", "activation"}
    sizes = doc.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(type(s) is int and 1 <= s <= 100_000 for s in sizes)):
        return None
    layers = len(sizes) - 1
    names |= {f"{p}{i}" for i in range(1, layers + 1) for p in "Wb"}
    if set(doc) != names or doc["format"] != "ocrlib.MLP" or doc.get("activation") not in ("relu", "sigmoid", "tanh"):
        return None
    params = {}
    for i in range(1, layers + 1):
        for p, shape in (("W", (sizes[i - 1], sizes[i])), ("b", (sizes[i],))):
            value = doc[f"{p}{i}"]
            rows = value if p == "W" else [value]
            if not isinstance(value, list) or (p == "W" and len(rows) != shape[0]):
                return None
            if not all(isinstance(r, list) and len(r) == shape[-1] for r in rows):
                return None
            if not all(type(v) in (int, float) and math.isfinite(v) and abs(v) < 3e38 for r in rows for v in r):
                return None
            params[f"{p}{i}"] = np.array(value, np.float32)
    return tuple(sizes), doc["activation"], params


def same_as_reference(ref):
    def check(net):
        if not isinstance(net, MLP):
            return f"returned {_describe(net)}"
        sizes, activation, params = ref
        if net.sizes != sizes or net.activation != activation:
            return f"returned {net!r}, expected sizes {sizes}, {activation!r}"
        for name, value in params.items():
            if not np.array_equal(net.params[name], value):
                return f"{name} differs from the file's"
        return None
    return check


def model_json_cases(rng, tmp, n):
    cases = []
    net = MLP((20, 4, 3), activation="tanh", seed=2)
    base = {"format": "ocrlib.MLP", "sizes": [20, 4, 3], "activation": "tanh"}
    base.update({k: v.tolist() for k, v in net.params.items()})
    good = json.dumps(base)

    def add(what, text, bad=True, family="model .json", name=None):
        path = tmp / (name or f"model_{len(cases)}.json")
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        check = None
        if bad is None:
            try:
                ref = json_reference(json.loads(path.read_bytes()))
            except (ValueError, RecursionError):
                ref = None
            if ref is None:
                bad = True
            else:
                check = same_as_reference(ref)
        cases.append(Case(family, what, lambda: MLP.load(path), (modelfile.ModelFileError,), [str(path)],
                          bad=bad, check=check))

    def changed(**kw):
        doc = json.loads(good)
        for key, value in kw.items():
            if value is KeyError:
                doc.pop(key, None)
            else:
                doc[key] = value
        return json.dumps(doc)

    for i in range(n):
        kind = i % 16
        if kind == 0:
            add("truncated", good[:rng.randrange(len(good))])
        elif kind in (1, 2):
            text = bytearray(good.encode())
            for _ in range(rng.randint(1, 3)):
                text[rng.randrange(len(text))] = rng.choice(b'0123456789.,-+eE[]{}":tfn ')
            add("characters changed", bytes(text), bad=None)
        elif kind == 3:
            depth = rng.choice([1000, 100_000, 1_000_000])
            add(f"nested {depth} deep", changed(W1="[" * depth + "]" * depth).replace('"' + "[" * depth, "[" * depth)
                .replace("]" * depth + '"', "]" * depth))
        elif kind == 4:
            number = rng.choice(["1e999", "-1e999", "1" + "0" * 400, "NaN", "Infinity", "-Infinity", "1" + "0" * 5000])
            text = good.replace(json.dumps(base["W1"][0][0]), number, 1)
            add(f"number {number[:12]}", text)
        elif kind == 5:
            where = rng.choice(["W1", "b2", "sizes"])
            doc = json.loads(good)
            if where == "sizes":
                doc["sizes"] = [20, True, 3]
            elif where == "W1":
                doc["W1"][rng.randrange(20)][rng.randrange(4)] = rng.choice([True, False])
            else:
                doc["b2"][rng.randrange(3)] = True
            add(f"true in {where}", json.dumps(doc))
        elif kind == 6:
            value = rng.choice([[20.9, 4, 3], [20.0, 4.0, 3.0], "20", 20, [20], [20, -4, 3], [20, 0, 3], [[20, 4, 3]],
                                [20, 400000, 3], [20, 10 ** 12, 3], [10 ** 30, 3], None, {}])
            add(f"sizes {value!r}", changed(sizes=value))
        elif kind == 7:
            key = rng.choice(["W4", "W3", "b3", "junk", "comment"])
            add(f"extra key {key}", changed(**{key: [0.0]}))
        elif kind == 8:
            key = rng.choice(["W1", "b1", "W2", "b2", "sizes", "activation", "format"])
            add(f"missing {key}", changed(**{key: KeyError}))
        elif kind == 9:
            value = rng.choice(["softplus", 3, ["relu"], None, "", "RELU"])
            add(f"activation {value!r}", changed(activation=value))
        elif kind == 10:
            doc = json.loads(good)
            how = rng.choice(["ragged", "string", "null", "3-d", "scalar", "object", "empty"])
            doc["W1"] = {"ragged": doc["W1"][:-1] + [doc["W1"][-1][:-1]], "string": [["0.1"] * 4] * 20,
                         "null": [[None] * 4] * 20, "3-d": [[[0.0]] * 4] * 20, "scalar": 0.5, "object": {"a": 1},
                         "empty": []}[how]
            add(f"W1 {how}", json.dumps(doc))
        elif kind == 11:
            text = rng.choice(["[]", "3", '"model"', "null", "{}", "", "\ufeff" + good, "\xff\xfe",
                               '{"sizes": [20, 3]' * 3])
            add(f"document {text[:12]!r}", text.encode("utf-8", "surrogatepass") if text != "\xff\xfe"
                else b"\xff\xfe\x00\x01", bad=None)          # a UTF-8 byte order mark before a valid model is valid
        elif kind == 12:
            add("format of another program", changed(format="keras"))
        elif kind in (13, 14):
            cases.append(_original_layout_case(rng, tmp, len(cases)))
        else:
            add("valid", good, bad=None)
    return cases


def _original_layout_case(rng, tmp, i):
    g = np.random.default_rng(rng.randrange(1 << 30))
    W1, W2 = g.standard_normal((12, 5)), g.standard_normal((5, 3))
    b1, b2 = g.standard_normal(5), g.standard_normal(3)
    doc = {"theta1": W1.tolist(), "theta2": W2.tolist(), "b1": [b1.tolist()], "b2": b2.reshape(3, 1).tolist()}
    what = rng.choice(["valid", "valid transposed", "missing b2", "theta2 misfit", "b1 (5, 5)", "true in theta1",
                       "string in b1", "theta1 3-d", "NaN in theta2", "unknown activation", "extra key W3",
                       "theta1 a number", "empty theta1"])
    if what == "valid transposed":
        doc["theta1"], doc["theta2"] = W1.T.tolist(), W2.T.tolist()
    elif what == "missing b2":
        del doc["b2"]
    elif what == "theta2 misfit":
        doc["theta2"] = W2[:4].tolist()
    elif what == "b1 (5, 5)":
        doc["b1"] = np.zeros((5, 5)).tolist()
    elif what == "true in theta1":
        doc["theta1"][0][0] = True
    elif what == "string in b1":
        doc["b1"] = [["x"] * 5]
    elif what == "theta1 3-d":
        doc["theta1"] = [W1.tolist()]
    elif what == "NaN in theta2":
        doc["theta2"][0][0] = float("nan")
    elif what == "unknown activation":
        doc["activation"] = "softsign"
    elif what == "extra key W3":
        doc["W3"] = [[0.0]]
    elif what == "theta1 a number":
        doc["theta1"] = 3.0
    elif what == "empty theta1":
        doc["theta1"] = []
    path = tmp / f"neural_network_{i}.json"
    path.write_text(json.dumps(doc))

    def check(net):
        if not isinstance(net, MLP) or net.sizes != (12, 5, 3) or net.activation != "sigmoid":
            return f"returned {net!r}, expected MLP((12, 5, 3), 'sigmoid')"
        expected = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
        for name, value in expected.items():
            if not np.array_equal(net.params[name], value.astype(np.float32)):
                return f"{name} differs from the file's"
        return None
    return Case("model, original layout", what, lambda: MLP.load(path), (modelfile.ModelFileError,), [str(path)],
                bad=not what.startswith("valid"), check=check)


# --- ConvNet model files (.npz and .json) ---

CONVNET = {"channels": (2, 3), "hidden": 5, "kernel_size": 5}
CONVNET_META = ("format", "channels", "hidden", "kernel_size")


def convnet_params(seed=4):
    """The parameters of a small ConvNet, biases made non-zero so that a lost bias shows."""
    net = ConvNet(seed=seed, **CONVNET)
    g = np.random.default_rng(seed)
    for b in net.biases:
        b[...] = g.standard_normal(b.shape)
    return net, {name: value.copy() for name, value in net.params.items()}


def convnet_reference(channels, hidden, kernel_size, params):
    """An independent reading of a ConvNet's architecture and parameters, or None if a file holding them is bad:
    (channels, hidden, kernel_size, {name: float32 array})."""
    if (not isinstance(channels, (list, tuple)) or len(channels) != 2
            or not all(type(v) is int and v >= 1 for v in (*channels, hidden, kernel_size)) or kernel_size > 9):
        return None
    (c1, c2), k = channels, kernel_size
    side = ((28 - k + 1) // 2 - k + 1) // 2
    if side < 1:
        return None
    shapes = {"K1": (k, k, 1, c1), "b1": (c1,), "K2": (k, k, c1, c2), "b2": (c2,),
              "W3": (side * side * c2, hidden), "b3": (hidden,), "W4": (hidden, 10), "b4": (10,)}
    if sum(math.prod(s) for s in shapes.values()) > checks.MAX_PARAMETERS or set(params) != set(shapes):
        return None
    read = {}
    for name, shape in shapes.items():
        value = params[name]
        if value.shape != shape:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            value = value.astype(np.float32)
        if not np.all(np.isfinite(value)):
            return None
        read[name] = value
    return (c1, c2), hidden, k, read


def both_loaders(path):
    """``ConvNet.load`` and ``ocrlib.load_model`` on one file: (net, net), or the error if both refuse it. If
    only one refuses it, its error is raised unless it is a ModelFileError or OSError; then (net or error, ...)
    comes back for ``same_convnet`` to call a disagreement."""
    results = []
    for load in (ConvNet.load, ocrlib.load_model):
        try:
            results.append(load(path))
        except Exception as err:  # noqa: BLE001 -- judged below and by judge()
            results.append(err)
    errors = [r for r in results if isinstance(r, Exception)]
    for err in errors:
        if not isinstance(err, (modelfile.ModelFileError, OSError)):
            raise err
    if len(errors) == 2:
        raise errors[0]
    return tuple(results)


def same_convnet(ref):
    """A check that both loaders gave the ConvNet ``ref`` (``convnet_reference``'s answer)."""
    def check(result):
        channels, hidden, k, params = ref
        for loader, net in zip(("ConvNet.load", "ocrlib.load_model"), result):
            if not isinstance(net, ConvNet):
                return f"{loader} returned {_short(_describe(net))}, the other loader a network"
            if (net.channels, net.hidden, net.kernel_size) != (channels, hidden, k):
                return f"{loader} returned {net!r}, expected channels {channels}, hidden {hidden}, kernel_size {k}"
            for name, value in params.items():
                if net.params[name].dtype != np.float32 or not np.array_equal(net.params[name], value):
                    return f"{loader}: {name} differs from the file's"
        return None
    return check


def convnet_npz_cases(rng, tmp, n):
    net, params = convnet_params()
    base = dict(params, format=np.array("ocrlib.ConvNet"), channels=np.array(CONVNET["channels"]),
                hidden=np.array(CONVNET["hidden"]), kernel_size=np.array(CONVNET["kernel_size"]))
    saved = tmp / "convnet_saved.npz"
    net.save(saved)
    good = saved.read_bytes()
    reference = convnet_reference(CONVNET["channels"], CONVNET["hidden"], CONVNET["kernel_size"], params)
    mlp = model_arrays(seed=1, sizes=(784, 6, 10))
    loaders = (ConvNet.load, ocrlib.load_model)

    def add(what, data, bad=True, check=None, load=None, path=None, errors=(modelfile.ModelFileError,)):
        if path is None:
            path = tmp / f"convnet_{len(cases)}.npz"
            path.write_bytes(data)
        if load is None:                            # a bad file goes to each loader in turn, a valid one to both
            load = loaders[len(cases) % 2] if bad else both_loaders
        cases.append(Case("ConvNet .npz", what, lambda: load(path), errors, [str(path)], bad=bad, check=check))

    def maybe_valid(what, data):
        add(what, data, bad=None, check=same_convnet(reference))

    def with_arrays(what, change, bad=True):
        arrays = dict(base)
        change(arrays)
        add(what, npz_bytes(arrays), bad=bad)

    def with_members(what, change):
        members = {k + ".npy": _npy_bytes(v) for k, v in base.items()}
        change(members)
        add(what, _zip_of(members))

    cases = []
    for i in range(n):
        kind = i % 20
        if kind == 0:
            add("truncated", good[:rng.randrange(len(good))])
        elif kind in (1, 2):
            maybe_valid("bits flipped", flip(good, rng))
        elif kind == 3:
            maybe_valid("compressed, bits flipped", flip(npz_bytes(base, compressed=True), rng))
        elif kind == 4:
            name = rng.choice(["K1", "K2", "W3", "b4", "channels", "hidden"])
            shape = rng.choice([(100000, 100000), (2 ** 40,), (5, 5, 1, 10 ** 9), (10 ** 9, 10 ** 9), (0, 2 ** 40, 2 ** 40)])
            descr = "<i8" if name in ("channels", "hidden") else "<f4"
            with_members(f"{name} header claims {shape}", lambda m, n=name, s=shape, d=descr: m.__setitem__(
                n + ".npy", _npy_member({"descr": d, "fortran_order": False, "shape": s}, b"\0" * 64)))
        elif kind == 5:
            key, value = rng.choice([("channels", [10 ** 6, 10 ** 6]), ("channels", [2, 2 ** 40]), ("hidden", 10 ** 9),
                                     ("hidden", 2 ** 63 - 1), ("kernel_size", 10 ** 9), ("kernel_size", 10),
                                     ("kernel_size", 2 ** 63 - 1), ("channels", [2 ** 62, 2 ** 62])])
            with_arrays(f"{key} {value} with small arrays", lambda a, k=key, v=value: a.__setitem__(k, np.array(v)))
        elif kind == 6:
            key, value = rng.choice([
                ("channels", np.array([2.0, 3.0])), ("channels", np.array([2, -3])), ("channels", np.array([0, 3])),
                ("channels", np.array([True, True])), ("channels", np.array([[2, 3]])), ("channels", np.array([2])),
                ("channels", np.array([2, 3, 4])), ("channels", np.array("2,3")), ("channels", np.array(2)),
                ("hidden", np.array(-5)), ("hidden", np.array(5.0)), ("hidden", np.array(5.5)), ("hidden", np.array(0)),
                ("hidden", np.array([5])), ("hidden", np.array(True)), ("hidden", np.array(5 + 0j)),
                ("hidden", np.array(2 ** 64 - 1, np.uint64)), ("kernel_size", np.array(0)),
                ("kernel_size", np.array(-5)), ("kernel_size", np.array(5.0)), ("kernel_size", np.array("5")),
                ("kernel_size", np.array(np.nan)), ("kernel_size", np.array(5, "datetime64[s]"))])
            with_arrays(f"{key} {value!r}", lambda a, k=key, v=value: a.__setitem__(k, v))
        elif kind == 7:
            dtype = rng.choice(["int32", "int64", "uint8", "complex64", "complex128", "bool", "datetime64[s]",
                                "m8[s]", "S4", "U3"])
            name = rng.choice(list(modelfile.CONVNET_NAMES))
            with_arrays(f"{name} of dtype {dtype}", lambda a, n=name, d=dtype: a.__setitem__(n, a[n].astype(d)))
        elif kind == 8:
            name = rng.choice(["K1", "W4", "b3", "format", "channels"])
            with_members(f"{name} an object array (pickle)", lambda m, n=name: m.__setitem__(
                n + ".npy", _npy_bytes(np.array([{"a": 1}, None], dtype=object))))
        elif kind == 9:
            name = rng.choice(["K3", "b5", "W5", "sizes", "activation", "junk", "W1"])
            with_arrays(f"extra member {name}", lambda a, n=name: a.__setitem__(n, np.zeros(3, np.float32)))
        elif kind == 10:
            name = rng.choice(list(modelfile.CONVNET_NAMES) + list(CONVNET_META))
            with_arrays(f"missing {name}", lambda a, n=name: a.pop(n))
        elif kind == 11:
            name = rng.choice(list(base))
            other = rng.choice(["same", "zeros"])
            value = base[name] if other == "same" or base[name].dtype.kind != "f" else np.zeros_like(base[name])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")                 # zipfile warns of the duplicate name
                buffer = io.BytesIO(npz_bytes(base))
                with zipfile.ZipFile(buffer, "a") as zf:
                    zf.writestr(name + ".npy", _npy_bytes(value))
            add(f"{name} twice ({other})", buffer.getvalue())
        elif kind == 12:
            name = rng.choice(list(modelfile.CONVNET_NAMES))
            how = rng.choice(["one more", "transposed", "flattened", "leading 1", "scalar"])
            if how in ("transposed", "flattened") and base[name].ndim < 2:
                how = "one more"                                # a vector's transpose is the vector itself
            def reshape(a, n=name, h=how):
                v = a[n]
                a[n] = {"one more": np.zeros(v.shape[:-1] + (v.shape[-1] + 1,), v.dtype), "transposed": v.T.copy(),
                        "flattened": v.reshape(-1), "leading 1": v[None], "scalar": np.array(0.5, v.dtype)}[h]
            with_arrays(f"{name} {how}", reshape)
        elif kind == 13:
            key, value = rng.choice([("channels", [3, 2]), ("channels", [2, 4]), ("hidden", 6), ("kernel_size", 3),
                                     ("kernel_size", 4)])
            with_arrays(f"{key} {value}, arrays of the saved architecture",
                        lambda a, k=key, v=value: a.__setitem__(k, np.array(v)))
        elif kind == 14:
            name = rng.choice(list(modelfile.CONVNET_NAMES))
            bad = rng.choice([np.nan, np.inf, -np.inf, 1e39])
            def poison(a, n=name, b=bad):
                a[n] = a[n].astype(np.float64)
                a[n].flat[rng.randrange(a[n].size)] = b
            with_arrays(f"{bad} in {name}", poison)
        elif kind == 15:
            value = rng.choice([np.array("ocrlib.MLP"), np.array("ocrlib.convnet"), np.array(""),
                                np.array("ocrlib.ConvNet "), np.array(["ocrlib.ConvNet"] * 2), np.array(b"ocrlib.ConvNet"),
                                np.array(3), np.array("keras")])
            with_arrays(f"format {value!r}", lambda a, v=value: a.__setitem__("format", v))
        elif kind == 16:
            which = rng.choice(["an MLP file to ConvNet.load", "a ConvNet file to MLP.load",
                                "an MLP file to ocrlib.load_model", "an MLP file with a format member"])
            if which == "an MLP file to ConvNet.load":
                add(which, npz_bytes(mlp), load=ConvNet.load)
            elif which == "a ConvNet file to MLP.load":
                add(which, good, load=MLP.load)
            elif which == "an MLP file with a format member":
                add(which, npz_bytes(dict(mlp, format=np.array("ocrlib.MLP"))), load=ocrlib.load_model)
            else:
                add(which, npz_bytes(mlp), bad=False, check=same_model(mlp), load=ocrlib.load_model)
        elif kind == 17:
            which = rng.choice(["method 99", "encrypted", "method lzma", "damaged .npy header"])
            if which == "damaged .npy header":
                header = rng.choice([b"\x93NUMPY\x03\x00" + b"\0" * 20, b"\x93NUMPX\x01\x00", b"",
                                     b"\x93NUMPY\x01\x00\xff\xff" + b"{" * 100,
                                     _npy_member({"descr": "<f4", "fortran_order": False, "shape": (5, 10)})[:-3]])
                name = rng.choice(list(base))
                with_members(f"{name}: damaged .npy header", lambda m, n=name, h=header: m.__setitem__(n + ".npy", h))
            else:
                field, value = {"method 99": (8, 99), "encrypted": (6, 1), "method lzma": (8, 14)}[which]
                add(f"zip member with {which}", _zip_patch(good, rng.randrange(len(base)), field, struct.pack("<H", value)))
        elif kind == 18:
            what = rng.choice(["random bytes", "empty", "a JSON model", "missing", "directory"])
            path = tmp / f"convnet_{len(cases)}_{what.replace(' ', '_')}.npz"
            if what == "random bytes":
                path.write_bytes(rng.randbytes(rng.randrange(1, 5000)))
            elif what == "empty":
                path.write_bytes(b"")
            elif what == "a JSON model":
                path.write_text(json.dumps({"format": "ocrlib.ConvNet", "channels": [2, 3]}))
            elif what == "directory":
                path.mkdir()
            errors = (OSError,) if what in ("missing", "directory") else (modelfile.ModelFileError,)
            add(what, None, path=path, errors=errors)
        else:
            how = rng.choice(["as saved", "compressed", "Fortran order, other float widths, small integers"])
            if how == "as saved":
                add("valid, as saved", good, bad=False, check=same_convnet(reference))
            elif how == "compressed":
                add("valid, compressed", npz_bytes(base, compressed=True), bad=False, check=same_convnet(reference))
            else:
                arrays = {k: np.asfortranarray(v) if v.ndim >= 2 else v for k, v in base.items()}
                for name in rng.sample(list(modelfile.CONVNET_NAMES), 3):
                    arrays[name] = np.asfortranarray(arrays[name].astype(rng.choice(["float64", "float16"])))
                arrays["channels"] = arrays["channels"].astype(rng.choice(["uint8", "int16", "uint64"]))
                arrays["hidden"] = arrays["hidden"].astype(rng.choice(["int8", "uint32"]))
                expected = convnet_reference(CONVNET["channels"], CONVNET["hidden"], CONVNET["kernel_size"],
                                             {k: arrays[k] for k in modelfile.CONVNET_NAMES})
                add(f"valid, {how}", npz_bytes(arrays), bad=False, check=same_convnet(expected))
    return cases


def convnet_json_reference(doc):
    """An independent reading of a ConvNet JSON document (``convnet_reference``'s answer), or None if it is bad."""
    expected = {"format", "channels", "hidden", "kernel_size", *modelfile.CONVNET_NAMES}
    if not isinstance(doc, dict) or set(doc) != expected or doc["format"] != "ocrlib.ConvNet":
        return None
    channels = doc["channels"]
    if not isinstance(channels, list):
        return None
    params = {}
    for name in modelfile.CONVNET_NAMES:
        value, dims = doc[name], []
        while isinstance(value, list) and len(dims) < 5:        # the shape, from the first item of each level
            dims.append(len(value))
            value = value[0] if value else None
        try:
            array = np.array(doc[name], dtype=object)
        except ValueError:                                      # ragged
            return None
        if array.shape != tuple(dims):
            return None
        for v in array.flat:
            if type(v) is int:
                if abs(v) > 2 ** 128:
                    return None
            elif type(v) is not float:
                return None
        params[name] = array.astype(np.float64)
    return convnet_reference(channels, doc["hidden"], doc["kernel_size"], params)


def _pairs_without_duplicates(pairs):
    """A JSON object's pairs as a dict; a key given twice with two different values makes the file bad (which one
    is the model?), the same value twice is harmless."""
    doc = {}
    for key, value in pairs:
        if key in doc and doc[key] != value:
            raise ValueError(f"key {key!r} twice, with different values")
        doc[key] = value
    return doc


def convnet_json_cases(rng, tmp, n):
    net, _ = convnet_params(seed=5)
    saved = tmp / "convnet_saved.json"
    net.save(saved)
    good = saved.read_text()
    base = json.loads(good)
    mlp = MLP((20, 4, 10), activation="tanh", seed=2)
    mlp_doc = {"format": "ocrlib.MLP", "sizes": [20, 4, 10], "activation": "tanh"}
    mlp_doc.update({k: v.tolist() for k, v in mlp.params.items()})
    loaders = (ConvNet.load, ocrlib.load_model)
    cases = []

    def add(what, text, bad=True, load=None, check=None):
        path = tmp / f"convnet_{len(cases)}.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        if bad is None:                         # judged by the independent reading, duplicate keys refused
            try:
                ref = convnet_json_reference(json.loads(path.read_bytes(), object_pairs_hook=_pairs_without_duplicates))
            except (ValueError, RecursionError):
                ref = None
            bad, check = (True, None) if ref is None else (None, same_convnet(ref))
        if load is None:
            load = loaders[len(cases) % 2] if bad else both_loaders
        cases.append(Case("ConvNet .json", what, lambda: load(path), (modelfile.ModelFileError,), [str(path)],
                          bad=bad, check=check))

    def changed(**kw):
        doc = json.loads(good)
        for key, value in kw.items():
            if value is KeyError:
                doc.pop(key, None)
            else:
                doc[key] = value
        return json.dumps(doc)

    def somewhere(doc, name):
        """A list in doc[name] and an index into it, for changing one number."""
        value = doc[name]
        while isinstance(value[0], list):
            value = value[rng.randrange(len(value))]
        return value, rng.randrange(len(value))

    for i in range(n):
        kind = i % 20
        if kind == 0:
            add("truncated", good[:rng.randrange(len(good))])
        elif kind in (1, 2):
            text = bytearray(good.encode())
            for _ in range(rng.randint(1, 3)):
                text[rng.randrange(len(text))] = rng.choice(b'0123456789.,-+eE[]{}":tfn ')
            add("characters changed", bytes(text), bad=None)
        elif kind == 3:
            depth = rng.choice([1000, 100_000, 1_000_000])
            where = rng.choice(["K1", "hidden", "the document"])
            if where == "the document":
                add(f"the document nested {depth} deep", "[" * depth + good + "]" * depth)
            else:
                add(f"{where} nested {depth} deep", changed(**{where: "@@"}).replace('"@@"', "[" * depth + "0" + "]" * depth))
        elif kind == 4:
            number = rng.choice(["1e999", "-1e999", "1" + "0" * 400, "NaN", "Infinity", "-Infinity", "1" + "0" * 5000,
                                 "1e39", "-3.5e38"])
            name = rng.choice(list(modelfile.CONVNET_NAMES))
            doc = json.loads(good)
            row, j = somewhere(doc, name)
            row[j] = "@@"
            add(f"number {number[:12]} in {name}", json.dumps(doc).replace('"@@"', number, 1))
        elif kind == 5:
            value = rng.choice([True, False, None, "0.5", "", [0.5], {}])
            where = rng.choice(["channels", "hidden", "kernel_size"] + list(modelfile.CONVNET_NAMES))
            doc = json.loads(good)
            if where in ("hidden", "kernel_size"):
                doc[where] = value
            else:
                row, j = somewhere(doc, where)
                row[j] = value
            add(f"{value!r} in {where}", json.dumps(doc))
        elif kind == 6:
            key, value = rng.choice([
                ("channels", [2.0, 3]), ("channels", [2, -3]), ("channels", [0, 3]), ("channels", "2,3"),
                ("channels", [2]), ("channels", [2, 3, 4]), ("channels", None), ("channels", {}), ("channels", 2),
                ("channels", [[2, 3]]), ("hidden", 5.0), ("hidden", -5), ("hidden", 0), ("hidden", "5"),
                ("hidden", 1e30), ("hidden", [5]), ("kernel_size", 5.5), ("kernel_size", 5.0), ("kernel_size", 0),
                ("kernel_size", -1), ("kernel_size", 10), ("kernel_size", 2 ** 64), ("kernel_size", 10 ** 400)])
            add(f"{key} {_short(repr(value), 30)}", changed(**{key: value}))
        elif kind == 7:
            key, value = rng.choice([("channels", [10 ** 6, 10 ** 6]), ("channels", [2, 10 ** 30]),
                                     ("hidden", 10 ** 12), ("hidden", 2 ** 63), ("kernel_size", 10 ** 9),
                                     ("channels", [3, 2]), ("hidden", 6), ("kernel_size", 3)])
            add(f"{key} {_short(repr(value), 30)}, arrays of the saved architecture", changed(**{key: value}))
        elif kind == 8:
            key = rng.choice(["K3", "W5", "b5", "sizes", "activation", "junk", "W1"])
            add(f"extra key {key}", changed(**{key: [0.0]}))
        elif kind == 9:
            key = rng.choice(list(base))
            add(f"missing {key}", changed(**{key: KeyError}))
        elif kind == 10:
            key = rng.choice(list(base))
            other = rng.choice(["same", "different"])
            if other == "same":
                value = base[key]
            elif key in modelfile.CONVNET_NAMES:                # the same shape, other numbers: which is the model?
                value = (-np.array(base[key])).tolist()
            else:
                value = {"format": "ocrlib.MLP", "channels": [3, 2], "hidden": 6, "kernel_size": 3}[key]
            text = good[:-1] + f", {json.dumps(key)}: {json.dumps(value)}}}"
            add(f"key {key} twice ({other})", text, bad=None)
        elif kind == 11:
            name = rng.choice(list(modelfile.CONVNET_NAMES))
            how = rng.choice(["ragged", "one level less", "one level more", "scalar", "object", "empty", "strings",
                              "transposed", "nulls"])
            doc = json.loads(good)
            v = np.array(doc[name])
            doc[name] = {"ragged": doc[name][:-1] + [doc[name][-1][:-1]] if v.ndim > 1 else doc[name][:-1],
                         "one level less": v.reshape(v.shape[:-2] + (-1,)).tolist() if v.ndim > 1 else v[0].item(),
                         "one level more": v[..., None].tolist(), "scalar": 0.5, "object": {"a": 1}, "empty": [],
                         "strings": v.astype(str).tolist(), "transposed": v.T.tolist(),
                         "nulls": np.full(v.shape, None).tolist()}[how]
            add(f"{name} {how}", json.dumps(doc), bad=None)
        elif kind == 12:
            text = rng.choice(["[]", "3", '"model"', "null", "{}", "", "\ufeff" + good, '{"format": "ocrlib.ConvNet"' * 3,
                               good + good, good + " ", "\xff\xfe"])
            add(f"document {_short(text, 16)}", text.encode("utf-8") if text != "\xff\xfe" else b"\xff\xfe\x00\x01",
                bad=None)
        elif kind == 13:
            value = rng.choice(["ocrlib.MLP", "ocrlib.convnet", "keras", "", None, 3, ["ocrlib.ConvNet"], KeyError])
            add(f"format {value!r}", changed(format=value))
        elif kind == 14:
            which = rng.choice(["an MLP file to ConvNet.load", "a ConvNet file to MLP.load",
                                "an MLP file to ocrlib.load_model", "an MLP file with ConvNet keys"])
            if which == "an MLP file to ConvNet.load":
                add(which, json.dumps(mlp_doc), load=ConvNet.load)
            elif which == "a ConvNet file to MLP.load":
                add(which, good, load=MLP.load)
            elif which == "an MLP file with ConvNet keys":
                add(which, json.dumps(dict(mlp_doc, channels=[2, 3], hidden=5, kernel_size=5)), load=ocrlib.load_model)
            else:
                expected = {k: np.asarray(v) for k, v in mlp_doc.items() if k not in ("format",)}
                add(which, json.dumps(mlp_doc), bad=False, load=ocrlib.load_model, check=same_model(expected))
        elif kind == 15:
            doc = json.loads(good)
            row, j = somewhere(doc, rng.choice(list(modelfile.CONVNET_NAMES)))
            row[j] = rng.choice([0, 1, -2, 3 * 10 ** 38, 2 ** 128 + 1, 10 ** 40])
            add(f"a weight written as the integer {_short(row[j], 20)}", json.dumps(doc), bad=None)
        elif kind == 16:
            add("valid, indented, keys reordered", json.dumps(dict(reversed(list(base.items()))), indent=1), bad=None)
        else:
            add("valid, as saved", good, bad=None)
    return cases


# --- stroke-set files ---

def stroke_arrays(rng):
    g = np.random.default_rng(rng.randrange(1 << 30))
    drawings = [[g.uniform(0, 280, (g.integers(1, 6), 2)).astype(np.float32) for _ in range(g.integers(1, 3))]
                for _ in range(3)]
    strokes = [s for d in drawings for s in d]
    arrays = {
        "points": np.concatenate(strokes),
        "stroke_starts": np.concatenate([[0], np.cumsum([len(s) for s in strokes])]).astype(np.int64),
        "drawing_starts": np.concatenate([[0], np.cumsum([len(d) for d in drawings])]).astype(np.int64),
        "labels": np.array([3, 1, 4], np.uint8),
        "source": np.array([0, 1, 1], np.uint8),
        "mnist_index": np.array([7, -1, -1], np.int64),
    }
    return drawings, arrays


def same_drawings(drawings, labels):
    def check(result):
        got, got_labels = result
        if len(got) != len(drawings) or not np.array_equal(got_labels, labels):
            return f"returned {len(got)} drawings labelled {got_labels}, expected {len(drawings)} labelled {labels}"
        for a, b in zip(got, drawings):
            if len(a) != len(b) or not all(np.array_equal(s, t) for s, t in zip(a, b)):
                return "drawings differ from the file's"
        return None
    return check


def strokeset_cases(rng, tmp, n):
    cases = []
    for i in range(n):
        drawings, arrays = stroke_arrays(rng)
        labels = arrays["labels"]
        kind = i % 14
        bad = True
        path = tmp / f"strokes_{i}.npz"
        if kind == 0:
            data = npz_bytes(arrays)
            path.write_bytes(data[:rng.randrange(len(data))])
            what = "truncated"
        elif kind in (1, 2):
            path.write_bytes(flip(npz_bytes(arrays), rng))
            what, bad = "bits flipped", None
        else:
            what, change = rng.choice(_stroke_changes(rng, arrays)) if kind < 13 else ("valid", None)
            if change is not None:
                change(arrays)
            else:
                bad = False
            path.write_bytes(npz_bytes(arrays))
        cases.append(Case("stroke-set .npz", what, lambda p=path: strokeset.load_stroke_set(p),
                          (strokeset.StrokeSetError,), [str(path)], bad=bad, check=same_drawings(drawings, labels)))
    return cases


def _stroke_changes(rng, a):
    P, S = len(a["points"]), len(a["stroke_starts"]) - 1

    def setter(key, value):
        return lambda arrays: arrays.__setitem__(key, value)
    return [
        ("stroke_starts empty", setter("stroke_starts", np.zeros(0, np.int64))),
        ("drawing_starts empty", setter("drawing_starts", np.zeros(0, np.int64))),
        ("stroke_starts decreasing", setter("stroke_starts", a["stroke_starts"][::-1].copy())),
        ("stroke_starts past the points", setter("stroke_starts", a["stroke_starts"] + np.arange(S + 1) * 1000)),
        ("stroke_starts not from 0", setter("stroke_starts", np.concatenate([[1], a["stroke_starts"][1:]]))),
        ("stroke_starts negative", setter("stroke_starts", np.concatenate([[0, -5], a["stroke_starts"][1:]]))),
        ("stroke_starts float", setter("stroke_starts", a["stroke_starts"].astype(np.float64) + 0.5)),
        ("stroke_starts 2-d", setter("stroke_starts", a["stroke_starts"][None])),
        ("a stroke with no points", setter("stroke_starts", np.concatenate([[0, 0], a["stroke_starts"][1:]]))),
        ("drawing_starts past the strokes", setter("drawing_starts", a["drawing_starts"] * 50)),
        ("drawing_starts huge", setter("drawing_starts", np.array([0, 2 ** 62, 2 ** 62, 2 ** 62], np.int64))),
        ("label 42", setter("labels", np.array([3, 42, 4], np.uint8))),
        ("label -1", setter("labels", np.array([3, -1, 4], np.int8))),
        ("float labels", setter("labels", np.array([3.7, 1.2, 4.0]))),
        ("bool labels", setter("labels", np.array([True, False, True]))),
        ("2 labels for 3 drawings", setter("labels", a["labels"][:2])),
        ("source 7", setter("source", np.array([0, 7, 1], np.uint8))),
        ("source missing", lambda arrays: arrays.pop("source")),
        ("points missing", lambda arrays: arrays.pop("points")),
        ("points (P, 3)", setter("points", np.zeros((P, 3), np.float32))),
        ("points NaN", setter("points", np.where(np.arange(P)[:, None] == 0, np.nan, a["points"]).astype(np.float32))),
        ("points inf", setter("points", np.full((P, 2), np.inf, np.float32))),
        ("points complex", setter("points", a["points"].astype(np.complex64))),
        ("points datetime", setter("points", a["points"].astype(np.int64).astype("datetime64[s]"))),
        ("points strings", setter("points", a["points"].astype("U8"))),
        ("mnist_index float", setter("mnist_index", np.array([7.5, -1, -1]))),
        ("mnist_index wrong length", setter("mnist_index", np.array([7], np.int64))),
        ("extra member", setter("weights", np.zeros(3))),
    ]


# --- the taught-drawings store (SQLite) ---

def _sqlite_bytes(path):
    """The bytes of a closed SQLite database: everything is in the main file once the last connection closes."""
    return Path(path).read_bytes()


def _taught_db(path, seed, n=3):
    """A taught-drawings database at ``path`` with ``n`` drawings; returns (images (n, 28, 28), labels (n,))."""
    from ocrlib.taught import TaughtStore
    g = np.random.default_rng(seed)
    images = g.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = g.integers(0, 10, n)
    store = TaughtStore(path)
    for image, label in zip(images, labels):
        store.add(image, int(label), strokes=[g.uniform(0, 280, (4, 2))], pad="fuzz")
    return images, labels


def _foreign_db(path, setup):
    """A SQLite database made by ``setup`` (SQL statements), closed."""
    import sqlite3
    db = sqlite3.connect(path)
    db.executescript(setup)
    db.commit()
    db.close()


def _same_set(images, labels):
    """The drawings read are those stored (in any order: a damaged id may reorder them)."""
    def key(X, y):
        return sorted((int(label), image.tobytes()) for image, label in zip(X, y))

    def check(result):
        X, y = result
        if np.shape(X) != (len(labels), 28, 28) or key(X, y) != key(images, labels):
            return f"returned {_describe(X)} labelled {list(np.asarray(y))}, expected {len(labels)} drawings " \
                   f"labelled {list(labels)}"
        return None
    return check


def _unchanged(path, data):
    """Outcome 'lost' when the file's bytes differ from ``data`` after the case (checked after errors only)."""
    def lost():
        now = path.read_bytes() if path.is_file() else b""
        return 0 if now == data else 3
    return lost


def taught_cases(rng, tmp, n):
    from ocrlib import taught
    from ocrlib.taught import APPLICATION_ID, SCHEMA, SCHEMA_VERSION, TaughtFileError
    template = tmp / "taught_template.sqlite"
    images, labels = _taught_db(template, 0)
    good = _sqlite_bytes(template)
    columns = "id INTEGER PRIMARY KEY, label INTEGER, image BLOB, strokes TEXT, taught_at REAL, pad TEXT, digest TEXT"
    header = f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
    digest = taught.drawing_digest(images[0], [])
    rows = {   # what: the INSERT of one row into a right table, with something wrong in it
        "label 10": f"INSERT INTO drawings VALUES (1, 10, zeroblob(784), '[]', 0, 'x', '{digest}')",
        "label -1": f"INSERT INTO drawings VALUES (1, -1, zeroblob(784), '[]', 0, 'x', '{digest}')",
        "label '3'": f"INSERT INTO drawings VALUES (1, '3', zeroblob(784), '[]', 0, 'x', '{digest}')",
        "label 3.5": f"INSERT INTO drawings VALUES (1, 3.5, zeroblob(784), '[]', 0, 'x', '{digest}')",
        "label NULL": f"INSERT INTO drawings VALUES (1, NULL, zeroblob(784), '[]', 0, 'x', '{digest}')",
        "image of 783 bytes": f"INSERT INTO drawings VALUES (1, 3, zeroblob(783), '[]', 0, 'x', '{digest}')",
        "image of 0 bytes": f"INSERT INTO drawings VALUES (1, 3, x'', '[]', 0, 'x', '{digest}')",
        "image of 2352 bytes": f"INSERT INTO drawings VALUES (1, 3, zeroblob(2352), '[]', 0, 'x', '{digest}')",
        "image as text": f"INSERT INTO drawings VALUES (1, 3, 'abc', '[]', 0, 'x', '{digest}')",
        "image NULL": f"INSERT INTO drawings VALUES (1, 3, NULL, '[]', 0, 'x', '{digest}')",
        "strokes not JSON": f"INSERT INTO drawings VALUES (1, 3, zeroblob(784), '[[1,', 0, 'x', '{digest}')",
        "strokes a number": f"INSERT INTO drawings VALUES (1, 3, zeroblob(784), '5', 0, 'x', '{digest}')",
        "strokes (k, 3) points": f"INSERT INTO drawings VALUES (1, 3, zeroblob(784), '[[[1,2,3]]]', 0, 'x', '{digest}')",
        "strokes as a blob": f"INSERT INTO drawings VALUES (1, 3, zeroblob(784), x'00', 0, 'x', '{digest}')",
        "strokes nested deep": f"INSERT INTO drawings VALUES (1, 3, zeroblob(784), '{'[' * 5000}', 0, 'x', '{digest}')",
        "digest of another drawing": "INSERT INTO drawings VALUES (1, 3, zeroblob(784), '[]', 0, 'x', 'abc')",
        "strokes not UTF-8": f"INSERT INTO drawings VALUES (1, 3, zeroblob(784), CAST(x'ff' AS TEXT), 0, 'x', '{digest}')",
    }
    foreign = {
        "another program's database": "CREATE TABLE notes (id INTEGER, text TEXT); INSERT INTO notes VALUES (1, 'hi');",
        "a table 'drawings' of another program": "CREATE TABLE drawings (id INTEGER, svg TEXT);",
        "another application id": "PRAGMA application_id = 1234; CREATE TABLE drawings (id INTEGER);",
        "a newer schema version": f"PRAGMA application_id = {APPLICATION_ID}; "
                                  f"PRAGMA user_version = {SCHEMA_VERSION + 1}; " + SCHEMA,
        "version 99": f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 99; " + SCHEMA,
        "the right table, columns missing": header + "CREATE TABLE drawings (id INTEGER PRIMARY KEY, label INTEGER, image BLOB);"
                                             "CREATE TABLE imported (name TEXT, drawings INTEGER, at REAL);",
        "the right table, columns renamed": header + columns.replace("label", "digit").join(["CREATE TABLE drawings (", ");"])
                                             + "CREATE TABLE imported (name TEXT, drawings INTEGER, at REAL);",
        "no 'imported' table": header + "CREATE TABLE drawings (" + columns + ");",
        "our header, no tables but another": header + "CREATE TABLE other (x);",
    }
    cases = []
    for i in range(n):
        folder = tmp / f"taught_{i}"
        folder.mkdir()
        path = folder / "taught.sqlite"
        kind = i % 12
        bad, check = True, None
        if kind == 0:
            cut = rng.randrange(len(good))
            path.write_bytes(good[:cut])
            what, bad = f"truncated to {cut} of {len(good)} bytes", None
        elif kind in (1, 2, 3):
            path.write_bytes(flip(good, rng))
            what, bad = "bits flipped", None
        elif kind == 4:
            what = rng.choice(["random bytes", "SQLite's header, then random bytes", "zero bytes", "zeros"])
            g = np.random.default_rng(i)
            data = {"random bytes": g.bytes(rng.randrange(1, 20000)),
                    "SQLite's header, then random bytes": good[:100] + g.bytes(rng.randrange(0, 20000)),
                    "zero bytes": b"", "zeros": bytes(rng.choice([100, 4096, 8192]))}[what]
            path.write_bytes(data)
            if what == "zero bytes":                  # an empty file is a new store: no drawings yet
                bad, check = False, _same_set(images[:0], labels[:0])
        elif kind in (5, 6):
            what = rng.choice(list(foreign))
            _foreign_db(path, foreign[what])
        elif kind in (7, 8):
            what = rng.choice(list(rows))
            _foreign_db(path, header + "CREATE TABLE drawings (" + columns + "); CREATE TABLE imported (name TEXT "
                        "PRIMARY KEY, drawings INTEGER, at REAL);" + rows[what])     # the columns, no constraints
        elif kind == 9:
            what, bad, check = "valid", False, _same_set(images, labels)
            path.write_bytes(good)
        elif kind == 10:
            what = rng.choice(["valid taught.npz to import", "damaged taught.npz to import", "taught.npz, images float"])
            _, arrays = stroke_arrays(rng)
            arrays["images"] = np.random.default_rng(i).integers(0, 256, (3, 28, 28), dtype=np.uint8)
            arrays["source"] = np.full(3, 2, np.uint8)
            npz = folder / "taught.npz"
            if what == "taught.npz, images float":
                arrays["images"] = arrays["images"] / 255.0
            data = npz_bytes(arrays)
            if what.startswith("damaged"):
                data = data[:rng.randrange(len(data))]
            npz.write_bytes(data)
            if what.startswith("valid"):
                bad, check = False, _same_set(arrays["images"], arrays["labels"])
            cases.append(Case("taught store (SQLite)", what, lambda p=npz: taught.load_taught(p),
                              (TaughtFileError,), [str(npz)], bad=bad, check=check, lost=_unchanged(npz, data)))
            continue
        else:
            what = rng.choice(["a folder", "a missing file (no drawings yet)", "a file in a missing folder"])
            if what == "a folder":
                path.mkdir()
            elif what == "a file in a missing folder":
                path = folder / "no" / "such" / "taught.sqlite"
            if what != "a folder":
                bad, check = False, _same_set(images[:0], labels[:0])
            cases.append(Case("taught store (SQLite)", what, lambda p=path: taught.load_taught(p),
                              (TaughtFileError, OSError), [str(path)], bad=bad, check=check))
            continue
        data = path.read_bytes()
        if check is None:
            check = _same_set(images, labels)
        if bad is not False and rng.random() < 0.3:       # adding to a damaged file: refused, nothing written
            run = (lambda p=path: taught.TaughtStore(p).add(np.full((28, 28), 200, np.uint8), 4))
            what += ", then add a drawing"
            if kind in (7, 8):                              # a damaged row is found when the rows are read
                bad = None
            check = (lambda r: None if isinstance(r, int) else f"returned {r!r}") if bad is None else None
        else:
            run = (lambda p=path: taught.load_taught(p))
        run, lost = _guarded(run, path, data)
        cases.append(Case("taught store (SQLite)", what, run, (TaughtFileError, OSError), [str(path)], bad=bad,
                          check=check, lost=lost))
    return cases


def _guarded(run, path, data):
    """``run``, and the 'lost' check: after an error the file's bytes must be as they were (a store that reads
    fine may set itself up: write-ahead logging, its tables)."""
    state = {"error": False}

    def wrapped():
        try:
            return run()
        except BaseException:
            state["error"] = True
            raise

    def lost():
        return _unchanged(path, data)() if state["error"] else 0
    return wrapped, lost


def pad_cases(rng, tmp, n):
    """Bad operations on a pad whose taught-drawings store holds drawings already: none may be lost."""
    from ocrlib import pad as padmodule
    from ocrlib.taught import TaughtFileError
    X, y = _rehearsal()
    cases = []
    for i in range(n):
        folder = tmp / f"pad_{i}"
        folder.mkdir()
        path = folder / "taught.sqlite"
        images, _ = _taught_db(path, i)
        before = _sqlite_bytes(path)
        kind = i % 8

        def stored(path=path, images=images):
            """How many of the drawings stored before the case are missing after it."""
            try:
                _, X_now, _ = read_taught_quiet(path)
            except TaughtFileError:
                return len(images)
            now = {image.tobytes() for image in X_now}
            return sum(image.tobytes() not in now for image in images)

        def make_pad(path=path, lr=0.1, **kw):
            pad = padmodule.Pad(model=MLP((784, 16, 10), seed=0), taught_path=path,
                                teacher_options={"rehearsal": (X, y), "steps": 2, "lr": lr}, **kw)
            pad._sample = X[:100], y[:100]          # the forgetting check on a few digits, not MNIST's 1,000
            pad.on_pen_down(140, 40)
            pad.on_pen_move(140, 140)
            pad.on_pen_up(140, 240)
            return pad
        if kind == 0:
            label = rng.choice([10, -1, 3.5, "3", None, True, [3], np.uint8(12), 2 ** 70, float("nan")])
            cases.append(Case("pad and taught store", f"teach({_short(label, 20)})",
                              lambda m=make_pad, v=label: m().teach(v), (ValueError, TypeError), ["label"],
                              lost=stored))
        elif kind == 1:
            where = rng.choice(["a folder", "no/such/folder/model.npz", "the shipped model", "model.pkl",
                                "the store itself"])
            target = {"a folder": folder, "the shipped model": folder / "shipped.npz",
                      "the store itself": path}.get(where, folder / where)
            if where == "the shipped model":        # a link to it: were the refusal to fail, only the link is replaced
                from ocrlib.paths import MODEL_PATH
                target.symlink_to(MODEL_PATH)
            cases.append(Case("pad and taught store", f"save_model to {where}",
                              lambda m=make_pad, t=target: m().save_model(t), (ValueError, OSError),
                              [str(target.resolve() if where == "the shipped model" else target)],
                              bad=None if where in ("no/such/folder/model.npz", "model.pkl") else True,
                              check=lambda r: None, lost=stored))
        elif kind == 2:
            damaged = rng.choice([before[:rng.randrange(len(before))], flip(before, rng, 3)])
            path.write_bytes(damaged)
            run, lost = _guarded(lambda m=make_pad: m(), path, damaged)
            cases.append(Case("pad and taught store", "a damaged store", run, (TaughtFileError,), [str(path)], bad=None,
                              check=lambda pad: None if pad.taught_count == 3 else f"{pad.taught_count} drawings read",
                              lost=lost))
        elif kind == 3:
            lr = rng.choice([1e30, 1e38, 3e38])

            def run(m=make_pad, lr=lr):
                pad = m(lr=lr)
                for label in (1, 2, 3):
                    pad.teach(label)
                    pad.on_pen_down(100, 40 + label)
                    pad.on_pen_up(150, 200)
            cases.append(Case("pad and taught store", f"teaching at lr={lr:g}", run, (TrainingDiverged,), ["lr"],
                              bad=None, check=lambda r: None, lost=stored))
        elif kind == 4:
            def run(m=make_pad):
                pad = m()
                pad.teach(7)
                pad.undo_teach()
                pad.undo_teach()
                pad.undo_teach()
                return pad
            cases.append(Case("pad and taught store", "teach, undo beyond the history", run, (ValueError,), [],
                              bad=False, check=lambda pad: None if pad.taught_count == 3 else f"{pad.taught_count} left",
                              lost=stored))
        elif kind == 5:
            def run(m=make_pad):
                pad = m()
                first = pad.teach(7)
                again = pad.teach(7), pad.teach(3)
                return first, again, pad
            cases.append(Case("pad and taught store", "teach the same drawing twice, then as another digit", run,
                              (ValueError,), [], bad=False,
                              check=lambda r: None if r[0] is not None and r[1] == (None, None) and r[2].taught_count == 4
                              else f"returned {r[:2]!r}, {r[2].taught_count} stored", lost=stored))
        elif kind == 6:
            def run(m=make_pad):
                pad = m()
                pad.clear()
                return pad.teach(5), pad.undo(), pad.undo(), pad.teach(5)
            cases.append(Case("pad and taught store", "teach a blank pad, undo strokes that are not there", run,
                              (ValueError,), [], bad=False,
                              check=lambda r: None if r[0] is None and r[3] is None else f"returned {r!r}",
                              lost=stored))
        else:
            def run(m=make_pad):
                pad = m(teaching=False)
                return pad.teach(4), pad.undo_teach()
            cases.append(Case("pad and taught store", "teach on a read-only pad", run, (ValueError,), [], bad=False,
                              check=lambda r: None if r == (None, False) else f"returned {r!r}", lost=stored))
    return cases


def read_taught_quiet(path):
    from ocrlib.taught import read_taught
    return read_taught(path)


def _rehearsal(n=200):
    """Digits to rehearse instead of MNIST's 60,000: every digit 0..9 among the labels."""
    X, _ = _data(n)
    return X, np.arange(n) % 10


# --- Teacher ---

def teacher_cases(rng, n):
    from ocrlib.teacher import Teacher
    X, y = _rehearsal()
    image = X[3]
    bad_images = {
        "NaN pixels": np.where(image > 0, np.nan, 0.0), "(27, 27)": image[:27, :27], "(28, 28, 3)": np.stack([image] * 3, -1),
        "(2, 28, 28)": X[:2], "785 pixels": np.zeros(785, np.uint8), "int64": image.astype(np.int64),
        "floats 0..255": image.astype(np.float64), "floats -1..1": image / 127.5 - 1, "inf": np.full((28, 28), np.inf),
        "blank": np.zeros((28, 28), np.uint8), "blank floats": np.zeros((28, 28)), "complex": image.astype(complex),
        "object": image.astype(object), "strings": image.astype("U3"), "bool": image > 0, "None": None, "scalar": 3,
        "ragged lists": [[1, 2], [3]], "a string": "image", "datetimes": image.astype("datetime64[s]"),
    }
    bad_labels = [10, -1, 3.5, "3", None, True, [3], np.uint8(12), 2 ** 70, float("nan"), np.float64(3)]
    bad_options = {
        "steps": [0, -1, 2.5, "5", None, True, float("nan")],
        "batch_size": [0, 1, 17, 10 ** 9, 2.5, "64", None],
        "copies": [0, -3, 64, 1.5, None],
        "taught_per_step": [-1, 60, 0.5, "4"],
        "lr": [0, -0.1, float("nan"), float("inf"), "0.1", None, True],
        "consolidation": [-1, float("nan"), float("inf"), "x", None],
        "at_risk": [-0.1, 1.5, float("nan"), None, "0.5"],
        "seed": [-1, 2.5, "x", None],
        "model": [None, "model.npz", 3],
        "rehearsal": [(X[:5], y[:5]), (X, y[:10]), (X.astype(np.float64), y), (X, y + 10), (X, y.astype(float)), 3,
                      (X[:, :27, :27], y), (X, y, y)],
    }
    cases = []
    for i in range(n):
        net = _net(seed=i % 5)
        before = [p.copy() for p in net.weights + net.biases]

        def unchanged(net=net, before=before):
            if any(not np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before)):
                return "a refused call changed the weights"
            return None
        kind = i % 4
        if kind == 0:
            what = rng.choice(list(bad_images))
            run = (lambda net=net, x=bad_images[what]: Teacher(net, rehearsal=(X, y), steps=2).teach(x, 3))
            cases.append(Case("Teacher.teach", f"image {what}", run, (ValueError,), ["image"], after=unchanged))
        elif kind == 1:
            label = rng.choice(bad_labels)
            run = (lambda net=net, v=label: Teacher(net, rehearsal=(X, y), steps=2).teach(image, v))
            cases.append(Case("Teacher.teach", f"label {_short(label, 20)}", run, (ValueError,), ["label"],
                              after=unchanged))
        elif kind == 2:
            name = rng.choice(list(bad_options))
            value = rng.choice(bad_options[name])
            if name == "model":
                value = MLP((784, 16, 5), seed=0) if rng.random() < 0.3 else value
                run = (lambda v=value: Teacher(v, rehearsal=(X, y)))
            elif name == "rehearsal":
                run = (lambda net=net, v=value: Teacher(net, rehearsal=v))
            else:
                run = (lambda net=net, k=name, v=value: Teacher(net, rehearsal=(X, y), **{k: v}).teach(image, 3))
            cases.append(Case("Teacher()", f"{name}={_short(value, 30)}", run, (ValueError,), [name], after=unchanged))
        else:
            label = rng.randrange(10)
            x = rng.choice([image, image / 255.0, image.reshape(784), (image / 255.0).astype(np.float32)])

            def run(net=net, x=x, label=label, before=before):
                teacher = Teacher(net, rehearsal=(X, y), steps=2)
                p_before, p_after = teacher.teach(x, label)
                changed = any(not np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before))
                teacher.undo()
                back = all(np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before))
                return p_before, p_after, changed, back

            def check(r):
                p_before, p_after, changed, back = r
                if not (0 <= p_before <= 1 and 0 <= p_after <= 1 and changed and back):
                    return f"p {p_before} -> {p_after}, weights changed {changed}, put back by undo {back}"
                return None
            cases.append(Case("Teacher.teach", "valid, then undo", run, (ValueError,), [], bad=False, check=check))
    return cases


# --- the app's options ---

def app_cases(rng, tmp, n):
    """``python -m ocrlib.app``'s options, parsed and checked as ``main`` does before it starts any server."""
    from ocrlib import app
    model = tmp / "app_model.npz"
    MLP((784, 16, 10), seed=0).save(model)
    wrong_sizes = tmp / "app_model_5.npz"
    MLP((784, 16, 5), seed=0).save(wrong_sizes)
    store = tmp / "app_taught.sqlite"
    _taught_db(store, 1)
    good_store = store.read_bytes()
    bad = {
        "--port": ["0", "-1", "65536", "abc", "", "8866.5", "1e3", "99999999999999999999", " 80x"],
        "--ip": ["999.1.1.1", "localhost", "", "1.2.3", "::g", "0.0.0.0/8", "127.0.0.1:8866"],
        "--idle-minutes": ["0", "-5", "nan", "inf", "abc", "", "1e400", "-inf", "1e300"],
        "--model": ["missing", "a folder", "damaged", "random bytes", "784 -> 5 digits", "empty"],
        "--taught": ["a folder", "damaged", "random bytes", "foreign", "truncated"],
    }
    cases = []
    for i in range(n):
        option = list(bad)[i % 6] if i % 6 < 5 else None
        files = []
        if option is None:
            what = rng.choice(["defaults", "everything valid", "missing --taught file (a new store)"])
            argv = {"defaults": [], "everything valid": ["--ip", "127.0.0.1", "--port", "8890", "--model", str(model),
                                                          "--taught", str(store), "--idle-minutes", "0.5",
                                                          "--read-only", "--present", "--no-browser"],
                    "missing --taught file (a new store)": ["--taught", str(tmp / f"app_new_{i}.sqlite")]}[what]

            def check(args, argv=argv):
                if "--port" in argv and (args.port, args.ip, args.idle_minutes) != (8890, "127.0.0.1", 0.5):
                    return f"parsed {args}"
                return None
            cases.append(Case("app options", what, lambda a=argv: _parse_app(app, a), (SystemExit,), [], bad=False,
                              check=check, lost=_unchanged(store, good_store)))
            continue
        value = rng.choice(bad[option])
        what = f"{option} {value!r}"
        if option in ("--model", "--taught"):
            path = tmp / f"app_{i}{'.npz' if option == '--model' else '.sqlite'}"
            if value == "a folder":
                path.mkdir()
            elif value == "damaged":
                source = model.read_bytes() if option == "--model" else good_store
                path.write_bytes(flip(source[:rng.randrange(100, len(source))], rng, 8))
            elif value == "random bytes":
                path.write_bytes(np.random.default_rng(i).bytes(3000))
            elif value == "784 -> 5 digits":
                path.write_bytes(wrong_sizes.read_bytes())
            elif value == "empty":
                path.write_bytes(b"")
            elif value == "foreign":
                _foreign_db(path, "CREATE TABLE notes (x);")
            elif value == "truncated":
                path.write_bytes(good_store[:rng.randrange(1, len(good_store))])
            files = [path]
            value = str(path)
        argv = [option, value]
        if rng.random() < 0.5:
            argv = ["--no-browser", "--port", "8891"] + argv
        lost = None
        if files and files[0].is_file():
            lost = _unchanged(files[0], files[0].read_bytes())
        cases.append(Case("app options", what, lambda a=argv: _parse_app(app, a), (SystemExit,), [option],
                          bad=None if what.startswith("--taught") and ("damaged" in what or "truncated" in what) else True,
                          lost=lost, on_error=_exit_status_2))
    return cases


def _parse_app(app, argv):
    """``app.parse_args`` (what ``main`` runs before anything else); a refusal is ``SystemExit`` carrying argparse's
    message (which goes to stderr) and its exit status. Then the server's command line, as ``main`` makes it."""
    import contextlib
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = app.parse_args(argv)
    except SystemExit as exit:
        refusal = SystemExit(err.getvalue())
        refusal.status = exit.code
        raise refusal from None
    app.voila_command(Path("pad.ipynb"), args)           # every option as the server gets it: no error here
    return args


def _exit_status_2(exit):
    return None if getattr(exit, "status", None) == 2 else f"exit status {getattr(exit, 'status', None)!r}, expected 2"


# --- arguments ---

def _net(seed=0, sizes=(784, 16, 10)):
    return MLP(sizes, seed=seed)


def _data(n=64, seed=0):
    g = np.random.default_rng(seed)
    return g.integers(0, 256, (n, 28, 28), dtype=np.uint8) * (g.random((n, 28, 28)) < 0.2), g.integers(0, 10, n)


def finite_weights(net):
    def after():
        bad = [name for name, value in net.params.items() if not np.all(np.isfinite(value))]
        return f"weights left non-finite: {bad}" if bad else None
    return after


def mlp_cases(rng, n):
    bad_args = [
        ("sizes", "784"), ("sizes", (784.9, 10)), ("sizes", (784, 10.5)), ("sizes", (784,)), ("sizes", ()),
        ("sizes", (784, 0, 10)), ("sizes", (784, -3, 10)), ("sizes", (784, True, 10)), ("sizes", 784),
        ("sizes", None), ("sizes", (784, "16", 10)), ("sizes", (784, 10 ** 9, 10)), ("sizes", (10 ** 7, 10 ** 4)),
        ("sizes", (784, float("nan"), 10)), ("sizes", (784, float("inf"), 10)), ("sizes", [[784, 10]]),
        ("sizes", (784, 2 ** 64, 10)), ("sizes", np.array([784.5, 10])), ("sizes", {784: 1, 10: 2}),
        ("activation", "softplus"), ("activation", ["relu"]), ("activation", None), ("activation", 3),
        ("activation", "RELU"), ("dtype", np.int32), ("dtype", np.complex64), ("dtype", bool), ("dtype", "U4"),
        ("dtype", object), ("dtype", "nonsense"), ("dtype", np.uint8), ("dtype", "datetime64[s]"),
        ("seed", -1), ("seed", "zero"), ("seed", 1.5), ("seed", float("nan")),
    ]
    good_args = [("sizes", [784, 25, 10]), ("sizes", np.array([784, 25, 10])), ("sizes", (np.int64(784), 10)),
                 ("dtype", np.float64), ("dtype", "float32"), ("seed", None), ("seed", np.int64(3)),
                 ("activation", "tanh")]
    cases = []
    for i in range(n):
        if i % 5 == 4:
            arg, value = rng.choice(good_args)
            cases.append(Case("MLP()", f"{arg}={_short(value, 40)}", lambda a=arg, v=value: MLP(**{a: v}),
                              (ValueError, TypeError), [arg], bad=False, check=_valid_mlp))
        else:
            arg, value = rng.choice(bad_args)
            cases.append(Case("MLP()", f"{arg}={_short(value, 40)}", lambda a=arg, v=value: MLP(**{a: v}),
                              (ValueError, TypeError), [arg]))
    return cases


def _valid_mlp(net):
    if not all(np.all(np.isfinite(p)) and p.dtype.kind == "f" for p in net.params.values()):
        return "non-finite or non-float weights"
    if not any(np.any(W != 0) for W in net.weights):
        return "all-zero weights"
    return None


BAD_IMAGES = {
    "floats in [-1, 1]": lambda X: X / 127.5 - 1,
    "floats 0..255": lambda X: X.astype(np.float32),
    "NaN pixels": lambda X: np.where(X > 100, np.nan, X / 255.0),
    "inf pixels": lambda X: np.where(X > 100, np.inf, X / 255.0),
    "complex": lambda X: X.astype(np.complex64) / 255,
    "object": lambda X: X.astype(object),
    "strings": lambda X: X.astype("U3"),
    "bool": lambda X: X > 0,
    "int64 pixels": lambda X: X.astype(np.int64),
    "(N, 27, 27)": lambda X: X[:, :27, :27],
    "(N, 785)": lambda X: np.zeros((len(X), 785), np.uint8),
    "0 images": lambda X: X[:0],
    "a scalar": lambda X: np.uint8(3),
    "datetime": lambda X: X.astype("datetime64[s]"),
    "a list of lists": lambda X: X[:, 0, :].tolist(),
}

BAD_LABELS = {
    "label 10": lambda y: np.where(np.arange(len(y)) == 0, 10, y),
    "label -1": lambda y: np.where(np.arange(len(y)) == 0, -1, y),
    "float labels": lambda y: y + 0.5,
    "integral float labels": lambda y: y.astype(float),
    "bool labels": lambda y: y > 4,
    "one label short": lambda y: y[:-1],
    "string labels": lambda y: y.astype("U1"),
    "2-d labels": lambda y: y.reshape(-1, 1).repeat(2, axis=1),
    "label 2**70": lambda y: [2 ** 70] + list(y[1:]),
}


def _argument_case(family, what, call, names, bad=True, check=None, after=None, errors=(ValueError, TypeError)):
    return Case(family, what, call, errors, names, bad=bad, check=check, after=after)


def fit_cases(rng, n):
    cases = []
    X, y = _data(64)
    bad_values = {
        "epochs": [0, -1, 1.5, True, float("nan"), "2", None, 10 ** 30],
        "batch_size": [0, -1, 1.5, float("nan"), "64", None, True],
        "lr": [0, -0.1, float("nan"), float("inf"), -float("inf"), "0.1", None, 1e400, True],
        "momentum": [1, 1.5, -0.1, float("nan"), float("inf"), "0.9"],
        "lr_schedule": ["linear", 3, "cosine!"],
        "validation": [(X,), (X, y[:3]), 5, (X / 127.5 - 1, y)],
        "seed": [-1, "x", 1.5],
        "augment": ["yes", 3],
    }
    for i in range(n):
        kind = i % 8
        net = _net(seed=i % 7)
        if kind in (0, 1):
            arg = rng.choice(list(bad_values))
            value = rng.choice(bad_values[arg])
            cases.append(_argument_case("fit", f"{arg}={_short(value, 30)}",
                                        lambda net=net, a=arg, v=value: net.fit(X, y, epochs=1, progress=False, **{a: v}),
                                        [arg], after=finite_weights(net)))
        elif kind == 2:
            what = rng.choice(list(BAD_IMAGES))
            Xb = BAD_IMAGES[what](X)
            cases.append(_argument_case("fit", f"X {what}", lambda net=net, Xb=Xb: net.fit(Xb, y, epochs=1, progress=False),
                                        ["X"], after=finite_weights(net)))
        elif kind == 3:
            what = rng.choice(list(BAD_LABELS))
            yb = BAD_LABELS[what](y)
            cases.append(_argument_case("fit", f"y {what}", lambda net=net, yb=yb: net.fit(X, yb, epochs=1, progress=False),
                                        ["y"], after=finite_weights(net)))
        elif kind in (4, 5, 6):
            # Learning rates that make training diverge, with 1 .. 4 batches per epoch.
            lr = rng.choice([1e3, 1e5, 1e8, 1e15, 1e30, 3e38])
            m = rng.choice([8, 16, 32, 64])
            batch = rng.choice([m, m // 2, m // 4, 64])
            epochs = rng.randint(1, 3)
            momentum = rng.choice([0.0, 0.9])
            starts = []                             # the weights at the start of each epoch, as fit begins it

            def schedule(epoch, net=net, lr=lr, starts=starts):
                starts.append([p.copy() for p in net.weights + net.biases])
                return lr
            one_batch = batch >= m
            cases.append(Case("fit: divergence", f"lr={lr:g}, {m} images, batch {batch}, {epochs} epochs, momentum {momentum}",
                              lambda net=net, m=m, b=batch, e=epochs, mo=momentum, sch=schedule:
                              net.fit(X[:m], y[:m], epochs=e, batch_size=b, lr=1.0, momentum=mo, progress=False,
                                      lr_schedule=sch),
                              (TrainingDiverged,), ["lr"], bad=None,
                              check=_finite_history(net, (X[:m], y[:m]) if one_batch else None),
                              after=finite_weights(net), on_error=_weights_as_told(net, starts)))
        else:
            cases.append(_argument_case(
                "fit", "valid: float images in [0, 1], a schedule", lambda net=net:
                net.fit(X / 255.0, y, epochs=2, lr=0.05, lr_schedule="cosine", progress=False,
                        validation=(X, y)), ["X"], bad=False, check=_finite_history(net)))
    return cases


def _finite_history(net, data=None):
    """After a normal return: a finite history, finite weights and, with one batch per epoch (so that every
    step was checked on the data), a finite loss on the training data."""
    def check(history):
        if not all(math.isfinite(v) for values in history.values() for v in values):
            return f"returned a history with non-finite values: {history['loss']}"
        broken = finite_weights(net)()
        if broken or data is None:
            return broken
        loss = net.loss(*data)
        return None if math.isfinite(loss) else f"returned normally, and the weights left give loss {loss}"
    return check


def _weights_as_told(net, starts):
    """After TrainingDiverged: the weights are those of the epoch the message names."""
    def on_error(err):
        found = re.search(r"start of epoch (\d+)", str(err))
        if not found:
            return f"the message does not say which weights were kept: {err}"
        epoch = int(found.group(1))
        if not 1 <= epoch <= len(starts) or any(not np.array_equal(p, q) for p, q in
                                                zip(net.weights + net.biases, starts[epoch - 1])):
            return f"the weights are not those from the start of epoch {epoch}, as the message says"
        return None
    return on_error


def instance_cases(rng, n):
    cases = []
    X, y = _data(8)
    bad = {
        "lr": [float("nan"), float("inf"), -1.0, 0, "0.1", None, True, -float("inf")],
        "label": [10, -1, 3.0, 3.5, True, "3", None, [3], np.uint8(12), 2 ** 70],
        "x": [X[:2], X[0, :27], X[0] / 127.5 - 1, np.where(X[0] > 9, np.nan, X[0] / 255.0), X[0].astype(np.int64),
              X[0].astype(np.complex64), X[0].astype(object), np.zeros(785, np.uint8), X[0].astype("U3"), 3],
    }
    for i in range(n):
        net = _net(seed=i % 5)
        before = [p.copy() for p in net.weights + net.biases]
        kind = i % 4
        if kind < 3:
            arg = ["lr", "label", "x"][kind]
            value = rng.choice(bad[arg])
            args = {"x": X[0], "label": 3, "lr": 0.1, arg: value}

            def unchanged(net=net, before=before):
                if any(not np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before)):
                    return "a refused call changed the weights"
                return None
            cases.append(_argument_case("train_on_instance", f"{arg}={_short(value, 30)}",
                                        lambda net=net, a=args: net.train_on_instance(a["x"], a["label"], lr=a["lr"]),
                                        [arg], after=unchanged))
        else:
            lr = rng.choice([1e4, 1e8, 1e20, 1e38, 3e38])
            steps = rng.randint(1, 4)
            last = []                               # the weights before the latest call

            def run(net=net, lr=lr, steps=steps, last=last):
                for k in range(steps):
                    last[:] = [p.copy() for p in net.weights + net.biases]
                    net.train_on_instance(X[k], int(y[k]), lr=lr)

            def unchanged_as_told(err, net=net, last=last):
                if "not changed" not in str(err):
                    return f"the message does not say what happened to the weights: {err}"
                if any(not np.array_equal(p, q) for p, q in zip(net.weights + net.biases, last)):
                    return "the message says the weights were not changed, but they were"
                return None
            cases.append(Case("train_on_instance: divergence", f"lr={lr:g}, {steps} steps", run, (TrainingDiverged,),
                              ["lr"], bad=None, check=lambda _, net=net: finite_weights(net)(),
                              after=finite_weights(net), on_error=unchanged_as_told))
    return cases


def predict_cases(rng, n):
    cases = []
    X, y = _data(32)
    net = _net()
    methods = ["predict", "predict_proba", "evaluate", "loss"]
    for i in range(n):
        method = methods[i % 4]
        kind = rng.random()
        call = getattr(net, method)
        takes_y = method in ("evaluate", "loss")
        if kind < 0.5:
            what = rng.choice(list(BAD_IMAGES))
            Xb = BAD_IMAGES[what](X)
            if what == "0 images" and not takes_y:                  # no images, no predictions: valid
                cases.append(_argument_case(method, "X of 0 images", lambda c=call, Xb=Xb: c(Xb), ["X"], bad=False,
                                            check=lambda r: None if np.shape(r)[0] == 0 else f"returned {_describe(r)}"))
                continue
            if takes_y and what != "0 images":
                yb = y[:len(Xb)] if hasattr(Xb, "__len__") and len(Xb) < len(y) else y
            else:
                yb = y[:0]
            run = (lambda c=call, Xb=Xb, yb=yb: c(Xb, yb)) if takes_y else (lambda c=call, Xb=Xb: c(Xb))
            cases.append(_argument_case(method, f"X {what}", run, ["X"]))
        elif takes_y and kind < 0.8:
            what = rng.choice(list(BAD_LABELS))
            yb = BAD_LABELS[what](y)
            cases.append(_argument_case(method, f"y {what}", lambda c=call, yb=yb: c(X, yb), ["y"]))
        elif method == "evaluate" and kind < 0.9:
            value = rng.choice([0, -1, 2.5, float("nan"), "10", None])
            cases.append(_argument_case(method, f"batch_size={value!r}", lambda v=value: net.evaluate(X, y, batch_size=v),
                                        ["batch_size"]))
        else:
            Xv = rng.choice([X, X / 255.0, X.reshape(32, 784), X[0], X[:1]])
            ref = net.forward(Xv)[-1]
            lead = np.shape(Xv)[:-2] if np.shape(Xv)[-2:] == (28, 28) else np.shape(Xv)[:-1]

            def check(result, method=method, ref=ref, lead=lead, Xv=Xv):
                if method == "predict_proba":
                    ok = np.allclose(result, ref.reshape(lead + (10,)))
                elif method == "predict":
                    ok = np.array_equal(result, ref.argmax(-1).reshape(lead))
                elif method == "evaluate":
                    ok = math.isclose(result, float(np.mean(ref.argmax(-1) == y[:len(ref)])))
                else:
                    ok = math.isclose(result, float(-np.mean(np.log(ref[np.arange(len(ref)), y[:len(ref)]]))), rel_tol=1e-5)
                return None if ok else f"{method} gave {_short(result, 60)}"
            yv = y[:len(ref)]
            run = (lambda c=call, Xv=Xv, yv=yv: c(Xv, yv)) if takes_y else (lambda c=call, Xv=Xv: c(Xv))
            cases.append(_argument_case(method, "valid", run, ["X"], bad=False, check=check))
    return cases


def raster_cases(rng, n):
    cases = []
    caps_points = getattr(preprocess, "MAX_POINTS", 5_000)
    for i in range(n):
        kind = i % 10
        if kind == 0:
            value, bad = rng.choice([([[(-1e6, 140), (1e6, 140)]], False), ([[(-5e8, -5e8), (5e8, 5e8)]], False),
                                     ([[(1e12, 1e12), (-1e12, -1e12)]], True), ([[(5e300, 0), (-5e300, 0)]], True),
                                     ([[(140, -1e9), (140, 1e9)] * 50], None), ([[(-400, -400), (-300, 900)]], False)])
            cases.append(Case("rasterize", f"far off the canvas: {_short(value, 40)}",
                              lambda v=value: preprocess.rasterize([np.array(s, float) for s in v]),
                              (ValueError, TypeError), ["strokes"], bad=bad, check=_canvas_ok))
        elif kind == 1:
            count = rng.choice([1000, caps_points // 2, caps_points])
            g = np.random.default_rng(i)
            scribble = np.clip(140 + np.cumsum(g.normal(0, 1.2, (count, 2)), axis=0), 0, 280)     # a long, slow scribble
            cases.append(Case("rasterize", f"a slow scribble of {count} points",
                              lambda s=scribble: preprocess.rasterize([s]), (ValueError,), ["strokes"],
                              bad=False, check=_canvas_ok))
        elif kind == 2:
            count = rng.choice([caps_points + 1, 10 ** 6, 3 * 10 ** 6, 1000, 3000])
            scribble = np.random.default_rng(i).uniform(0, 280, (count, 2))        # back and forth across the canvas
            cases.append(Case("rasterize", f"{count} points back and forth across the canvas",
                              lambda s=scribble: preprocess.rasterize([s]), (ValueError,), ["strokes"]))
        elif kind == 3:
            value = rng.choice([0, -1, float("nan"), float("inf"), 2000, 1e9, "20", True, -float("inf"), 51])
            cases.append(Case("rasterize", f"line_width={value!r}",
                              lambda v=value: preprocess.rasterize([np.array([[10.0, 10], [200, 200]])], line_width=v),
                              (ValueError, TypeError), ["line_width"]))
        elif kind == 4:
            value = rng.choice([0, -1, 2.5, float("nan"), 10 ** 6, 10 ** 5, "280", None, True])
            cases.append(Case("rasterize", f"size={value!r}",
                              lambda v=value: preprocess.rasterize([np.array([[10.0, 10], [20, 20]])], size=v),
                              (ValueError, TypeError), ["size"]))
        elif kind == 5:
            value = rng.choice(["abc", [[1, 2, 3]], [[[1, 2]], [[np.nan, 1]]], [np.zeros((0, 2))], None, 5, [None],
                                [[(1, 2)], "xy"], np.zeros((3, 2)), [np.zeros((2, 2), dtype=object)],
                                [np.array([[1 + 1j, 2]])], [[("1", "2")]]])
            cases.append(Case("rasterize", f"strokes={_short(value, 40)}", lambda v=value: preprocess.rasterize(v),
                              (ValueError, TypeError), ["strokes"]))
        elif kind == 6:
            g = np.random.default_rng(i)
            strokes = [g.uniform(-100, 380, (g.integers(1, 30), 2)) for _ in range(g.integers(1, 5))]
            width = float(g.uniform(0.5, 100))
            cases.append(Case("rasterize", f"random strokes, width {width:.1f}",
                              lambda s=strokes, w=width: preprocess.rasterize(s, line_width=w), (ValueError,),
                              ["line_width"], bad=width > getattr(preprocess, "MAX_LINE_WIDTH", 1e9), check=_canvas_ok))
        else:
            g = np.random.default_rng(i)
            canvas = g.integers(0, 256, (100, 100), dtype=np.uint8)
            what = rng.choice(["NaN", "float 0..255", "negative", "complex", "object", "(100, 100, 2)", "(0, 5)",
                               "int64", "scalar", "strings", "(10, 10, 10, 3)", "inf"])
            bad_canvas = {"NaN": np.where(canvas > 200, np.nan, canvas / 255.0), "float 0..255": canvas.astype(float),
                          "negative": canvas / 255.0 - 0.5, "complex": canvas.astype(complex),
                          "object": canvas.astype(object), "(100, 100, 2)": np.zeros((100, 100, 2), np.uint8),
                          "(0, 5)": np.zeros((0, 5), np.uint8), "int64": canvas.astype(np.int64), "scalar": 3,
                          "strings": canvas.astype("U3"), "(10, 10, 10, 3)": np.zeros((10, 10, 10, 3), np.uint8),
                          "inf": np.full((100, 100), np.inf)}[what]
            cases.append(Case("to_mnist", f"canvas {what}", lambda c=bad_canvas: preprocess.to_mnist(c),
                              (ValueError, TypeError), ["canvas"]))
    return cases


def _canvas_ok(canvas):
    if not isinstance(canvas, np.ndarray) or canvas.dtype != np.uint8 or canvas.ndim != 2:
        return f"returned {_describe(canvas)}"
    return None


# --- the table ---

FAMILIES = {
    "idx": lambda rng, tmp, n: idx_cases(rng, tmp, n),
    "model-npz": lambda rng, tmp, n: model_npz_cases(rng, tmp, n),
    "model-json": lambda rng, tmp, n: model_json_cases(rng, tmp, n),
    "convnet-npz": lambda rng, tmp, n: convnet_npz_cases(rng, tmp, n),
    "convnet-json": lambda rng, tmp, n: convnet_json_cases(rng, tmp, n),
    "strokeset": lambda rng, tmp, n: strokeset_cases(rng, tmp, n),
    "taught": lambda rng, tmp, n: taught_cases(rng, tmp, n),
    "pad": lambda rng, tmp, n: pad_cases(rng, tmp, n),
    "teacher": lambda rng, tmp, n: teacher_cases(rng, n),
    "app": lambda rng, tmp, n: app_cases(rng, tmp, n),
    "mlp": lambda rng, tmp, n: mlp_cases(rng, n),
    "fit": lambda rng, tmp, n: fit_cases(rng, n),
    "instance": lambda rng, tmp, n: instance_cases(rng, n),
    "predict": lambda rng, tmp, n: predict_cases(rng, n),
    "raster": lambda rng, tmp, n: raster_cases(rng, n),
}
DEFAULT_CASES = {"idx": 480, "model-npz": 500, "model-json": 400, "convnet-npz": 400, "convnet-json": 400, "strokeset": 280, "taught": 240, "pad": 80,
                 "teacher": 160, "app": 120, "mlp": 150,
                 "fit": 200, "instance": 160, "predict": 200, "raster": 150}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default=",".join(FAMILIES), help="comma-separated: " + ", ".join(FAMILIES))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every family's number of cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory", type=int, default=512, help="MB of address space a case may add")
    parser.add_argument("--seconds", type=float, default=60.0, help="time cap per case")
    parser.add_argument("--show", default="unclear,silent,blow-up,crash,lost",
                        help="list the cases that ended these ways (comma-separated outcomes)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    show = set(args.show.split(",")) if args.show else set()
    tmp = Path(tempfile.mkdtemp(prefix="ocrlib-fuzz-"))
    rows, listed, started = {}, [], time.monotonic()
    try:
        for family in args.family.split(","):
            cases = FAMILIES[family](rng, tmp, max(1, round(DEFAULT_CASES[family] * args.scale)))
            for case in cases:
                outcome, detail = run_case(case, args.memory * MB, args.seconds)
                row = rows.setdefault(case.family, dict.fromkeys(OUTCOMES, 0))
                row[outcome] += 1
                if outcome in show:
                    listed.append(f"{outcome:8} {case.family}: {case.what}\n         {detail}")
            print(f"{family}: {len(cases)} cases, {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    for line in listed:
        print(line)
    print()
    print(table(rows))
    print(f"\n{sum(sum(r.values()) for r in rows.values())} cases, seed {args.seed}, memory cap {args.memory} MB, "
          f"time cap {args.seconds:g} s, {time.monotonic() - started:.0f} s; ocrlib {ocrlib.__version__}, numpy {np.__version__}")
    failures = sum(r[k] for r in rows.values() for k in ("unclear", "silent", "blow-up", "crash", "lost"))
    return 1 if failures else 0


def table(rows):
    head = "| family | tried | clear error | valid, right answer | unclear error | silently wrong | memory blow-up | crash | drawings lost |"
    lines = [head, "|---|" + "---:|" * 8]
    total = dict.fromkeys(OUTCOMES, 0)
    for family, row in rows.items():
        lines.append(f"| {family} | {sum(row.values())} | " + " | ".join(str(row[k]) for k in OUTCOMES) + " |")
        for k in OUTCOMES:
            total[k] += row[k]
    lines.append(f"| **all** | **{sum(total.values())}** | " + " | ".join(f"**{total[k]}**" for k in OUTCOMES) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
