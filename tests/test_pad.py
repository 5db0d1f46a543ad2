"""ocrlib.widget.DigitPad, driven without a browser: synthetic pointer events draw, buttons are clicked."""

import numpy as np
import pytest

from ocrlib.pendigits import load_pen_digits, place_on_canvas
from ocrlib.preprocess import rasterize, strokes_to_mnist, to_mnist
from ocrlib.pretrained import MODEL_PATH, load_pretrained
from ocrlib.strokeset import load_stroke_set
from ocrlib.taught import export_stroke_set, load_taught, read_taught
from ocrlib.widget import DigitPad


def draw(pad, points):
    """One stroke: pen down at the first point, moves through the rest, pen up at the last."""
    pad.on_pen_down(*points[0])
    for x, y in points[1:]:
        pad.on_pen_move(x, y)
    pad.on_pen_up(*points[-1])


def draw_one(pad, shift=0):
    """A "1": a straight stroke down the middle of the pad, moved ``shift`` px right."""
    draw(pad, [(140 + shift, 40), (140 + shift, 140), (140 + shift, 240)])


def draw_digit(pad, digit):
    """A drawing of ``digit`` from the stroke test set that the shipped model reads correctly."""
    drawings, labels = load_stroke_set(source="template")
    for strokes in (d for d, label in zip(drawings, labels) if label == digit):
        pad.clear()
        for stroke in strokes:
            draw(pad, stroke.tolist())
        if pad.prediction == digit:
            return strokes
    raise AssertionError(f"no template drawing of {digit} is read as {digit}")


def draw_misread(pad):
    """A real writer's digit (``data/pen_digits``) that the shipped model misreads; returns what it is."""
    drawings, labels, _writers, _sources = load_pen_digits()
    rng = np.random.default_rng(0)
    for strokes, label in zip(drawings, labels):
        pad.clear()
        for stroke in place_on_canvas(strokes, rng):
            draw(pad, stroke.tolist())
        if pad.prediction != label:
            return int(label)
    raise AssertionError("the shipped model reads every pen digit right")


@pytest.fixture
def pad(tmp_path):
    return DigitPad(taught_path=tmp_path / "taught.npz", model_path=tmp_path / "mine.npz")


def test_blank_pad_never_predicts_nor_trains(pad, tmp_path):
    assert pad.image is None and pad.prediction is None and pad.probabilities is None
    assert "blank" in pad.digit_label.value
    before = [w.copy() for w in pad.model.weights]
    assert pad.teach(3) is None
    pad.label_choice.value = "3"
    pad.teach_button.click()
    assert "blank" in pad.status
    assert pad.taught_count == 0 and not (tmp_path / "taught.sqlite").exists()
    assert all(np.array_equal(a, b) for a, b in zip(before, pad.model.weights))


def test_drawing_a_one_predicts_one_and_shows_it(pad):
    draw(pad, [(140, 40), (141, 90), (140, 150), (139, 240)])
    assert pad.prediction == 1
    assert pad.image.shape == (28, 28) and pad.image.max() > 0.5
    assert pad.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert ">1<" in pad.digit_label.value
    rows = pad.bars.value.split("<div class='digitpad-bar-row")[1:]
    assert len(rows) == 10 and rows[1].startswith(" digitpad-bar-top")              # the top digit's bar stands out
    assert f"width:{100 * pad.probabilities[1]:.1f}%" in rows[1]


def test_prediction_while_drawing_and_at_pen_up(pad):
    pad.on_pen_down(100, 50)
    assert pad.image is not None                        # a dot is already ink
    pad.on_pen_move(100, 150)
    pad.on_pen_move(100, 240)
    pad.on_pen_up(100, 240)
    assert len(pad.strokes) == 1 and pad.current is None
    expected = load_pretrained().predict_proba(pad.image)
    assert np.allclose(pad.probabilities, expected)     # the pen-up prediction sees the whole stroke


def test_moves_with_the_pen_up_draw_nothing(pad):
    pad.on_pen_move(10, 10)
    pad.on_pen_up(20, 20)
    assert pad.strokes == [] and pad.image is None


