"""Teaching the network one drawing without making it forget the rest (notebook 08).

The plain way to teach a network one example is one SGD step on it (``MLP.train_on_instance``, notebook
03). It works for that drawing, and it costs the rest: every weight the step moves was also doing its part
for the 60,000 digits MNIST taught, and nothing in that one step speaks for them. Measured on pen-drawn
digits from real writers (``python -m benchmarks.teaching``), a handful of such steps takes the shipped
model from 99.0 % on MNIST's test set to about 94 %, and one unlucky step can cost 15 points. This is
*catastrophic forgetting* (McCloskey and Cohen 1989).

``Teacher`` teaches with two classic remedies:

1. **Rehearsal (experience replay).** Each teach takes a few small SGD steps on mini-batches of 64 that hold
   the new drawing (and copies of it moved by one pixel, so that it is learnt as a shape rather than as a
   pixel pattern) beside a fresh random sample of MNIST training digits and of drawings taught earlier. Each
   step must then suit the old digits as well as the new one. Rolnick et al. 2019, "Experience Replay for
   Continual Learning"; Chaudhry et al. 2019, "On Tiny Episodic Memories in Continual Learning" (a small
   replay sample mixed into every batch is enough, and beats more elaborate methods). Half of the MNIST
   sample are of the two digits the lesson is about: the label, and what the network read instead. Those
   are the digits a lesson puts at risk (teach it that a 1 with a flag is a 1, and MNIST's 7s are next).
2. **Elastic weight consolidation** (Kirkpatrick et al. 2017, "Overcoming catastrophic forgetting in neural
   networks"). After the steps every weight is pulled back towards its pretrained value, in proportion to
   how much MNIST's loss depends on it: F, the diagonal of the Fisher information, the mean squared
   gradient of the loss over MNIST digits. Weights MNIST needs hardly move; the others are free to learn.
   EWC's penalty (consolidation / 2) * F * (w - w_pretrained)**2, followed for ``steps`` steps of rate lr,
   pulls each weight back by the fraction 1 - (1 - min(lr * consolidation * F, 1))**steps, with F scaled to
   a mean of 1; ``Teacher`` applies that pull once, after the steps, which costs one pass over the weights
   instead of one per step.

How the defaults were chosen (``python -m benchmarks.teaching``: the 20 writers the shipped model reads worst,
each Teacher setting run with four sampling seeds; the README has the table): rehearsal alone (consolidation 0)
let MNIST fall to 97.4 % for the worst writer; a strong EWC (consolidation 0.3 and above) kept MNIST at
98.8-99.0 % but the writers' later digits gained less. Every setting that keeps MNIST at 98.8 % on average and
98.5 % for the worst writer gains +7.0 to +7.6 points on those digits. 24 copies of the drawing in the 64 places
gained no more than 16; 32 gained +0.3 points more and cost MNIST 0.3 points; 8 steps, or rate 0.15, gained no
more than 5 steps of rate 0.1; copies warped by the training augmentation, or redrawn from the strokes at other
slants and sizes, gained within 0.3 points of copies moved by one pixel, and cost 2-8 ms more per teach; batches
of 128 with 32 copies gained +7.6 points over eight seeds (+7.5 for the defaults) in twice the time, with the
worst writer's MNIST at 98.46 %. The most any setting gained was +7.8 points (32 copies, consolidation 0.3), with
the worst writer's MNIST at 98.2 %. Rehearsing, for the two digits at stake, the MNIST digits nearest the drawing
instead of any kept MNIST better and gained less (+6.3 to +6.9 points): the writer's later digits lie near the
taught one, and so do the MNIST digits that hold the old boundary in place. Half of the MNIST places for the two
digits at stake gained +7.5 points against +7.3 for three quarters (eight seeds each). For reference, training on
every digit of each writer's first half at once, the ones read right too, gains +8.1 points: Teacher, seeing only
the misread ones one at a time, gets most of what those digits can teach this model.

    teacher = Teacher(model)                       # rehearses MNIST training digits; no other argument needed
    p_before, p_after = teacher.teach(image, 7)    # image (28, 28), uint8 or floats in [0, 1]
    teacher.undo()                                 # the weights as before that teach; the drawing forgotten
"""

import functools
import math

import numpy as np

