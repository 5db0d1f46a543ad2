"""ocrlib.widget: what the pad shows (the drawing logic itself is tested in test_pad.py)."""

import html
import time

import numpy as np
import pytest

from ocrlib.network import MLP
from ocrlib.widget import DigitPad, percent


def draw_one(pad):
    pad.on_pen_down(140, 40)
    pad.on_pen_move(140, 140)
    pad.on_pen_up(140, 240)


@pytest.fixture
def pad(tmp_path):
    return DigitPad(taught_path=tmp_path / "taught.npz", model_path=tmp_path / "mine.npz")


@pytest.mark.parametrize("p, shown", [(0.0, "<1%"), (0.004, "<1%"), (0.0099, "<1%"), (0.01, "1%"), (0.42, "42%"),
                                      (0.99, "99%"), (0.9951, ">99%"), (1.0, ">99%")])
def test_percent_never_shows_0_or_100_for_what_is_not(p, shown):
    assert percent(p) == shown


def test_every_percent_on_screen_agrees_with_its_bar(pad):
    draw_one(pad)
    rows = pad.bars.value.split("<div class='digitpad-bar-row")[1:]
    assert len(rows) == 10
    for p, row in zip(pad.probabilities, rows):
        assert f"width:{100 * p:.1f}%" in row and f">{html.escape(percent(p))}</span>" in row
        assert ">0%<" not in row


def test_the_screen_follows_the_pen_at_most_ten_times_a_second(pad, monkeypatch):
    now = [time.monotonic() + 1000]                     # a clock that moves only when the test says so
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    monkeypatch.setattr("ocrlib.pad.PREDICT_INTERVAL", 0.0)          # the pad predicts at every move
    shown = []
    pad.bars.observe(lambda change: shown.append(change["new"]), "value")
    # an arc that grows for 1 s, 200 moves, 20 per 0.1 s: its reading changes as it grows (a straight line
    # would not, as the pad scales the ink to one size)
    arc = [(140 + 90 * np.cos(t), 140 + 90 * np.sin(t)) for t in np.linspace(0, 1.6 * np.pi, 201)]
    pad.on_pen_down(*arc[0])
    for i, (x, y) in enumerate(arc[1:], start=1):
        pad.on_pen_move(x, y)
        if i % 20 == 0:
            now[0] += 0.1
    assert 5 <= len(shown) <= 11
    pad.on_pen_up(*arc[-1])                             # the pen-up reading, always, at once
    assert pad.bars.value == shown[-1] and "digitpad-bar-top" in shown[-1]
    assert pad.announce.value.startswith("It reads")


def test_the_status_follows_the_drawing(pad):
    assert pad.status_line.value == "Draw a digit on the pad."
    draw_one(pad)
    assert "It reads 1" in pad.status_line.value and "Draw a digit" not in pad.status_line.value
    pad.undo()
    assert pad.status_line.value == "Draw a digit on the pad."
    draw_one(pad)
    pad.teach_button.click()                            # no digit chosen: a message, nothing taught
    assert "Choose the digit" in pad.status_line.value and pad.taught_count == 0
    pad.clear()
    assert pad.status_line.value == "Draw a digit on the pad."


def test_the_reading_is_announced_when_the_pen_is_lifted(pad):
    assert pad.announce.value == "The pad is blank."
    pad.on_pen_down(140, 40)
    pad.on_pen_move(140, 140)
    assert pad.announce.value == "The pad is blank."   # not at every move while drawing
    pad.on_pen_up(140, 240)
    assert pad.announce.value == html.escape(f"It reads 1 ({percent(pad.probabilities[1])}).")


def test_teaching_takes_a_chosen_digit_and_a_press(pad, tmp_path):
    assert pad.teach_button.disabled                    # blank pad, no digit chosen
    draw_one(pad)
    assert pad.teach_button.disabled                    # no digit chosen yet
    pad.label_choice.value = "7"
    assert not pad.teach_button.disabled and pad.teach_button.description == "Teach it: this is a 7"
    pad.teach_button.click()
    assert pad.taught_count == 1 and pad.taught_label.value == "Taught drawings (all pads): 1"
    report = pad._report
    assert pad.status_line.value == html.escape(
        f"Taught a 7: p(7) on your drawing {percent(report.p_before)} \u2192 {percent(report.p_after)}; of 1,000 "
        f"MNIST test digits, read right {report.accuracy_before:.1%} \u2192 {report.accuracy_after:.1%}.")
    assert pad.label_choice.value is None and pad.teach_button.disabled    # a second press teaches nothing
    pad.teach_button.click()
    assert pad.taught_count == 1
    pad.undo_teach_button.click()
    assert pad.taught_count == 0 and "undone" in pad.status_line.value