def test_several_digits_are_recognised(pad):
    for digit in (0, 3, 7):
        draw_digit(pad, digit)
        assert pad.prediction == digit


def test_undo_removes_the_last_stroke_and_clear_removes_all(pad):
    draw(pad, [(140, 40), (140, 240)])
    one = pad.image.copy()
    draw(pad, [(60, 40), (220, 40)])
    assert len(pad.strokes) == 2 and not np.allclose(pad.image, one)
    pad.undo_button.click()
    assert len(pad.strokes) == 1 and np.allclose(pad.image, one)
    pad.clear_button.click()
    assert pad.strokes == [] and pad.image is None and pad.prediction is None
    pad.undo()                                          # undo on a blank pad is harmless
    assert pad.image is None


def test_teach_raises_the_probability_and_keeps_the_drawing(pad, tmp_path):
    draw(pad, [(140, 40), (140, 240)])
    p_before = float(pad.probabilities[7])
    report = pad.teach(7)
    assert report.label == 7 and report.p_before == pytest.approx(p_before) and report.p_after > report.p_before
    X_test, y_test = pad._forgetting_sample()
    assert len(y_test) == 1000 and report.accuracy_after == pad.model.evaluate(X_test, y_test)
    assert 0.9 < report.accuracy_before <= 1 and "Taught a 7: p(7)" in pad.status_line.value
    assert f"{report.accuracy_before:.1%} \u2192 {report.accuracy_after:.1%}" in pad.status_line.value
    assert pad.taught_count == 1 and "Taught drawings (all pads): 1" in pad.taught_label.value
    draw_digit(pad, 3)
    pad.label_choice.value = "3"
    pad.teach_button.click()
    assert pad.taught_count == 2 and "p(3)" in pad.status
    X, y = load_taught(tmp_path / "taught.npz")
    assert X.shape == (2, 28, 28) and X.dtype == np.uint8 and y.tolist() == [7, 3]
    assert np.abs(X[1] / 255 - pad.image).max() < 0.01 or pad.prediction == 3
    drawings, _images, _labels = read_taught(tmp_path / "taught.npz")
    assert len(drawings) == 2 and len(drawings[0]) == 1
    assert np.allclose(drawings[0][0], [(140, 40), (140, 240)])


def test_undo_teach_restores_the_weights_and_forgets_the_drawing(pad, tmp_path):
    draw(pad, [(140, 40), (140, 240)])
    pad.teach(1)
    before = [p.copy() for p in pad.model.weights + pad.model.biases]
    assert pad.undo_teach_button.disabled is False
    draw_digit(pad, 3)
    pad.teach(5)
    assert pad.taught_count == 2 and pad.can_undo_teach
    pad.undo_teach_button.click()
    assert pad.taught_count == 1 and not pad.can_undo_teach and pad.undo_teach_button.disabled
    for p, saved in zip(pad.model.weights + pad.model.biases, before):
        np.testing.assert_array_equal(p, saved)
    assert load_taught(tmp_path / "taught.npz")[1].tolist() == [1]
    assert pad.undo_teach() is False and "Nothing to undo" in pad.status


def test_a_read_only_pad_does_not_teach(tmp_path):
    pad = DigitPad(taught_path=tmp_path / "taught.npz", teaching=False)
    draw(pad, [(140, 40), (140, 240)])
    before = [p.copy() for p in pad.model.weights]
    assert pad.teach(1) is None and "switched off" in pad.status
    assert all(np.array_equal(a, b) for a, b in zip(before, pad.model.weights))
    assert not (tmp_path / "taught.sqlite").exists()


def test_dataset_file_survives_a_new_pad(tmp_path):
    path = tmp_path / "taught.sqlite"
    first = DigitPad(taught_path=path)
    draw(first, [(140, 40), (140, 240)])
    first.teach(1)
    second = DigitPad(taught_path=path)                 # e.g. after the kernel died
    assert second.taught_count == 1
    draw(second, [(150, 40), (150, 240)])
    second.teach(1)
    _X, y = load_taught(path)
    assert y.tolist() == [1, 1] and second.taught_count == 2


