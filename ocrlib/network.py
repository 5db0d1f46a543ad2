"""A multilayer perceptron for 28x28 digits, in NumPy: the network the notebooks build.

Notation (the same as the notebooks):

    a0 = x                              input, (N, 784), pixels in [0, 1]
    z_l = a_{l-1} @ W_l + b_l           W_l is (n_{l-1}, n_l), b_l is (n_l,)
    a_l = f(z_l)                        f is ReLU, sigmoid or tanh for hidden layers
    p = softmax(z_L)                    (N, 10), each row sums to 1
    loss = cross_entropy(p, y) = mean_i -log p[i, y_i]

Backpropagation, for a batch of N examples with one-hot labels Y (derived in notebook 03):

    delta_L = (p - Y) / N               dloss/dz_L
    dW_l = a_{l-1}.T @ delta_l          db_l = sum over the batch of delta_l
    delta_{l-1} = (delta_l @ W_l.T) * f'(a_{l-1})

``forward`` and ``backward`` are those formulas, line by line: the reference. ``train_on_instance`` is one
SGD step on one example (notebook 03). ``fit`` is mini-batch SGD with momentum (notebook 04); it does the
reference's arithmetic faster, in ``ocrlib/fastpath.py``, and tests check both give the same numbers.
"""

import math
from collections.abc import Callable
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from ocrlib import fastpath, modelfile
from ocrlib.mnist import IMAGE_SHAPE, N_PIXELS

MAX_PARAMETERS = 10_000_000     # the largest network MLP() builds or MLP.load reads (784-800-10: 636,010)

# --- activations (notebook 02), each with its derivative written from its output a = f(z) ---
# Each takes ``out=`` so that the fast path can work in place; the reference never passes it.

def relu(z, out=None):
    return np.maximum(z, 0, out=out)


def relu_prime(a):
    return (a > 0).astype(a.dtype)


def sigmoid(z, out=None):
    e = np.exp(np.negative(z, out=out), out=out)        # exp(-z)
    e += 1
    return np.reciprocal(e, out=e)                      # 1 / (1 + exp(-z))


def sigmoid_prime(a):
    return a * (1 - a)


def tanh(z, out=None):
    return np.tanh(z, out=out)


def tanh_prime(a):
    return 1 - a * a


class Activation(NamedTuple):
    f: Callable            # a = f(z, out=None)
    f_prime: Callable      # f'(z), from a: f_prime(a)


ACTIVATIONS = {
    "relu": Activation(relu, relu_prime),
    "sigmoid": Activation(sigmoid, sigmoid_prime),
    "tanh": Activation(tanh, tanh_prime),
}


# --- the output layer and the loss (notebook 02) ---

