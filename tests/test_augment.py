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


def test_elastic_field_is_seeded_smooth_and_scaled_by_alpha():
    a = augment.elastic_field(50, np.random.default_rng(0), alpha=34, sigma=4)
    b = augment.elastic_field(50, np.random.default_rng(0), alpha=34, sigma=4)
    assert a.shape == (50, 2, 784) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    field = a.reshape(50, 2, 28, 28)
    step = np.abs(np.diff(field, axis=3)).mean()                     # neighbours move together ...
    assert step < 0.2 * np.abs(field).mean()
    noise = np.random.default_rng(0).uniform(-1, 1, (50, 2, 28, 28))
    assert np.abs(np.diff(noise, axis=3)).mean() > np.abs(noise).mean()   # ... unlike the noise it came from
    half = augment.elastic_field(50, np.random.default_rng(0), alpha=17, sigma=4)
    np.testing.assert_allclose(half, a / 2, rtol=1e-5)


def test_gaussian_blur_matrix_rows_sum_to_one():
    G = augment.gaussian_blur_matrix(28, 4.0)
    np.testing.assert_allclose(G.sum(axis=1), 1, rtol=1e-6)
    assert G[14, 14] > G[14, 18] > G[14, 24] > 0


def test_affine_warp_with_a_uniform_field_is_a_shift(digits):
    X = digits[0][:10]
    identity = np.tile(np.eye(2), (10, 1, 1))
    field = np.zeros((10, 2, 784), np.float32)
    field[:, 0], field[:, 1] = 2.0, -1.0
    np.testing.assert_array_equal(augment.affine_warp(X, identity, np.zeros((10, 2)), field),
                                  augment.affine_warp(X, identity, np.tile([2.0, -1.0], (10, 1))))


def test_elastic_distortion_keeps_ink_mass_and_shape(digits):
    X, y = digits
    identity = np.tile(np.eye(2), (len(X), 1, 1))
    field = augment.elastic_field(len(X), np.random.default_rng(3))              # as in training: ALPHA, SIGMA
    bent = augment.affine_warp(X, identity, np.zeros((len(X), 2)), field)
    assert not np.array_equal(bent, X)
    mass, bent_mass = X.reshape(len(X), -1).sum(axis=1), bent.reshape(len(X), -1).sum(axis=1)
    ratio = bent_mass / mass                                          # stretched here, squeezed there ...
    assert abs(np.median(ratio) - 1) < 0.05 and np.abs(ratio - 1).mean() < 0.2   # ... no ink lost on the whole
    moved = np.abs(bent.astype(int) - X).sum() / X.astype(int).sum()
    assert 0.1 < moved < 1.5                                          # the ink moves ...
    assert ocrlib.load_pretrained().evaluate(bent, y) > 0.95          # ... and the digit stays the same digit


def test_augment_without_elastic_distortion_is_the_affine_one(digits):
    X = digits[0][:50]
    a = augment.augment(X, np.random.default_rng(5), alpha=0)
    b = augment.augment(X, np.random.default_rng(5), alpha=augment.ALPHA)
    assert augment.ALPHA > 0 and not np.array_equal(a, b)
    np.testing.assert_array_equal(a, augment.augment(X, np.random.default_rng(5), alpha=0))