def test_taught_drawings_read_back_as_a_stroke_set(pad, tmp_path):
    draw(pad, [(140, 40), (140, 240)])
    pad.teach(1)
    assert export_stroke_set(tmp_path / "shared.npz", pad.taught_path) == 1
    drawings, labels = load_stroke_set(tmp_path / "shared.npz", source="taught")
    assert labels.tolist() == [1] and np.allclose(drawings[0][0], [(140, 40), (140, 240)])
    assert load_stroke_set(tmp_path / "shared.npz", source="template")[1].tolist() == []


def test_taught_path_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OCRLIB_TAUGHT_PATH", str(tmp_path / "env.sqlite"))
    pad = DigitPad()
    draw(pad, [(140, 40), (140, 240)])
    pad.teach(1)
    assert (tmp_path / "env.sqlite").is_file()
    assert load_taught()[1].tolist() == [1]


def test_unreadable_dataset_file_is_named(tmp_path):
    bad = tmp_path / "taught.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="taught.npz"):
        DigitPad(taught_path=bad)
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database" * 100)
    with pytest.raises(ValueError, match="damaged.sqlite"):
        DigitPad(taught_path=damaged)
    assert damaged.read_bytes() == b"not a database" * 100 and bad.read_bytes() == b"not a zip file"


def test_save_model_never_overwrites_the_taught_drawings(pad):
    draw_digit(pad, 1)
    pad.teach(1)
    before = pad.taught_path.read_bytes()
    with pytest.raises(ValueError, match="taught-drawings database"):
        pad.save_model(pad.taught_path)
    assert pad.taught_path.read_bytes() == before and len(load_taught(pad.taught_path)[1]) == 1


def test_save_model_and_reset(pad, tmp_path):
    draw(pad, [(140, 40), (140, 240)])
    pad.teach(7)
    pad.save_button.click()
    saved = load_pretrained().load(tmp_path / "mine-1.npz")         # a new name at each save
    assert np.allclose(saved.predict_proba(pad.image), pad.model.predict_proba(pad.image))
    assert not np.allclose(saved.weights[0], load_pretrained().weights[0])
    pad.reset_button.click()
    pad.reset_button.click()                                        # reset asks for a second press
    assert pad.taught_count == 1 and not pad.can_undo_teach        # the taught drawing stays in its file
    assert np.allclose(pad.model.predict_proba(pad.image), load_pretrained().predict_proba(pad.image))


def test_save_refuses_the_shipped_model(pad):
    shipped = MODEL_PATH.read_bytes()
    with pytest.raises(ValueError, match="refusing to overwrite the shipped"):
        pad.save_model(MODEL_PATH)
    assert MODEL_PATH.read_bytes() == shipped


def test_teach_rejects_a_label_that_is_not_a_digit(pad):
    draw(pad, [(140, 40), (140, 240)])
    with pytest.raises(ValueError, match="label"):
        pad.teach(10)


def send(pad, event, **content):
    """A message from the page's canvas, as the browser sends it."""
    pad.canvas._handle_custom_msg({"event": event, **content}, [])


def test_touch_events_draw_like_the_mouse(pad):
    send(pad, "touch_start", touches=[{"x": 140, "y": 40}])
    send(pad, "touch_move", touches=[{"x": 140, "y": 140}])
    send(pad, "touch_move", touches=[{"x": 140, "y": 240}])
    send(pad, "touch_end", touches=[])
    assert len(pad.strokes) == 1 and len(pad.strokes[0]) == 3
    assert pad.prediction == 1
    send(pad, "mouse_down", x=100, y=50)
    send(pad, "mouse_move", x=180, y=50)
    send(pad, "mouse_up", x=180, y=50)
    assert len(pad.strokes) == 2 and pad.prediction == 7


