import errno
import json
import os
import stat

import numpy as np
import pytest

import ocrlib
from ocrlib.atomic import atomic_write
from ocrlib.modelfile import ModelFileError
from ocrlib.network import MLP


@pytest.fixture
def net():
    return MLP((784, 16, 8, 10), activation="tanh", seed=4)


def same_model(a, b):
    assert a.sizes == b.sizes and a.activation == b.activation
    for name, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[name])


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_roundtrip(tmp_path, net, suffix):
    path = tmp_path / f"model{suffix}"
    net.save(path)
    loaded = MLP.load(path)
    same_model(net, loaded)
    x = np.random.default_rng(0).random((3, 784))
    np.testing.assert_array_equal(loaded.predict_proba(x), net.predict_proba(x))


def test_json_is_readable_by_people(tmp_path, net):
    path = tmp_path / "model.json"
    net.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "ocrlib.MLP"
    assert doc["sizes"] == [784, 16, 8, 10] and doc["activation"] == "tanh"
    assert len(doc["W1"]) == 784 and len(doc["W1"][0]) == 16


def test_saved_file_has_ordinary_permissions(tmp_path, net):
    path = tmp_path / "model.npz"
    net.save(path)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044                 # readable by others, as open() would make it


@pytest.mark.parametrize("transpose", [False, True])
def test_original_ocr_ai_layout(tmp_path, transpose):
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((784, 25)), rng.standard_normal((25, 10))
    b1, b2 = rng.standard_normal(25), rng.standard_normal(10)
    doc = {"theta1": (W1.T if transpose else W1).tolist(), "theta2": (W2.T if transpose else W2).tolist(),
           "b1": [b1.tolist()], "b2": b2.reshape(10, 1).tolist()}
    path = tmp_path / "neural_network.json"
    path.write_text(json.dumps(doc))
    net = MLP.load(path)
    assert net.sizes == (784, 25, 10) and net.activation == "sigmoid"
    np.testing.assert_allclose(net.params["W1"], W1, rtol=1e-6)
    np.testing.assert_allclose(net.params["W2"], W2, rtol=1e-6)
    np.testing.assert_allclose(net.params["b1"], b1, rtol=1e-6)


def test_original_layout_that_fits_no_orientation(tmp_path):
    path = tmp_path / "neural_network.json"
    path.write_text(json.dumps({"theta1": np.zeros((784, 25)).tolist(), "theta2": np.zeros((24, 10)).tolist(),
                                "b1": [0] * 25, "b2": [0] * 10}))
    with pytest.raises(ModelFileError, match=r"neural_network.json: theta1 \(784, 25\) and theta2 \(24, 10\) do not fit"):
        MLP.load(path)


def test_original_layout_missing_key(tmp_path):
    path = tmp_path / "neural_network.json"
    path.write_text(json.dumps({"theta1": [[0]], "theta2": [[0]], "b1": [0]}))
    with pytest.raises(ModelFileError, match="neural_network.json: original OCR_AI layout is missing key 'b2'"):
        MLP.load(path)


# --- bad files: clear errors naming the file ---

def edited(tmp_path, net, **changes):
    path = tmp_path / "model.json"
    net.save(path)
    doc = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    path.write_text(json.dumps(doc))
    return path


def test_missing_key(tmp_path, net):
    with pytest.raises(ModelFileError, match=r"model.json: missing key 'b2' for sizes \(784, 16, 8, 10\)"):
        MLP.load(edited(tmp_path, net, b2=None))


def test_missing_sizes(tmp_path, net):
    with pytest.raises(ModelFileError, match="model.json: missing key 'sizes'"):
        MLP.load(edited(tmp_path, net, sizes=None))


def test_wrong_shape(tmp_path, net):
    with pytest.raises(ModelFileError, match=r"model.json: W2 must be 16 lists of 8 numbers, got \[\[0.0"):
        MLP.load(edited(tmp_path, net, W2=np.zeros((16, 7)).tolist()))


def test_non_finite_values_in_npz(tmp_path, net):
    path = tmp_path / "model.npz"
    params = dict(net.params, sizes=np.array(net.sizes), activation=np.array(net.activation))
    params["b1"] = params["b1"].copy()
    params["b1"][3] = np.nan
    np.savez(path, **params)
    with pytest.raises(ModelFileError, match="model.npz: b1 holds NaN, infinite or too large values"):
        MLP.load(path)


def test_unknown_activation(tmp_path, net):
    with pytest.raises(ModelFileError, match="model.json: unknown activation 'gelu'"):
        MLP.load(edited(tmp_path, net, activation="gelu"))


def test_not_json(tmp_path):
    path = tmp_path / "model.json"
    path.write_text("{not json")
    with pytest.raises(ModelFileError, match="model.json: not valid JSON"):
        MLP.load(path)


def test_not_npz(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match=r"model.npz: not a .npz archive \(BadZipFile"):
        MLP.load(path)


def test_npz_with_a_pickled_object_is_refused_without_running_it(tmp_path, net):
    path = tmp_path / "model.npz"
    params = dict(net.params, sizes=np.array(net.sizes), activation=np.array([{"evil": True}], dtype=object))
    np.savez(path, **params)
    with pytest.raises(ModelFileError, match="model.npz: array 'activation' has dtype object; expected text"):
        MLP.load(path)


@pytest.mark.parametrize("method", ["save", "load"])
def test_unknown_extension(tmp_path, net, method):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"model.pkl: expected a model file name ending in .npz or .json, got '.pkl'"):
        net.save(path) if method == "save" else MLP.load(path)


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found: .*absent.npz"):
        MLP.load(tmp_path / "absent.npz")


def test_save_into_a_missing_folder(tmp_path, net):
    with pytest.raises(FileNotFoundError, match="folder .*nowhere does not exist"):
        net.save(tmp_path / "nowhere" / "model.npz")


def test_refuses_to_save_non_finite_weights(tmp_path, net):
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()
    net.weights[0][0, 0] = np.inf
    with pytest.raises(ModelFileError, match="model.npz: refusing to save W1, which holds NaN or infinite values"):
        net.save(path)
    assert path.read_bytes() == before


# --- atomic writes: a crash or a full disk mid-save leaves the old file ---

@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_crash_mid_save_keeps_the_previous_file(tmp_path, net, monkeypatch, suffix):
    path = tmp_path / f"model{suffix}"
    net.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(os, "fsync", crash)
    net.weights[0] += 1
    with pytest.raises(KeyboardInterrupt):
        net.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no temporary file left behind


def test_full_disk_keeps_the_previous_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old contents")

    def write(f):
        f.write(b"half of the new")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, write)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_pretrained_loads_and_is_a_model():
    net = ocrlib.load_pretrained()
    assert net.sizes[0] == 784 and net.sizes[-1] == 10
    assert net.predict(np.zeros((28, 28), np.uint8)).shape == ()
