"""ocrlib.stroke_synthesis: strokes traced from MNIST digits or drawn from templates, placed on the pad."""

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.preprocess import center_of_mass
from ocrlib.pretrained import load_pretrained
from ocrlib.stroke_synthesis import (
    STYLES_MNIST_LACKS,
    TEMPLATES,
    mnist_strokes,
    place_on_pad,
    synthetic_digits,
    zhang_suen_thinning,
)
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


def test_synthetic_digits_are_seeded_balanced_mnist_like_images():
    X, y = synthetic_digits(40, np.random.default_rng(0))
    again, _ = synthetic_digits(40, np.random.default_rng(0))
    assert X.shape == (40, 28, 28) and X.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(X, again)
    assert np.bincount(y, minlength=10).tolist() == [4] * 10
    assert (X.reshape(40, -1).max(axis=1) > 200).all()                  # every image holds a digit's ink
    for image in X:
        assert np.allclose(center_of_mass(image.astype(np.float64)), (13.5, 13.5), atol=0.05)


def test_styles_mnist_lacks_are_drawn_only_when_asked_for():
    never, _ = synthetic_digits(20, np.random.default_rng(1), p_lacking=0.0)
    always, _ = synthetic_digits(20, np.random.default_rng(1), p_lacking=1.0)
    crossed_zero_ink, plain_zero_ink = always[0].sum(), never[0].sum()   # label 0 first: a slash adds ink
    assert crossed_zero_ink > 1.2 * plain_zero_ink
    assert set(STYLES_MNIST_LACKS) <= set(TEMPLATES)


def test_habits_join_the_styles_only_when_asked_for():
    from ocrlib.stroke_synthesis import HABITS, styles_with_habits

    styles = styles_with_habits()
    for digit, habits in HABITS.items():
        assert all(any(h is s for s in styles[digit]) for h in habits)
        assert all(any(s is t for t in styles[digit]) for s in STYLES_MNIST_LACKS.get(digit, []))
    plain, _ = synthetic_digits(20, np.random.default_rng(1), p_lacking=1.0)
    with_habits, _ = synthetic_digits(20, np.random.default_rng(1), p_lacking=1.0, lacking=styles)
    assert not np.array_equal(plain, with_habits)
    assert np.array_equal(plain, synthetic_digits(20, np.random.default_rng(1), p_lacking=1.0,
                                                  lacking=STYLES_MNIST_LACKS)[0])


def test_redrawn_digits_keep_their_shape_in_the_pads_pen():
    from ocrlib import load_mnist
    from ocrlib.stroke_synthesis import redrawn_digits

    X, _ = load_mnist("test")
    images = np.concatenate([X[:6], np.zeros((1, 28, 28), np.uint8)])
    redrawn = redrawn_digits(images, np.random.default_rng(0))
    assert redrawn.shape == images.shape and redrawn.dtype == np.uint8
    assert np.array_equal(redrawn, redrawn_digits(images, np.random.default_rng(0)))       # seeded
    assert not redrawn[-1].any()                                                           # blank stays blank
    for before, after in zip(images[:6], redrawn[:6]):
        assert not np.array_equal(before, after) and after.max() > 200
        ink_before, ink_after = before > 80, after > 80                                    # the same digit, roughly
        assert (ink_before & ink_after).sum() > 0.3 * min(ink_before.sum(), ink_after.sum())
