"""What the drawing pad does, without any widget: ink, prediction, teaching (notebook 08).

``Pad`` holds the strokes drawn so far, turns them into the network's 28x28 input and predicts; it teaches
the network a digit and keeps every taught drawing. ``DigitPad`` (``ocrlib/widget.py``) is the same pad with
a canvas, bars and buttons; code and tests can draw on either:

    pad = Pad()
    pad.on_pen_down(140, 40); pad.on_pen_move(140, 240); pad.on_pen_up(140, 240)   # a "1"
    pad.prediction, pad.probabilities, pad.image        # digit, (10,) probabilities, (28, 28) network input
    report = pad.teach(1)                               # p(1) before -> after, MNIST accuracy before -> after
    pad.undo_teach(); pad.undo(); pad.clear(); pad.save_model("my_model.npz"); pad.reset()
    pad.explaining = True; pad.predict(); pad.explanation   # why it read what it read (ocrlib/explain.py)

Teaching goes through ``Teacher`` (``ocrlib/teacher.py``: a few small steps that rehearse MNIST, so the
network does not forget it), and every taught drawing is a row in the taught-drawings database
(``ocrlib/taught.py``), which any number of pads can share. After each teach the pad reports p(label) on
the drawing before and after, and the forgetting check: accuracy on a fixed sample of 1,000 MNIST test
digits before and after.
"""

import math
import os
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocrlib.convnet import ConvNet
from ocrlib.explain import explain
from ocrlib.mnist import load_mnist
from ocrlib.network import MLP
from ocrlib.paths import CONVNET_PATH, MODEL_PATH, USER_MODEL_PATH
from ocrlib.preprocess import CANVAS_SIZE, strokes_to_mnist
from ocrlib.pretrained import PRETRAINED, load_pretrained
from ocrlib.taught import DuplicateDrawing, TaughtStore
from ocrlib.teacher import Teacher

PREDICT_INTERVAL = 0.05     # seconds: at most one prediction per interval while the pen moves (always one at pen-up)
FORGETTING_SAMPLE = 1000    # MNIST test digits scored before and after each teach: what teaching does to the rest
# What a page may send. A pointer is on the pad or just off it (a drag that leaves it); a digit drawn slowly for
# a minute is about 4,000 points; a person teaches a drawing every few seconds at most.
REACH = 2 * CANVAS_SIZE     # |x| and |y| at most this: no pointer on or near the 280 x 280 pad is further
MAX_POINTS = 5000           # points in one drawing, all its strokes together
TEACH_LIMIT = 20            # teaches in any TEACH_WINDOW seconds, per pad: junk teaching is held back
TEACH_WINDOW = 60.0


class RefusedInput(ValueError):
    """A pointer event or a teach that the pad refuses: what a page sent is not what a person draws."""


def check_point(x, y):
    """(x, y) as floats, or ``RefusedInput``: each a finite real number within ``REACH`` of the pad."""
    point = []
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise RefusedInput(f"a pointer's {name} must be a number, got {type(value).__name__}")
        value = float(value)
        if not math.isfinite(value) or abs(value) > REACH:
            raise RefusedInput(f"a pointer's {name} must be a finite number within {REACH} of the pad, got {value!r}")
        point.append(value)
    return tuple(point)


@dataclass
class TeachReport:
    """What one teach did: p(label) on the drawing, and accuracy on a fixed sample of MNIST test digits."""
    label: int
    p_before: float
    p_after: float
    accuracy_before: float
    accuracy_after: float
    message: str


