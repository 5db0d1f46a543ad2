"""How the drawing pad looks: ``DigitPad`` is a ``Pad`` (``ocrlib/pad.py``) shown as ipywidgets.

A canvas to draw on, the 28x28 image the network sees, its prediction with all ten probabilities as bars,
and buttons to clear, undo, teach and save. ``DigitPad()`` displays itself in a notebook; ``pad.widget`` is
the ipywidgets box. Everything it does is ``Pad``'s: this file only lays it out and keeps it up to date.
"""

import html

import ipycanvas
import ipywidgets
import numpy as np

from ocrlib.pad import Pad
from ocrlib.preprocess import CANVAS_SIZE, PEN_WIDTH

ZOOM = 5                    # the 28 x 28 input is shown 5 times enlarged
PAPER, INK = "#fdfdf8", "#1c1c1c"


class DigitPad(Pad):
    """A drawing pad wired to a network, as a widget. Takes the arguments of ``Pad``."""

    def __init__(self, *args, **kwargs):
        self._built = False
        super().__init__(*args, **kwargs)
        self._build()
        self._built = True
        self._show()

    # --- the canvas: draw each piece of ink as it comes, then let ``Pad`` do the rest ---

    def on_pen_down(self, x, y):
        with ipycanvas.hold_canvas():
            self.canvas.fill_circle(float(x), float(y), PEN_WIDTH / 2)
        super().on_pen_down(x, y)

    def on_pen_move(self, x, y):
        if self.current is not None:
            x0, y0 = self.current[-1]
            with ipycanvas.hold_canvas():
                self.canvas.stroke_line(x0, y0, float(x), float(y))
        super().on_pen_move(x, y)

    def clear(self):
        super().clear()
        self._redraw()

    def undo(self):
        super().undo()
        self._redraw()

    def _safely(self, action):
        """Run a button's action; an error becomes words in the status line, never a traceback."""
        try:
            action()
        except (ValueError, OSError) as err:
            self._say(str(err))

    # --- the widgets ---

    def _build(self):
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
            b.on_click(lambda _, d=d: self._safely(lambda: self.teach(d)))
        self.save_button = button("Save model", "110px")
        self.reset_button = button("Reset to pretrained", "160px")
        self.save_button.on_click(lambda _: self._safely(self.save_model))
        self.reset_button.on_click(lambda _: self._safely(self.reset))
        self.undo_teach_button = button("Undo teach", "110px")
        self.undo_teach_button.on_click(lambda _: self._safely(self.undo_teach))
        self.taught_label = ipywidgets.Label()
        self.taught_label.add_class("digitpad-taught")
        self.status_line = ipywidgets.HTML()
        self.status_line.add_class("digitpad-status")

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
            ipywidgets.HBox([self.undo_teach_button, self.save_button, self.reset_button, self.taught_label],
                            layout=ipywidgets.Layout(align_items="center")),
            self.status_line])
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

    def _redraw(self):
        """Paint the pad again from ``strokes`` (after undo, clear, or when a browser view appears)."""
        with ipycanvas.hold_canvas():
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
        with ipycanvas.hold_canvas():
            self.seen.put_image_data(np.stack([big] * 3, axis=-1), 0, 0)

    def _show(self):
        """The top digit, the ten probabilities as bars, the taught count, the status and the 28x28 input."""
        if not self._built:
            return
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
        self.taught_label.value = f"Drawings taught: {self.taught_count}"
        self.undo_teach_button.disabled = not self.can_undo_teach
        self.status_line.value = html.escape(self.status)
        self._show_seen()
