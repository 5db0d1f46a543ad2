"""ocrlib.strokeset: the stroke-set file, and the pad's path on the pen-drawn test set."""

import numpy as np
import pytest

from ocrlib.pretrained import load_pretrained
from ocrlib.strokeset import StrokeSetError, evaluate_strokes, load_stroke_set, pack, unpack


def test_stroke_set_loads_and_round_trips():
    drawings, labels = load_stroke_set()
    assert len(drawings) == len(labels) > 1000
    assert set(labels.tolist()) == set(range(10))
    again, again_labels = unpack(pack(drawings[:20], labels[:20], [0] * 20, [-1] * 20))
    assert all(np.array_equal(a, b) for d, e in zip(drawings[:20], again) for a, b in zip(d, e))
    assert np.array_equal(again_labels, labels[:20])
    everything = np.concatenate([s for d in drawings for s in d])
    assert everything.min() > -20 and everything.max() < 300              # on the 280 px pad


def test_pretrained_model_reads_most_pen_drawn_digits():
    drawings, labels = load_stroke_set()
    assert evaluate_strokes(load_pretrained(), drawings[::10], labels[::10]) >= 0.85


def test_a_damaged_stroke_set_is_named(tmp_path):
    bad = tmp_path / "strokes.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(StrokeSetError, match=r"strokes.npz: not a .npz archive \(BadZipFile"):
        load_stroke_set(bad)
    arrays = pack([[np.zeros((2, 2))]], [1], [0], [-1])
    arrays["labels"] = np.array([1, 2], np.uint8)
    np.savez(bad, **arrays)
    with pytest.raises(StrokeSetError, match="strokes.npz: 2 labels for 1 drawings"):
        load_stroke_set(bad)
