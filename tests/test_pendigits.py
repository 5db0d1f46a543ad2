import numpy as np
import pytest

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


def test_a_run_of_labels_shifted_against_the_ink_is_found_and_a_lone_misread_is_not():
    from ocrlib.pendigits import shifted_runs
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7])
    writers = np.array(["a"] * 7 + ["b"] * 7)
    read = labels.copy()
    read[1:4] = labels[2:5]                      # writer a: digits 1-3 show the ink of their right neighbours
    read[10] = 7                                 # writer b: one messy 5 read as a 7, nobody's label
    read[12] = labels[13]                        # writer b: one 9 read as its neighbour's 7, a run of one
    index, ink, run = shifted_runs([read, read.copy()], labels, writers, min_run=2)
    assert index.tolist() == [1, 2, 3] and ink.tolist() == labels[2:5].tolist() and set(run.tolist()) == {0}
    other = read.copy()
    other[2] = labels[2]                         # the second model disagrees on one: that digit does not count
    index, _, _ = shifted_runs([read, other], labels, writers, min_run=3)
    assert index.tolist() == []


def test_the_flags_file_marks_its_digits_and_a_bad_file_is_named(tmp_path):
    import csv

    from ocrlib.paths import FLAGS_PATH
    from ocrlib.pendigits import load_flags
    labels = load_pen_digits()[1]
    mask = load_flags()
    with open(FLAGS_PATH, newline="") as f:
        rows = list(csv.DictReader(f))
    assert mask.shape == labels.shape and sorted(np.flatnonzero(mask).tolist()) == sorted(int(r["index"]) for r in rows)
    assert 0 < mask.sum() < 0.01 * len(labels)
    lines = FLAGS_PATH.read_text().splitlines()
    for bad, message in [(lines[:1] + ["99999" + lines[1][lines[1].index(","):]], "outside the"),
                         (["index,writer"] + lines[1:], "first line must be the columns"),
                         (lines[:1] + [lines[1].replace(f",{rows[0]['label']},", ",7,", 1)], "the file says")]:
        path = tmp_path / "flags.csv"
        path.write_text("\n".join(bad) + "\n")
        with pytest.raises(ValueError, match=message) as err:
            load_flags(path)
        assert str(path) in str(err.value)