def test_save_model_never_overwrites_and_offers_a_download(pad, tmp_path):
    draw_one(pad)
    first = pad.save_model_copy()
    pad.label_choice.value = "1"
    pad.teach_button.click()
    pad.save_button.click()
    second = tmp_path / "mine-2.npz"
    assert first == tmp_path / "mine-1.npz" and second.is_file() and not (tmp_path / "mine.npz").exists()
    assert not np.allclose(MLP.load(first).weights[0], MLP.load(second).weights[0])   # the first is intact
    assert "download='mine-2.npz'" in pad.download.value and "base64," in pad.download.value


def test_a_failed_save_leaves_no_file_and_says_why(pad, tmp_path, monkeypatch):
    def broken(path):
        raise OSError(f"{path}: disk full")

    monkeypatch.setattr(pad.model, "save", broken)
    pad.save_button.click()
    assert "disk full" in pad.status_line.value and not list(tmp_path.glob("mine*"))


def test_an_unexpected_error_becomes_words(pad, monkeypatch):
    def broken(name="mlp"):
        raise RuntimeError("no model")

    monkeypatch.setattr("ocrlib.pad.load_pretrained", broken)
    pad.reset_button.click()
    pad.reset_button.click()
    assert "Something went wrong (RuntimeError: no model)" in pad.status_line.value


def test_a_cleared_pad_forgets_the_chosen_digit(pad):
    """Choose 9 for one drawing, clear it (or undo it away) and draw another: that one is never taught as 9."""
    for wipe in (pad.clear, pad.undo):
        draw_one(pad)
        pad.label_choice.value = "9"
        wipe()
        assert pad.label_choice.value is None
        draw_one(pad)
        assert pad.teach_button.disabled and pad.teach_button.description == "Teach it"
        pad.teach_button.click()
        assert pad.taught_count == 0
        pad.clear()


def test_reset_takes_a_second_press_and_anything_else_keeps_the_lessons(pad):
    draw_one(pad)
    pad.label_choice.value = "7"
    pad.teach_button.click()
    taught = [w.copy() for w in pad.model.weights]
    pad.reset_button.click()
    assert pad.reset_button.description == "Press again to reset" and "again" in pad.status_line.value
    pad.clear()                                         # anything else: not reset, and the next press asks again
    assert pad.reset_button.description == "Reset to pretrained"
    pad.reset_button.click()
    assert all(np.array_equal(w, t) for w, t in zip(pad.model.weights, taught))
    pad.reset_button.click()
    assert not np.array_equal(pad.model.weights[0], taught[0]) and "Back to the pretrained" in pad.status_line.value
    assert pad.reset_button.description == "Reset to pretrained"
    pad.reset_button.click()                            # armed, then the presentation toggle: not reset either
    assert pad.reset_button.button_style == "danger"
    pad.present_toggle.value = True
    assert pad.reset_button.description == "Reset to pretrained" and pad.reset_button.button_style == ""


def test_the_image_the_network_sees_reaches_the_page_pixel_for_pixel(pad, monkeypatch):
    """ipycanvas sends an RGB array as a JPEG, whose speckles are not what the network reads; RGBA goes as PNG."""
    from ipycanvas.utils import binary_image, image_bytes_to_array

    sent = []
    monkeypatch.setattr(pad.seen, "put_image_data", lambda array, x, y: sent.append(array))
    pad.on_pen_down(60, 60)                             # a crossed zero: sharp edges, where a JPEG speckles
    for t in np.linspace(0, 2 * np.pi, 60):
        pad.on_pen_move(140 + 80 * np.cos(t), 140 + 100 * np.sin(t))
    pad.on_pen_up(140 + 80, 140)
    pad.on_pen_down(70, 230)
    pad.on_pen_up(210, 50)
    grey = np.round(pad.image * 255).astype(np.uint8)
    received = image_bytes_to_array(binary_image(sent[-1]))
    assert received.shape == (28, 28, 4) and np.array_equal(received[..., 0], grey)
    assert np.all(received[..., 3] == 255)


def test_presentation_mode_is_a_class_on_the_pad(tmp_path):
    pad = DigitPad(taught_path=tmp_path / "taught.npz", present=True)
    assert "digitpad-present" in pad.widget._dom_classes and pad.present_toggle.value
    pad.present_toggle.value = False
    assert "digitpad-present" not in pad.widget._dom_classes


