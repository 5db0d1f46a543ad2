"""ocrlib.stroke_synthesis: strokes traced from MNIST digits and placed on the pad."""

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.pretrained import load_pretrained
from ocrlib.stroke_synthesis import mnist_strokes, place_on_pad, zhang_suen_thinning
from ocrlib.strokeset import evaluate_strokes


def test_traced_mnist_digit_is_recognised_after_redrawing():
    images, labels = load_mnist("test")
    net = load_pretrained()
    rng = np.random.default_rng(1)
    drawings = [place_on_pad(mnist_strokes(images[i]), rng) for i in range(30)]
    assert evaluate_strokes(net, drawings, labels[:30]) >= 0.8


def test_zhang_suen_thins_a_bar_to_a_line():
    bar = np.zeros((20, 26), bool)
    bar[5:10, 2:24] = True                                                # 5 pixels thick, 22 long
    thin = zhang_suen_thinning(bar)
    assert thin.any(axis=0).sum() >= 14                                   # still a long line ...
    assert (thin.sum(axis=0) <= 1).all()                                  # ... one pixel thick
    assert not (thin & ~bar).any()