def test_the_pad_draws_in_the_networks_280_by_280_space():
    pad = DigitPad()
    assert pad.canvas.width == pad.canvas.height == 280            # the screen may show it larger or smaller
    assert pad.label_choice.options == tuple(str(d) for d in range(10))


def test_numpy_coordinates_are_accepted(pad):
    stroke = np.array([[140, 40], [140, 140], [140, 240]], dtype=np.float32)
    pad.on_pen_down(*stroke[0])
    for x, y in stroke[1:]:
        pad.on_pen_move(x, y)
    pad.on_pen_up(*stroke[-1])
    pad.undo()
    pad.on_pen_down(np.int64(140), np.int64(40))
    pad.on_pen_up(np.int64(140), np.int64(240))
    assert len(pad.strokes) == 1 and pad.prediction == 1


def test_the_pad_reads_its_strokes_through_strokes_to_mnist(pad, monkeypatch):
    monkeypatch.setattr("ocrlib.pad.PREDICT_INTERVAL", 0.0)          # predict at every move
    t = np.linspace(0, 2 * np.pi, 120)
    spiral = np.c_[140 + (30 + 20 * t) * np.cos(t), 140 + (30 + 20 * t) * np.sin(t)]
    draw(pad, spiral.tolist())
    draw(pad, [(40, 40), (60, 45)])
    whole = strokes_to_mnist([spiral, np.array([(40.0, 40.0), (60.0, 45.0)])])
    assert np.array_equal(pad.image, whole)
    assert not np.allclose(pad.image, to_mnist(rasterize(pad.strokes)), atol=0.1)   # not the fixed pen's picture


def test_the_same_drawing_is_taught_once(pad, tmp_path):
    draw(pad, [(140, 40), (140, 240)])
    assert pad.teach(7) is not None
    weights = [p.copy() for p in pad.model.weights + pad.model.biases]
    assert pad.teach(7) is None and "already taught as a 7" in pad.status
    assert pad.teach(1) is None and pad.taught_count == 1           # another label: undo first
    assert all(np.array_equal(a, b) for a, b in zip(weights, pad.model.weights + pad.model.biases))
    pad.undo_teach()
    assert pad.teach(1) is not None and load_taught(pad.taught_path)[1].tolist() == [1]
    draw(pad, [(60, 40), (60, 60)])                                   # a changed drawing is a new one
    assert pad.teach(1) is not None and pad.taught_count == 2
    pad.reset()                                   # the pad forgets what it taught; the database does not
    assert pad.teach(1) is None and "already among the taught drawings" in pad.status
    assert str(tmp_path) not in pad.status and pad.taught_count == 2  # a student never sees the server's paths


def test_teaching_rehearses_and_keeps_mnist(pad):
    """Teaching a misread drawing learns it and leaves the forgetting check within a point."""
    label = draw_misread(pad)
    report = pad.teach(label)
    assert report.p_after > 0.5 and report.p_after > report.p_before + 0.2
    assert pad.prediction == label
    assert report.accuracy_after > report.accuracy_before - 0.01
    assert pad.teacher.model is pad.model


def test_two_pads_share_one_database(tmp_path):
    first, second = DigitPad(taught_path=tmp_path / "t.sqlite"), DigitPad(taught_path=tmp_path / "t.sqlite")
    draw(first, [(140, 40), (140, 240)])
    draw(second, [(100, 40), (180, 240)])
    first.teach(1)
    second.teach(1)
    first.clear()
    assert first.taught_count == second.taught_count == 2 and first.name != second.name
    first.undo_teach()                                  # takes back its own drawing only
    _X, _y, drawings = load_taught(tmp_path / "t.sqlite", strokes=True)
    assert len(drawings) == 1 and np.allclose(drawings[0][0], [(100, 40), (180, 240)])


