import json
import zipfile

import numpy as np
import pytest

import ocrlib
from ocrlib.convnet import ConvNet, ConvTrainer, col2im, conv, im2col, pool, pool_backward
from ocrlib.modelfile import ModelFileError
from ocrlib.network import MLP, TrainingDiverged

NAMES = ("K1", "K2", "W3", "W4", "b1", "b2", "b3", "b4")


@pytest.fixture(scope="module")
def mnist_subset():
    X, y = ocrlib.load_mnist("train")
    Xt, yt = ocrlib.load_mnist("test")
    return X[:3000], y[:3000], Xt[:1000], yt[:1000]


def small(seed=0, dtype=np.float32):
    return ConvNet(channels=(3, 4), hidden=8, seed=seed, dtype=dtype)


# --- the layers ---

def test_conv_is_the_sum_over_each_window():
    rng = np.random.default_rng(0)
    x, K, b = rng.random((2, 7, 6, 3)), rng.standard_normal((3, 3, 3, 4)), rng.standard_normal(4)
    z, cols = conv(x, K, b)
    assert z.shape == (2, 5, 4, 4) and cols.shape == (2, 5, 4, 27)
    by_hand = np.zeros_like(z)
    for n in range(2):
        for h in range(5):
            for w in range(4):
                for c in range(4):
                    by_hand[n, h, w, c] = np.sum(x[n, h:h + 3, w:w + 3, :] * K[:, :, :, c]) + b[c]
    np.testing.assert_allclose(z, by_hand, rtol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 8, 3))
    cols = im2col(x, 4)
    c = rng.standard_normal(cols.shape)
    # <im2col(x), c> = <x, col2im(c)>: col2im sends each window's gradient back to where the window lay
    assert np.sum(cols * c) == pytest.approx(np.sum(x * col2im(c, x.shape, 4)), rel=1e-12)


def test_pool_takes_each_blocks_maximum_and_its_gradient_goes_to_the_first_maximum():
    a = np.array([[1., 5., 2., 2.],
                  [3., 4., 2., 2.],
                  [0., 0., 7., 1.],
                  [0., 0., 1., 6.]]).reshape(1, 4, 4, 1)
    pooled = pool(a)
    np.testing.assert_array_equal(pooled[0, :, :, 0], [[5, 2], [0, 7]])
    da = pool_backward(np.ones_like(pooled), a, pooled)[0, :, :, 0]
    np.testing.assert_array_equal(da, [[0, 1, 1, 0],          # a tie (2, 2, 2, 2) passes the gradient on once
                                       [0, 0, 0, 0],
                                       [1, 0, 1, 0],
                                       [0, 0, 0, 0]])


# --- forward and backward ---

def test_forward_shapes_and_probabilities():
    net = ConvNet(seed=3)
    s = net.forward(np.random.default_rng(0).random((5, 28, 28)))
    assert s["a1"].shape == (5, 24, 24, 16) and s["p1"].shape == (5, 12, 12, 16)
    assert s["a2"].shape == (5, 8, 8, 32) and s["f"].shape == (5, 512) and s["a3"].shape == (5, 128)
    np.testing.assert_allclose(s["p"].sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_backward_matches_finite_differences(seed):
    net = small(seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    X, y = rng.random((3, 28, 28)), rng.integers(0, 10, 3)
    dW, db = net.backward(X, y)
    eps = 1e-6
    for name, param, grad in zip(NAMES, net.weights + net.biases, dW + db):
        assert grad.shape == param.shape, name
        for _ in range(6):
            i = tuple(rng.integers(0, s) for s in param.shape)
            old = param[i]
            param[i] = old + eps
            up = net.loss(X, y)
            param[i] = old - eps
            down = net.loss(X, y)
            param[i] = old
            numeric = (up - down) / (2 * eps)
            assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=1e-9), name


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_the_trainers_steps_are_backward_steps(momentum):
    net, reference = small(seed=2), small(seed=2)
    rng = np.random.default_rng(0)
    trainer = ConvTrainer(net, 6)
    velocity = [np.zeros_like(p) for p in reference.weights + reference.biases]
    for _ in range(3):
        raw, y = rng.integers(0, 256, (6, 784)).astype(np.uint8), rng.integers(0, 10, 6)
        X, _ = trainer.batch_input(raw)
        loss, _ = trainer.step(X, y, 0.05, momentum)
        assert loss == pytest.approx(reference.loss(raw, y), rel=1e-5)
        dW, db = reference.backward(raw, y)
        for p, v, g in zip(reference.weights + reference.biases, velocity, dW + db):
            v[...] = momentum * v - 0.05 * g
            p += v
    for p, q in zip(net.weights + net.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-7)


def test_train_on_instance_lowers_the_loss_on_that_example(mnist_subset):
    X, y = mnist_subset[:2]
    net = ConvNet(seed=0)
    before = net.loss(X[:1], y[:1])
    assert net.train_on_instance(X[0], int(y[0]), lr=0.05) == pytest.approx(before, rel=1e-5)
    assert net.loss(X[:1], y[:1]) < before


def test_a_diverging_step_on_one_example_changes_nothing(mnist_subset):
    X, y = mnist_subset[:2]
    net = ConvNet(seed=0)
    saved = [p.copy() for p in net.weights + net.biases]
    with pytest.raises(TrainingDiverged, match="lr=1e\\+30"):
        for _ in range(5):
            net.train_on_instance(X[0], int(y[0]), lr=1e30)
            saved = [p.copy() for p in net.weights + net.biases]
    for p, s in zip(net.weights + net.biases, saved):
        np.testing.assert_array_equal(p, s)


# --- fit ---

def test_fit_reaches_a_stated_accuracy(mnist_subset):
    X, y, Xt, yt = mnist_subset
    net = ConvNet(channels=(8, 16), hidden=64, seed=0)
    history = net.fit(X, y, epochs=3, batch_size=32, lr=0.02, momentum=0.9, validation=(Xt, yt), progress=False)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 3 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] == net.evaluate(Xt, yt) > 0.93


