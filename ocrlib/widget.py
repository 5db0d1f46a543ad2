"""How the drawing pad looks: ``DigitPad`` is a ``Pad`` (``ocrlib/pad.py``) shown as ipywidgets.

A canvas to draw on, the 28x28 image the network sees, its prediction with all ten probabilities as bars,
and buttons to clear, undo, teach and save. ``DigitPad()`` displays itself in a notebook; ``pad.widget`` is
the ipywidgets box. Everything it does is ``Pad``'s: this file only lays it out and keeps it up to date.

The layout follows the screen, from a phone held either way to a projector (the style sheet ``STYLE`` below);
``present=True``, or the "Presentation mode" button, makes the pad, the digit and the bars large for the front
of a room. The canvas always works in the network's 280 x 280 drawing space: the browser may show it larger
or smaller, and ipycanvas scales every pointer position back to 280 x 280.
"""

import base64
import html
import time

import ipycanvas
import ipywidgets
import numpy as np

from ocrlib.convnet import ConvNet
from ocrlib.pad import FORGETTING_SAMPLE, Pad, RefusedInput, check_point
from ocrlib.preprocess import CANVAS_SIZE, PEN_WIDTH

PAPER, INK = "#fdfdf8", "#1c1c1c"
SHOW_INTERVAL = 0.1         # seconds: at most one screen update per interval while the pen moves (always one at pen-up)
# The canvas's messages from the page: a pointer sends about 60 a second (the page holds moves to one per 20 ms)
MESSAGE_RATE = 120          # messages a second a page may send, on average ...
MESSAGE_BURST = 240         # ... and at once
MAX_TOUCHES = 10
POINTER_EVENTS = {"mouse_down", "mouse_move", "mouse_up", "mouse_out"}
TOUCH_EVENTS = {"touch_start", "touch_move", "touch_end", "touch_cancel"}
IGNORED_EVENTS = {"client_ready", "mouse_wheel", "key_down"}      # client_ready is handled; the others unused
PEN_ACTIONS = {"mouse_down": "on_pen_down", "mouse_move": "on_pen_move", "mouse_up": "on_pen_up",    # event: Pad's
               "mouse_out": "on_pen_up", "touch_start": "on_pen_down", "touch_move": "on_pen_move",
               "touch_end": "on_pen_up", "touch_cancel": "on_pen_up"}


def canvas_event(content):
    """A message from the page's drawing canvas -> (event, points): its name and its points, checked.

    Raises ``RefusedInput`` for anything a pointer does not send: no dict, an unknown event, a missing,
    non-numeric, non-finite or far-off coordinate, more than ``MAX_TOUCHES`` touches.
    """
    if not isinstance(content, dict):
        raise RefusedInput(f"a canvas message must be an object, got {type(content).__name__}")
    event = content.get("event")
    if event in POINTER_EVENTS:
        return event, [check_point(content.get("x"), content.get("y"))]
    if event in TOUCH_EVENTS:
        touches = content.get("touches")
        if not isinstance(touches, list) or len(touches) > MAX_TOUCHES:
            raise RefusedInput(f"a touch message must list at most {MAX_TOUCHES} touches")
        if not all(isinstance(t, dict) for t in touches):
            raise RefusedInput("each touch must be an object with x and y")
        return event, [check_point(t.get("x"), t.get("y")) for t in touches]
    if event in IGNORED_EVENTS:
        return event, []
    raise RefusedInput(f"unknown canvas event {str(event)[:40]!r}")


def percent(p):
    """A probability as the pad shows it: whole percents, "<1%" under 1 % and ">99%" over 99 %.

    A bar that is visible never sits beside "0%", and a certain-looking "100%" is never shown for 0.996.
    """
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{p:.0%}"


def bars_html(probabilities):
    """The ten probabilities as rows of a digit, a bar and a percent (empty rows for a blank pad)."""
    rows = []
    for d in range(10):
        p = 0.0 if probabilities is None else float(probabilities[d])
        top = probabilities is not None and d == int(np.argmax(probabilities))
        rows.append(f"<div class='digitpad-bar-row{' digitpad-bar-top' if top else ''}'>"
                    f"<span class='digitpad-bar-digit'>{d}</span>"
                    f"<div class='digitpad-bar'><div style='width:{100 * p:.1f}%'></div></div>"
                    f"<span class='digitpad-percent'>{'' if probabilities is None else html.escape(percent(p))}"
                    f"</span></div>")
    return "".join(rows)



# "Why?": maps of what raised and lowered a digit. Okabe and Ito's orange and blue, which colour-blind eyes tell
# apart, and which stay apart in greyscale: orange turns mid-grey, blue dark grey, and "no effect" is white. Blue
# cells are also striped, so that even a print without colour shows which way each pixel pushed.
RAISED, LOWERED, WHITE = np.array([230, 159, 0]), np.array([0, 114, 178]), np.array([255, 255, 255])
WHY_SCALE = 4               # screen pixels of a map per input pixel (a 28x28 map is 112x112)
TILE = 56                   # the side of a hidden unit's picture