def softmax(z):
    """Row-wise softmax of logits z (N, K); subtracting the row maximum keeps exp from overflowing."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(p, y):
    """Mean of -log p[i, y_i] over the batch; p is (N, K) probabilities, y is (N,) integer labels."""
    picked = p[np.arange(len(y)), y]
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(picked)))      # inf when p[i, y_i] underflowed to 0: diverged


def one_hot(y, k=10):
    return np.eye(k, dtype=np.float32)[y]


class TrainingDiverged(FloatingPointError):
    """The loss or the weights became NaN or infinite; the message says which weights were kept."""


class MLP:
    """A fully connected network: ``sizes[0]`` inputs, hidden layers, ``sizes[-1]`` softmax outputs.

    ``weights[l]`` is W_{l+1} of shape (sizes[l], sizes[l+1]) and ``biases[l]`` is b_{l+1}; the
    notebooks call the first layer's ``W1``, ``b1``. Hidden layers use ``activation`` (a key of
    ``ACTIVATIONS``). Weights start random, drawn from ``seed``, with a standard deviation that keeps the
    size of the signal the same from layer to layer (notebook 02): sqrt(2 / n_in) into a ReLU layer
    (He), sqrt(1 / n_in) into a sigmoid or tanh layer (LeCun), sqrt(2 / (n_in + n_out)) into the softmax
    layer (Glorot). Biases start at 0.
    """

    def __init__(self, sizes=(784, 25, 10), activation="relu", seed=0, dtype=np.float32):
        sizes = _check_sizes(sizes)
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.sizes = sizes
        self.activation = activation
        self.dtype = _check_dtype(dtype)
        rng = _rng(seed)
        self.weights, self.biases = [], []
        for layer, (n_in, n_out) in enumerate(pairwise(sizes)):
            if layer == len(sizes) - 2:
                std = math.sqrt(2.0 / (n_in + n_out))                  # into the softmax
            else:
                std = math.sqrt((2.0 if activation == "relu" else 1.0) / n_in)
            self.weights.append((rng.standard_normal((n_in, n_out)) * std).astype(self.dtype))
            self.biases.append(np.zeros(n_out, dtype=self.dtype))

    def __repr__(self):
        return f"MLP(sizes={self.sizes}, activation={self.activation!r})"

    @property
    def params(self):
        """The parameters by their names in the math: {"W1": ..., "b1": ..., "W2": ..., ...}."""
        named = {}
        for i, (W, b) in enumerate(zip(self.weights, self.biases), start=1):
            named[f"W{i}"], named[f"b{i}"] = W, b
        return named

    # --- inputs ---

    def as_input(self, X, name="X"):
        """Images (..., 28, 28) or (..., 784) -> float rows (N, 784). uint8 is scaled by 1/255.

        Floats must already be pixels in [0, 1]: anything else (NaN, -1..1, 0..255) raises, naming ``name``.
        """
        X = np.asarray(X)
        n_in = self.sizes[0]
        if X.shape[-2:] == IMAGE_SHAPE and n_in == N_PIXELS:
            X = X.reshape(X.shape[:-2] + (N_PIXELS,))
        if X.ndim == 0 or X.shape[-1] != n_in:
            raise ValueError(f"{name} must have shape (..., 28, 28) or (..., {n_in}), got {X.shape}")
        if X.dtype == np.uint8:
            return X.reshape(-1, n_in).astype(self.dtype) / self.dtype.type(255)
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"{name} must be uint8 pixels (0..255) or floats in [0, 1], got dtype {X.dtype}"
                            + (f"; for pixel values use {name}.astype(np.uint8)" if X.dtype.kind in "iu" else ""))
        X = X.reshape(-1, n_in).astype(self.dtype, copy=False)
        _check_pixels(X, name)
        return X

    def labels(self, y, n, name="y"):
        """Labels y as integers (n,), checked against the number of inputs n and of outputs."""
        y = np.asarray(y)
        if y.ndim > 1 and y.size != len(y):
            raise ValueError(f"{name} must be one label per input, shape ({n},), got shape {y.shape}")
        y = y.reshape(-1)
        if len(y) != n:
            raise ValueError(f"{name} has {len(y)} labels for {n} inputs")
        if not np.issubdtype(y.dtype, np.integer) or y.min(initial=0) < 0 or y.max(initial=0) >= self.sizes[-1]:
            raise ValueError(f"{name} must hold integer labels 0..{self.sizes[-1] - 1}, got {y.dtype} {y[:10]}...")
        return y.astype(np.intp)

    # --- the reference: forward and backward, as in the notebooks ---

    def forward(self, X):
        """Every layer's output for inputs X: ``[a0, a1, ..., p]``, the last being the softmax (N, 10)."""
        f = ACTIVATIONS[self.activation].f
        a = self.as_input(X)
        activations = [a]
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W + b                                   # (N, n_l)
            a = softmax(z) if l == len(self.weights) - 1 else f(z)
            activations.append(a)
        return activations

    def backward(self, X, y):
        """Gradients of the mean cross-entropy on (X, y): lists ``dW`` and ``db`` shaped like the parameters."""
        f_prime = ACTIVATIONS[self.activation].f_prime
        activations = self.forward(X)
        p = activations[-1]
        y = self.labels(y, len(p))
        delta = (p - one_hot(y, p.shape[1]).astype(p.dtype)) / len(p)      # dloss/dz_L, (N, 10)
        dW, db = [None] * len(self.weights), [None] * len(self.weights)
        for l in reversed(range(len(self.weights))):
            dW[l] = activations[l].T @ delta                                # (n_{l-1}, n_l)
            db[l] = delta.sum(axis=0)                                       # (n_l,)
            if l > 0:
                delta = (delta @ self.weights[l].T) * f_prime(activations[l])   # (N, n_{l-1})
        return dW, db

    def loss(self, X, y):
        """The mean cross-entropy on (X, y)."""
        p = self.forward(X)[-1]
        y = self.labels(y, len(p))
        if len(p) == 0:
            raise ValueError("X holds no images: the loss is a mean over at least one")
        return cross_entropy(p, y)

    # --- prediction ---

    def predict_proba(self, X):
        """Class probabilities; inputs (..., 28, 28) or (..., 784) give (..., 10)."""
        lead = np.shape(X)[:-2] if np.shape(X)[-2:] == IMAGE_SHAPE else np.shape(X)[:-1]
        return self.forward(X)[-1].reshape(lead + (self.sizes[-1],))

    def predict(self, X):
        """The most probable digit for each input: (..., 28, 28) gives (...,)."""
        return self.predict_proba(X).argmax(axis=-1)

    def evaluate(self, X, y, batch_size=10_000):
        """Accuracy: the fraction of inputs whose predicted digit equals the label."""
        X = self.as_input(X)
        y = self.labels(y, len(X))
        _check_count("batch_size", batch_size)
        if len(X) == 0:
            raise ValueError("X holds no images: accuracy is a fraction of at least one")
        correct = sum(int((self.predict(X[i:i + batch_size]) == y[i:i + batch_size]).sum())
                      for i in range(0, len(X), batch_size))
        return correct / len(X)

    # --- training ---

    def train_on_instance(self, x, label, lr=0.1):
        """One SGD step on one example (notebook 03); returns the loss before the step.

        The same numbers as a ``backward`` step on that one example, computed on the lit input pixels only:
        a pixel that is 0 adds nothing to z1 and its row of dW1 is 0, so only the rows of W1 under the ink
        (about 150 of 784 for a digit) take part. If the step would make any weight NaN or infinite, it
        raises ``TrainingDiverged`` and no weight changes.
        """
        _check_lr(lr)
        x = self.as_input(x, name="x")
        if len(x) != 1:
            raise ValueError(f"x must be one example (28, 28) or ({self.sizes[0]},), got {len(x)} of them")
        if (isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer))
                or not 0 <= label < self.sizes[-1]):
            raise ValueError(f"label must be an integer 0..{self.sizes[-1] - 1}, got {label!r}")
        label = int(label)
        f, f_prime = ACTIVATIONS[self.activation]
        W, b = self.weights, self.biases
        lit = np.flatnonzero(x[0])                      # (k,) indices of the lit pixels
        a = x[0, lit]                                   # (k,) their values
        activations = [a]
        z = a @ W[0][lit] + b[0]                        # (n_1,), the same as x @ W1
        for l in range(1, len(W)):
            a = f(z)
            activations.append(a)
            z = a @ W[l] + b[l]                         # (n_{l+1},)
        p = softmax(z)                                  # (n_L,)
        with np.errstate(divide="ignore"):
            loss = float(-np.log(p[label]))
        delta = p.copy()
        delta[label] -= 1                               # dloss/dz_L = p - onehot(label)
        new_W, new_b = [None] * len(W), [None] * len(W)
        for l in reversed(range(len(W))):
            W_l = W[l][lit] if l == 0 else W[l]         # layer 1: the lit rows only, (k, n_1)
            new_W[l] = W_l - lr * np.outer(activations[l], delta)
            new_b[l] = b[l] - lr * delta
            if l > 0:
                delta = (W[l] @ delta) * f_prime(activations[l])      # (n_{l-1},), through W_{l+1} before it changes
        if not math.isfinite(loss) or not all(np.isfinite(p).all() for p in new_W + new_b):
            raise TrainingDiverged(f"the step on this example with lr={lr:g} gives NaN or infinite values "
                                   f"(loss {loss}); the weights were not changed")
        W[0][lit] = new_W[0]
        for l in range(len(W)):
            if l > 0:
                W[l][...] = new_W[l]
            b[l][...] = new_b[l]
        return loss

    def fit(self, X, y, epochs=10, batch_size=64, lr=0.1, momentum=0.0, lr_schedule=None,
            validation=None, progress=True, seed=0, augment=None):
        """Mini-batch SGD with momentum on cross-entropy (notebook 04). Returns a history of per-epoch metrics.

        - ``lr_schedule``: None (constant ``lr``), ``"cosine"`` (from ``lr`` down to 0), or a function
          ``epoch -> learning rate``.
        - ``validation``: optional ``(X_val, y_val)`` scored after every epoch.
        - ``augment``: optional function ``(images uint8 (N, 28, 28), rng) -> images``, applied to the
          whole training set at the start of every epoch (random shifts, rotations, ...).
        - Each epoch draws one random order of the examples and walks through it ``batch_size`` at a time.
          Each step is ``v = momentum * v - lr * grad; param += v``, for every weight and bias.

        History: ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...], "lr": [...]}``.
        A NaN or infinite loss or weight raises ``TrainingDiverged`` naming the learning rate, with the
        weights restored to those at the start of the epoch (the last values known to be finite).
        """
        images = np.asarray(X)
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a function (images, rng) -> images, got {augment!r}")
        if augment is not None and (images.dtype != np.uint8 or images.shape[-2:] != IMAGE_SHAPE):
            raise ValueError(f"augment needs uint8 images X (N, 28, 28), got {images.dtype} {images.shape}")
        rows = self._rows(images)                               # (n, n_in) in the input's own dtype
        n = len(rows)
        if n == 0:
            raise ValueError("X holds no images: fit needs at least one example")
        y = self.labels(y, n)
        _check_count("epochs", epochs)
        _check_count("batch_size", batch_size)
        if (isinstance(momentum, (bool, np.bool_)) or not isinstance(momentum, (int, float, np.integer, np.floating))
                or not 0 <= momentum < 1):
            raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
        _check_lr(lr)
        if validation is not None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise ValueError(f"validation must be a pair (X_val, y_val), got {type(validation).__name__}")
            self.labels(validation[1], len(self._rows(validation[0], name="validation[0] (X_val)")),
                        name="validation[1] (y_val)")
        schedule = _schedule(lr_schedule, lr, epochs)
        rng = _rng(seed)
        trainer = fastpath.Trainer(self.weights, self.biases, ACTIVATIONS[self.activation], min(batch_size, n))
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "lr": []}
        bar = _progress_bar(progress, epochs * n)
        try:
            for epoch in range(epochs):
                epoch_lr = _check_lr(float(schedule(epoch)), name=f"the learning rate of epoch {epoch + 1}")
                order = rng.permutation(n)
                if augment is None:
                    source, picks = rows, order                 # each batch gathers its rows by ``picks``
                else:
                    source, picks = self._rows(augment(images[order], rng), n), None    # already in order
                snapshot = [p.copy() for p in self.weights + self.biases]
                loss, correct = trainer.epoch(source, y[order], picks, epoch_lr, momentum, bar)
                # Each step's loss is computed on the next batch; the epoch's last step is checked here, on its
                # own batch: diverged if any weight is NaN or infinite, or the loss after the step is.
                if math.isfinite(loss) and all(np.isfinite(p).all() for p in self.weights + self.biases):
                    last = slice((n - 1) // trainer.batch_size * trainer.batch_size, n)
                    last_rows = source[last] if picks is None else source[picks[last]]
                    with np.errstate(all="ignore"):                 # overflow here is what is checked for
                        loss_after = self.loss(last_rows, y[order][last])
                else:
                    loss_after = math.nan
                if not math.isfinite(loss_after):
                    for p, saved in zip(self.weights + self.biases, snapshot):
                        p[...] = saved
                    raise TrainingDiverged(
                        f"training diverged with lr={epoch_lr:g} in epoch {epoch + 1} (mean loss {loss}, loss "
                        f"after its last step {loss_after}); try a smaller learning rate. The weights are those "
                        f"from the start of epoch {epoch + 1}.")
                history["loss"].append(loss)
                history["accuracy"].append(correct / n)
                history["lr"].append(epoch_lr)
                if validation is not None:
                    history["val_loss"].append(self.loss(*validation))
                    history["val_accuracy"].append(self.evaluate(*validation))
                if bar is not None:
                    bar.set_postfix({key: f"{values[-1]:.4f}" for key, values in history.items()
                                     if values and key != "lr"})
        finally:
            if bar is not None:
                bar.close()
        return history

    def _rows(self, images, n=None, name="X"):
        """Images (n, 28, 28) or (n, n_in) as rows (n, n_in), checked like ``as_input`` but kept in their dtype."""
        images = np.asarray(images)
        if images.ndim == 0:
            raise ValueError(f"{name} must have shape (N, 28, 28) or (N, {self.sizes[0]}), got a scalar")
        self.as_input(images[:1], name)                        # checks the shape and dtype
        rows = images.reshape(-1, self.sizes[0])
        if rows.dtype.kind == "f":
            _check_pixels(rows, name)
        if n is not None and len(rows) != n:
            raise ValueError(f"augment must return {n} images, got an array of shape {images.shape}")
        return rows

    # --- saving and loading (ocrlib/modelfile.py) ---

    def save(self, path):
        """Write the model to ``.npz`` or ``.json``, atomically: a crash mid-save leaves any old file intact."""
        modelfile.save_model(path, self.sizes, self.activation, self.params)

    @classmethod
    def load(cls, path):
        """Read a model saved by ``save`` (``.npz`` or ``.json``), or an original OCR_AI ``neural_network.json``."""
        sizes, activation, params = modelfile.load_model(path, ACTIVATIONS, MAX_PARAMETERS)
        net = cls(sizes, activation=activation)
        for name, value in params.items():
            net.params[name][...] = value
        return net


def _check_sizes(sizes):
    """``sizes``: at least two whole numbers >= 1, (inputs, hidden ..., outputs), within MAX_PARAMETERS."""
    if not isinstance(sizes, (list, tuple, np.ndarray)) or np.ndim(sizes) != 1:
        raise TypeError(f"sizes must be a list of layer sizes such as (784, 25, 10), got {sizes!r}")
    if len(sizes) < 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) and s >= 1
                                 for s in sizes):
        raise ValueError(f"sizes must be at least (inputs, outputs), whole numbers >= 1, got {sizes!r}")
    sizes = tuple(int(s) for s in sizes)
    parameters = sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))
    if parameters > MAX_PARAMETERS:
        raise ValueError(f"sizes {sizes} make {parameters:,} parameters, more than the {MAX_PARAMETERS:,} "
                         f"of the largest network (MAX_PARAMETERS)")
    return sizes


