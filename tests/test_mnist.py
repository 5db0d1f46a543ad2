import gzip
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ocrlib
from ocrlib.mnist import FILES, IDX_DTYPES, IDXError, parse_idx, read_idx


def idx_bytes(array, code):
    dtype = IDX_DTYPES[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write_split(folder, images, labels, split="train"):
    image_name, label_name = FILES[split]
    (folder / image_name).write_bytes(gzip.compress(idx_bytes(images, 0x08)))
    (folder / label_name).write_bytes(gzip.compress(idx_bytes(labels, 0x08)))


# --- the real data ---

@pytest.mark.parametrize("split, n, first_labels", [
    ("train", 60_000, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
    ("test", 10_000, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]),
])
def test_load_mnist(split, n, first_labels):
    images, labels = ocrlib.load_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == first_labels
    assert np.bincount(labels, minlength=10).min() > n // 20      # every digit is there
    assert images.max() == 255 and images.min() == 0


def test_unknown_split():
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'validation'"):
        ocrlib.load_mnist("validation")


# --- read_idx on every dtype, any number of dimensions, raw or gzip ---

@pytest.mark.parametrize("code", sorted(IDX_DTYPES))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_roundtrip(tmp_path, code, shape, gz):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal(shape) * 50).astype(IDX_DTYPES[code].newbyteorder("="))
    if IDX_DTYPES[code].kind == "u":
        array = np.abs(array)
    data = idx_bytes(array, code)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    out = read_idx(path)
    assert out.shape == shape and out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)


def test_read_idx_zero_dimensions(tmp_path):
    path = tmp_path / "scalar.idx"
    path.write_bytes(struct.pack(">BBBB", 0, 0, 0x08, 0) + b"\x2a")
    assert read_idx(path) == 42


# --- every bad input gets a clear error naming the file ---

def bad(tmp_path, data, name="bad.idx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")


def test_missing_mnist_file_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz.*looked in .*" + tmp_path.name):
        ocrlib.load_mnist("train", data_dir=tmp_path)


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad magic number 01000801"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown dtype code 0x07"),
    (b"\x00\x00", "too short for the 4-byte IDX magic number"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated header: 3 dimensions need 16 bytes"),
])
def test_bad_header(tmp_path, data, message):
    path = bad(tmp_path, data)
    with pytest.raises(IDXError, match=f"{path}.*{message}"):
        read_idx(path)


def test_truncated_data(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08)
    path = bad(tmp_path, data[:-10])
    with pytest.raises(IDXError, match=rf"{path}.*truncated data: header shape \(4, 28, 28\) needs 3136 bytes, found 3126"):
        read_idx(path)


def test_header_disagrees_with_payload(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08)
    path = bad(tmp_path, data + b"\x00" * 784)
    with pytest.raises(IDXError, match=rf"{path}.*header shape \(4, 28, 28\) needs 3136 bytes but the file holds 3920"):
        read_idx(path)


def test_huge_header_sizes(tmp_path):
    path = bad(tmp_path, b"\x00\x00\x0e\x04" + b"\xff" * 16 + b"\x00" * 8)
    with pytest.raises(IDXError, match="truncated data"):
        read_idx(path)


def test_not_gzip(tmp_path):
    path = bad(tmp_path, b"this is not gzip", name="x.idx.gz")
    with pytest.raises(IDXError, match=f"{path}.*not a valid gzip file"):
        read_idx(path)


def test_image_and_label_counts_differ(tmp_path):
    write_split(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match="holds 5 images but .*train-labels-idx1-ubyte.gz holds 4 labels"):
        ocrlib.load_mnist("train", data_dir=tmp_path)


def test_images_of_the_wrong_shape(tmp_path):
    write_split(tmp_path, np.zeros((5, 20, 20), np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(IDXError, match=r"expected uint8 images of shape \(N, 28, 28\), got uint8 \(5, 20, 20\)"):
        ocrlib.load_mnist("train", data_dir=tmp_path)


def test_custom_data_dir_loads(tmp_path):
    images = np.arange(3 * 784, dtype=np.uint8).reshape(3, 28, 28)
    write_split(tmp_path, images, np.array([1, 2, 3], np.uint8), split="test")
    X, y = ocrlib.load_mnist("test", data_dir=tmp_path)
    np.testing.assert_array_equal(X, images)
    assert y.tolist() == [1, 2, 3]


def test_checksum_mismatch(tmp_path):
    write_split(tmp_path, np.zeros((5, 28, 28), np.uint8), np.zeros(5, np.uint8))
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.gz: SHA-256 checksum mismatch"):
        ocrlib.load_mnist("train", data_dir=tmp_path, verify=True)


# --- fuzzing: random or mutated bytes only ever raise the clear error ---

def check_parse(data):
    try:
        out = parse_idx(data, name="fuzz.idx")
    except IDXError as err:
        assert "fuzz.idx" in str(err)
    else:
        assert isinstance(out, np.ndarray)


@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data):
    check_parse(data)


VALID = idx_bytes(np.arange(24, dtype=np.int16).reshape(2, 3, 4), 0x0B)


@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(VALID)), st.binary(max_size=8))
def test_fuzz_mutated_file(flips, cut, tail):
    data = bytearray(VALID)
    for index, value in flips:
        data[index] = value
    check_parse(bytes(data[:cut]) + tail)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=100))
def test_fuzz_gzip_files(tmp_path, data):
    path = tmp_path / "fuzz.idx.gz"
    path.write_bytes(data)
    with pytest.raises(IDXError, match="fuzz.idx.gz"):
        read_idx(path)