def css_colour(rgb):
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def heat_colours(values, limit=None):
    """A signed map (h, w) -> its colours (h, w, 3) and where it is striped (h, w): orange where positive,
    blue where negative, white at 0, each as strong as the square root of its size against ``limit`` (default:
    the largest)."""
    values = np.asarray(values, dtype=np.float64)
    limit = np.abs(values).max() if limit is None else limit
    a = np.zeros_like(values) if not limit > 0 else np.clip(np.abs(values) / limit, 0, 1)     # (h, w) in [0, 1]
    a = np.sqrt(a)                              # a tenth of the largest still shows, as a third of the colour
    rgb = WHITE * (1 - a[..., None]) + np.where(values[..., None] < 0, LOWERED, RAISED) * a[..., None]
    return rgb, (values < 0) & (a > 0.15)


def enlarged(rgb, striped, scale):
    """Colours (h, w, 3) as an RGBA picture (h scale, w scale, 4), the ``striped`` cells crossed by white
    diagonal lines."""
    h, w = striped.shape
    big = np.repeat(np.repeat(np.round(rgb).astype(np.uint8), scale, axis=0), scale, axis=1)   # (h s, w s, 3)
    rows, cols = np.indices((h * scale, w * scale))
    stripes = np.repeat(np.repeat(striped, scale, axis=0), scale, axis=1) & ((rows + cols) % 4 == 0)
    big[stripes] = 255
    return np.dstack([big, np.full((h * scale, w * scale), 255, np.uint8)])


def heat_rgba(values, scale=WHY_SCALE, limit=None):
    """A signed map (h, w) as an RGBA picture (h scale, w scale, 4): orange where positive, striped blue where
    negative, white at 0."""
    return enlarged(*heat_colours(values, limit), scale)


def change_rgba(image, added, removed, scale=WHY_SCALE):
    """The ink a counterfactual keeps (grey), adds (orange) and removes (striped blue), as RGBA (28 s, 28 s, 4)."""
    rgb, striped = heat_colours(added - removed)
    untouched = (added == 0) & (removed == 0)
    kept = (image - removed)[..., None]                                  # (28, 28, 1), the ink that stays
    grey = WHITE * (1 - kept) + np.array([90, 90, 90]) * kept
    rgb[untouched] = grey[untouched]
    return enlarged(rgb, striped, scale)


def tiles_rgba(pictures, gap=4):
    """Pictures (n, h, w), each a signed weight image, side by side as one RGBA strip of TILE-sized tiles."""
    strip = np.full((TILE, max(1, len(pictures)) * (TILE + gap), 4), 255, np.uint8)
    for i, picture in enumerate(pictures):
        tile = heat_rgba(picture, scale=TILE // picture.shape[0])
        h, w = tile.shape[:2]
        strip[:h, i * (TILE + gap):i * (TILE + gap) + w] = tile
    return strip


def units_html(units, digit, convnet):
    """The hidden units that pushed ``digit`` up and down most, in words."""
    kind = "first-layer filters" if convnet else "hidden units"

    def listed(indices):
        return ", ".join(f"#{i} ({units.contribution[i]:+.1f})" for i in indices) or "none"

    return (f"<b>The {kind}</b> that raised {digit} most: {listed(units.up)}; lowered it most: "
            f"{listed(units.down)}. Their weights, left to right:")

# The pointer over the pad is the pen itself: a circle as wide as the line it draws.
_R = PEN_WIDTH / 2
_PEN = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{PEN_WIDTH + 2}' height='{PEN_WIDTH + 2}'>"
        f"<circle cx='{_R + 1}' cy='{_R + 1}' r='{_R}' fill='rgba(28,28,28,0.25)' stroke='%23555'/></svg>")