from ocrlib.activations import ACTIVATIONS
from ocrlib.convnet import ConvNet, ConvTrainer
from ocrlib.fastpath import Trainer
from ocrlib.mnist import IMAGE_SHAPE, N_PIXELS, load_mnist
from ocrlib.network import TrainingDiverged
from ocrlib.taught import TaughtStore, check_label

# Defaults, each chosen by measurement (python -m benchmarks.teaching; README, "Teaching without forgetting"):
STEPS = 5               # SGD steps per teach: as good as 10 steps of half the rate, at half the time
BATCH_SIZE = 64         # examples per step: the drawing's copies, earlier taught drawings, the rest MNIST
COPIES = 16             # of the 64: the drawing and its moved copies (with 8, the writers gained 1-2 points less)
TAUGHT_PER_STEP = 4     # of the 64: drawings taught earlier, so that a later lesson keeps the earlier ones
AT_RISK = 0.5           # of the MNIST digits: this fraction are of the label or of what the model read instead
LR = 0.1                # learning rate of each step
CONSOLIDATION = 0.15    # EWC strength: 0.05 forgets more and learns no more; 0.3 and above learn less
FISHER_SAMPLE = 2000    # MNIST training digits F is measured on
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))     # the copies: the drawing moved one pixel right, left, down, up


