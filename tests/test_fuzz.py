"""Generated bad input for every format and public function: a clear error naming the file or argument,
or the right answer, never a bare library exception. A few dozen cases each, to keep the suite quick;
``python scripts/fuzz.py`` runs thousands, each in a child process with a memory cap."""

import io
import json
import math
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocrlib import load_model
from ocrlib.convnet import ConvNet
from ocrlib.mnist import MAX_IDX_BYTES, IDXError, parse_idx, read_idx
from ocrlib.modelfile import ModelFileError
from ocrlib.network import MLP, TrainingDiverged
from ocrlib.preprocess import MAX_LINE_WIDTH, rasterize, to_mnist
from ocrlib.strokeset import StrokeSetError, load_stroke_set, pack

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def flip_bits(data, positions):
    data = bytearray(data)
    for position, bit in positions:
        data[position % len(data)] ^= 1 << bit
    return bytes(data)


flips = st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 7)), min_size=1, max_size=4)


# --- IDX ---

def idx_reference(data):
    """The IDX format read independently: the array, or None if the bytes are not a valid file."""
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(data) < 4 or data[0] or data[1] or data[2] not in types or len(data) < 4 + 4 * data[3]:
        return None
    shape = struct.unpack(f">{data[3]}I", data[4:4 + 4 * data[3]])
    dtype = np.dtype(types[data[2]])
    if len(data) - 4 - 4 * data[3] != math.prod(shape) * dtype.itemsize:
        return None
    if math.prod(d for d in shape if d) * dtype.itemsize > MAX_IDX_BYTES:      # the documented cap
        return None
    return np.frombuffer(data[4 + 4 * data[3]:], dtype).reshape(shape)


idx_headers = st.builds(lambda code, dims, payload: bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
                        + payload,
                        st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x07]),
                        st.lists(st.one_of(st.integers(0, 4), st.integers(0, 2 ** 32 - 1)), max_size=4),
                        st.binary(max_size=64))


@FEW
@given(st.one_of(st.binary(max_size=80), idx_headers))
def test_idx_bytes_give_the_array_or_an_idx_error(data):
    expected = idx_reference(data)
    try:
        array = parse_idx(data, name="fuzz.idx")
    except IDXError as err:
        assert "fuzz.idx" in str(err)
        assert expected is None
    else:
        assert expected is not None and np.array_equal(array, expected, equal_nan=True)


@FEW
@given(flips)
def test_damaged_gzip_idx_gives_the_array_or_an_idx_error(tmp_path, positions):
    import gzip
    path = tmp_path / "images.idx.gz"
    good = bytes([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2]) + bytes(range(6))
    path.write_bytes(flip_bits(gzip.compress(good, mtime=0), positions))
    try:
        array = read_idx(path)
    except IDXError as err:
        assert str(path) in str(err)
    else:
        assert array.tolist() == [[0, 1], [2, 3], [4, 5]]


# --- model files ---

@pytest.fixture(scope="module")
def small_net():
    return MLP((12, 5, 3), activation="tanh", seed=3)


def same_net(a, b):
    return a.sizes == b.sizes and a.activation == b.activation and all(
        np.array_equal(a.params[k], b.params[k]) for k in a.params)


@FEW
@given(flips, st.booleans(), st.integers(0, 2000))
def test_damaged_npz_model_loads_unchanged_or_raises_model_file_error(tmp_path, small_net, positions, cut, length):
    path = tmp_path / "model.npz"
    small_net.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:length] if cut else flip_bits(data, positions))
    try:
        loaded = MLP.load(path)
    except ModelFileError as err:
        assert str(path) in str(err)
    else:
        assert same_net(loaded, small_net)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                        max_size=4), max_leaves=20)


@FEW
@given(st.sampled_from(["format", "sizes", "activation", "W1", "b1", "W2", "b2", "W3", "theta1"]), json_values)
def test_json_model_with_any_value_in_any_key_loads_or_raises_model_file_error(tmp_path, small_net, key, value):
    path = tmp_path / "model.json"
    small_net.save(path)
    doc = json.loads(path.read_text())
    doc[key] = value
    path.write_text(json.dumps(doc))
    try:
        loaded = MLP.load(path)
    except ModelFileError as err:
        assert str(path) in str(err)
    else:                                                       # only a value the format allows gets through
        assert all(np.all(np.isfinite(p)) and p.dtype == np.float32 for p in loaded.params.values())
        assert key in ("W1", "b1", "W2", "b2") and not isinstance(value, bool)


# --- stroke sets ---

@FEW
@given(st.sampled_from(["points", "stroke_starts", "drawing_starts", "labels", "source", "mnist_index"]),
       st.one_of(st.lists(st.integers(-3, 300), max_size=6).map(np.array),
                 st.lists(st.floats(), max_size=6).map(np.array),
                 st.lists(st.lists(st.floats(-10, 300), min_size=2, max_size=2), max_size=6).map(np.array)))