def test_same_seed_same_weights(mnist_subset):
    X, y = mnist_subset[:2]
    a, b, c = small(seed=1), small(seed=1), small(seed=2)
    for net in (a, b, c):
        net.fit(X[:300], y[:300], epochs=2, progress=False, seed=7, augment=lambda images, rng: np.roll(images, 1, 1))
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_divergence_names_the_learning_rate_and_keeps_the_epochs_first_weights(mnist_subset):
    X, y = mnist_subset[:2]
    net = small()
    start = [p.copy() for p in net.weights + net.biases]
    with pytest.raises(TrainingDiverged, match="lr=1e\\+06"):
        net.fit(X[:512], y[:512], epochs=2, batch_size=64, lr=1e6, progress=False)
    for p, s in zip(net.weights + net.biases, start):
        np.testing.assert_array_equal(p, s)                          # diverged in epoch 1: its first weights
    assert np.isfinite(net.loss(X[:10], y[:10]))


def test_fit_rejects_bad_arguments(mnist_subset):
    X, y = mnist_subset[:2]
    for kwargs, message in [({"lr": float("nan")}, "lr must be a finite number > 0"),
                            ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
                            ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\)")]:
        with pytest.raises(ValueError, match=message):
            small().fit(X[:10], y[:10], progress=False, **kwargs)
    with pytest.raises(ValueError, match="y has 9 labels for 10 inputs"):
        small().fit(X[:10], y[:9], progress=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"channels": (16,)}, "channels must be two whole numbers"),
    ({"channels": (16, 0)}, "channels must be two whole numbers"),
    ({"hidden": 1.5}, "hidden must be a whole number"),
    ({"kernel_size": 12}, "kernel_size must be a whole number from 1 to 9"),
    ({"channels": (64, 4096)}, "MAX_PARAMETERS"),
    ({"dtype": np.int32}, "dtype must be"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvNet(**kwargs)


def test_inputs_in_every_shape_agree(mnist_subset):
    X = mnist_subset[0][:4]
    net = small()
    p = net.predict_proba(X)
    assert p.shape == (4, 10)
    np.testing.assert_allclose(net.predict_proba(X.reshape(4, 784)), p, rtol=1e-6)
    np.testing.assert_allclose(net.predict_proba(X / 255.0), p, rtol=1e-5)
    assert net.predict_proba(X[0]).shape == (10,)
    with pytest.raises(ValueError, match="pixels in \\[0, 1\\]"):
        net.predict(X.astype(np.float32))


# --- files ---

@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_roundtrip(tmp_path, suffix):
    net = small(seed=5)
    path = tmp_path / f"convnet{suffix}"
    net.save(path)
    loaded = ConvNet.load(path)
    assert (loaded.channels, loaded.hidden, loaded.kernel_size) == (net.channels, net.hidden, net.kernel_size)
    for name in NAMES:
        np.testing.assert_array_equal(loaded.params[name], net.params[name])
    assert isinstance(ocrlib.load_model(path), ConvNet)


def test_each_kind_of_file_is_refused_by_the_other_kinds_load(tmp_path):
    small().save(tmp_path / "c.npz")
    small().save(tmp_path / "c.json")
    MLP((784, 5, 10)).save(tmp_path / "m.npz")
    for name in ("c.npz", "c.json"):
        with pytest.raises(ModelFileError, match="a ConvNet model file, not an MLP's"):
            MLP.load(tmp_path / name)
    with pytest.raises(ModelFileError, match="an MLP model file, not a ConvNet's"):
        ConvNet.load(tmp_path / "m.npz")
    assert isinstance(ocrlib.load_model(tmp_path / "m.npz"), MLP)


def write_npz(path, **arrays):
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(value), allow_pickle=True)