# --pad is the side of the drawing pad on screen, --seen that of the 28x28 image, --big the predicted digit.
STYLE = f"""
.digitpad {{ --pad: 320px; --seen: 140px; --big: 96px; max-width: 100%; box-sizing: border-box; }}
.digitpad * {{ box-sizing: border-box; }}
.digitpad .digitpad-main {{ flex-wrap: wrap; gap: 8px 24px; align-items: flex-start; }}
.digitpad .digitpad-drawing {{ flex: 0 0 auto; width: min(var(--pad), 100%); }}
.digitpad canvas.digitpad-canvas {{
  width: 100% !important; height: auto !important; aspect-ratio: 1; margin: 0;
  outline: 1px solid #999; outline-offset: -1px; touch-action: none;
  cursor: url("data:image/svg+xml;utf8,{_PEN}") {_R + 1:g} {_R + 1:g}, crosshair;
}}
.digitpad canvas.digitpad-seen {{
  width: var(--seen) !important; height: var(--seen) !important; outline: 1px solid #999; margin: 1px;
  image-rendering: pixelated;
}}
.digitpad .digitpad-reading {{ flex: 1 1 280px !important; min-width: 0; max-width: 560px; }}
.digitpad .digitpad-guess-row {{ gap: 16px; flex-wrap: wrap; }}
.digitpad .digitpad-prediction {{ min-width: calc(var(--big) * 1.2); }}
.digitpad .digitpad-digit {{ font-size: var(--big); line-height: 1.2; font-weight: bold; text-align: center; }}
.digitpad .digitpad-blank {{ color: #666; padding-top: calc(var(--seen) / 3); }}
.digitpad .digitpad-bars {{ width: 100%; margin: 0; }}
.digitpad .digitpad-bars .widget-html-content {{ display: block; width: 100%; line-height: 1; white-space: normal; }}
.digitpad .digitpad-bar-row {{ display: flex; align-items: center; height: calc(var(--jp-widgets-inline-height) * 0.8);
  margin: 2px 0; }}
.digitpad .digitpad-bar-digit {{ width: 1.4em; flex: 0 0 auto; }}
.digitpad .digitpad-bar {{ flex: 1 1 0; min-width: 40px; height: 75%; background: #eee; }}
.digitpad .digitpad-bar > div {{ height: 100%; background: #607d8b; }}
.digitpad .digitpad-bar-top .digitpad-bar > div {{ background: #388e3c; }}
.digitpad .digitpad-percent {{ width: 3.6em; flex: 0 0 auto; text-align: right; }}
/* "Why?": three maps side by side (wrapping on a narrow screen), then the hidden units */
.digitpad .digitpad-why {{ --map: 112px; max-width: 100%; border-top: 1px solid #ccc; margin-top: 6px;
  padding-top: 4px; }}
.digitpad .digitpad-why-maps {{ flex-wrap: wrap; gap: 4px 16px; }}
.digitpad .digitpad-why-figure {{ width: var(--map); flex: 0 0 auto; }}
.digitpad .digitpad-why-figure .widget-html-content {{ white-space: normal; line-height: 1.25; font-size: 0.9em;
  min-height: 3.75em; }}
.digitpad .digitpad-why-toggle {{ align-self: flex-start; margin-top: 4px; }}
.digitpad canvas.digitpad-why-map {{ width: var(--map) !important; height: var(--map) !important;
  image-rendering: pixelated; outline: 1px solid #999; margin: 1px; }}
.digitpad canvas.digitpad-why-units {{ height: calc(var(--map) / 2) !important; width: auto !important;
  max-width: 100%; image-rendering: pixelated; margin: 1px; }}
.digitpad .digitpad-why-text .widget-html-content {{ white-space: normal; line-height: 1.35; }}
.digitpad .digitpad-swatch {{ display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -0.1em;
  outline: 1px solid #777; }}
/* no box of the pad may scroll: a scrolling box would be one more stop for Tab */
.digitpad .widget-box, .digitpad .widget-html, .digitpad .widget-html-content {{ overflow: visible !important; }}
.digitpad .digitpad-row {{ flex-wrap: wrap; align-items: center; max-width: 100%; }}
.digitpad .widget-button, .digitpad .widget-toggle-button {{ width: auto; padding: 0 12px; }}
.digitpad .digitpad-labels .widget-toggle-button {{ width: 2.6em; min-width: 2.6em; padding: 0; }}
.digitpad .digitpad-labels {{ width: auto; max-width: 100%; }}
.digitpad .digitpad-labels > div {{ display: flex; flex-wrap: wrap; }}
/* the chosen digit stands out; the keyboard's focus is a ring that can be seen, a click leaves none */
.digitpad .digitpad-labels .widget-toggle-button.mod-active {{ background: #1565c0; color: #fff; font-weight: bold; }}
.digitpad button:focus-visible, .digitpad a:focus-visible {{ outline: 3px solid #1565c0 !important; outline-offset: 1px; }}
.digitpad button:focus:not(:focus-visible) {{ outline: none !important; }}
.digitpad .digitpad-labels .mod-active:focus-visible {{ outline-color: #111 !important; }}
.digitpad .digitpad-download a {{ color: #1565c0; text-decoration: underline; font-size: 1.1em; line-height: 2; }}
/* a finger needs 44 px */
@media (pointer: coarse) {{
  .digitpad button.widget-button, .digitpad button.widget-toggle-button {{ height: 44px !important; min-width: 44px; }}
  .digitpad .digitpad-labels .widget-toggle-button {{ width: 44px; min-width: 44px; }}
}}
.digitpad .digitpad-status, .digitpad .digitpad-heading {{ max-width: 100%; }}
.digitpad .digitpad-status .widget-html-content,
.digitpad .digitpad-heading .widget-html-content {{ white-space: normal; line-height: 1.4; }}
.digitpad .widget-html, .digitpad .widget-label {{ height: auto; }}
.digitpad .digitpad-announce {{
  position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap;
}}
/* a phone held upright: the pad as wide as the screen, the reading under it */
@media (max-width: 600px) {{
  .digitpad {{ --pad: calc(100vw - 24px); --seen: 112px; --big: 80px; }}
  .digitpad .digitpad-reading {{ flex-basis: 100% !important; }}
  .digitpad .digitpad-why {{ --map: calc((100vw - 72px) / 3); }}
}}
.digitpad .digitpad-jump {{ display: none; }}
/* a phone held sideways: the pad as tall as the screen, the reading beside it */
@media (max-height: 500px) and (orientation: landscape) {{
  .digitpad {{ --pad: calc(100vh - 60px); --seen: 96px; --big: 72px; }}
  .digitpad .digitpad-jump {{ display: inline-block; }}
  .digitpad .digitpad-main {{ flex-wrap: nowrap; }}
  .digitpad .digitpad-reading {{ flex: 1 1 auto !important; }}
}}
/* a projector or a large screen */
@media (min-width: 1600px) {{
  .digitpad {{ --pad: min(40vw, 62vh, 640px); --seen: 168px; --big: 132px;
    --jp-widgets-font-size: 18px; --jp-widgets-inline-height: 36px; }}
  .digitpad .digitpad-reading {{ max-width: 720px; }}
  .digitpad .digitpad-why {{ --map: 168px; }}
}}
/* presentation mode: large enough for the back of a room */
.digitpad.digitpad-present {{ --pad: min(56vw, 78vh, calc(100vh - 230px)); --seen: min(20vw, 200px, 22vh);
  --big: min(16vw, 220px);
  --jp-widgets-font-size: 22px; --jp-widgets-inline-height: 44px; }}
.digitpad.digitpad-present .digitpad-reading {{ max-width: none; }}
.digitpad.digitpad-present .digitpad-why {{ --map: min(12vw, 200px); }}
@media (max-width: 600px) {{
  .digitpad.digitpad-present {{ --pad: calc(100vw - 24px); --seen: 112px; --big: 96px; }}
}}
@media (max-height: 500px) and (orientation: landscape) {{
  .digitpad.digitpad-present {{ --pad: calc(100vh - 60px); --seen: 96px; --big: 80px; }}
}}
"""

