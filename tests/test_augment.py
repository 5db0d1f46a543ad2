import numpy as np
import pytest

import ocrlib
from ocrlib import augment


@pytest.fixture(scope="module")
def digits():
    X, y = ocrlib.load_mnist("test")
    return X[:200], y[:200]


def test_thicken_and_thin(digits):
    X = digits[0]
    thick, slim = augment.thicken(X), augment.thin(X)
    assert thick.dtype == slim.dtype == np.uint8 and thick.shape == slim.shape == X.shape
    assert np.all(thick >= X) and np.all(slim <= X)
    assert thick.astype(int).sum() > 1.3 * X.astype(int).sum()
    assert slim.astype(int).sum() < 0.95 * X.astype(int).sum()
    assert np.all(slim.reshape(len(X), -1).max(axis=1) > 0)           # thinner, never gone


def test_affine_warp_identity_and_shift(digits):
    X = digits[0][:10]
    identity = np.tile(np.eye(2), (10, 1, 1))
    np.testing.assert_array_equal(augment.affine_warp(X, identity, np.zeros((10, 2))), X)
    moved = augment.affine_warp(X, identity, np.tile([2.0, -1.0], (10, 1)))      # x_in = x_out + 2, y_in = y_out - 1
    np.testing.assert_array_equal(moved[:, 1:, :-2], X[:, :-1, 2:])


def test_affine_warp_rotation_by_90_degrees(digits):
    X = digits[0][:3]
    quarter = np.tile([[0.0, -1.0], [1.0, 0.0]], (3, 1, 1))
    np.testing.assert_array_equal(augment.affine_warp(X, quarter, np.zeros((3, 2))), np.rot90(X, k=1, axes=(1, 2)))   # out[y, x] = in[x, 27 - y]


def test_augment_is_seeded_and_keeps_digits_recognisable(digits):
    X, y = digits
    a = augment.augment(X, np.random.default_rng(1))
    b = augment.augment(X, np.random.default_rng(1))
    c = augment.augment(X, np.random.default_rng(2))
    assert a.dtype == np.uint8 and a.shape == X.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert ocrlib.load_pretrained().evaluate(a, y) > 0.95
