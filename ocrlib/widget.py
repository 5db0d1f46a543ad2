"""The drawing pad: draw a digit, see what the network sees and what it thinks, and teach it.

``DigitPad()`` is an ipywidgets box. Its canvas calls plain methods, so code (and tests) can draw too:

    pad = DigitPad()
    pad.on_pen_down(140, 40); pad.on_pen_move(140, 240); pad.on_pen_up(140, 240)   # a "1"
    pad.prediction, pad.probabilities, pad.image        # digit, (10,) probabilities, (28, 28) network input
    pad.teach(1)                                        # one SGD step on this drawing, labelled 1
    pad.undo(); pad.clear(); pad.save_model("my_model.npz"); pad.reset()

Every taught drawing (its strokes, its 28x28 image and its label) is added to a dataset file, rewritten
atomically after each one, so none is lost if the kernel dies. ``load_taught(path)`` reads it back.
"""

import os
import time
from pathlib import Path

import numpy as np

from ocrlib.preprocess import CANVAS_SIZE, PEN_WIDTH, rasterize, to_mnist
from ocrlib.pretrained import MODEL_PATH, load_pretrained
from ocrlib.saving import atomic_write
from ocrlib.strokes import SOURCES, pack, unpack

REPO_DATA = Path(__file__).resolve().parent.parent / "data"
TAUGHT_PATH = REPO_DATA / "taught" / "taught.npz"          # default dataset file; env OCRLIB_TAUGHT_PATH overrides
USER_MODEL_PATH = REPO_DATA / "taught" / "my_model.npz"     # default "Save model" file
PREDICT_INTERVAL = 0.05     # seconds: at most one prediction per interval while the pen moves (always one at pen-up)
TEACH_LR = 0.03             # learning rate of one teach step (0.1 can undo much of what MNIST taught, in one step)
ZOOM = 5                    # the 28 x 28 input is shown 5 times enlarged
PAPER, INK = "#fdfdf8", "#1c1c1c"


# --- the taught dataset ---

def read_taught(path):
    """All taught drawings in ``path``: ``(drawings, images uint8 (N, 28, 28), labels (N,))``; empty if no file."""
    path = Path(path)
    if not path.is_file():
        return [], np.zeros((0, 28, 28), dtype=np.uint8), np.zeros(0, dtype=np.intp)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable taught-digits file ({err})") from None
    drawings, labels = unpack(arrays, name=str(path))
    images = arrays.get("images")
    if images is None or images.shape != (len(labels), 28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{path}: expected 'images' uint8 ({len(labels)}, 28, 28), got "
                         f"{None if images is None else (images.dtype, images.shape)}")
    return drawings, images, labels


def load_taught(path=None):
    """The taught digits as a training set: ``X`` uint8 (N, 28, 28) (like MNIST) and labels ``y`` (N,)."""
    _, images, labels = read_taught(_taught_path(path))
    return images, labels


def write_taught(path, drawings, images, labels):
    """Write the whole dataset to ``path`` atomically (a temporary file renamed over the old one)."""
    taught = SOURCES.index("taught")
    arrays = pack(drawings, labels, source=np.full(len(labels), taught), mnist_index=np.full(len(labels), -1))
    arrays["images"] = np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _taught_path(path):
    if path is not None:
        return Path(path)
    return Path(os.environ.get("OCRLIB_TAUGHT_PATH", TAUGHT_PATH))


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- the pad ---

def _widgets():
    import ipycanvas
    import ipywidgets

    return ipycanvas, ipywidgets