def _check_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype}")
    return dtype


def _rng(seed):
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError):
        raise ValueError(f"seed must be None or a whole number >= 0, got {seed!r}") from None


def _check_pixels(X, name):
    """Float pixels must lie in [0, 1] (NaN fails both comparisons, so it is caught too)."""
    if X.size and not (X.min() >= 0 and X.max() <= 1):
        found = "NaN" if np.isnan(X).any() else f"values in [{X.min():g}, {X.max():g}]"
        hint = f" (for 0..255 pixels use {name}.astype(np.uint8))" if X.max() > 1 else ""
        raise ValueError(f"{name} of dtype {X.dtype} must hold pixels in [0, 1], found {found}{hint}")


def _check_count(name, value):
    """A whole number >= 1 (epochs, batch_size)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def _check_lr(lr, name="lr"):
    """A learning rate must be a finite number > 0 (NaN fails every comparison, so it is tested for)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {lr!r}")
    return float(lr)


def _schedule(lr_schedule, lr, epochs):
    if lr_schedule is None:
        return lambda epoch: lr
    if lr_schedule == "cosine":
        return lambda epoch: lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if callable(lr_schedule):
        return lr_schedule
    raise ValueError(f"lr_schedule must be None, 'cosine' or a function epoch -> lr, got {lr_schedule!r}")


def _progress_bar(progress, total):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="img", unit_scale=True, desc="fit")
