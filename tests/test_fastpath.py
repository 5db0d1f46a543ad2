"""The fast paths (``ocrlib/fastpath.py`` behind ``fit``, and ``train_on_instance``'s lit-pixel step) give the
numbers of the reference ``forward``/``backward``. Speed is measured by ``python -m benchmarks``, never asserted
here. Every test loops over the whole table of activations: a new entry is tested by being added."""

import numpy as np
import pytest

import ocrlib
from ocrlib.activations import ACTIVATIONS
from ocrlib.fastpath import Trainer
from ocrlib.network import MLP, TrainingDiverged

SHAPES = [(12, 7, 5), (12, 6, 4, 3), (784, 16, 10), (784, 12, 8, 10)]     # 1 and 2 hidden layers
EXACT = {"rtol": 1e-9, "atol": 1e-12}                                     # float64: only rounding differs
FLOAT32 = {"rtol": 1e-5, "atol": 1e-7}


@pytest.fixture(scope="module")
def digits():
    X, y = ocrlib.load_mnist("test")
    return X[:40], y[:40]


def toy_data(sizes, n, seed=1, blank_columns=False):
    """n inputs in [0, 1) of which about a third are exactly 0, and labels. With ``blank_columns`` every
    other input is 0 in all n examples, like the dark border of digits: the step's sparse first layer."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]))
    X[rng.random(X.shape) < 0.3] = 0
    if blank_columns:
        X[:, ::2] = 0
    return X, rng.integers(0, sizes[-1], n)


def every_network(test):
    """Run ``test`` for every shape and activation, on inputs with and without blank columns."""
    for mark in (pytest.mark.parametrize("blank_columns", [False, True]),
                 pytest.mark.parametrize("activation", ACTIVATIONS),
                 pytest.mark.parametrize("sizes", SHAPES)):
        test = mark(test)
    return test


def trainer(net, batch_size):
    return Trainer(net.weights, net.biases, ACTIVATIONS[net.activation], batch_size)


def twins(sizes, activation, dtype=np.float64):
    return (MLP(sizes, activation=activation, seed=5, dtype=dtype),
            MLP(sizes, activation=activation, seed=5, dtype=dtype))


def reference_fit(net, X, y, epochs, batch_size, lr, momentum=0.0, seed=0, augment=None):
    """What ``fit`` computes, written with ``backward``: the same shuffles, batches and momentum updates."""
    rng = np.random.default_rng(seed)
    params = net.weights + net.biases
    velocity = [np.zeros_like(p) for p in params]
    n = len(X)
    for _ in range(epochs):
        order = rng.permutation(n)
        Xe = net.as_input(X[order] if augment is None else augment(X[order], rng))
        ye = y[order]
        for start in range(0, n, batch_size):
            dW, db = net.backward(Xe[start:start + batch_size], ye[start:start + batch_size])
            for p, grad, v in zip(params, dW + db, velocity):
                v *= momentum
                v -= lr * grad
                p += v


def assert_same_params(fast, ref, rtol, atol):
    for name in fast.params:
        np.testing.assert_allclose(fast.params[name], ref.params[name], rtol=rtol, atol=atol, err_msg=name)


# --- one mini-batch step ---

@pytest.mark.parametrize("momentum", [0.0, 0.9])
@every_network
def test_sgd_step_is_a_backward_step(sizes, activation, momentum, blank_columns):
    fast, ref = twins(sizes, activation)
    X, y = toy_data(sizes, n=10, blank_columns=blank_columns)
    steps = trainer(fast, batch_size=6)
    ref_velocity = [np.zeros_like(p) for p in ref.weights + ref.biases]
    for batch in (slice(0, 6), slice(6, 10)):                  # two steps, so momentum carries over
        expected_loss = ref.loss(X[batch], y[batch])
        expected_correct = int((ref.predict(X[batch]) == y[batch]).sum())
        if blank_columns:                                      # the sparse first layer: lit columns only
            lit = np.flatnonzero(X[batch].any(axis=0))
            loss, correct = steps.step(X[batch][:, lit], y[batch], 0.3, momentum, lit=lit)
        else:
            loss, correct = steps.step(X[batch], y[batch], 0.3, momentum)
        assert loss == pytest.approx(expected_loss, rel=1e-12)
        assert correct == expected_correct
        dW, db = ref.backward(X[batch], y[batch])
        for p, grad, v in zip(ref.weights + ref.biases, dW + db, ref_velocity):
            v *= momentum
            v -= 0.3 * grad
            p += v
        assert_same_params(fast, ref, **EXACT)


def test_sgd_step_with_buffers_reused_for_a_shorter_batch():
    sizes = (12, 6, 4, 3)
    fast, ref = twins(sizes, "relu")
    X, y = toy_data(sizes, n=7, blank_columns=True)
    steps = trainer(fast, batch_size=16)                       # a fit's buffers; its last batch is shorter
    lit = np.flatnonzero(X.any(axis=0))
    steps.step(X[:, lit], y, 0.5, 0.0, lit)
    dW, db = ref.backward(X, y)
    for p, grad in zip(ref.weights + ref.biases, dW + db):
        p -= 0.5 * grad
    assert_same_params(fast, ref, **EXACT)


# --- whole epochs ---

@pytest.mark.parametrize("momentum", [0.0, 0.5])
@every_network
def test_fit_is_the_reference_loop(sizes, activation, momentum, blank_columns):
    fast, ref = twins(sizes, activation)
    X, y = toy_data(sizes, n=23, blank_columns=blank_columns)  # batches of 8, 8 and 7
    history = fast.fit(X, y, epochs=2, batch_size=8, lr=0.2, momentum=momentum, progress=False, seed=3)
    reference_fit(ref, X, y, epochs=2, batch_size=8, lr=0.2, momentum=momentum, seed=3)
    assert_same_params(fast, ref, **EXACT)
    assert len(history["loss"]) == 2 and all(np.isfinite(history["loss"]))


def test_fit_on_uint8_images_converts_like_as_input(digits):
    X, y = digits
    from_uint8, from_floats = twins((784, 16, 10), "relu", dtype=np.float32)
    h1 = from_uint8.fit(X, y, epochs=2, batch_size=16, lr=0.1, progress=False)
    h2 = from_floats.fit(from_floats.as_input(X), y, epochs=2, batch_size=16, lr=0.1, progress=False)
    assert h1 == h2
    for name in from_uint8.params:
        np.testing.assert_array_equal(from_uint8.params[name], from_floats.params[name], err_msg=name)


@pytest.mark.parametrize("dark_border", [True, False])               # sparse and dense batches
def test_fit_on_uint8_noise_converts_like_as_input(dark_border):
    rng = np.random.default_rng(4)
    X = (rng.integers(1, 256, (30, 28, 28)) * (rng.random((30, 28, 28)) < 0.5)).astype(np.uint8)
    if dark_border:
        X[:, :, :7] = X[:, :, -7:] = 0                          # half the columns dark in every image
    y = rng.integers(0, 10, 30)
    from_uint8, from_floats = twins((784, 16, 10), "sigmoid", dtype=np.float32)
    from_uint8.fit(X, y, epochs=2, batch_size=8, lr=0.1, momentum=0.5, progress=False)
    from_floats.fit(from_floats.as_input(X), y, epochs=2, batch_size=8, lr=0.1, momentum=0.5, progress=False)
    for name in from_uint8.params:
        np.testing.assert_array_equal(from_uint8.params[name], from_floats.params[name], err_msg=name)


def test_fit_on_mnist_in_float32_matches_the_reference(digits):
    X, y = digits
    fast, ref = twins((784, 32, 10), "relu", dtype=np.float32)
    fast.fit(X, y, epochs=2, batch_size=16, lr=0.1, momentum=0.9, progress=False)
    reference_fit(ref, X, y, epochs=2, batch_size=16, lr=0.1, momentum=0.9)
    assert_same_params(fast, ref, rtol=1e-4, atol=1e-6)


def test_fit_with_augment_is_the_reference_loop(digits):
    X, y = digits

    def augment(images, rng):
        return np.roll(images, rng.integers(-2, 3), axis=2)

    fast, ref = twins((784, 16, 10), "tanh")
    fast.fit(X, y, epochs=2, batch_size=16, lr=0.1, progress=False, augment=augment)
    reference_fit(ref, X, y, epochs=2, batch_size=16, lr=0.1, augment=augment)
    assert_same_params(fast, ref, **EXACT)


def test_fit_history_and_progress_bar(digits):
    X, y = digits
    history = MLP((784, 16, 10)).fit(X, y, epochs=2, batch_size=7, progress=True, validation=(X, y))
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert all(len(v) == 2 for v in history.values())


def test_fit_divergence_restores_the_epoch_start_weights(digits):
    X, y = digits
    net = MLP((784, 16, 10))
    start = [p.copy() for p in net.weights + net.biases]
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="lr=1e\\+20"):
        net.fit(X, y, epochs=2, batch_size=8, lr=1e20, momentum=0.9, progress=False)
    for p, saved in zip(net.weights + net.biases, start):
        np.testing.assert_array_equal(p, saved)


def test_fit_names_a_wrong_augment_result(digits):
    X, y = digits
    with pytest.raises(ValueError, match="augment must return 40 images"):
        MLP().fit(X, y, progress=False, augment=lambda images, rng: images[:10])


# --- one example ---

@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", SHAPES)
def test_train_on_instance_is_a_backward_step(sizes, activation):
    fast, ref = twins(sizes, activation)
    X, y = toy_data(sizes, n=1, seed=7)                        # about a third of the inputs are 0: rows of W1 kept
    loss = fast.train_on_instance(X[0], y[0], lr=0.3)
    assert loss == pytest.approx(ref.loss(X, y), rel=1e-12)
    dW, db = ref.backward(X, y)
    for p, grad in zip(ref.weights + ref.biases, dW + db):
        p -= 0.3 * grad
    assert_same_params(fast, ref, **EXACT)


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, EXACT), (np.float32, FLOAT32)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("sizes", [(784, 16, 10), (784, 12, 8, 10)])
def test_train_on_instance_of_a_uint8_digit_is_a_backward_step(digits, sizes, activation, dtype, tolerance):
    X, y = digits
    fast, ref = twins(sizes, activation, dtype)
    assert (X[0] == 0).any(axis=1).sum() > 0                   # whole rows of the image are blank
    loss = fast.train_on_instance(X[0], int(y[0]), lr=0.1)
    assert loss == pytest.approx(ref.loss(X[:1], y[:1]), rel=tolerance["rtol"])
    dW, db = ref.backward(X[:1], y[:1])
    for p, grad in zip(ref.weights + ref.biases, dW + db):
        p -= dtype(0.1) * grad
    assert_same_params(fast, ref, **tolerance)
    unlit = X[0].reshape(784) == 0
    np.testing.assert_array_equal(fast.weights[0][unlit], MLP(sizes, activation=activation, seed=5,
                                                              dtype=dtype).weights[0][unlit])


def test_train_on_instance_accepts_every_input_form(digits):
    X, y = digits
    nets = [MLP((784, 16, 10), seed=1) for _ in range(4)]
    inputs = [X[0], X[0].reshape(784), X[0].reshape(1, 28, 28), X[0].reshape(1, 784) / 255.0]
    losses = [net.train_on_instance(x, np.uint8(y[0])) for net, x in zip(nets, inputs)]
    assert losses == pytest.approx([losses[0]] * 4, rel=1e-6)
    for net in nets[1:]:
        np.testing.assert_allclose(net.weights[0], nets[0].weights[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("x, label, error, message", [
    (np.zeros((2, 28, 28), np.uint8), 3, ValueError, "x must be one example .*, got 2 of them"),
    (np.zeros(783, np.uint8), 3, ValueError, r"x must have shape"),
    (np.zeros((28, 28), np.uint8), 10, ValueError, "label must be an integer 0..9, got 10"),
    (np.zeros((28, 28), np.uint8), -1, ValueError, "label must be an integer 0..9, got -1"),
    (np.zeros((28, 28), np.uint8), 2.0, ValueError, "label must be an integer 0..9, got 2.0"),
])
def test_train_on_instance_names_bad_arguments(x, label, error, message):
    net = MLP()
    before = [p.copy() for p in net.weights + net.biases]
    with pytest.raises(error, match=message):
        net.train_on_instance(x, label)
    for p, saved in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(p, saved)


@pytest.mark.parametrize("scale", [np.inf, np.nan])
def test_train_on_instance_raises_on_a_non_finite_loss_and_changes_nothing(digits, scale):
    X, y = digits
    net = MLP((784, 16, 10), seed=1)
    net.weights[1][:, 3] = scale                               # logit 3 becomes inf or NaN: no softmax
    before = [p.copy() for p in net.weights + net.biases]
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="lr=0.1 gives NaN or infinite.*the weights were not changed"):
        net.train_on_instance(X[0], int(y[0]), lr=0.1)
    for p, saved in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(p, saved)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_train_on_instance_of_a_blank_image_is_a_backward_step(activation):
    fast, ref = twins((784, 16, 10), activation)
    blank = np.zeros((1, 28, 28), np.uint8)                    # no lit pixel: W1 must not change at all
    fast.train_on_instance(blank[0], 4, lr=0.5)
    dW, db = ref.backward(blank, [4])
    for p, grad in zip(ref.weights + ref.biases, dW + db):
        p -= 0.5 * grad
    assert_same_params(fast, ref, **EXACT)
    np.testing.assert_array_equal(fast.weights[0], MLP((784, 16, 10), activation=activation, seed=5,
                                                       dtype=np.float64).weights[0])