def _count(n, noun):
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class Pad:
    """A drawing pad wired to a network.

    - ``model``: an ``MLP`` or a ``ConvNet``, or the name of a shipped one, ``"mlp"`` (the default, the
      lessons' network) or ``"convnet"`` (the one that reads real writers best; the app's default). Teaching
      changes it in place; ``reset`` goes back to the shipped network of the same kind.
    - ``taught_path``: the taught-drawings database (default: env ``OCRLIB_TAUGHT_PATH``, else
      ``data/taught/taught.sqlite``), shared with every other pad that names it. A ``.npz`` of the earlier
      format names the ``.sqlite`` beside it, into which it is imported once.
    - ``model_path``: where ``save_model`` writes by default (``data/taught/my_model.npz``); never the shipped model.
    - ``teaching``: False for a read-only pad, whose ``teach`` refuses.
    - ``teacher_options``: passed to ``Teacher`` (``steps``, ``lr``, ...); its defaults are measured ones.
    - ``explaining``: True to explain each reading at pen-up (``explanation``, an ``ocrlib.explain.Explanation``:
      the ink that raised and lowered the digit and the runner-up, the top hidden units, and the ink that would
      make it read the runner-up). Settable at any time; ``predict`` then brings it up to date.
    """

    def __init__(self, model=None, taught_path=None, model_path=None, teaching=True, teacher_options=None,
                 explaining=False):
        if isinstance(model, str) and model not in PRETRAINED or \
                not isinstance(model, (str, type(None), MLP, ConvNet)):
            raise ValueError(f"model must be an MLP, a ConvNet or one of {sorted(PRETRAINED)}, got {model!r}")
        if model is None or isinstance(model, str):
            self.pretrained = model or "mlp"
            self.model = load_pretrained(self.pretrained)
        else:
            self.pretrained = "convnet" if isinstance(model, ConvNet) else "mlp"
            self.model = model
        self.store = TaughtStore(taught_path)
        self.taught_path = self.store.path
        self.model_path = Path(model_path) if model_path is not None else USER_MODEL_PATH
        self.teaching = teaching
        self.teacher_options = dict(teacher_options or {})
        self.name = f"pad {uuid.uuid4().hex[:8]} (process {os.getpid()})"     # stored with each drawing it teaches
        self.status = "Draw a digit on the pad."
        self.strokes = []                       # finished strokes, each a (k, 2) array of (x, y)
        self.current = None                     # the stroke being drawn: a list of (x, y), or None
        self.image = None                       # what the network sees: float32 (28, 28), or None when blank
        self.probabilities = None               # (10,), or None when blank
        self.prediction = None
        self.explaining = bool(explaining)
        self.explanation = None                 # an Explanation at pen-up while ``explaining``, else None
        self._last_predict = -np.inf
        self._teach_times = deque()             # when this pad's recent teaches were, for TEACH_LIMIT
        self.teacher = None                     # made at the first teach (it loads MNIST's training digits)
        self.taught_as = None                # the label the current drawing was taught as, until it changes
        self._sample = None                     # the forgetting check's MNIST digits, loaded at the first teach
        self._taught_count = len(self.store)    # fails early, naming the file, if it is unreadable
        self.predict()

    @property
    def taught_count(self):
        """How many drawings the taught-drawings database holds (from every pad sharing it), as of this pad's
        last pen-up, teach, undo, clear or start."""
        return self._taught_count

    @property
    def can_undo_teach(self):
        """Whether ``undo_teach`` has a teach to undo (the last one, since the model was loaded or reset)."""
        return self.teacher is not None and self.teacher.can_undo

    # --- what the canvas calls ---

    @property
    def points(self):
        """The points of the drawing on the pad, all strokes together."""
        return sum(len(s) for s in self.strokes) + (len(self.current) if self.current else 0)

    def on_pen_down(self, x, y):
        x, y = check_point(x, y)                # plain floats: NumPy scalars cannot go to the browser as JSON
        if self.points >= MAX_POINTS:
            self._refuse_long()
            return
        self.taught_as = None                 # a new stroke: a new drawing, not yet taught
        self.current = [(x, y)]
        self._last_predict = -np.inf
        self.predict()

    def on_pen_move(self, x, y):
        point = check_point(x, y)
        if self.current is None:                # the pointer moves with the pen up: nothing to draw
            return
        if self.points >= MAX_POINTS:
            self._refuse_long()
            return
        self.current.append(point)
        if time.monotonic() - self._last_predict >= PREDICT_INTERVAL:
            self.predict()

    def on_pen_up(self, x=None, y=None):
        point = None if x is None and y is None else check_point(x, y)
        if self.current is None:
            return
        if point is not None and point != self.current[-1] and self.points < MAX_POINTS:
            self.current.append(point)
        self.strokes.append(np.array(self.current, dtype=np.float64))
        self.current = None
        self.predict()                          # the reading first: it is what the person waits for
        count = len(self.store)                 # then the count: other pads may have taught meanwhile
        if count != self._taught_count:
            self._taught_count = count
            self._show()

    def _refuse_long(self):
        if not self.status.startswith("This drawing has"):
            self._say(f"This drawing has {MAX_POINTS:,} points, the most a pad takes: lift the pen, or clear the "
                      f"pad and draw again.")

    # --- buttons ---

    def clear(self):
        self.strokes, self.current = [], None
        self.taught_as = None
        self._taught_count = len(self.store)
        self.predict()

    def undo(self):
        """Remove the last stroke."""
        if self.current is not None:
            self.current = None
        elif self.strokes:
            self.strokes.pop()
        self.taught_as = None
        self.predict()

    def teach(self, label):
        """Teach the network that the current drawing is ``label``; returns a ``TeachReport``, or None if nothing
        was taught (a blank pad, a read-only pad, or a drawing already taught), saying why in ``status``.

        ``Teacher`` takes a few small steps that rehearse MNIST and earlier drawings, and adds the drawing
        (strokes, 28x28 image, label) to the taught-drawings database. A drawing is taught once: teaching
        it again refuses; ``undo_teach`` then another label changes its label.
        """
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label <= 9:
            raise ValueError(f"label must be a digit 0..9, got {label!r}")
        label = int(label)
        if not self.teaching:
            self._say("Teaching is switched off on this pad.")
            return None
        if self.image is None:
            self._say("The pad is blank: draw a digit before teaching it.")
            return None
        if self.taught_as is not None:
            self._say(f"This drawing is already taught as a {self.taught_as}. Draw a new digit, or press "
                      f"Undo teach to take that lesson back.")
            return None
        now = time.monotonic()
        while self._teach_times and now - self._teach_times[0] > TEACH_WINDOW:
            self._teach_times.popleft()
        if len(self._teach_times) >= TEACH_LIMIT:
            wait = TEACH_WINDOW - (now - self._teach_times[0])
            self._say(f"Not taught: this pad has taught {TEACH_LIMIT} drawings in the last {TEACH_WINDOW:.0f} "
                      f"seconds, the most it may. Try again in {math.ceil(wait)} s.")
            return None
        if self.teacher is None:
            self.teacher = Teacher(self.model, store=self.store, pad=self.name, **self.teacher_options)
        X_sample, y_sample = self._forgetting_sample()
        accuracy_before = self.model.evaluate(X_sample, y_sample)
        strokes = self.strokes + ([np.array(self.current)] if self.current else [])
        try:
            p_before, p_after = self.teacher.teach(self.image, label, strokes=strokes)
        except DuplicateDrawing:             # its message names the file, which is the server's business
            self._say("Not taught: this very drawing is already among the taught drawings (taught before a "
                      "reset, or by another pad). Draw a new digit.")
            return None
        accuracy_after = self.model.evaluate(X_sample, y_sample)
        self._teach_times.append(time.monotonic())
        self.taught_as = label
        self._taught_count = len(self.store)
        message = (f"Taught a {label}: p({label}) went from {p_before:.0%} to {p_after:.0%}; on "
                   f"{len(y_sample):,} MNIST test digits, {accuracy_before:.1%} → {accuracy_after:.1%}.")
        self.predict()
        self._say(message)
        return TeachReport(label, p_before, p_after, accuracy_before, accuracy_after, message)

    def undo_teach(self):
        """Put the weights back as they were before the last teach, and remove that drawing from the database."""
        if not self.can_undo_teach:
            self._say("Nothing to undo: no teach since the model was loaded.")
            return False
        self.teacher.undo()
        self.taught_as = None
        self._taught_count = len(self.store)
        self.predict()
        self._say("The last teach is undone: the weights are as before it, and that drawing is no longer among "
                  "the taught drawings.")
        return True

    def save_model(self, path=None):
        """Save the (taught) model to ``path`` (default ``model_path``); refuses the shipped model's file."""
        path = Path(path) if path is not None else self.model_path
        if path.resolve() in (MODEL_PATH.resolve(), CONVNET_PATH.resolve()):
            raise ValueError(f"refusing to overwrite the shipped pretrained model {path}; "
                             f"choose another file, e.g. {USER_MODEL_PATH}")
        if path.resolve() == self.taught_path.resolve():
            raise ValueError(f"refusing to overwrite the taught-drawings database {path} with a model; "
                             f"choose another file, e.g. {self.model_path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(path)
        self._say(f"Model saved to {path}.")
        return path

    def reset(self):
        """Go back to the shipped pretrained model (the drawing and the taught-drawings file stay)."""
        self.model = load_pretrained(self.pretrained)
        self.teacher = None
        self.taught_as = None
        self.predict()
        self._say("Back to the pretrained model: every lesson of this pad is undone (the taught drawings stay "
                  "in their file).")

    # --- prediction ---

    def predict(self):
        """Turn the strokes into the 28x28 input (``strokes_to_mnist``) and run the network; update the display."""
        self._last_predict = time.monotonic()
        current = [np.array(self.current, dtype=np.float64)] if self.current else []
        self.image = strokes_to_mnist(self.strokes + current)
        if self.image is None:
            self.probabilities, self.prediction = None, None
        else:
            self.probabilities = self.model.predict_proba(self.image)       # (10,)
            self.prediction = int(self.probabilities.argmax())
        explain_now = self.explaining and self.image is not None and self.current is None
        if not explain_now:                     # at pen-up only: while the pen moves it would be out of date
            self.explanation = None
        self._show()                            # the reading first: it is what the person waits for
        if explain_now:
            self.explanation = explain(self.model, self.image)
            self._show()
        return self.prediction

    def _forgetting_sample(self):
        """A fixed sample of MNIST test digits (the same every time), loaded once."""
        if self._sample is None:
            X, y = load_mnist("test")
            keep = np.random.default_rng(0).choice(len(y), FORGETTING_SAMPLE, replace=False)
            self._sample = X[keep], y[keep]
        return self._sample

    # --- what the view shows: nothing here; ``DigitPad`` draws ---

    def _show(self):
        """Called after every change of the drawing, the prediction or the status."""

    def _say(self, message):
        self.status = message
        self._show()