def test_stroke_set_with_any_array_changed_loads_or_raises_stroke_set_error(tmp_path, key, value):
    drawings = [[np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)], [np.array([[5.0, 6.0]], np.float32)] * 2]
    arrays = pack(drawings, [3, 7], source=[1, 1], mnist_index=[-1, -1])
    arrays[key] = value
    path = tmp_path / "strokes.npz"
    np.savez(path, **arrays)
    try:
        loaded, labels = load_stroke_set(path)
    except StrokeSetError as err:
        assert str(path) in str(err)
    else:                                                       # whatever loads is drawings of digits
        assert len(loaded) == len(labels) and all(0 <= label <= 9 for label in labels)
        assert all(s.ndim == 2 and s.shape[1] == 2 and len(s) and np.isfinite(s).all() for d in loaded for s in d)


# --- arguments ---

sizes_values = st.one_of(st.text(max_size=4), st.integers(), st.floats(),
                         st.lists(st.one_of(st.integers(-2, 40), st.floats(0, 40), st.booleans()), max_size=4))


@FEW
@given(sizes_values)
def test_mlp_sizes_build_what_they_say_or_raise(sizes):
    try:
        net = MLP(sizes)
    except (ValueError, TypeError) as err:
        assert "sizes" in str(err)
    else:
        assert list(net.sizes) == list(sizes) and all(type(s) is int and s >= 1 for s in sizes)


numbers = st.one_of(st.floats(), st.integers(-5, 5), st.sampled_from([1e30, 3e38, "0.1", None, True]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")          # overflow on the way to divergence
@FEW
@given(numbers)
def test_fit_learning_rates_train_diverge_truthfully_or_are_refused(lr):
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8), rng.integers(0, 10, 8)
    net = MLP((784, 6, 10), seed=1)
    before = [p.copy() for p in net.weights + net.biases]
    try:
        history = net.fit(X, y, epochs=2, batch_size=8, lr=lr, progress=False)
    except TrainingDiverged as err:
        assert "lr=" in str(err) and "start of epoch" in str(err)
    except ValueError as err:
        assert "lr" in str(err)
        assert all(np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before))
    else:
        assert all(math.isfinite(v) for v in history["loss"]) and math.isfinite(net.loss(X, y))
    assert all(np.all(np.isfinite(p)) for p in net.weights + net.biases)


@FEW
@given(numbers, st.one_of(st.integers(-2, 12), st.floats(), st.booleans(), st.text(max_size=2)))
def test_train_on_instance_steps_or_refuses_and_leaves_finite_weights(lr, label):
    x = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    net = MLP((784, 6, 10), seed=2)
    before = [p.copy() for p in net.weights + net.biases]
    try:
        net.train_on_instance(x, label, lr=lr)
    except TrainingDiverged as err:
        assert "not changed" in str(err)
        assert all(np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before))
    except ValueError as err:
        assert "lr" in str(err) or "label" in str(err)
        assert all(np.array_equal(p, q) for p, q in zip(net.weights + net.biases, before))
    assert all(np.all(np.isfinite(p)) for p in net.weights + net.biases)


@FEW
@given(st.lists(st.tuples(st.integers(0, 783), st.floats(width=32)), max_size=5))
def test_float_pixels_outside_0_1_are_refused(pixels):
    net = MLP((784, 6, 10))
    X = np.full(784, 0.5, np.float32)
    for i, value in pixels:
        X[i] = value
    ok = bool(np.all((X >= 0) & (X <= 1)))
    for method in (net.predict, net.predict_proba, lambda X: net.evaluate(X, [3]), lambda X: net.loss(X, [3])):
        try:
            method(X)
        except ValueError as err:
            assert not ok and "X" in str(err)
        else:
            assert ok


@pytest.mark.parametrize("method", ["evaluate", "loss", "fit"])
def test_no_images_is_an_error_naming_x(method):
    net = MLP((784, 6, 10))
    kwargs = {"progress": False} if method == "fit" else {}
    with pytest.raises(ValueError, match="X holds no images"):
        getattr(net, method)(np.zeros((0, 28, 28), np.uint8), np.zeros(0, int), **kwargs)


coordinates = st.one_of(st.floats(-400, 700), st.floats(allow_nan=True, allow_infinity=True), st.just(1e12))
strokes = st.lists(st.lists(st.tuples(coordinates, coordinates), max_size=6).map(
    lambda points: np.array(points, dtype=float).reshape(-1, 2)), max_size=3)