def convnet_arrays(**changes):
    net = small()
    arrays = dict(net.params, format=np.array("ocrlib.ConvNet"), channels=np.array(net.channels),
                  hidden=np.array(net.hidden), kernel_size=np.array(net.kernel_size))
    arrays.update(changes)
    return arrays


@pytest.mark.parametrize("changes, message", [
    ({"K2": np.zeros((5, 5, 3, 5), np.float32)}, r"K2 has shape \(5, 5, 3, 5\), expected \(5, 5, 3, 4\)"),
    ({"channels": np.array([100000, 100000])}, "MAX_PARAMETERS"),
    ({"hidden": np.array(2.5)}, "hidden.*expected integers"),
    ({"W3": np.array([object()] * 8, dtype=object)}, "dtype object"),
    ({"b4": np.full(10, np.nan, np.float32)}, "b4 holds NaN"),
    ({"format": np.array("ocrlib.MLP")}, "expected format 'ocrlib.ConvNet'"),
])
def test_a_damaged_convnet_file_is_a_clear_error_naming_it(tmp_path, changes, message):
    path = tmp_path / "bad.npz"
    write_npz(path, **convnet_arrays(**changes))
    with pytest.raises(ModelFileError, match=message) as err:
        ConvNet.load(path)
    assert str(path) in str(err.value)


def test_a_huge_declared_array_is_refused_before_it_is_allocated(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in convnet_arrays().items():
            with archive.open(f"{name}.npy", "w") as f:
                if name == "W3":                                    # a header that claims 40 GB, and no data
                    np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                             "shape": (100000, 100000)})
                else:
                    np.lib.format.write_array(f, value)
    with pytest.raises(ModelFileError, match="more than an array may be"):
        ConvNet.load(path)


def test_an_array_the_format_lacks_is_refused(tmp_path):
    path = tmp_path / "extra.npz"
    write_npz(path, **convnet_arrays(W5=np.zeros(3, np.float32)))
    with pytest.raises(ModelFileError, match="unexpected arrays \\['W5'\\]"):
        ConvNet.load(path)


def test_a_json_convnet_with_true_for_a_number_is_refused(tmp_path):
    path = tmp_path / "c.json"
    small().save(path)
    doc = json.loads(path.read_text())
    doc["b4"][0] = True
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="b4 must hold numbers only, found True"):
        ConvNet.load(path)


# --- the shipped model ---

def test_pretrained_convnet():
    net = ocrlib.load_pretrained("convnet")
    assert isinstance(net, ConvNet)
    X, y = ocrlib.load_mnist("test")
    assert net.evaluate(X, y) >= 0.99
    assert isinstance(ocrlib.load_pretrained(), MLP)                 # the lessons' network stays the default
    with pytest.raises(ValueError, match="name must be one of"):
        ocrlib.load_pretrained("resnet")


def test_a_confident_wrong_answer_has_a_finite_loss_and_trains():
    net = small()
    x = np.random.default_rng(0).random((1, 28, 28))
    net.biases[3][:] = 0
    net.biases[3][0] = 200                                   # p[0] = 1 and p[label] = 0 in float32
    s = net.forward(x)
    assert s["p"][0, 3] == 0
    from ocrlib.convnet import log_loss
    assert log_loss(s["z4"], [3]) == pytest.approx(float(s["z4"][0, 0] - s["z4"][0, 3]), rel=1e-4)
    loss = net.train_on_instance(x[0], 3, lr=0.01)            # the MLP's cross_entropy would say inf, and refuse
    assert np.isfinite(loss) and net.biases[3][0] < 200


def test_a_dense_only_step_moves_the_dense_layers_by_backwards_gradients_and_keeps_the_convolutions():
    net = ConvNet(channels=(2, 3), hidden=6, seed=4, dtype=np.float64)
    X, y = ocrlib.load_mnist("test")
    X, y = X[:8].reshape(8, -1) / 255.0, y[:8]
    before = [p.copy() for p in net.weights + net.biases]
    dW, db = net.backward(X, y)
    ConvTrainer(net, 8, dense_only=True).step(X, y, lr=0.5)
    K1, K2, W3, W4 = net.weights
    b1, b2, b3, b4 = net.biases
    for kept, old in ((K1, before[0]), (K2, before[1]), (b1, before[4]), (b2, before[5])):
        assert np.array_equal(kept, old)
    for moved, old, grad in ((W3, before[2], dW[2]), (W4, before[3], dW[3]), (b3, before[6], db[2]),
                             (b4, before[7], db[3])):
        assert np.allclose(moved, old - 0.5 * grad)
