"""ocrlib.preprocess: strokes -> canvas -> MNIST's 28x28."""

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocrlib.mnist import load_mnist
from ocrlib.preprocess import (
    BOX,
    DETAIL,
    PEN_WIDTH,
    STROKE_WIDTH,
    center_of_mass,
    crop,
    drawings_to_mnist,
    ink,
    paste_centered,
    rasterize,
    scale_to_box,
    strokes_to_mnist,
    to_mnist,
)
from ocrlib.pretrained import load_pretrained

ONE = [np.array([[140.0, 40.0], [140.0, 240.0]])]


# --- rasterize ---

def test_rasterize_vertical_line_has_the_pen_width_and_round_caps():
    canvas = rasterize(ONE)
    assert canvas.shape == (280, 280) and canvas.dtype == np.uint8
    row = canvas[140] > 127
    assert row.sum() == PEN_WIDTH                           # a straight line is exactly one pen wide
    assert np.flatnonzero(row).mean() == pytest.approx(139.5)
    column = canvas[:, 140] > 127
    assert np.flatnonzero(column)[[0, -1]].tolist() == [40 - PEN_WIDTH // 2, 240 + PEN_WIDTH // 2 - 1]  # round caps
    assert canvas[40 - PEN_WIDTH // 2 + 1, 140 - PEN_WIDTH // 2 + 1] == 0    # a cap is round, not square


def test_rasterize_is_anti_aliased_and_a_single_point_is_a_dot():
    dot = rasterize([np.array([[100.3, 50.7]])], line_width=10)
    assert 0 < (dot > 0).sum() < 11 * 11
    assert len(np.unique(dot)) > 3                          # grey edge pixels: anti-aliased
    ys, xs = np.nonzero(dot)
    w = dot[ys, xs].astype(float)
    assert np.average(xs + 0.5, weights=w) == pytest.approx(100.3, abs=0.05)
    assert np.average(ys + 0.5, weights=w) == pytest.approx(50.7, abs=0.05)
    disc_area = np.pi * 5 ** 2
    assert dot.sum() / 255 == pytest.approx(disc_area, rel=0.02)


def test_rasterize_equals_the_distance_formula_pixel_by_pixel():
    strokes = [np.array([[30.0, 40.0], [70.5, 90.2], [20.0, 75.0]]), np.array([[60.0, 20.0]])]
    canvas = rasterize(strokes, size=100, line_width=7)
    yy, xx = np.mgrid[0:100, 0:100] + 0.5
    dist = np.full((100, 100), np.inf)
    for s in strokes:
        for a, b in pairwise(s) if len(s) > 1 else [(s[0], s[0])]:
            d = b - a
            t = 0 if not d.any() else np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / (d @ d), 0, 1)
            dist = np.minimum(dist, np.hypot(xx - a[0] - t * d[0], yy - a[1] - t * d[1]))
    expected = np.round(np.clip(3.5 + 0.5 - dist, 0, 1) * 255)
    assert np.abs(canvas.astype(int) - expected).max() <= 1


def test_rasterize_clips_strokes_off_the_canvas_and_draws_nothing_for_no_strokes():
    assert rasterize([]).max() == 0
    canvas = rasterize([np.array([[-50.0, 10.0], [500.0, 10.0]])])
    assert canvas[10].min() == 255


@pytest.mark.parametrize("strokes, message", [
    (np.zeros((3, 2)), "list of"),
    ([np.zeros((3, 3))], r"strokes\[0\]"),
    ([np.zeros((0, 2))], r"strokes\[0\]"),
    ([np.array([[0.0, np.nan]])], "NaN"),
])
def test_rasterize_names_bad_strokes(strokes, message):
    with pytest.raises((ValueError, TypeError), match=message):
        rasterize(strokes)


def test_rasterize_rejects_bad_size_and_width():
    with pytest.raises(ValueError, match="line_width"):
        rasterize(ONE, line_width=0)
    with pytest.raises(ValueError, match="size"):
        rasterize(ONE, size=0)


# --- to_mnist and its steps ---

def test_to_mnist_blank_canvas_is_none():
    assert to_mnist(np.zeros((280, 280), np.uint8)) is None
    assert to_mnist(np.full((50, 60, 3), 255, np.uint8)) is None          # blank white paper


def test_to_mnist_follows_mnists_recipe():
    image = to_mnist(rasterize(ONE))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    rows = np.flatnonzero(image.max(axis=1) > 0.05)
    assert rows[-1] - rows[0] + 1 in (BOX, BOX + 1)                       # longer side: 20 px (+1 for the sub-pixel shift)
    cy, cx = center_of_mass(image)
    assert cy == pytest.approx(13.5, abs=0.05) and cx == pytest.approx(13.5, abs=0.05)


def test_steps_crop_scale_and_centre():
    image = np.zeros((100, 60), np.float32)
    image[10:90, 20:40] = 1
    cropped = crop(image)
    assert cropped.shape == (80, 20)
    small = scale_to_box(cropped)
    assert small.shape == (20, 5)
    assert small.sum() == pytest.approx(cropped.sum() * (20 / 80) ** 2, rel=1e-5)   # area averaging keeps the mean
    framed = paste_centered(small)
    assert framed.shape == (28, 28)
    assert framed.sum() == pytest.approx(small.sum(), rel=1e-5)
    assert center_of_mass(framed) == pytest.approx((13.5, 13.5), abs=1e-4)


def test_to_mnist_is_nearly_the_identity_on_mnist_digits():
    images, labels = load_mnist("test")
    net = load_pretrained()
    again = np.array([to_mnist(x) for x in images[:500]])
    raw = net.evaluate(images[:500], labels[:500])
    assert net.evaluate(again, labels[:500]) >= raw - 0.02
    assert np.mean(np.abs(again - images[:500] / 255)) < 0.06


def test_to_mnist_any_canvas_size_and_colour_layout():
    grey = rasterize(ONE)
    reference = to_mnist(grey)
    small = rasterize([s / 2 for s in ONE], size=140, line_width=PEN_WIDTH / 2)
    assert np.abs(to_mnist(small) - reference).max() < 0.1
    rgba_transparent = np.zeros((280, 280, 4), np.uint8)                  # black ink, alpha = ink
    rgba_transparent[..., 3] = grey
    assert np.abs(to_mnist(rgba_transparent) - reference).max() < 1e-6
    paper = np.full((280, 280, 4), 255, np.uint8)                         # opaque: dark ink on white paper
    paper[..., :3] = 255 - grey[..., None]
    assert np.abs(to_mnist(paper) - reference).max() < 0.01
    photo = 0.85 - 0.6 * grey.astype(np.float32) / 255                    # grey paper, grey pencil, as floats
    assert np.abs(to_mnist(photo) - reference).max() < 0.05
    assert np.abs(to_mnist(grey > 127) - reference).max() < 0.15          # booleans


@pytest.mark.parametrize("canvas, error, message", [
    (np.zeros((4, 4, 2), np.uint8), ValueError, "canvas must be"),
    (np.zeros(10, np.uint8), ValueError, "canvas must be"),
    (np.zeros((0, 5), np.uint8), ValueError, "empty"),
    (np.zeros((5, 5), np.int32), TypeError, "dtype int32"),
    (np.full((5, 5), 2.0), ValueError, r"\[0, 1\]"),
])
def test_to_mnist_names_bad_canvases(canvas, error, message):
    with pytest.raises(error, match=message):
        to_mnist(canvas)


def test_ink_inverts_dark_on_light():
    paper = np.full((30, 30), 200, np.uint8)
    paper[10:20, 14:16] = 20
    seen = ink(paper)
    assert seen[15, 15] == 1 and seen[0, 0] == 0


# --- strokes_to_mnist: the size first, then MNIST's pen ---

def test_strokes_to_mnist_is_to_mnist_of_a_digit_drawn_at_its_size_with_its_pen():
    L = BOX * DETAIL                                                      # the longer side strokes_to_mnist draws at
    w = L * STROKE_WIDTH / (BOX - STROKE_WIDTH)                           # ... and its pen
    four = [np.array([[60.0, 0.0], [0.0, 55.0], [70.0, 55.0]]), np.array([[52.0, 20.0], [50.0, float(L)]])]
    drawn = [s + (97, 61) for s in four]                                  # anywhere on the pad, whole pixels apart
    assert np.allclose(strokes_to_mnist(drawn), to_mnist(rasterize(drawn, line_width=w)), atol=1e-5)
    assert np.allclose(strokes_to_mnist(drawn), strokes_to_mnist(four), atol=1e-5)


def test_strokes_to_mnist_draws_small_and_large_digits_with_the_same_pen():
    zero = [np.c_[140 + 60 * np.cos(np.linspace(0, 2 * np.pi, 40)), 140 + 100 * np.sin(np.linspace(0, 2 * np.pi, 40))]]
    small = [(s - 140) * 0.3 + 140 for s in zero]
    big, little = strokes_to_mnist(zero), strokes_to_mnist(small)
    assert np.abs(big - little).max() < 0.02                              # the same image
    fixed_pen = to_mnist(rasterize(small)).sum() / to_mnist(rasterize(zero)).sum()
    assert fixed_pen > 1.5                                                # with the fixed pen the small one is thick


def test_strokes_to_mnist_pen_is_stroke_width_pixels_wide():
    image = strokes_to_mnist(ONE)
    # ink across the middle row; to_mnist rounds the line's scaled width to whole pixels, hence the tolerance
    assert image.sum(axis=1)[14] == pytest.approx(STROKE_WIDTH, abs=0.4)
    assert strokes_to_mnist(ONE, stroke_width=4.0).sum(axis=1)[14] == pytest.approx(4.0, abs=0.4)
    assert strokes_to_mnist(ONE, stroke_width=1.5).sum(axis=1)[14] == pytest.approx(1.5, abs=0.4)
    rows = np.flatnonzero(image.max(axis=1) > 0.05)
    assert rows[-1] - rows[0] + 1 in (BOX, BOX + 1)


def test_strokes_to_mnist_blank_dot_and_bad_width():
    assert strokes_to_mnist([]) is None
    dot = strokes_to_mnist([np.array([[100.0, 100.0]])])
    assert dot is not None and center_of_mass(dot) == pytest.approx((13.5, 13.5), abs=0.01)
    with pytest.raises(ValueError, match="stroke_width"):
        strokes_to_mnist(ONE, stroke_width=25)
    with pytest.raises(ValueError, match=r"strokes\[0\]"):
        strokes_to_mnist([np.zeros((3, 3))])


def test_strokes_to_mnist_reads_a_scribble_too_long_to_scale_up():
    zigzag = np.c_[100 + 30 * (np.arange(400) % 2), np.linspace(100, 130, 400)]   # 400 passes across 30 px
    image = strokes_to_mnist([zigzag])                     # scaled to 80 px it would be more ink than rasterize draws
    assert image is not None and image.mean() > 0.3        # a blob of ink, not an error


def test_drawings_to_mnist_is_strokes_to_mnist_of_each():
    drawings = [ONE, [], [np.array([[10.0, 10.0], [200.0, 30.0]])]]
    images = drawings_to_mnist(drawings)
    assert images.shape == (3, 28, 28) and images.dtype == np.float32
    assert np.array_equal(images[0], strokes_to_mnist(ONE)) and not images[1].any()


# --- properties, on random strokes ---

point = st.tuples(st.floats(40, 240), st.floats(40, 240))
stroke_lists = st.lists(st.lists(point, min_size=1, max_size=8), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None)
@given(stroke_lists, st.integers(-30, 30), st.integers(-30, 30))
def test_to_mnist_ignores_where_on_the_pad_the_digit_is(strokes, dx, dy):
    arrays = [np.array(s) for s in strokes]
    image = to_mnist(rasterize(arrays))
    moved = to_mnist(rasterize([a + (dx, dy) for a in arrays]))
    assert image is not None and image.shape == (28, 28)
    assert np.allclose(image, moved, atol=1e-5)
    assert 0 <= image.min() and image.max() <= 1


@settings(max_examples=40, deadline=None)
@given(stroke_lists)
def test_to_mnist_fits_the_box_and_centres_the_mass(strokes):
    canvas = rasterize([np.array(s) for s in strokes])
    image = to_mnist(canvas)
    lit = np.argwhere(image > 0)
    assert (lit.max(axis=0) - lit.min(axis=0) + 1).max() <= BOX + 1
    scaled = scale_to_box(crop(ink(canvas)))
    if image.sum() == pytest.approx(scaled.sum(), rel=1e-4):         # no ink pushed past the frame's edge
        assert center_of_mass(image) == pytest.approx((13.5, 13.5), abs=0.01)


@settings(max_examples=40, deadline=None)
@given(stroke_lists, st.floats(0.2, 1.0), st.integers(-30, 30), st.integers(-30, 30))
def test_strokes_to_mnist_ignores_the_size_and_place_of_the_digit(strokes, k, dx, dy):
    arrays = [np.array(s) for s in strokes]
    image = strokes_to_mnist(arrays)
    moved = strokes_to_mnist([(a - 140) * k + 140 + (dx, dy) for a in arrays])
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
    assert np.abs(image - moved).mean() < 0.01
