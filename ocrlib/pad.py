"""What the drawing pad does, without any widget: ink, prediction, teaching (notebook 05).

``Pad`` holds the strokes drawn so far, turns them into the network's 28x28 input and predicts; it teaches
the network a digit and keeps every taught drawing. ``DigitPad`` (``ocrlib/widget.py``) is the same pad with
a canvas, bars and buttons; code and tests can draw on either:

    pad = Pad()
    pad.on_pen_down(140, 40); pad.on_pen_move(140, 240); pad.on_pen_up(140, 240)   # a "1"
    pad.prediction, pad.probabilities, pad.image        # digit, (10,) probabilities, (28, 28) network input
    report = pad.teach(1)                               # p(1) before -> after, MNIST accuracy before -> after
    pad.undo_teach(); pad.undo(); pad.clear(); pad.save_model("my_model.npz"); pad.reset()
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocrlib.mnist import load_mnist
from ocrlib.paths import MODEL_PATH, USER_MODEL_PATH
from ocrlib.preprocess import strokes_to_mnist
from ocrlib.pretrained import load_pretrained
from ocrlib.taught import read_taught, resolve_path, write_taught

PREDICT_INTERVAL = 0.05     # seconds: at most one prediction per interval while the pen moves (always one at pen-up)
TEACH_LR = 0.03             # learning rate of one teach step (0.1 can undo much of what MNIST taught, in one step)
FORGETTING_SAMPLE = 1000    # MNIST test digits scored before and after each teach: what teaching does to the rest


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

    - ``model``: an ``MLP`` (default: the shipped pretrained one). Teaching changes it in place.
    - ``taught_path``: the file taught drawings are added to (default: env ``OCRLIB_TAUGHT_PATH``, else
      ``data/taught/taught.npz``). Drawings already in it are kept.
    - ``model_path``: where ``save_model`` writes by default (``data/taught/my_model.npz``); never the shipped model.
    - ``teaching``: False for a read-only pad, whose ``teach`` refuses.
    """

    def __init__(self, model=None, taught_path=None, model_path=None, lr=TEACH_LR, teaching=True):
        self.model = load_pretrained() if model is None else model
        self.taught_path = resolve_path(taught_path)
        self.model_path = Path(model_path) if model_path is not None else USER_MODEL_PATH
        self.lr = lr
        self.teaching = teaching
        self.status = "Draw a digit on the pad."
        self.strokes = []                       # finished strokes, each a (k, 2) array of (x, y)
        self.current = None                     # the stroke being drawn: a list of (x, y), or None
        self.image = None                       # what the network sees: float32 (28, 28), or None when blank
        self.probabilities = None               # (10,), or None when blank
        self.prediction = None
        self._last_predict = -np.inf
        self._dataset = read_taught(self.taught_path)   # fails early, naming the file, if it is unreadable
        self._undo_params = None                # the weights before the last teach, while it can be undone
        self._sample = None                     # the forgetting check's MNIST digits, loaded at the first teach
        self.predict()

    @property
    def taught_count(self):
        """How many drawings the taught-drawings file holds."""
        return len(self._dataset[2])

    @property
    def can_undo_teach(self):
        return self._undo_params is not None

    # --- what the canvas calls ---

    def on_pen_down(self, x, y):
        x, y = float(x), float(y)                # plain floats: NumPy scalars cannot go to the browser as JSON
        self.current = [(x, y)]
        self._last_predict = -np.inf
        self.predict()

    def on_pen_move(self, x, y):
        if self.current is None:                # the pointer moves with the pen up: nothing to draw
            return
        self.current.append((float(x), float(y)))
        if time.monotonic() - self._last_predict >= PREDICT_INTERVAL:
            self.predict()

    def on_pen_up(self, x=None, y=None):
        if self.current is None:
            return
        if x is not None and (float(x), float(y)) != self.current[-1]:
            self.on_pen_move(x, y)
        self.strokes.append(np.array(self.current, dtype=np.float64))
        self.current = None
        self.predict()

    # --- buttons ---

    def clear(self):
        self.strokes, self.current = [], None
        self.predict()

    def undo(self):
        """Remove the last stroke."""
        if self.current is not None:
            self.current = None
        elif self.strokes:
            self.strokes.pop()
        self.predict()

    def teach(self, label):
        """Teach the network that the current drawing is ``label``; returns a ``TeachReport``, or None if blank.

        One SGD step (``train_on_instance``) on the drawing; the drawing (strokes, 28x28 image, label) is
        added to the taught-drawings file.
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
        X_sample, y_sample = self._forgetting_sample()
        p_before = float(self.model.predict_proba(self.image)[label])
        accuracy_before = self.model.evaluate(X_sample, y_sample)
        undo_params = [p.copy() for p in self.model.weights + self.model.biases]
        self.model.train_on_instance(self.image, label, lr=self.lr)
        p_after = float(self.model.predict_proba(self.image)[label])
        accuracy_after = self.model.evaluate(X_sample, y_sample)
        drawings, images, labels = self._dataset
        strokes = self.strokes + ([np.array(self.current)] if self.current else [])
        dataset = (drawings + [strokes],
                   np.concatenate([images, np.round(self.image * 255).astype(np.uint8)[None]]),
                   np.append(labels, label))
        write_taught(self.taught_path, *dataset)
        self._dataset = dataset
        self._undo_params = undo_params
        message = (f"Taught a {label}: p({label}) went from {p_before:.0%} to {p_after:.0%}; on "
                   f"{len(y_sample):,} MNIST test digits, {accuracy_before:.1%} → {accuracy_after:.1%}.")
        self.predict()
        self._say(message)
        return TeachReport(label, p_before, p_after, accuracy_before, accuracy_after, message)

    def undo_teach(self):
        """Put the weights back as they were before the last teach, and remove that drawing from the file."""
        if self._undo_params is None:
            self._say("Nothing to undo: no teach since the model was loaded.")
            return False
        drawings, images, labels = self._dataset
        dataset = (drawings[:-1], images[:-1], labels[:-1])
        write_taught(self.taught_path, *dataset)
        self._dataset = dataset
        for p, saved in zip(self.model.weights + self.model.biases, self._undo_params):
            p[...] = saved
        self._undo_params = None
        self.predict()
        self._say("The last teach is undone.")
        return True

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
        """Go back to the shipped pretrained model (the drawing and the taught-drawings file stay)."""
        self.model = load_pretrained()
        self._undo_params = None
        self.predict()
        self._say("Back to the pretrained model.")

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