class Teacher:
    """Teaches ``model`` (an ``MLP`` or a ``ConvNet``, changed in place) one labelled drawing at a time, with rehearsal and EWC.

    - ``store``: a ``TaughtStore`` (or its path) that each taught drawing is added to and earlier ones are
      rehearsed from; None (the default) keeps taught drawings in memory only.
    - ``rehearsal``: ``(X uint8 (N, 28, 28), y (N,))``, the digits to rehearse; default MNIST's training set.
    - ``pad``: a name stored with each drawing (which pad taught it).
    - ``steps``, ``batch_size``, ``copies``, ``taught_per_step``, ``lr``, ``consolidation``: see the defaults
      above; ``seed`` seeds the random samples.
    - ``dense_only`` (a ConvNet only; default True for it): teach the dense layers and keep the convolutions'
      features as MNIST made them. Measured on the 20 writers the shipped ConvNet reads worst (one seed):
      +2.0 points on their later digits against +1.1 teaching every layer, MNIST after 99.27 % mean and 98.86 %
      for the worst writer against 98.94 % and 95.45 %, and 28 ms a teach against 95 ms.
    """

    def __init__(self, model, store=None, rehearsal=None, pad="", steps=STEPS, batch_size=BATCH_SIZE,
                 copies=COPIES, taught_per_step=TAUGHT_PER_STEP, at_risk=AT_RISK, lr=LR, consolidation=CONSOLIDATION,
                 seed=0, dense_only=None):
        check_options(model, steps=steps, batch_size=batch_size, copies=copies, taught_per_step=taught_per_step,
                      at_risk=at_risk, lr=lr, consolidation=consolidation, seed=seed)
        self.model = model
        self.store = TaughtStore(store) if store is not None and not isinstance(store, TaughtStore) else store
        self.pad = pad
        self.steps, self.batch_size, self.copies, self.taught_per_step = steps, batch_size, copies, taught_per_step
        self.at_risk, self.lr, self.consolidation = at_risk, lr, consolidation
        self.rng = np.random.default_rng(seed)
        self.X_rehearse, self.y_rehearse = check_rehearsal(mnist_train() if rehearsal is None else rehearsal)
        self.by_digit = [np.flatnonzero(self.y_rehearse == d) for d in range(10)]
        if isinstance(model, ConvNet):
            self.trainer = ConvTrainer(model, batch_size, dense_only=True if dense_only is None else dense_only)
        else:
            self.trainer = Trainer(model.weights, model.biases, ACTIVATIONS[model.activation], batch_size)
        self.pretrained = [p.copy() for p in self._params()]                        # w*, where EWC pulls back to
        # EWC's pull after the steps, in [0, 1]: ``steps`` pulls of min(lr * consolidation * F, 1) each, in one
        self.pull = [(1 - (1 - np.minimum(lr * consolidation * F, 1)) ** steps).astype(p.dtype)
                     for F, p in zip(fisher_diagonal(model, self.X_rehearse, self.rng), self.pretrained)]
        # earlier taught drawings, to rehearse: uint8 rows (784,) and labels, with their ids in the store
        self.taught_X, self.taught_y, self.taught_ids = [], [], []
        self._seen_id = 0                       # the store's drawings up to this id are in taught_X
        self._undo = None                       # (the parameters before the last teach, its drawing's id)
        self._batch = np.empty((batch_size, N_PIXELS), np.uint8)
        self._labels = np.empty(batch_size, np.intp)
        self._catch_up()

    def _params(self):
        return self.model.weights + self.model.biases

    # --- teaching ---

    def teach(self, image, label, strokes=()):
        """Teach that ``image`` (28x28, uint8 or floats in [0, 1]) is the digit ``label``.

        Returns ``(p_before, p_after)``: the probability of ``label`` on this image before and after. The
        drawing (with its ``strokes``, if given) goes to the store, and is rehearsed by later teaches.
        Bad input raises ``ValueError`` with the weights unchanged and nothing stored.
        """
        x = check_image(image)                                  # uint8 (784,): what is trained on and stored
        label = check_label(label)
        model = self.model
        image = np.asarray(image).reshape(1, N_PIXELS)          # p(label) is read on the image as given
        p = model.predict_proba(image)[0]                       # (10,)
        p_before, read_as = float(p[label]), int(p.argmax())
        self._catch_up()                                        # drawings other pads taught meanwhile
        saved = [p.copy() for p in self._params()]
        drawing_id = None
        if self.store is not None:                              # first the store: a duplicate changes nothing
            drawing_id = self.store.add(x.reshape(IMAGE_SHAPE), label, strokes=strokes, pad=self.pad)
        try:
            self._steps(x, label, read_as)
        except BaseException:
            self._restore(saved)
            if drawing_id is not None:
                self.store.remove(drawing_id)
            raise
        self.taught_X.append(x)
        self.taught_y.append(label)
        self.taught_ids.append(drawing_id)
        self._undo = (saved, len(self.taught_y) - 1, drawing_id)
        return p_before, float(model.predict_proba(image)[0, label])

    def _steps(self, x, label, read_as):
        """``steps`` SGD steps, each on a batch: the drawing and its moved copies, earlier drawings, MNIST digits
        (``at_risk`` of them of the two digits this lesson is about, ``label`` and ``read_as``)."""
        rng, batch, labels = self.rng, self._batch, self._labels
        copies = self._variations(x)                                           # (5, 784)
        c = self.copies
        t = min(self.taught_per_step, len(self.taught_y))
        m = self.batch_size - c - t                                              # MNIST digits per batch
        m_risk = round(self.at_risk * m)
        at_risk = np.concatenate([self.by_digit[label], self.by_digit[read_as]])   # indices into X_rehearse
        labels[:c] = label
        for _ in range(self.steps):
            batch[0] = x
            batch[1:c] = copies[rng.integers(0, len(copies), c - 1)]
            for j, i in enumerate(rng.choice(len(self.taught_y), t, replace=False)):
                batch[c + j], labels[c + j] = self.taught_X[i], self.taught_y[i]
            picks = np.concatenate([rng.choice(at_risk, m_risk), rng.integers(0, len(self.y_rehearse), m - m_risk)])
            np.take(self.X_rehearse, picks, axis=0, out=batch[c + t:])
            labels[c + t:] = self.y_rehearse[picks]
            X, lit = self.trainer.batch_input(batch)
            loss, _ = self.trainer.step(X, labels, self.lr, 0.0, lit)
            if not math.isfinite(loss):
                raise TrainingDiverged(f"teaching diverged (loss {loss}) with lr={self.lr}; the weights were "
                                       f"put back as they were before this teach")
        for p, p0, pull in zip(self._params(), self.pretrained, self.pull):        # EWC: back towards w*
            p -= pull * (p - p0)

    def _variations(self, x):
        """The drawing and its lightly varied copies, as rows (5, 784): moved one pixel each way."""
        return np.stack([x] + [shift(x, dx, dy) for dx, dy in SHIFTS])

    def _catch_up(self):
        """Add the drawings taught since we last looked (by any pad sharing the store) to those rehearsed."""
        if self.store is None:
            return
        ids, _, images, labels = self.store.read(since=self._seen_id)
        for drawing_id, image, label in zip(ids, images, labels):
            if int(drawing_id) not in self.taught_ids:
                self.taught_X.append(image.reshape(N_PIXELS))
                self.taught_y.append(int(label))
                self.taught_ids.append(int(drawing_id))
        if len(ids):
            self._seen_id = int(ids[-1])

    # --- undo ---

    @property
    def can_undo(self):
        return self._undo is not None

    def undo(self):
        """Put the weights back as before the last teach and forget its drawing (in the store too).

        One level: returns True if there was a teach to undo, False otherwise.
        """
        if self._undo is None:
            return False
        saved, index, drawing_id = self._undo
        self._restore(saved)
        del self.taught_X[index], self.taught_y[index], self.taught_ids[index]
        if drawing_id is not None:
            self.store.remove(drawing_id)
        self._undo = None
        return True

    def _restore(self, saved):
        for p, s in zip(self._params(), saved):
            p[...] = s