# The pad's script, run once on any page that shows a pad (a notebook in JupyterLab, the app's page):
# - ipycanvas makes each canvas a Tab stop that keeps every key pressed on it, Tab too, so a keyboard user
#   who reaches the pad cannot leave it: the canvases leave the Tab order, and Tab leaves a canvas that a
#   click focused;
# - screen readers get names for the two canvases, and hear the status line and each reading (live regions);
# - a mouse that only passes over the pad, no button pressed, sends the kernel nothing (it would send a
#   message for every move).
# - a button that switches itself off when pressed from the keyboard (Teach it, Undo teach) hands the focus to
#   the next one, where the browser would drop it to the page; the chosen digit's button says it is pressed;
# - "Wrong? Teach it", shown only on a phone held sideways, scrolls down to the teaching controls.
# The app's page (ocrlib/page/voila/templates/digitpad) adds key shortcuts.
PAGE_SCRIPT = """
(() => {
  if (window.digitpadScript) return;
  window.digitpadScript = true;
  const names = {"digitpad-canvas": "Drawing pad: draw one digit here with a mouse, a finger or a pen",
                 "digitpad-seen": "The drawing as the network sees it, 28 by 28 pixels",
                 "digitpad-why-map": "A map of the pixels that raised (orange) and lowered (striped blue) a digit",
                 "digitpad-why-units": "The weights of the hidden units named above"};
  const label = () => {
    for (const el of document.querySelectorAll(".digitpad canvas:not([tabindex='-1'])")) el.tabIndex = -1;
    for (const [cls, name] of Object.entries(names)) {
      for (const el of document.querySelectorAll("canvas." + cls + ":not([aria-label])")) {
        el.setAttribute("role", "img");
        el.setAttribute("aria-label", name);
      }
    }
    for (const el of document.querySelectorAll(".digitpad-labels button:not([aria-pressed])")) {
      el.setAttribute("aria-pressed", el.classList.contains("mod-active") ? "true" : "false");
    }
    for (const el of document.querySelectorAll(".digitpad-announce, .digitpad-status")) {
      if (!el.hasAttribute("aria-live")) {
        el.setAttribute("role", "status");
        el.setAttribute("aria-live", "polite");
      }
    }
  };
  label();
  new MutationObserver(label).observe(document.body, {childList: true, subtree: true});
  // a button pressed from the keyboard may switch itself off (Teach it, Undo teach), and the browser then
  // drops the focus to the page: it goes to the next control that is on instead (or, at the end, the last)
  let focused = null;
  document.addEventListener("focusin", (event) => { focused = event.target; });
  const controls = (pad) => [...pad.querySelectorAll("button, a[href]")]
    .filter((el) => !el.disabled && el.offsetParent !== null);
  new MutationObserver((records) => {
    for (const record of records) {
      const el = record.target;
      if (record.attributeName === "class" && el.matches(".digitpad-labels button")) {
        el.setAttribute("aria-pressed", el.classList.contains("mod-active") ? "true" : "false");
      }
      if (record.attributeName === "disabled" && el.disabled && el === focused && el.closest(".digitpad") &&
          (document.activeElement === document.body || document.activeElement === el)) {
        const all = controls(el.closest(".digitpad"));
        const after = all.filter((other) => el.compareDocumentPosition(other) & Node.DOCUMENT_POSITION_FOLLOWING);
        const next = after.length ? after[0] : all[all.length - 1];
        if (next) next.focus();
      }
    }
  }).observe(document.body, {attributes: true, attributeFilter: ["class", "disabled"], subtree: true});
  const onPad = (target) => target instanceof HTMLCanvasElement && target.classList.contains("digitpad-canvas");
  window.addEventListener("keydown", (event) => {
    if (event.key === "Tab" && onPad(event.target)) {
      event.stopImmediatePropagation();          // the canvas never sees it: the browser moves the focus on
    }
  }, true);
  document.addEventListener("click", (event) => {
    const jump = event.target.closest && event.target.closest(".digitpad-jump");
    const pad = jump && jump.closest(".digitpad");
    const teach = pad && pad.querySelector(".digitpad-teach-box");
    if (teach) teach.scrollIntoView({behavior: "smooth", block: "start"});
  });
  window.addEventListener("mousemove", (event) => {
    if (event.buttons === 0 && onPad(event.target)) {
      event.stopImmediatePropagation();          // no button pressed, nothing drawn: not sent to the kernel
    }
  }, true);
})();
"""