def test_the_pad_reads_with_either_shipped_network_and_reset_keeps_its_kind(tmp_path):
    from ocrlib.convnet import ConvNet
    from ocrlib.network import MLP
    from ocrlib.pad import Pad
    pad = Pad(model="convnet", taught_path=tmp_path / "taught.sqlite")
    assert isinstance(pad.model, ConvNet)
    pad.model.weights[0][...] = 0
    pad.reset()
    assert isinstance(pad.model, ConvNet) and pad.model.weights[0].any()
    assert isinstance(Pad(taught_path=tmp_path / "taught.sqlite").model, MLP)        # the lessons' default
    with pytest.raises(ValueError, match="model must be an MLP, a ConvNet or one of"):
        Pad(model="resnet", taught_path=tmp_path / "taught.sqlite")


# --- what a hostile page may send: refused at the canvas's door, the pad unharmed ---

CRAFTED = [
    ["not", "a", "dict"],
    {"event": "mouse_down"},                                            # no coordinates
    {"event": "mouse_down", "x": "140", "y": 40},                       # a string
    {"event": "mouse_down", "x": True, "y": 40},                        # a bool is no coordinate
    {"event": "mouse_down", "x": float("nan"), "y": 40},
    {"event": "mouse_down", "x": float("inf"), "y": 40},
    {"event": "mouse_down", "x": 1e308, "y": 40},
    {"event": "mouse_down", "x": [140], "y": 40},
    {"event": "touch_start", "touches": {"x": 1, "y": 2}},              # not a list
    {"event": "touch_start", "touches": [{"x": 1, "y": 2}] * 1000},     # a thousand fingers
    {"event": "touch_start", "touches": [[1, 2]]},
    {"event": "execute", "code": "import os"},                          # no such event
    {"x": 140, "y": 40},
]


@pytest.mark.parametrize("content", CRAFTED, ids=range(len(CRAFTED)))
def test_a_crafted_canvas_message_is_refused_and_changes_nothing(pad, content):
    pad.canvas._handle_custom_msg(content, [])
    assert pad.refused == 1 and pad.strokes == [] and pad.current is None and pad.image is None
    assert pad.status.startswith("The pad ignored a message from this page (")
    draw_one(pad)                                                       # and the pad still reads
    assert pad.prediction == 1


def test_a_flood_of_messages_is_held_to_the_rate_a_pen_makes(pad, monkeypatch):
    from ocrlib import widget

    now = [1000.0]
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    pad._last_message = now[0]
    send(pad, "mouse_down", x=140, y=40)
    for k in range(1000):                                               # all at once
        send(pad, "mouse_move", x=140, y=40 + k % 200)
    assert pad.refused == 1000 + 1 - widget.MESSAGE_BURST
    assert pad.points == widget.MESSAGE_BURST
    now[0] += 1.0                                                        # a second later, the pen may go on
    send(pad, "mouse_move", x=150, y=240)
    assert pad.points == widget.MESSAGE_BURST + 1


def test_a_drawing_holds_at_most_max_points(pad, monkeypatch):
    from ocrlib import pad as pad_module

    monkeypatch.setattr(pad_module, "MAX_POINTS", 300)
    pad.on_pen_down(140, 40)
    for k in range(1000):
        pad.on_pen_move(140 + k % 3, 40 + k / 5)
    pad.on_pen_up(140, 240)
    pad.on_pen_down(50, 50)                                             # a new stroke: no room either
    assert pad.points == 300 and len(pad.strokes) == 1
    assert "300 points, the most a pad takes" in pad.status
    pad.clear()
    draw_one(pad)
    assert pad.prediction == 1


def test_teaching_is_held_to_teach_limit_a_minute(pad, tmp_path, monkeypatch):
    from ocrlib import pad as pad_module
    from ocrlib.taught import load_taught

    monkeypatch.setattr(pad_module, "TEACH_LIMIT", 3)
    for k in range(3):
        pad.clear()
        draw_one(pad, shift=4 * k)
        assert pad.teach(1) is not None
    pad.clear()
    draw_one(pad, shift=20)
    assert pad.teach(1) is None and "the most it may" in pad.status
    assert len(load_taught(pad.taught_path)[1]) == 3                    # nothing more reached the database
    pad._teach_times[0] -= 61                                            # a minute after the first
    assert pad.teach(1) is not None