@FEW
@given(strokes, st.one_of(st.none(), st.floats(), st.integers(-2, 200)), st.sampled_from([28, 100, 280, 0, 10 ** 6]))
def test_rasterize_draws_or_names_the_argument(strokes, line_width, size):
    try:
        canvas = rasterize(strokes, size=size, line_width=line_width)
    except (ValueError, TypeError) as err:
        assert any(name in str(err) for name in ("strokes", "line_width", "size"))
        assert (size not in (28, 100, 280) or line_width is not None and not 0 < line_width <= MAX_LINE_WIDTH
                or any(len(s) == 0 or not np.isfinite(s).all() or np.abs(s).max() > 1e9 for s in strokes))
    else:
        assert canvas.shape == (size, size) and canvas.dtype == np.uint8
        assert to_mnist(canvas) is None or to_mnist(canvas).shape == (28, 28)


@FEW
@given(st.sampled_from([np.float32, np.float64, np.int64, np.complex64, object, bool]),
       st.floats(-2, 2), st.sampled_from([(30, 30), (30, 30, 3), (30, 30, 2), (0, 4), (5,)]))
def test_to_mnist_takes_pictures_or_names_the_canvas(dtype, value, shape):
    canvas = np.full(shape, value).astype(dtype)
    try:
        image = to_mnist(canvas)
    except (ValueError, TypeError) as err:
        assert "canvas" in str(err)
    else:
        assert image is None or (image.shape == (28, 28) and 0 <= image.min() <= image.max() <= 1)


def test_npz_member_declaring_a_huge_array_is_refused_before_reading(tmp_path, small_net):
    path = tmp_path / "model.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (100000, 100000)})
    arrays = dict(small_net.params, sizes=np.array(small_net.sizes), activation=np.array(small_net.activation))
    import zipfile
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, value)
            zf.writestr(f"{name}.npy", header.getvalue() + b"\0" * 16 if name == "W1" else buffer.getvalue())
    with pytest.raises(ModelFileError, match=r"model.npz: array 'W1': its header declares shape \(100000, 100000\)"):
        MLP.load(path)


# --- ConvNet model files ---

@pytest.fixture(scope="module")
def small_convnet():
    net = ConvNet((2, 3), 5, seed=3)
    for b in net.biases:
        b[...] = np.random.default_rng(3).standard_normal(b.shape)
    return net


def same_convnet(a, b):
    return (isinstance(a, ConvNet) and (a.channels, a.hidden, a.kernel_size) == (b.channels, b.hidden, b.kernel_size)
            and all(np.array_equal(a.params[k], b.params[k]) for k in b.params))


def load_both(path):
    """``ConvNet.load`` and ``ocrlib.load_model`` on one file: both networks, or ModelFileErrors from both."""
    results = []
    for load in (ConvNet.load, load_model):
        try:
            results.append(load(path))
        except ModelFileError as err:
            assert str(path) in str(err)
            results.append(None)
    assert (results[0] is None) == (results[1] is None), "one loader read the file, the other refused it"
    return results


@FEW
@given(flips, st.booleans(), st.integers(0, 20000), st.booleans())
def test_damaged_convnet_npz_loads_unchanged_or_raises_model_file_error(tmp_path, small_convnet, positions, cut,
                                                                         length, compressed):
    path = tmp_path / "convnet.npz"
    small_convnet.save(path)
    if compressed:
        np.savez_compressed(path, **dict(np.load(path)))
    data = path.read_bytes()
    path.write_bytes(data[:length] if cut else flip_bits(data, positions))
    for loaded in load_both(path):
        assert loaded is None or same_convnet(loaded, small_convnet)


architecture_arrays = st.one_of(
    st.lists(st.integers(-3, 12), max_size=3).map(np.array), st.integers(-2 ** 63, 2 ** 63 - 1).map(np.array),
    st.sampled_from([np.array(5.0), np.array([2.0, 3.0]), np.array(True), np.array([True, True]), np.array("5"),
                     np.array(5 + 0j), np.array(2 ** 64 - 1, np.uint64), np.array([2, 3], np.uint8),
                     np.array(5, np.int8), np.array([[2, 3]]), np.array([10 ** 6, 10 ** 6]), np.array(10 ** 9)]))


@FEW
@given(st.sampled_from(["channels", "hidden", "kernel_size"]), architecture_arrays)
def test_convnet_npz_with_any_architecture_loads_what_it_says_or_raises(tmp_path, small_convnet, key, value):
    path = tmp_path / "convnet.npz"
    small_convnet.save(path)
    arrays = dict(np.load(path))
    arrays[key] = value
    np.savez(path, **arrays)
    for loaded in load_both(path):                   # only the saved architecture fits the saved arrays
        assert loaded is None or (same_convnet(loaded, small_convnet) and value.dtype.kind in "iu"
                                  and np.array_equal(value, arrays[key]))


