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


def _writers_with_a_planted_run(rng, n=40):
    """Two writers' digits (no label twice in a row), images near one random picture per label, round strokes,
    and three readers who read every label right: ``labels, writers, images, drawings, readings``."""
    labels = [int(rng.integers(10))]
    while len(labels) < 2 * n:
        labels.append(int((labels[-1] + rng.integers(1, 10)) % 10))       # never the same label twice in a row
    labels = np.array(labels)
    writers = np.array(["a"] * n + ["b"] * n)
    pictures = rng.uniform(0, 1, (10, 28, 28)).astype(np.float32)        # (10, 28, 28): one per label
    images = pictures[labels] + rng.normal(0, 0.05, (2 * n, 28, 28)).astype(np.float32)
    circle = np.stack([np.cos(np.linspace(0, 6, 30)), np.sin(np.linspace(0, 6, 30))], axis=1) * 100
    drawings = [[circle + rng.normal(0, 2, circle.shape)] for _ in labels]
    readings = np.stack([labels, labels, labels])                        # (3, 2n)
    return labels, writers, images, drawings, readings, pictures


def test_find_mislabelled_finds_a_planted_shifted_run_and_a_bare_stroke_but_not_lone_misreads():
    from ocrlib.pendigits import find_mislabelled
    rng = np.random.default_rng(0)
    labels, writers, images, drawings, readings, pictures = _writers_with_a_planted_run(rng)
    run = np.arange(10, 14)                              # writer a: each digit's ink is its right neighbour's
    images[run] = pictures[labels[run + 1]]
    readings[:, run] = labels[run + 1]
    messy = 25                                           # writer a: all readers misread one digit of its own ink
    readings[:, messy] = (labels[messy] + 1) % 10
    once = 30                                            # and one that only one network misreads
    readings[0, once] = (labels[once] + 3) % 10
    bare = 45                                            # writer b: a bare upright stroke labelled 4
    labels[bare] = 4 if 4 not in (labels[bare - 1], labels[bare + 1]) else 8
    drawings[bare] = [np.array([[0.0, 0.0], [1.0, 50.0], [2.0, 100.0]])]
    readings[:, bare] = [1, 1, labels[bare]]              # both networks read a 1; the third reader its label
    flagged, evidence, ink = find_mislabelled(readings, labels, writers, images, drawings)
    assert np.flatnonzero(flagged).tolist() == [*run, bare]
    assert evidence["shifted"][run].all() and evidence["readers"][run].all() and evidence["writer"][run].all()
    assert ink[run].tolist() == labels[run + 1].tolist() and ink[bare] == -1
    assert evidence["readers"][messy] and not evidence["writer"][messy]      # it looks like its writer's own digits
    assert evidence["stroke"][bare] and not evidence["stroke"][np.arange(len(labels)) != bare].any()


def test_a_writers_own_digits_and_a_lone_habit_are_no_evidence():
    from ocrlib.pendigits import find_mislabelled, unlike_own_digits
    rng = np.random.default_rng(1)
    labels, writers, images, drawings, readings, pictures = _writers_with_a_planted_run(rng)
    sure = np.ones(len(labels), dtype=bool)
    assert not unlike_own_digits(images, labels, writers, sure).any()
    habit = np.flatnonzero(labels[:40] == labels[0])                     # writer a draws every such digit oddly
    images[habit] = pictures[(labels[0] + 5) % 10] + 0.5
    readings[:, habit] = (labels[0] + 5) % 10
    flagged, evidence, _ = find_mislabelled(readings, labels, writers, images, drawings)
    assert len(habit) >= 2 and not flagged.any() and evidence["readers"][habit].all()
    assert not evidence["writer"][habit].any()                           # they vouch for one another ...
    single = habit[0]                                                    # ... a lone one does not have that
    labels2, images2 = labels.copy(), images.copy()
    images2[habit] = pictures[labels[habit]]
    images2[single] = pictures[(labels[0] + 5) % 10]
    readings2 = np.stack([labels2] * 3)
    readings2[:, single] = (labels[0] + 5) % 10
    flagged, evidence, _ = find_mislabelled(readings2, labels2, writers, images2, drawings)
    assert flagged[single] and evidence["writer"][single]


def test_bare_strokes_can_only_be_an_upright_1():
    from ocrlib.pendigits import bare_strokes
    upright = [np.array([[0.0, 0.0], [3.0, 100.0]])]
    flat = [np.array([[0.0, 0.0], [100.0, 5.0]])]
    circle = [np.stack([np.cos(np.linspace(0, 6, 30)), np.sin(np.linspace(0, 6, 30))], axis=1)]
    dot = [np.array([[5.0, 5.0]])]
    two_strokes = [np.array([[0.0, 0.0], [0.0, 50.0]]), np.array([[0.0, 60.0], [0.0, 100.0]])]    # one line
    drawings = [upright, upright, flat, circle, dot, two_strokes]
    labels = np.array([1, 4, 1, 0, 1, 7])
    assert bare_strokes(drawings, labels).tolist() == [False, True, True, False, True, True]


def test_nearest_neighbour_reading_asks_other_writers_only():
    from ocrlib.pendigits import nearest_neighbour_reading
    rng = np.random.default_rng(2)
    pictures = rng.uniform(0, 1, (2, 28, 28))
    images = pictures[[0, 0, 0, 0, 0, 0, 1, 1, 1, 1]] + rng.normal(0, 0.01, (10, 28, 28))
    images[1:4] = images[0]                     # writer a's 5s: the very ink of its 3
    labels = np.array([3, 5, 5, 5, 3, 3, 6, 6, 6, 6])
    writers = np.array(["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"])
    read = nearest_neighbour_reading(images, labels, writers, k=3)
    assert read[0] == 3 and read[1] == 3        # writer a's own 5s, nearest of all, never vote ...
    everyone = nearest_neighbour_reading(images, labels, np.arange(10).astype(str), k=3)
    assert everyone[0] == 5                     # ... as they would if each digit had its own writer


def test_the_flags_file_marks_its_digits_and_a_bad_file_is_named(tmp_path):
    import csv

    from ocrlib.paths import FLAGS_PATH
    from ocrlib.pendigits import FLAG_REASONS, load_flags
    labels = load_pen_digits()[1]
    mask = load_flags()
    with open(FLAGS_PATH, newline="") as f:
        rows = list(csv.DictReader(f))
    assert mask.shape == labels.shape and mask.dtype == bool
    assert sorted(np.flatnonzero(mask).tolist()) == sorted(int(r["index"]) for r in rows)
    assert 0 < mask.sum() < 0.01 * len(labels)
    assert all(set(r["reason"].split("+")) <= set(FLAG_REASONS) for r in rows)
    header, first = FLAGS_PATH.read_text().splitlines()[:2]
    cells = first.split(",")
    def changed(column, value):
        return ",".join(value if k == column else cell for k, cell in enumerate(cells))
    for bad, message in [([header, changed(0, "99999")], "outside the"),
                         ([header, changed(0, "-1")], "outside the"),
                         ([header, changed(0, "x")], "must be integers"),
                         (["index,writer", first], "first line must be the columns"),
                         ([header, first + ",extra"], "expected 7 values"),
                         ([header, changed(3, str((int(cells[3]) + 1) % 10))], "the file says"),
                         ([header, changed(6, "guessed")], "reason must be")]:
        path = tmp_path / "flags.csv"
        path.write_text("\n".join(bad) + "\n")
        with pytest.raises(ValueError, match=message) as err:
            load_flags(path)
        assert str(path) in str(err.value)
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        load_flags(tmp_path / "nowhere.csv")