# --- the pieces ---

@functools.cache
def mnist_train():
    """MNIST's training digits, read once per process and shared by every ``Teacher`` (read-only)."""
    X, y = load_mnist("train")
    X.flags.writeable = y.flags.writeable = False
    return X, y


def fisher_diagonal(model, X, rng, n=FISHER_SAMPLE):
    """EWC's F for each parameter (weights, then biases), scaled to a mean of 1 over all of them.

    F = the mean over n training digits of the squared gradient of each digit's own loss. For a weight of
    W_l that gradient is a_{l-1}[i] * delta_l[j], so the mean of its square is one matrix product:
    F_W_l = (a_{l-1}**2).T @ delta_l**2 / n, and F_b_l = mean of delta_l**2. The labels are the model's own
    answers: F then measures how much what the model *does* on MNIST hangs on each weight.
    """
    picks = rng.choice(len(X), min(n, len(X)), replace=False)
    if isinstance(model, ConvNet):
        F = convnet_squared_gradients(model, X[picks])
        mean = sum(float(f.sum()) for f in F) / sum(f.size for f in F)
        return [f / mean for f in F]
    activations = model.forward(X[picks])                       # [a0 (n, 784), a1, ..., p (n, 10)]
    _, f_prime = ACTIVATIONS[model.activation]
    p = activations[-1]
    delta = p.copy()
    delta[np.arange(len(p)), p.argmax(axis=1)] -= 1             # (n, 10), each digit's own dloss/dz_L
    F_W, F_b = [None] * len(model.weights), [None] * len(model.weights)
    for l in reversed(range(len(model.weights))):
        F_W[l] = (activations[l] ** 2).T @ (delta ** 2) / len(p)
        F_b[l] = (delta ** 2).mean(axis=0)
        if l > 0:
            delta = (delta @ model.weights[l].T) * f_prime(activations[l])
    F = F_W + F_b
    mean = sum(float(f.sum()) for f in F) / sum(f.size for f in F)
    return [f / mean for f in F]


def convnet_squared_gradients(model, X, chunk=250):
    """``fisher_diagonal``'s mean squared per-digit gradients for a ``ConvNet`` (weights, then biases), unscaled.

    As for the MLP, each digit's gradient is a product of what entered a layer and that layer's delta; for a
    kernel it is summed over the positions of the window, one matrix product per digit, ``chunk`` digits at a
    time so that the windows of all the digits are never held at once.
    """
    sums = [np.zeros_like(p, dtype=np.float64) for p in model.weights + model.biases]
    for start in range(0, len(X), chunk):
        s = model.forward(X[start:start + chunk])
        p = s["p"]
        delta4 = p.copy()
        delta4[np.arange(len(p)), p.argmax(axis=1)] -= 1                     # each digit's own dloss/dz4
        delta1, delta2, delta3, delta4 = model.deltas(s, delta4)
        n = len(p)
        for l, (inputs, delta) in enumerate(((s["cols1"], delta1), (s["cols2"], delta2))):
            windows = inputs.reshape(n, -1, inputs.shape[-1])                 # (n, positions, k k C_in)
            d = delta.reshape(n, -1, delta.shape[-1])                         # (n, positions, C_out)
            sums[l] += (np.matmul(windows.transpose(0, 2, 1), d) ** 2).sum(axis=0).reshape(sums[l].shape)
            sums[4 + l] += (d.sum(axis=1) ** 2).sum(axis=0)
        for l, (inputs, delta) in ((2, (s["f"], delta3)), (3, (s["a3"], delta4))):
            sums[l] += (inputs ** 2).T @ (delta ** 2)
            sums[4 + l] += (delta ** 2).sum(axis=0)
    return [(total / len(X)).astype(p.dtype) for total, p in zip(sums, model.weights + model.biases)]