@FEW
@given(st.sampled_from(["K1", "b2", "W3", "b4"]),
       st.sampled_from(["int32", "uint8", "complex64", "complex128", "bool", "datetime64[s]", "S4", "U3", "object",
                        "float16", "float64"]))
def test_convnet_npz_weights_of_any_dtype_load_as_floats_or_raise(tmp_path, small_convnet, name, dtype):
    path = tmp_path / "convnet.npz"
    small_convnet.save(path)
    arrays = dict(np.load(path))
    arrays[name] = arrays[name].astype(dtype)
    import zipfile
    with zipfile.ZipFile(path, "w") as zf:           # np.savez would pickle the object array: written by hand
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, value, allow_pickle=True)
            zf.writestr(f"{key}.npy", buffer.getvalue())
    for loaded in load_both(path):
        assert (loaded is not None) == dtype.startswith("float")
        if loaded is not None:
            assert np.array_equal(loaded.params[name], arrays[name].astype(np.float32))


@FEW
@given(st.sampled_from(["format", "channels", "hidden", "kernel_size", "K1", "b1", "W3", "b4", "sizes"]), json_values)
def test_convnet_json_with_any_value_in_any_key_loads_or_raises_model_file_error(tmp_path, small_convnet, key, value):
    path = tmp_path / "convnet.json"
    small_convnet.save(path)
    doc = json.loads(path.read_text())
    doc[key] = value
    path.write_text(json.dumps(doc))
    for loaded in load_both(path):                   # no small JSON value is a whole weight array of the right shape
        assert loaded is None


@pytest.mark.parametrize("key, value", [("hidden", True), ("hidden", 5.0), ("hidden", "5"), ("hidden", None),
                                        ("channels", [2, True]), ("channels", [2.0, 3]), ("kernel_size", -5),
                                        ("kernel_size", 10), ("hidden", 10 ** 12), ("channels", [10 ** 6, 10 ** 6])])
def test_convnet_json_architecture_of_anything_but_whole_numbers_is_refused(tmp_path, small_convnet, key, value):
    path = tmp_path / "convnet.json"
    small_convnet.save(path)
    doc = json.loads(path.read_text())
    doc[key] = value
    path.write_text(json.dumps(doc))
    assert load_both(path) == [None, None]


@pytest.mark.parametrize("where", ["K1", "the document"])
def test_convnet_json_nested_a_million_deep_is_a_model_file_error(tmp_path, small_convnet, where):
    path = tmp_path / "convnet.json"
    small_convnet.save(path)
    deep = "[" * 10 ** 6 + "0" + "]" * 10 ** 6
    text = path.read_text()
    path.write_text("[" * 10 ** 6 + text + "]" * 10 ** 6 if where == "the document"
                    else text.replace('"K1": ', f'"K1": {deep}, "x": ', 1))
    assert load_both(path) == [None, None]


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_a_model_file_of_one_kind_given_to_the_other_kinds_load_says_which_it_is(tmp_path, small_convnet, small_net,
                                                                                 suffix):
    mlp_path, convnet_path = tmp_path / f"mlp{suffix}", tmp_path / f"convnet{suffix}"
    small_net.save(mlp_path)
    small_convnet.save(convnet_path)
    with pytest.raises(ModelFileError, match=re.escape(str(mlp_path)) + ": (an MLP model file|.*got 'ocrlib.MLP')"):
        ConvNet.load(mlp_path)                      # the .json message names the MLP's format string
    with pytest.raises(ModelFileError, match=re.escape(str(convnet_path)) + ": a ConvNet model file"):
        MLP.load(convnet_path)
    assert same_net(load_model(mlp_path), small_net)
    assert all(same_convnet(net, small_convnet) for net in load_both(convnet_path))


def test_convnet_npz_member_declaring_a_huge_array_is_refused_before_reading(tmp_path, small_convnet):
    path = tmp_path / "convnet.npz"
    small_convnet.save(path)
    arrays = dict(np.load(path))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (5, 5, 1, 10 ** 9)})
    import zipfile
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, value)
            zf.writestr(f"{name}.npy", header.getvalue() + b"\0" * 16 if name == "K1" else buffer.getvalue())
    for load in (ConvNet.load, load_model):
        with pytest.raises(ModelFileError, match=r"convnet.npz: array 'K1': its header declares shape \(5, 5, 1, 1000000000\)"):
            load(path)


def test_convnet_json_with_a_weight_given_twice_with_other_numbers_is_refused(tmp_path, small_convnet):
    path = tmp_path / "convnet.json"
    small_convnet.save(path)
    text = path.read_text()
    path.write_text(text[:-1] + ', "b2": ' + json.dumps((-small_convnet.params["b2"]).tolist()) + "}")
    assert load_both(path) == [None, None]