def test_a_read_only_pad_shows_no_teaching(tmp_path):
    pad = DigitPad(taught_path=tmp_path / "taught.npz", teaching=False)
    draw_one(pad)
    assert pad.teach_box.layout.display == "none"
    assert pad.save_button not in pad.widget.children[3].children
    assert pad.status_line.value == html.escape(f"It reads 1 ({percent(pad.probabilities[1])}).")


def test_the_taught_count_catches_up_with_other_pads_at_pen_up(pad, tmp_path):
    other = DigitPad(taught_path=tmp_path / "taught.npz", model_path=tmp_path / "other.npz")
    draw_one(other)
    other.teach(1)
    assert pad.taught_count == 0                        # this pad has not looked since it started
    draw_one(pad)                                       # its pen-up reads the reading first, then the count
    assert pad.taught_count == 1 and pad.taught_label.value == "Taught drawings (all pads): 1"


# --- "Why?" ---

def test_why_shows_the_explanation_at_pen_up_and_hides_when_off(pad, monkeypatch):
    sent = {i: [] for i in range(3)}
    for i, canvas in enumerate(pad.why_maps):
        monkeypatch.setattr(canvas, "put_image_data", lambda array, x, y, i=i: sent[i].append(array))
    assert pad.why_box.layout.display == "none" and pad.explanation is None
    pad.why_toggle.value = True
    assert pad.why_box.layout.display is None
    assert "at pen-up" in pad.why_units_text.value
    pad.on_pen_down(140, 40)
    pad.on_pen_move(140, 140)
    assert pad.explanation is None and not sent[0]           # nothing while the pen moves
    pad.on_pen_up(140, 240)
    e = pad.explanation
    assert e is not None and e.digit == pad.prediction and e.runner_up != e.digit
    assert f"Why {e.digit}" in pad.why_captions[0].value and f"Why not {e.runner_up}" in pad.why_captions[1].value
    assert f"make it a {e.runner_up}" in pad.why_captions[2].value
    assert all(len(sent[i]) == 1 and sent[i][0].shape == (112, 112, 4) for i in range(3))
    assert "raised 1 most: #" in pad.why_units_text.value
    pad.why_toggle.value = False
    assert pad.why_box.layout.display == "none" and pad.explanation is None
    pad.clear()
    pad.why_toggle.value = True
    assert pad.explanation is None and "at pen-up" in pad.why_units_text.value


def test_why_colours_are_apart_in_colour_and_in_greyscale():
    from ocrlib.widget import LOWERED, RAISED, change_rgba, heat_rgba

    values = np.zeros((28, 28))
    values[5:10, 5:10] = 2.0
    values[15:20, 15:20] = -2.0
    picture = heat_rgba(values)                                              # (112, 112, 4)
    assert picture.shape == (112, 112, 4) and np.all(picture[..., 3] == 255)
    assert np.array_equal(picture[24, 24, :3], RAISED)                      # strongest raise: orange
    assert np.array_equal(picture[0, 0, :3], [255, 255, 255])               # no effect: white
    lowered = picture[60:80, 60:80, :3].reshape(-1, 3)
    assert np.all((lowered == LOWERED).all(axis=1) | (lowered == 255).all(axis=1))
    assert 0.15 < (lowered == 255).all(axis=1).mean() < 0.35                 # striped with white lines

    def grey(rgb):
        return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]

    assert grey(RAISED) - grey(LOWERED) > 60 and 255 - grey(RAISED) > 60     # three greys far apart
    image = np.zeros((28, 28))
    image[10, 10] = 1.0
    added, removed = np.zeros((28, 28)), np.zeros((28, 28))
    added[3, 3], removed[10, 10] = 0.8, 1.0
    change = change_rgba(image, added, removed)
    a = np.sqrt(0.8)                                                         # added 0.8 of the most: sqrt(0.8) orange
    assert np.allclose(change[13, 13, :3], 255 * (1 - a) + RAISED * a, atol=1)
    assert np.array_equal(change[41, 42, :3], LOWERED)                       # removed: blue
    assert np.array_equal(change[0, 0, :3], [255, 255, 255])


def test_why_explains_within_the_pads_own_numbers(pad):
    """The three maps are the explain module's, for the pad's own image."""
    from ocrlib.explain import saliency

    pad.why_toggle.value = True
    draw_one(pad)
    e = pad.explanation
    assert np.allclose(e.digit_map, saliency(pad.model, pad.image, e.digit, of="logit").input_times_gradient)
    assert np.allclose(e.change.image, np.clip(pad.image + e.change.added - e.change.removed, 0, 1), atol=1e-6)
    assert pad.model.predict(e.change.image) == e.runner_up