def shift(x, dx, dy):
    """A 28x28 image as a row (784,), moved dx pixels right and dy down (what leaves the frame is lost)."""
    image = x.reshape(IMAGE_SHAPE)
    moved = np.zeros_like(image)
    h, w = IMAGE_SHAPE
    moved[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return moved.reshape(N_PIXELS)


MAX_BATCH_SIZE = 4096   # examples per step at most: a (batch_size, 784) buffer is allocated up front


def check_options(model, **options):
    """``Teacher``'s arguments, each checked on its own; ``ValueError`` naming the first that is wrong."""
    from ocrlib.network import MLP

    if not (isinstance(model, ConvNet) or isinstance(model, MLP) and model.sizes[0] == N_PIXELS
            and model.sizes[-1] == 10):
        raise ValueError(f"model must be a ConvNet or an MLP from 784 pixels to 10 digits, got "
                         f"{getattr(model, 'sizes', type(model).__name__)}")
    whole = {"steps": 1, "batch_size": 2, "copies": 1, "taught_per_step": 0, "seed": 0}   # name: smallest
    for name, smallest in whole.items():
        value = options[name]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < smallest:
            raise ValueError(f"{name} must be a whole number >= {smallest}, got {value!r}")
    if options["batch_size"] > MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be at most {MAX_BATCH_SIZE}, got {options['batch_size']}")
    if options["copies"] + options["taught_per_step"] >= options["batch_size"]:
        raise ValueError(f"copies + taught_per_step must leave room in batch_size for MNIST digits, got copies="
                         f"{options['copies']}, taught_per_step={options['taught_per_step']}, "
                         f"batch_size={options['batch_size']}")
    for name, low, high, low_included in (("lr", 0, math.inf, False), ("consolidation", 0, math.inf, True),
                                          ("at_risk", 0, 1, True)):
        value = options[name]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value) or not (low <= value if low_included else low < value) or value > high:
            interval = f"[{low}, {high}]" if high < math.inf else f"{'>=' if low_included else '>'} {low}"
            raise ValueError(f"{name} must be a finite number {interval}, got {value!r}")


def check_rehearsal(rehearsal):
    """``(X uint8 (N, 28, 28), y (N,))`` with every digit 0..9 among the labels -> (X (N, 784), y (N,))."""
    try:
        X, y = rehearsal
        X, y = np.asarray(X), np.asarray(y)
    except (TypeError, ValueError) as err:
        raise ValueError(f"rehearsal must be a pair (X, y) of images and labels ({err})") from None
    if X.dtype != np.uint8 or X.ndim != 3 or X.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"rehearsal images must be uint8 (N, 28, 28), got {X.dtype} {X.shape}")
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise ValueError(f"rehearsal labels must be integers, one per image ({len(X)}), got {y.dtype} {y.shape}")
    missing = sorted(set(range(10)) - set(np.unique(y).tolist()))
    if missing or y.min() < 0 or y.max() > 9:
        raise ValueError(f"rehearsal labels must be digits 0..9, each at least once; got {y.min()}..{y.max()}, "
                         f"missing {missing}")
    return X.reshape(-1, N_PIXELS), y.astype(np.intp)


def check_image(image):
    """A drawing to teach -> uint8 pixels (784,), or ``ValueError`` saying what is wrong with ``image``."""
    try:
        image = np.asarray(image)
    except (TypeError, ValueError) as err:
        raise ValueError(f"image must be a 28x28 array ({err})") from None
    if image.shape not in (IMAGE_SHAPE, (N_PIXELS,)):
        raise ValueError(f"image must be 28x28 (or 784 pixels), got shape {image.shape}")
    if image.dtype == np.uint8:
        x = image.reshape(N_PIXELS)
    elif np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError(f"image holds {np.count_nonzero(~np.isfinite(image))} NaN or infinite pixels")
        if image.min() < 0 or image.max() > 1:
            raise ValueError(f"image floats must be in [0, 1], got {image.min():g} .. {image.max():g}")
        x = np.round(image.reshape(N_PIXELS).astype(np.float64) * 255).astype(np.uint8)
    else:
        raise ValueError(f"image must be uint8 pixels or floats in [0, 1], got dtype {image.dtype}")
    if not x.any():
        raise ValueError("image is blank: there is no drawing to teach")
    return x