class DigitPad:
    """A drawing pad wired to a network. ``pad.widget`` is the ipywidgets box; the pad displays as it.

    - ``model``: an ``MLP`` (default: the shipped pretrained one). Teaching changes it in place.
    - ``taught_path``: the dataset file taught drawings are added to (default: env ``OCRLIB_TAUGHT_PATH``,
      else ``data/taught/taught.npz``). Drawings already in it are kept.
    - ``model_path``: where "Save model" writes (default ``data/taught/my_model.npz``); never the shipped model.
    """

    def __init__(self, model=None, taught_path=None, model_path=None, lr=TEACH_LR):
        self.model = load_pretrained() if model is None else model
        self.taught_path = _taught_path(taught_path)
        self.model_path = Path(model_path) if model_path is not None else USER_MODEL_PATH
        self.lr = lr
        self.taught = 0                         # teach steps since the model was loaded or reset
        self.strokes = []                       # finished strokes, each a (k, 2) array of (x, y)
        self.current = None                     # the stroke being drawn: a list of (x, y), or None
        self.image = None                       # what the network sees: float32 (28, 28), or None when blank
        self.probabilities = None               # (10,), or None when blank
        self.prediction = None
        self._finished_ink = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)   # rasterized finished strokes
        self._stroke_ink = np.zeros_like(self._finished_ink)  # the stroke being drawn, rasterized ...
        self._inked = 0                                         # ... up to this many of its points
        self._last_predict = -np.inf
        self._dataset = read_taught(self.taught_path)   # fails early, naming the file, if it is unreadable
        self._build()
        self.predict()

    # --- what the canvas calls ---

    def on_pen_down(self, x, y):
        x, y = float(x), float(y)                # plain floats: NumPy scalars cannot go to the browser as JSON
        self.current = [(x, y)]
        self._stroke_ink[:] = 0
        self._inked = 0
        with self._hold():
            self.canvas.fill_circle(x, y, PEN_WIDTH / 2)
        self._last_predict = -np.inf
        self.predict()

    def on_pen_move(self, x, y):
        if self.current is None:                # the pointer moves with the pen up: nothing to draw
            return
        x, y = float(x), float(y)
        x0, y0 = self.current[-1]
        self.current.append((x, y))
        with self._hold():
            self.canvas.stroke_line(x0, y0, x, y)
        if time.monotonic() - self._last_predict >= PREDICT_INTERVAL:
            self.predict()

    def on_pen_up(self, x=None, y=None):
        if self.current is None:
            return
        if x is not None and (float(x), float(y)) != self.current[-1]:
            self.on_pen_move(x, y)
        self._ink_new_points()
        self._finished_ink = np.maximum(self._finished_ink, self._stroke_ink)
        self.strokes.append(np.array(self.current, dtype=np.float64))
        self.current = None
        self.predict()

    # --- buttons ---

    def clear(self):
        self.strokes, self.current = [], None
        self._finished_ink[:] = 0
        self._redraw()
        self.predict()
        self._say("Draw a digit on the pad.")

    def undo(self):
        """Remove the last stroke."""
        if self.current is not None:
            self.current = None
        elif self.strokes:
            self.strokes.pop()
        self._finished_ink = rasterize(self.strokes) if self.strokes else np.zeros_like(self._finished_ink)
        self._redraw()
        self.predict()

    def teach(self, label):
        """One SGD step on the current drawing labelled ``label``; returns (p(label) before, after), None if blank.

        The drawing (strokes, 28x28 image, label) is added to the dataset file.
        """
        label = int(label)
        if not 0 <= label <= 9:
            raise ValueError(f"label must be a digit 0..9, got {label}")
        if self.image is None:
            self._say("The pad is blank: draw a digit before teaching it.")
            return None
        before = float(self.model.predict_proba(self.image)[label])
        self.model.train_on_instance(self.image, label, lr=self.lr)
        after = float(self.model.predict_proba(self.image)[label])
        self.taught += 1
        drawings, images, labels = self._dataset
        strokes = self.strokes + ([np.array(self.current)] if self.current else [])
        self._dataset = (drawings + [strokes],
                         np.concatenate([images, np.round(self.image * 255).astype(np.uint8)[None]]),
                         np.append(labels, label))
        self.taught_path.parent.mkdir(parents=True, exist_ok=True)
        write_taught(self.taught_path, *self._dataset)
        self.predict()
        self._say(f"Taught a {label}: p({label}) went from {before:.0%} to {after:.0%}. "
                  f"{_count(len(self._dataset[2]), 'drawing')} in {self.taught_path.name}.")
        return before, after

    def save_model(self, path=None):
        """Save the (taught) model to ``path`` (default ``model_path``); refuses the shipped model's file."""
        path = Path(path) if path is not None else self.model_path
        if path.resolve() == MODEL_PATH.resolve():
            raise ValueError(f"refusing to overwrite the shipped pretrained model {MODEL_PATH}; "
                             f"choose another file, e.g. {USER_MODEL_PATH}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)
        self._say(f"Model saved to {path}.")
        return path

    def reset(self):
        """Go back to the shipped pretrained model (the drawing and the dataset file stay)."""
        self.model = load_pretrained()
        self.taught = 0
        self.predict()
        self._say("Back to the pretrained model.")

    # --- prediction ---

    def predict(self):
        """Rasterize the ink, turn it into the 28x28 input and run the network; update the display."""
        self._last_predict = time.monotonic()
        ink = self._finished_ink
        if self.current is not None:
            self._ink_new_points()
            ink = np.maximum(ink, self._stroke_ink)
        self.image = to_mnist(ink)
        if self.image is None:
            self.probabilities, self.prediction = None, None
        else:
            self.probabilities = self.model.predict_proba(self.image)       # (10,)
            self.prediction = int(self.probabilities.argmax())
        self._show_prediction()
        return self.prediction

    def _ink_new_points(self):
        """Add the segments drawn since the last prediction to the current stroke's ink.

        Ink is the maximum over segments, so drawing a stroke piece by piece gives the same pixels as
        drawing it whole, and a long stroke costs no more per prediction than a short one.
        """
        if len(self.current) > self._inked:
            new = np.array(self.current[max(self._inked - 1, 0):])     # the new points and the one before
            self._stroke_ink = np.maximum(self._stroke_ink, rasterize([new]))
            self._inked = len(self.current)

    # --- the widgets ---

    def _build(self):
        ipycanvas, ipywidgets = _widgets()
        fixed = {"width": f"{CANVAS_SIZE}px", "height": f"{CANVAS_SIZE}px", "min_width": f"{CANVAS_SIZE}px",
                 "min_height": f"{CANVAS_SIZE}px", "flex": "0 0 auto"}
        self.canvas = ipycanvas.Canvas(width=CANVAS_SIZE, height=CANVAS_SIZE, layout=ipywidgets.Layout(
            border="1px solid #999", **fixed))
        self.canvas.add_class("digitpad-canvas")
        self.canvas.on_client_ready(self._redraw)
        self.canvas.on_mouse_down(self.on_pen_down)
        self.canvas.on_mouse_move(self.on_pen_move)
        self.canvas.on_mouse_up(self.on_pen_up)
        self.canvas.on_mouse_out(self.on_pen_up)
        self.canvas.on_touch_start(lambda touches: self.on_pen_down(*touches[0]))
        self.canvas.on_touch_move(lambda touches: self.on_pen_move(*touches[0]))
        self.canvas.on_touch_end(lambda touches: self.on_pen_up(*(touches[0] if touches else (None, None))))
        self.canvas.on_touch_cancel(lambda touches: self.on_pen_up())

        side = 28 * ZOOM
        self.seen = ipycanvas.Canvas(width=side, height=side, layout=ipywidgets.Layout(
            width=f"{side}px", height=f"{side}px", min_width=f"{side}px", flex="0 0 auto", border="1px solid #999"))
        self.seen.on_client_ready(self._show_seen)
        self.digit_label = ipywidgets.HTML(layout=ipywidgets.Layout(width="110px", height=f"{side}px"))
        self.digit_label.add_class("digitpad-prediction")
        self.bars = [ipywidgets.FloatProgress(min=0, max=1, layout=ipywidgets.Layout(width="150px", height="18px"))
                     for _ in range(10)]
        self.percents = [ipywidgets.Label(layout=ipywidgets.Layout(width="44px")) for _ in range(10)]
        rows = [ipywidgets.HBox([ipywidgets.Label(str(d), layout=ipywidgets.Layout(width="14px")), bar, pct],
                                layout=ipywidgets.Layout(height="22px", align_items="center"))
                for d, (bar, pct) in enumerate(zip(self.bars, self.percents))]

        button = lambda text, width="auto": ipywidgets.Button(description=text, layout=ipywidgets.Layout(width=width))
        self.clear_button = button("Clear", "90px")
        self.undo_button = button("Undo stroke", "110px")
        self.clear_button.on_click(lambda _: self.clear())
        self.undo_button.on_click(lambda _: self.undo())
        self.teach_buttons = [button(f"This is a {d}", "88px") for d in range(10)]
        for d, b in enumerate(self.teach_buttons):
            b.on_click(lambda _, d=d: self.teach(d))
        self.save_button = button("Save model", "110px")
        self.reset_button = button("Reset to pretrained", "160px")
        self.save_button.on_click(lambda _: self._safely(self.save_model))
        self.reset_button.on_click(lambda _: self.reset())
        self.taught_label = ipywidgets.Label()
        self.taught_label.add_class("digitpad-taught")
        self.status = ipywidgets.HTML("Draw a digit on the pad.")
        self.status.add_class("digitpad-status")

        pad = ipywidgets.VBox([self.canvas, ipywidgets.HBox([self.clear_button, self.undo_button])],
                              layout=ipywidgets.Layout(flex="0 0 auto"))
        seen = ipywidgets.VBox([ipywidgets.HTML("<b>The network sees</b>"), self.seen],
                               layout=ipywidgets.Layout(flex="0 0 auto"))
        guess = ipywidgets.VBox([ipywidgets.HTML("<b>It thinks</b>"), self.digit_label],
                                layout=ipywidgets.Layout(flex="0 0 auto"))
        view = ipywidgets.VBox([ipywidgets.HBox([seen, guess]), ipywidgets.VBox(rows)],
                               layout=ipywidgets.Layout(margin="0 0 0 16px"))
        teach = ipywidgets.VBox([
            ipywidgets.HTML("<b>Teach it:</b> tell the network which digit you drew"),
            ipywidgets.HBox(self.teach_buttons[:5]), ipywidgets.HBox(self.teach_buttons[5:]),
            ipywidgets.HBox([self.save_button, self.reset_button, self.taught_label],
                            layout=ipywidgets.Layout(align_items="center")),
            self.status])
        # The pointer over the pad is the pen itself: a circle as wide as the line it draws.
        r = PEN_WIDTH / 2
        pen = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{PEN_WIDTH + 2}' height='{PEN_WIDTH + 2}'>"
               f"<circle cx='{r + 1}' cy='{r + 1}' r='{r}' fill='rgba(28,28,28,0.25)' stroke='%23555'/></svg>")
        cursor = ipywidgets.HTML(f'<style>.digitpad-canvas {{cursor: url("data:image/svg+xml;utf8,{pen}") '
                                 f'{r + 1:g} {r + 1:g}, crosshair; touch-action: none;}}</style>')
        self.widget = ipywidgets.VBox([cursor, ipywidgets.HBox([pad, view]), teach])
        self.widget.add_class("digitpad")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _hold(self):
        ipycanvas, _ = _widgets()
        return ipycanvas.hold_canvas()

    def _redraw(self):
        """Paint the pad again from ``strokes`` (after undo, clear, or when a browser view appears)."""
        with self._hold():
            self.canvas.clear()
            self.canvas.fill_style = PAPER
            self.canvas.fill_rect(0, 0, CANVAS_SIZE, CANVAS_SIZE)
            # the pen: set every time, because a browser view that appears later has not seen earlier settings
            self.canvas.line_cap = "round"
            self.canvas.line_join = "round"
            self.canvas.line_width = PEN_WIDTH
            self.canvas.stroke_style = INK
            self.canvas.fill_style = INK
            for stroke in self.strokes + ([np.array(self.current)] if self.current else []):
                if len(stroke) == 1:
                    self.canvas.fill_circle(stroke[0, 0], stroke[0, 1], PEN_WIDTH / 2)
                else:
                    self.canvas.stroke_lines(stroke)

    def _show_seen(self):
        grey = np.zeros((28, 28), np.uint8) if self.image is None else np.round(self.image * 255).astype(np.uint8)
        big = np.repeat(np.repeat(grey, ZOOM, axis=0), ZOOM, axis=1)                  # (140, 140)
        with self._hold():
            self.seen.put_image_data(np.stack([big] * 3, axis=-1), 0, 0)

    def _show_prediction(self):
        """The top digit, the ten probabilities as bars, the taught count and the 28x28 input."""
        if self.probabilities is None:
            self.digit_label.value = ("<div style='font-size:15px;color:#777;padding-top:40px'>"
                                      "blank pad:<br>nothing to read</div>")
            for bar, pct in zip(self.bars, self.percents):
                bar.value, pct.value = 0, ""
        else:
            self.digit_label.value = (f"<div style='font-size:96px;line-height:120px;font-weight:bold;"
                                      f"text-align:center'>{self.prediction}</div>")
            for d, (bar, pct) in enumerate(zip(self.bars, self.percents)):
                bar.value = float(self.probabilities[d])
                bar.bar_style = "success" if d == self.prediction else ""
                pct.value = f"{self.probabilities[d]:.0%}"
        self.taught_label.value = f"Digits taught: {self.taught}"
        self._show_seen()

    def _say(self, message):
        self.status.value = message

    def _safely(self, action):
        try:
            action()
        except (ValueError, OSError) as err:
            self._say(f"<span style='color:#b00'>{err}</span>")
