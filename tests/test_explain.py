"""ocrlib.explain: saliency, hidden units and counterfactuals, checked against finite differences and by hand."""

import numpy as np
import pytest

from ocrlib import MLP, ConvNet, load_mnist
from ocrlib.explain import counterfactual, hidden_units, saliency, top_two


@pytest.fixture(scope="module")
def digits():
    X, y = load_mnist("test")
    return X[:50] / 255.0, y[:50]


def small_models():
    rng = np.random.default_rng(3)
    mlp = MLP((784, 30, 10), seed=1, dtype=np.float64)
    deep = MLP((784, 20, 16, 10), activation="tanh", seed=2, dtype=np.float64)
    cnn = ConvNet(channels=(3, 4), hidden=8, seed=1, dtype=np.float64)
    for net in (mlp, deep, cnn):
        for b in net.biases:
            b[...] = rng.normal(0, 0.1, b.shape)          # off ReLU's kink, where a difference quotient jumps
    return {"mlp": mlp, "deep-tanh": deep, "convnet": cnn}


@pytest.mark.parametrize("name", ["mlp", "deep-tanh", "convnet"])
def test_saliency_is_the_derivative_of_p_digit(name, digits):
    net = small_models()[name]
    X, _ = digits
    image = X[0].astype(np.float64)
    digit = 3
    result = saliency(net, image, digit)
    assert result.gradient.shape == (28, 28)
    rng = np.random.default_rng(0)
    pixels = list(zip(*np.nonzero((image > 0.01) & (image < 0.99))))
    for r, c in [pixels[i] for i in rng.choice(len(pixels), 8, replace=False)]:
        up, down = image.copy(), image.copy()
        up[r, c] += 1e-6
        down[r, c] -= 1e-6
        numeric = (net.predict_proba(up)[digit] - net.predict_proba(down)[digit]) / 2e-6
        assert abs(numeric - result.gradient[r, c]) <= 1e-7 + 1e-4 * abs(numeric), (r, c)
    # paper: a pixel can only gain ink. (Not for the ConvNet: on blank paper its pooled windows tie, and a
    # pixel's first bit of ink picks the winner, so the derivative there is one-sided only by luck.)
    for r, c in [(0, 0), (14, 3)] if name != "convnet" else []:
        up = image.copy()
        up[r, c] += 1e-7
        numeric = (net.predict_proba(up)[digit] - result.p) / 1e-7
        assert abs(numeric - result.gradient[r, c]) <= 1e-6 + 1e-3 * abs(numeric), (r, c)
    assert np.allclose(result.input_times_gradient, image * result.gradient)
    assert result.p == pytest.approx(net.predict_proba(image)[digit])


def test_input_gradient_of_the_loss_matches_a_directional_difference(digits):
    X, y = digits
    for net in small_models().values():
        noise = np.random.default_rng(2).uniform(0, 0.01, X[:3].shape)  # no ties in the ConvNet's pooling
        x = 0.25 + 0.5 * X[:3].astype(np.float64) + noise              # room to move either way inside [0, 1]
        p = net.predict_proba(x)
        delta = (p - np.eye(10)[y[:3]]) / 3                              # dloss/dz at the logits
        g = net.input_gradient(x, delta).reshape(3, 28, 28)
        direction = np.random.default_rng(1).standard_normal(x.shape)
        numeric = (net.loss(x + 1e-6 * direction, y[:3]) - net.loss(x - 1e-6 * direction, y[:3])) / 2e-6
        assert numeric == pytest.approx(np.sum(g * direction), rel=1e-4)


def test_an_mlp_with_one_hidden_layer_splits_its_logit_into_the_units_parts(digits):
    net = small_models()["mlp"]
    image = digits[0][1]
    units = hidden_units(net, image, 7, top=5)
    a1 = np.maximum(image.reshape(-1) @ net.weights[0] + net.biases[0], 0)
    logit = a1 @ net.weights[1][:, 7] + net.biases[1][7]
    assert np.allclose(units.contribution, a1 * net.weights[1][:, 7])
    assert units.contribution.sum() + net.biases[1][7] == pytest.approx(logit)
    assert units.pictures.shape == (30, 28, 28)
    assert np.array_equal(units.pictures[4], net.weights[0][:, 4].reshape(28, 28))
    assert len(units.up) == 5 and np.all(np.diff(units.contribution[units.up]) <= 0)
    assert units.contribution[units.up[0]] == units.contribution.max()
    assert units.contribution[units.down[0]] == units.contribution.min() < 0


def test_a_convnet_channels_parts_are_their_maps_times_the_logits_gradient(digits):
    net = small_models()["convnet"]
    image = digits[0][2]
    units = hidden_units(net, image, 1, top=2)
    s = net.forward(image[None])
    # the logit moves by about eps * (sum of the parts) when every first-layer activation grows by a factor 1 + eps
    # (the parts are a1 * dz/da1): checked by scaling one channel's output through its kernel and bias
    for c in range(3):
        eps = 1e-6
        K, b = net.weights[0].copy(), net.biases[0].copy()
        z = []
        for sign in (1, -1):
            net.weights[0][..., c] = K[..., c] * (1 + sign * eps)
            net.biases[0][c] = b[c] * (1 + sign * eps)
            z.append(net.forward(image[None])["z4"][0, 1])
        net.weights[0][...], net.biases[0][...] = K, b
        assert (z[0] - z[1]) / (2 * eps) == pytest.approx(units.contribution[c], rel=1e-4, abs=1e-9)
    assert units.pictures.shape == (3, 5, 5)
    assert units.activation == pytest.approx(s["a1"][0].mean(axis=(0, 1)))


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_a_counterfactual_makes_the_shipped_network_read_the_runner_up_with_little_ink(name, digits):
    from ocrlib import load_pretrained
    net = load_pretrained(name)
    image = digits[0][0]                                                 # a 7
    first, second, _ = top_two(net, image)
    assert first == 7 and second != 7
    change = counterfactual(net, image, second)
    assert change.reached and net.predict(change.image) == second
    assert change.p >= 0.5 and change.steps > 0
    assert change.image.min() >= 0 and change.image.max() <= 1
    assert np.allclose(image + change.added - change.removed, change.image, atol=1e-6)
    assert ((change.added > 0.05) | (change.removed > 0.05)).sum() < 784 / 8    # a local change, not a new image
    again = counterfactual(net, image, 7)                                # already read as 7: nothing changes
    assert again.steps == 0 and again.reached and not again.added.any() and not again.removed.any()


def test_bad_arguments_name_themselves(digits):
    net = small_models()["mlp"]
    image = digits[0][0]
    with pytest.raises(ValueError, match="digit must be an integer digit 0-9, got 10"):
        saliency(net, image, 10)
    with pytest.raises(ValueError, match="image must be one image"):
        saliency(net, digits[0][:2], 1)
    with pytest.raises(ValueError, match="image"):
        saliency(net, image * 3, 1)                                      # floats beyond [0, 1]
    with pytest.raises(ValueError, match="top must be"):
        hidden_units(net, image, 1, top=0)
    with pytest.raises(ValueError, match="step must be"):
        counterfactual(net, image, 1, step=2)
    with pytest.raises(ValueError, match="max_steps must be"):
        counterfactual(net, image, 1, max_steps=-1)
    with pytest.raises(ValueError, match="p_target must be"):
        counterfactual(net, image, 1, p_target=1.0)
