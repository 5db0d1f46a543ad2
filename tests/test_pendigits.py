import numpy as np

from ocrlib.pendigits import load_pen_digits, pen_digits_to_mnist, place_on_canvas
from ocrlib.preprocess import rasterize, strokes_to_mnist, to_mnist


def test_pen_digits_load_with_their_writers_and_sites():
    drawings, labels, writers, sources = load_pen_digits()
    assert len(drawings) == len(labels) == len(writers) == len(sources) == 7815
    assert set(labels.tolist()) == set(range(10)) and len(set(sources.tolist())) == 12
    assert all(stroke.ndim == 2 and stroke.shape[1] == 2 for stroke in drawings[0])


def test_pen_digits_go_through_the_pad_path_or_the_fixed_pen():
    drawings = load_pen_digits()[0][:12]
    rng = np.random.default_rng(4)
    placed = [place_on_canvas(strokes, rng) for strokes in drawings]
    pad = pen_digits_to_mnist(drawings, seed=4)
    fixed = pen_digits_to_mnist(drawings, seed=4, fixed_pen=True)
    assert np.array_equal(pad, np.stack([strokes_to_mnist(p) for p in placed]))
    assert np.array_equal(fixed, np.stack([to_mnist(rasterize(p)) for p in placed]))
    small = pen_digits_to_mnist(drawings, seed=4, height=(0.15, 0.3))
    assert np.abs(small - pad).mean() < 0.01                  # the pad's path: the size does not matter ...
    fixed_small = pen_digits_to_mnist(drawings, seed=4, height=(0.15, 0.3), fixed_pen=True)
    assert fixed_small.sum() > 1.3 * fixed.sum()                # ... the fixed pen's small digits come out thick
