import numpy as np
import pytest

import ocrlib
from ocrlib.activations import ACTIVATIONS
from ocrlib.network import MLP, TrainingDiverged, cross_entropy, one_hot, softmax

SHAPES = [(12, 7, 5), (12, 6, 4, 3), (784, 25, 10)]


def toy_data(n_in, n_out, n=8, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in)), rng.integers(0, n_out, n)


@pytest.fixture(scope="module")
def mnist_subset():
    X, y = ocrlib.load_mnist("train")
    Xt, yt = ocrlib.load_mnist("test")
    return X[:5000], y[:5000], Xt[:1000], yt[:1000]


# --- the math ---

def test_softmax_rows_sum_to_one_and_survive_large_logits():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]])
    p = softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[1], [0.5, 0.5, 0], atol=1e-12)
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_cross_entropy():
    p = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert cross_entropy(p, np.array([0, 1])) == pytest.approx(-(np.log(0.5) + np.log(0.8)) / 2)


def test_forward_by_hand():
    net = MLP((4, 3, 2), activation="sigmoid", dtype=np.float64)
    x = np.array([[0.1, 0.2, 0.3, 0.4]])
    W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
    h = 1 / (1 + np.exp(-(x @ W1 + b1)))
    z = h @ W2 + b2
    np.testing.assert_allclose(net.forward(x)[-1], np.exp(z) / np.exp(z).sum())


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES[:2])
def test_backward_matches_finite_differences(activation, sizes):
    net = MLP(sizes, activation=activation, seed=3, dtype=np.float64)
    X, y = toy_data(sizes[0], sizes[-1])
    dW, db = net.backward(X, y)
    eps = 1e-6
    for param, grad in zip(net.weights + net.biases, dW + db):
        assert grad.shape == param.shape
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + eps
            plus = net.loss(X, y)
            param[index] = saved - eps
            minus = net.loss(X, y)
            param[index] = saved
            numeric[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


# The fast paths (fit, train_on_instance) against backward: tests/test_fastpath.py.


def test_train_on_instance_lowers_the_loss_on_that_example(mnist_subset):
    X, y = mnist_subset[:2]
    net = MLP()
    before = net.loss(X[:1], y[:1])
    returned = net.train_on_instance(X[0], y[0], lr=0.1)
    assert returned == pytest.approx(before, rel=1e-5)
    assert net.loss(X[:1], y[:1]) < before


def test_train_on_instance_of_a_blank_image_leaves_W1_alone():
    net = MLP()
    W1 = net.weights[0].copy()
    net.train_on_instance(np.zeros((28, 28), np.uint8), 3)
    np.testing.assert_array_equal(net.weights[0], W1)
    assert net.biases[1][3] > 0 and net.biases[1].sum() == pytest.approx(0, abs=1e-6)


# --- training ---

def test_fit_reaches_a_stated_accuracy(mnist_subset):
    X, y, Xt, yt = mnist_subset
    net = MLP((784, 64, 10), seed=0)
    history = net.fit(X, y, epochs=8, batch_size=32, lr=0.1, momentum=0.5, validation=(Xt, yt), progress=False)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 8 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert net.evaluate(Xt, yt) > 0.90
    assert history["val_accuracy"][-1] == net.evaluate(Xt, yt)


def test_fit_lr_schedules(mnist_subset):
    X, y = mnist_subset[:2]
    cosine = MLP().fit(X[:200], y[:200], epochs=4, lr=0.2, lr_schedule="cosine", progress=False)
    assert cosine["lr"] == pytest.approx([0.2, 0.2 * (1 + np.cos(np.pi / 4)) / 2, 0.1, 0.2 * (1 + np.cos(3 * np.pi / 4)) / 2])
    custom = MLP().fit(X[:200], y[:200], epochs=3, lr=0.2, lr_schedule=lambda epoch: 0.1 / (epoch + 1), progress=False)
    assert custom["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    with pytest.raises(ValueError, match="lr_schedule must be"):
        MLP().fit(X[:10], y[:10], lr_schedule="warp", progress=False)


def test_fit_with_augment_sees_new_images_each_epoch(mnist_subset):
    X, y = mnist_subset[:2]
    seen = []

    def augment(images, rng):
        seen.append(images.copy())
        return np.roll(images, 1, axis=2)

    MLP().fit(X[:100], y[:100], epochs=2, progress=False, augment=augment)
    assert len(seen) == 2 and seen[0].shape == (100, 28, 28)
    assert not np.array_equal(seen[0], seen[1])                      # reshuffled every epoch
    with pytest.raises(ValueError, match="augment needs uint8 images"):
        MLP().fit(X[:10].reshape(10, 784) / 255, y[:10], progress=False, augment=augment)


def test_same_seed_same_weights(mnist_subset):
    X, y = mnist_subset[:2]
    a, b, c = MLP(seed=1), MLP(seed=1), MLP(seed=2)
    for net in (a, b, c):
        net.fit(X[:500], y[:500], epochs=2, progress=False, seed=7)
    for p, q in zip(a.weights + a.biases, b.weights + b.biases):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_divergence_names_the_learning_rate_and_keeps_finite_weights(mnist_subset):
    X, y = mnist_subset[:2]
    net = MLP((784, 100, 10))
    with pytest.raises(TrainingDiverged, match="lr=50"):
        net.fit(X[:2000], y[:2000], epochs=3, batch_size=64, lr=50, progress=False)
    assert all(np.all(np.isfinite(p)) for p in net.weights + net.biases)
    net.loss(X[:100], y[:100])                                        # still usable


def test_fit_rejects_bad_arguments(mnist_subset):
    X, y = mnist_subset[:2]
    for kwargs, message in [({"lr": 0}, "lr must be a finite number > 0"),
                            ({"epochs": 0}, "epochs must be a whole number >= 1, got 0"),
                            ({"batch_size": 0}, "batch_size must be a whole number >= 1, got 0"),
                            ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\), got 1.0")]:
        with pytest.raises(ValueError, match=message):
            MLP().fit(X[:10], y[:10], progress=False, **kwargs)
    with pytest.raises(ValueError, match="y has 9 labels for 10 inputs"):
        MLP().fit(X[:10], y[:9], progress=False)
    with pytest.raises(ValueError, match="labels 0..9"):
        MLP().fit(X[:2], np.array([0, 10]), progress=False)


# --- inputs and predictions ---

def test_inputs_uint8_and_float_agree_in_every_shape(mnist_subset):
    X = mnist_subset[0][:5]
    net = MLP()
    p = net.predict_proba(X)
    assert p.shape == (5, 10)
    np.testing.assert_allclose(net.predict_proba(X.reshape(5, 784)), p)
    np.testing.assert_allclose(net.predict_proba(X / 255.0), p, rtol=1e-5)
    np.testing.assert_allclose(net.predict_proba(X[0]), p[0], rtol=1e-5)   # one row: BLAS sums in another order
    assert net.predict(X[0]).shape == ()
    assert net.predict(X.reshape(1, 5, 28, 28)).shape == (1, 5)


@pytest.mark.parametrize("bad", [np.zeros((5, 27, 27)), np.zeros(783), np.float32(1.0)])
def test_wrong_input_shape(bad):
    with pytest.raises(ValueError, match=r"X must have shape \(\.\.\., 28, 28\) or \(\.\.\., 784\)"):
        MLP().predict(bad)


def test_wrong_input_dtype():
    with pytest.raises(TypeError, match="X must be uint8 pixels"):
        MLP().predict(np.array(["a"] * 784))


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, bool])
def test_other_integer_pixels_are_refused_not_misread(dtype):
    with pytest.raises(TypeError, match=f"X must be uint8 pixels \\(0..255\\) or floats in \\[0, 1\\], got dtype {np.dtype(dtype)}"):
        MLP().predict(np.zeros(784, dtype))


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "softsign"}, "activation must be one of \\['relu', 'sigmoid', 'tanh'\\], got 'softsign'"),
    ({"activation": "gelu"}, "activation must be one of"),
    ({"sizes": (784,)}, "sizes must be at least"),
    ({"sizes": (784, 0, 10)}, "sizes must be at least"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_default_is_the_original_shape_in_float32():
    net = MLP()
    assert net.sizes == (784, 25, 10) and net.activation == "relu"
    assert [W.shape for W in net.weights] == [(784, 25), (25, 10)]
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert net.predict_proba(np.zeros((28, 28), np.uint8)).dtype == np.float32


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# --- the shipped model ---

def test_pretrained_model_accuracy():
    X, y = ocrlib.load_mnist("test")
    assert ocrlib.load_pretrained().evaluate(X, y) >= 0.988