class DigitPad(Pad):
    """A drawing pad wired to a network, as a widget.

    Takes the arguments of ``Pad``, and ``present``: start in presentation mode (large pad and prediction).
    """

    def __init__(self, *args, present=False, **kwargs):
        self._built = False
        self._message_is_news = False       # the status shows Pad's last message until the drawing changes
        self._report = None                 # the last teach's TeachReport
        self._seen = None                   # the 28x28 image last sent to the browser
        self._reset_armed = False           # "Reset to pretrained" pressed once: the next press resets
        self._last_shown = -np.inf          # when the view was last brought up to date
        self.refused = 0                    # messages from the page refused at the canvas's door
        self._tokens, self._last_message = MESSAGE_BURST, time.monotonic()     # for MESSAGE_RATE
        self._last_refusal = -np.inf
        super().__init__(*args, **kwargs)
        self._build(present)
        self._built = True
        self._show()

    # --- the canvas: draw each piece of ink as it comes, then let ``Pad`` do the rest ---

    def on_pen_down(self, x, y):
        x, y = check_point(x, y)
        self._message_is_news = False
        self._disarm_reset()
        points = self.points
        super().on_pen_down(x, y)
        if self.points > points:
            with ipycanvas.hold_canvas():
                self.canvas.fill_circle(x, y, PEN_WIDTH / 2)

    def on_pen_move(self, x, y):
        x, y = check_point(x, y)
        last = self.current[-1] if self.current else None
        points = self.points
        super().on_pen_move(x, y)
        if last is not None and self.points > points:
            with ipycanvas.hold_canvas():
                self.canvas.stroke_line(*last, x, y)

    # --- the canvas's door: every message from the page's canvas is checked here first ---

    def _door(self, _widget, content, _buffers):
        """A message from the page's canvas: checked (``canvas_event``), counted against ``MESSAGE_RATE``, and
        only then drawn. A refused message changes nothing but the status line, which says why."""
        now = time.monotonic()
        self._tokens = min(MESSAGE_BURST, self._tokens + (now - self._last_message) * MESSAGE_RATE)
        self._last_message = now
        if self._tokens < 1:
            self._refuse("this page sends more messages than a pen makes")
            return
        self._tokens -= 1
        try:
            event, points = canvas_event(content)
        except RefusedInput as err:
            self._refuse(str(err))
            return
        if event == "client_ready":
            self._redraw()
        elif event in PEN_ACTIONS and (points or event in ("touch_end", "touch_cancel")):
            action = getattr(self, PEN_ACTIONS[event])
            point = points[0] if points and event != "touch_cancel" else ()
            self._safely(lambda: action(*point))

    def _refuse(self, why):
        """Count a refused message; say so on the status line at most once a second."""
        self.refused += 1
        now = time.monotonic()
        if now - self._last_refusal >= 1.0:
            self._last_refusal = now
            self._say(f"The pad ignored a message from this page ({why}): {self.refused} so far.")

    def clear(self):
        self._message_is_news = False
        self._disarm_reset()
        super().clear()
        self._forget_choice()
        self._redraw()

    def undo(self):
        self._message_is_news = False
        self._disarm_reset()
        super().undo()
        if self.image is None:
            self._forget_choice()
        self._redraw()

    def _forget_choice(self):
        """A new drawing starts with no digit chosen: the last one's choice must never teach it."""
        if self._built:
            self.label_choice.value = None

    def teach(self, label):
        self._disarm_reset()
        report = super().teach(label)
        if report is not None:
            self._report = report
            if self._built:
                self.label_choice.value = None       # the next teach needs a new choice: no double teach
            self._show()
        return report

    def undo_teach(self):
        self._report = None
        self._disarm_reset()
        return super().undo_teach()

    def reset(self):
        self._report = None
        self._disarm_reset()
        super().reset()

    def _reset_pressed(self):
        """Reset undoes every lesson of this pad, and cannot be undone itself: it takes a second press."""
        if self._reset_armed:
            self.reset()
            return
        self._reset_armed = True
        self.reset_button.description = "Press again to reset"
        self.reset_button.button_style = "danger"
        self._say("Press \u201cPress again to reset\u201d to undo every lesson of this pad; anything else keeps them.")

    def _disarm_reset(self):
        if self._reset_armed:
            self._reset_armed = False
            self.reset_button.description = "Reset to pretrained"
            self.reset_button.button_style = ""

    def save_model_copy(self):
        """Save the model under a new name (``my_model-1.npz``, ``-2``, ...) and offer it for download."""
        path = _new_file(self.model_path)
        try:
            self.save_model(path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        self.download.value = (f"<a download='{html.escape(path.name)}' href='data:application/octet-stream;"
                               f"base64,{data}'>Download {html.escape(path.name)}</a>")
        self._say(f"Model saved as {path.name}: the link above downloads it.")      # not the server's path
        return path

    def _say(self, message):
        self._message_is_news = True
        super()._say(message)

    def _safely(self, action):
        """Run a button's action; an error becomes words in the status line, never a traceback."""
        if action != self._reset_pressed:          # any other button keeps the lessons
            self._disarm_reset()
        try:
            action()
        except (ValueError, OSError) as err:
            self._say(str(err))
        except Exception as err:                                    # noqa: BLE001 (a page must never break)
            self._say(f"Something went wrong ({type(err).__name__}: {err}); the drawing is unchanged.")

    # --- the widgets ---

    def _build(self, present):
        W = ipywidgets
        self.canvas = ipycanvas.Canvas(width=CANVAS_SIZE, height=CANVAS_SIZE)
        self.canvas.add_class("digitpad-canvas")
        self.canvas.tabbable = False            # Tab goes from button to button; the pen needs a pointer
        # the canvas's messages come to the pad's own door (_door), which checks them, instead of ipycanvas's
        # handler, which would pass on whatever a page sent
        self.canvas.on_msg(self.canvas._handle_frontend_event, remove=True)
        self.canvas.on_msg(self._door)

        self.seen = ipycanvas.Canvas(width=28, height=28)          # one pixel per input; enlarged by the browser
        self.seen.add_class("digitpad-seen")
        self.seen.tabbable = False
        self.seen.on_client_ready(lambda: self._show_seen(again=True))     # a new browser view: send it
        self.digit_label = W.HTML()
        self.digit_label.add_class("digitpad-prediction")
        self.bars = W.HTML()                    # the ten probabilities: one widget, one message per update
        self.bars.add_class("digitpad-bars")

        def button(text, css_class, action, tooltip=""):
            b = W.Button(description=text, tooltip=tooltip)
            b.add_class(css_class)
            b.on_click(lambda _: self._safely(action))
            return b

        self.clear_button = button("Clear", "digitpad-clear", self.clear, "Clear the pad (Esc)")
        self.undo_button = button("Undo stroke", "digitpad-undo", self.undo, "Remove the last stroke (Backspace)")

        self.label_choice = W.ToggleButtons(options=[str(d) for d in range(10)], value=None,
                                            tooltips=[f"I drew a {d}" for d in range(10)])
        self.label_choice.add_class("digitpad-labels")
        self.label_choice.observe(lambda _: (self._disarm_reset(), self._show()), "value")
        self.teach_button = button("Teach it", "digitpad-teach-button", self._teach_choice,
                                   "Teach the network the digit you chose (Ctrl+Enter)")
        self.undo_teach_button = button("Undo teach", "digitpad-undo-teach", self.undo_teach,
                                        "Put the network back as it was before the last teach")
        self.save_button = button("Save model", "digitpad-save", self.save_model_copy,
                                  "Save the taught network to a new file, and download it")
        self.reset_button = button("Reset to pretrained", "digitpad-reset", self._reset_pressed,
                                   "Go back to the shipped network, undoing every lesson of this pad "
                                   "(taught drawings stay); asks for a second press")
        self.present_toggle = W.ToggleButton(description="Presentation mode", value=present,
                                             tooltip="Large pad and prediction, for a projector")
        self.present_toggle.add_class("digitpad-present-toggle")
        self.present_toggle.observe(lambda change: self._present(change["new"]), "value")
        self.taught_label = W.Label(tooltip="Drawings in the taught-drawings file, from every pad that shares it")
        self.taught_label.add_class("digitpad-taught")
        self.download = W.HTML()
        self.download.add_class("digitpad-download")
        self.status_line = W.HTML()
        self.status_line.add_class("digitpad-status")
        self.announce = W.HTML()
        self.announce.add_class("digitpad-announce")

        # a phone held sideways shows only the pad and the reading: this button says teaching is further down
        self.jump_button = W.Button(description="Wrong? Teach it \u2193", tooltip="Go down to the teaching controls")
        self.jump_button.add_class("digitpad-jump")         # the pad's script scrolls; the kernel hears nothing
        row = [self.clear_button, self.undo_button] + ([self.jump_button] if self.teaching else [])
        drawing = _box(W.VBox, [self.canvas, _box(W.HBox, row, "digitpad-row")],
                       "digitpad-drawing")
        seen = W.VBox([W.HTML("<b>The network sees</b>"), self.seen])
        guess = W.VBox([W.HTML("<b>It reads</b>"), self.digit_label])
        self._build_why()
        reading = _box(W.VBox, [_box(W.HBox, [seen, guess], "digitpad-guess-row"),
                                  self.bars, self.why_toggle, self.why_box],
                       "digitpad-reading")
        heading = W.HTML("<b>Teach it:</b> choose the digit you drew, then press Teach it")
        heading.add_class("digitpad-heading")
        self.teach_box = W.VBox([heading, self.label_choice,
                                 _box(W.HBox, [self.teach_button, self.undo_teach_button, self.taught_label],
                                      "digitpad-row")])
        self.teach_box.add_class("digitpad-teach-box")
        tools = [self.save_button, self.reset_button] if self.teaching else []
        self.widget = W.VBox([W.HTML(f"<style>{STYLE}</style>"),
                              _box(W.HBox, [drawing, reading], "digitpad-main"),
                              self.teach_box,
                              _box(W.HBox, tools + [self.present_toggle], "digitpad-row"),
                              self.download, self.status_line, self.announce])
        self.widget.add_class("digitpad")
        if not self.teaching:
            self.teach_box.layout.display = "none"
        self._present(present)

    def _build_why(self):
        """The "Why?" toggle, and the box it opens: three maps, the hidden units, and words for each."""
        W = ipywidgets
        self.why_toggle = W.ToggleButton(description="Why?", value=self.explaining,
                                         tooltip="Show what made the network read this digit")
        self.why_toggle.add_class("digitpad-why-toggle")
        self.why_toggle.observe(lambda change: self._safely(lambda: self._explain(change["new"])), "value")
        self.why_captions = [W.HTML() for _ in range(3)]
        self.why_maps = []
        for name in ("the digit", "the runner-up", "the change"):
            canvas = ipycanvas.Canvas(width=28 * WHY_SCALE, height=28 * WHY_SCALE)
            canvas.add_class("digitpad-why-map")
            canvas.tabbable = False
            self.why_maps.append(canvas)
        figures = [_box(W.VBox, [caption, canvas], "digitpad-why-figure")
                   for caption, canvas in zip(self.why_captions, self.why_maps)]
        self.why_units_text = W.HTML()
        self.why_units_text.add_class("digitpad-why-text")
        self.why_units = ipycanvas.Canvas(width=6 * (TILE + 4), height=TILE)
        self.why_units.add_class("digitpad-why-units")
        self.why_units.tabbable = False
        self.why_legend = W.HTML(
            f"<span class='digitpad-swatch' style='background:{css_colour(RAISED)}'></span> raised it "
            f"(or ink added) &nbsp; <span class='digitpad-swatch' style='background:repeating-linear-gradient("
            f"45deg, {css_colour(LOWERED)} 0 3px, #fff 3px 4px)'></span> lowered it (or ink removed), striped")
        self.why_legend.add_class("digitpad-why-text")
        for canvas in self.why_maps + [self.why_units]:
            canvas.on_client_ready(lambda: self._show_why(again=True))
        self.why_box = _box(W.VBox, [self.why_legend, _box(W.HBox, figures, "digitpad-why-maps"),
                                     self.why_units_text, self.why_units], "digitpad-why")
        self.why_box.layout.display = None if self.explaining else "none"
        self._why_shown = None                  # the Explanation last drawn

    def _explain(self, on):
        self.explaining = on
        self.why_box.layout.display = None if on else "none"
        self.predict()

    def _show_why(self, again=False):
        """Draw the explanation of the reading (at pen-up, while "Why?" is on), unless it is already drawn."""
        e = self.explanation
        if e is None:
            if self.explaining:
                for caption in self.why_captions:
                    caption.value = ""
                self.why_units_text.value = "Draw a digit: at pen-up this shows why the network reads it so."
                for canvas in self.why_maps + [self.why_units]:
                    canvas.clear()
            self._why_shown = None
            return
        if e is self._why_shown and not again:
            return
        self._why_shown = e
        convnet = isinstance(self.model, ConvNet)
        self.why_captions[0].value = f"<b>Why {e.digit}</b> ({percent(e.p[e.digit])}): its ink"
        self.why_captions[1].value = f"<b>Why not {e.runner_up}</b> ({percent(e.p[e.runner_up])}), the runner-up"
        self.why_captions[2].value = (f"<b>What would make it a {e.runner_up}</b>" if e.change.reached else
                                      f"<b>Towards a {e.runner_up}</b> (not reached)")
        limit = max(np.abs(e.digit_map).max(), np.abs(e.runner_up_map).max())   # one scale: comparable maps
        pictures = [heat_rgba(e.digit_map, limit=limit), heat_rgba(e.runner_up_map, limit=limit),
                    change_rgba(self.image, e.change.added, e.change.removed)]
        units = list(e.units.up) + list(e.units.down)
        self.why_units_text.value = units_html(e.units, e.digit, convnet)
        with ipycanvas.hold_canvas():
            for canvas, picture in zip(self.why_maps, pictures):
                canvas.put_image_data(picture, 0, 0)
            self.why_units.clear()
            if units:
                self.why_units.put_image_data(tiles_rgba(e.units.pictures[units]), 0, 0)

    def _teach_choice(self):
        if self.label_choice.value is None:
            self._say("Choose the digit you drew (0-9), then press Teach it.")
        else:
            self.teach(int(self.label_choice.value))

    def _present(self, on):
        self._disarm_reset()                    # every control but Reset itself keeps the lessons
        (self.widget.add_class if on else self.widget.remove_class)("digitpad-present")

    def _ipython_display_(self):
        from IPython.display import Javascript, display

        display(self.widget)
        display(Javascript(PAGE_SCRIPT))

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

    def _show_seen(self, again=False):
        """Send the 28x28 input to the browser (2 KB), unless it is the one already there."""
        grey = np.zeros((28, 28), np.uint8) if self.image is None else np.round(self.image * 255).astype(np.uint8)
        if again or self._seen is None or not np.array_equal(grey, self._seen):
            self._seen = grey
            with ipycanvas.hold_canvas():
                # RGBA, which ipycanvas sends as a PNG: exact pixels (RGB would go as a JPEG, and speckle)
                opaque = np.full_like(grey, 255)
                self.seen.put_image_data(np.stack([grey, grey, grey, opaque], axis=-1), 0, 0)     # (28, 28, 4)

    def _show(self):
        """The top digit, the ten probabilities, the teaching controls, the status and the 28x28 input."""
        if not self._built:
            return
        if self.current is not None and time.monotonic() - self._last_shown < SHOW_INTERVAL:
            return                                  # the pen moves: at most one update per SHOW_INTERVAL
        self._last_shown = time.monotonic()
        if self.probabilities is None:
            self.digit_label.value = "<div class='digitpad-blank'>blank pad:<br>nothing to read</div>"
        else:
            self.digit_label.value = f"<div class='digitpad-digit'>{self.prediction}</div>"
        self.bars.value = bars_html(self.probabilities)
        if self.current is None:                    # screen readers hear the reading when the pen is lifted
            self.announce.value = html.escape(self._reading())
        chosen = self.label_choice.value
        self.teach_button.description = "Teach it" if chosen is None else f"Teach it: this is a {chosen}"
        self.teach_button.disabled = not self.teaching or self.image is None or chosen is None
        self.undo_teach_button.disabled = not self.can_undo_teach
        self.taught_label.value = f"Taught drawings (all pads): {self.taught_count}"
        self.status_line.value = html.escape(self._status_text())
        self._show_seen()
        if self.explaining or self._why_shown is not None:
            self._show_why()

    def _status_text(self):
        if not self._message_is_news:
            return self._hint()
        r = self._report
        if r is not None and self.status == r.message:        # the teach's numbers, in the pad's own percents
            return (f"Taught a {r.label}: p({r.label}) on your drawing {percent(r.p_before)} \u2192 "
                    f"{percent(r.p_after)}; of {FORGETTING_SAMPLE:,} MNIST test digits, read right "
                    f"{r.accuracy_before:.1%} \u2192 {r.accuracy_after:.1%}.")
        return self.status

    def _reading(self):
        if self.prediction is None:
            return "The pad is blank."
        return f"It reads {self.prediction} ({percent(self.probabilities[self.prediction])})."

    def _hint(self):
        """What to do next, from the state of the pad (when no message is news)."""
        if self.image is None:
            return "Draw a digit on the pad."
        if not self.teaching:
            return self._reading()
        return f"{self._reading()} If that is wrong, choose the digit you drew and press Teach it."


def _box(kind, children, css_class):
    box = kind(children)
    box.add_class(css_class)
    return box


def _new_file(path):
    """A file next to ``path`` that did not exist: ``name-1.npz``, ``name-2.npz``, ... (created empty, so that
    another pad saving at the same moment takes the next number)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix or '.npz'}")
        try:
            with open(candidate, "xb"):
                return candidate
        except FileExistsError:
            n += 1
