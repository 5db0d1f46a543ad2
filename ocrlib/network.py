"""A multilayer perceptron for 28x28 digits, in NumPy.

Notation (the same as the notebooks):

    a0 = x                              input, (N, 784), pixels in [0, 1]
    z_l = a_{l-1} @ W_l + b_l           W_l is (n_{l-1}, n_l), b_l is (n_l,)
    a_l = f(z_l)                        f is ReLU, sigmoid or tanh for hidden layers
    p = softmax(z_L)                    (N, 10), each row sums to 1
    loss = cross_entropy(p, y) = mean_i -log p[i, y_i]

Backpropagation, for a batch of N examples with one-hot labels Y:

    delta_L = (p - Y) / N               dloss/dz_L
    dW_l = a_{l-1}.T @ delta_l          db_l = sum over the batch of delta_l
    delta_{l-1} = (delta_l @ W_l.T) * f'(a_{l-1})

``forward`` and ``backward`` are those formulas, line by line: the reference. ``fit`` and
``train_on_instance`` do the same arithmetic faster (in-place buffers, a sparse first-layer update);
tests check that both give the same numbers.
"""

import functools
import math
from itertools import pairwise

import numpy as np

# --- activations, and their derivatives written in terms of the activation's output a = f(z) ---

def relu(z):
    return np.maximum(z, 0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def tanh(z):
    return np.tanh(z)


ACTIVATIONS = {
    "relu": (relu, lambda a: (a > 0).astype(a.dtype)),
    "sigmoid": (sigmoid, lambda a: a * (1 - a)),
    "tanh": (tanh, lambda a: 1 - a * a),
}


def softmax(z):
    """Row-wise softmax of logits z (N, K); subtracting the row maximum keeps exp from overflowing."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(p, y):
    """Mean of -log p[i, y_i] over the batch; p is (N, K) probabilities, y is (N,) integer labels."""
    picked = p[np.arange(len(y)), y]
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(picked)))      # inf when p[i, y_i] underflowed to 0: diverged


@functools.cache
def _pixel_values(dtype):
    """The float that ``as_input`` makes of each uint8 pixel value 0..255, as a lookup table (256,)."""
    table = np.arange(256, dtype=dtype) / dtype.type(255)
    table.flags.writeable = False                   # shared by every call: nobody may change it
    return table


def one_hot(y, k=10):
    return np.eye(k, dtype=np.float32)[y]


# ``fit`` trains layer 1 on the lit input columns of a batch only when they are at most this fraction of all:
# below it, skipping the dark columns in both big matmuls saves more than gathering the lit ones costs.
SPARSE_BATCH = 0.75


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the weights were left at their last finite values."""


class MLP:
    """A fully connected network: ``sizes[0]`` inputs, hidden layers, ``sizes[-1]`` softmax outputs.

    ``weights[l]`` is W_{l+1} of shape (sizes[l], sizes[l+1]) and ``biases[l]`` is b_{l+1}; the
    notebooks call the first layer's ``W1``, ``b1``. Hidden layers use ``activation``
    ("relu", "sigmoid" or "tanh"); weights start He-scaled for ReLU, Xavier-scaled otherwise,
    drawn from ``seed``.
    """

    def __init__(self, sizes=(784, 25, 10), activation="relu", seed=0, dtype=np.float32):
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must be at least (inputs, outputs) of positive ints, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.sizes = sizes
        self.activation = activation
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.weights, self.biases = [], []
        for layer, (n_in, n_out) in enumerate(pairwise(sizes)):
            is_hidden = layer < len(sizes) - 2
            gain = 2.0 if (is_hidden and activation == "relu") else 1.0
            std = math.sqrt(gain / n_in) if is_hidden else math.sqrt(2.0 / (n_in + n_out))
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

    def as_input(self, X):
        """Images (..., 28, 28) or (..., 784) -> float rows (N, 784). uint8 is scaled by 1/255."""
        X = np.asarray(X)
        n_in = self.sizes[0]
        if X.shape[-2:] == (28, 28) and n_in == 784:
            X = X.reshape(X.shape[:-2] + (784,))
        if X.ndim == 0 or X.shape[-1] != n_in:
            raise ValueError(f"X must have shape (..., 28, 28) or (..., {n_in}), got {X.shape}")
        if X.dtype == np.uint8:
            return X.reshape(-1, n_in).astype(self.dtype) / self.dtype.type(255)
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"X must be uint8 pixels (0..255) or floats in [0, 1], got dtype {X.dtype}"
                            + ("; for pixel values use X.astype(np.uint8)" if X.dtype.kind in "iu" else ""))
        return X.reshape(-1, n_in).astype(self.dtype, copy=False)

    def _labels(self, y, n):
        y = np.asarray(y).reshape(-1)
        if len(y) != n:
            raise ValueError(f"y has {len(y)} labels for {n} inputs")
        if not np.issubdtype(y.dtype, np.integer) or y.min(initial=0) < 0 or y.max(initial=0) >= self.sizes[-1]:
            raise ValueError(f"y must hold integer labels 0..{self.sizes[-1] - 1}, got {y.dtype} {y[:10]}...")
        return y.astype(np.intp)

    # --- the reference: forward and backward, as in the notebooks ---

    def forward(self, X):
        """Every layer's output for inputs X: ``[a0, a1, ..., p]``, the last being the softmax (N, 10)."""
        f, _ = ACTIVATIONS[self.activation]
        a = self.as_input(X)
        activations = [a]
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W + b                                   # (N, n_l)
            a = softmax(z) if l == len(self.weights) - 1 else f(z)
            activations.append(a)
        return activations

    def backward(self, X, y):
        """Gradients of the mean cross-entropy on (X, y): lists ``dW`` and ``db`` shaped like the parameters."""
        _, f_prime = ACTIVATIONS[self.activation]
        activations = self.forward(X)
        p = activations[-1]
        y = self._labels(y, len(p))
        delta = (p - one_hot(y, p.shape[1]).astype(p.dtype)) / len(p)      # dloss/dz_L, (N, 10)
        dW, db = [None] * len(self.weights), [None] * len(self.weights)
        for l in reversed(range(len(self.weights))):
            dW[l] = activations[l].T @ delta                                # (n_{l-1}, n_l)
            db[l] = delta.sum(axis=0)                                       # (n_l,)
            if l > 0:
                delta = (delta @ self.weights[l].T) * f_prime(activations[l])   # (N, n_{l-1})
        return dW, db

    def loss(self, X, y):
        p = self.forward(X)[-1]
        return cross_entropy(p, self._labels(y, len(p)))

    # --- prediction ---

    def predict_proba(self, X):
        """Class probabilities; inputs (..., 28, 28) or (..., 784) give (..., 10)."""
        lead = np.shape(X)[:-2] if np.shape(X)[-2:] == (28, 28) else np.shape(X)[:-1]
        return self.forward(X)[-1].reshape(lead + (self.sizes[-1],))

    def predict(self, X):
        """The most probable digit for each input: (..., 28, 28) gives (...,)."""
        return self.predict_proba(X).argmax(axis=-1)

    def evaluate(self, X, y, batch_size=10_000):
        """Accuracy: the fraction of inputs whose predicted digit equals the label."""
        X = self.as_input(X)
        y = self._labels(y, len(X))
        correct = sum(int((self.predict(X[i:i + batch_size]) == y[i:i + batch_size]).sum())
                      for i in range(0, len(X), batch_size))
        return correct / len(X)

    # --- training ---

    def train_on_instance(self, x, label, lr=0.1):
        """One SGD step on one example (what the drawing pad does when taught a digit). Returns the loss before it.

        Fast path: only the input pixels that are non-zero contribute to dW1, so only those rows of W1
        change (about 150 of 784 for a digit). Same numbers as a ``backward`` step on that one example.
        """
        x_nz, nz = self._lit_pixels(x)              # the lit pixels: values (k,) and their indices (k,)
        label = self._one_label(label)
        relu = self.activation == "relu"
        f, f_prime = ACTIVATIONS[self.activation]
        weights, biases = self.weights, self.biases
        W1, b1 = weights[0], biases[0]
        W1_nz = W1.take(nz, axis=0)                 # (k, n_1) = W1[nz]: the only rows of W1 this example touches
        z = np.dot(x_nz, W1_nz)                     # (n_1,), the same as x @ W1 since the other pixels are 0
        z += b1
        hidden = [None]                             # hidden[l] is a_l, for l = 1 ... L-1
        for l in range(1, len(weights)):
            a = np.maximum(z, 0, out=z) if relu else f(z)
            hidden.append(a)
            z = np.dot(a, weights[l])               # (n_{l+1},)
            z += biases[l]
        # softmax and the loss, in place on the logits: p = e / sum(e) with e = exp(z - max z).
        # (Max and sum of a handful of numbers are quicker in Python than in NumPy.)
        z -= max(z.tolist())
        e = np.exp(z, out=z)                        # (n_L,)
        total = sum(e.tolist())
        p_label = float(e[label]) / total
        loss = -math.log(p_label) if p_label > 0 else math.inf
        if not math.isfinite(loss):
            raise TrainingDiverged(f"loss is {loss} on this example with lr={lr}; the weights were not changed")
        # dloss/dz_L = p - onehot(label), times lr: from here on delta carries the factor lr of every update
        delta = np.multiply(e, lr / total, out=e)   # lr * p
        delta[label] -= lr
        # Down through layers L ... 2; an outer product is written np.dot(column, row): a BLAS call,
        # several times faster here than numpy's broadcasting a[:, None] * delta, and exact.
        for l in range(len(weights) - 1, 0, -1):
            a_prev = hidden[l]
            delta_prev = np.dot(weights[l], delta)  # (n_l,), through W_{l+1} before it changes
            # f'(z) for ReLU is 1 where a > 0, else 0: that is sign(a), as a is never negative
            delta_prev *= np.sign(a_prev) if relu else f_prime(a_prev)
            weights[l] -= np.dot(a_prev[:, None], delta[None, :])  # lr * dW_{l+1}, (n_l, n_{l+1})
            biases[l] -= delta
            delta = delta_prev
        W1_nz -= np.dot(x_nz[:, None], delta[None, :])      # lr * dW1 on the lit rows, (k, n_1); the others are 0
        W1[nz] = W1_nz
        b1 -= delta
        return loss

    def _lit_pixels(self, x):
        """One example -> (its non-zero input values (k,), their indices (k,)), scaled like ``as_input``.

        An image of uint8 or floats in one of the shapes ``as_input`` takes goes a short way: only its
        k lit pixels are converted. Anything else goes through ``as_input``, which explains what is wrong.
        """
        x = np.asarray(x)
        n_in = self.sizes[0]
        if ((x.dtype == np.uint8 or x.dtype.kind == "f") and x.ndim >= 1 and x.size == n_in
                and (x.shape[-1] == n_in or (n_in == 784 and x.shape[-2:] == (28, 28)))):
            pixels = x.reshape(n_in)
            nz = pixels.astype(bool).nonzero()[0]       # twice as quick as on the pixels themselves
            if x.dtype == np.uint8:
                return _pixel_values(self.dtype).take(pixels[nz]), nz       # the same as astype, then / 255
            return pixels[nz].astype(self.dtype, copy=False), nz
        x = self.as_input(x)
        if len(x) != 1:
            raise ValueError(f"train_on_instance takes one example, got {len(x)}")
        nz = np.flatnonzero(x[0])
        return x[0, nz], nz

    def _one_label(self, label):
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < self.sizes[-1]:
            return int(label)
        return int(self._labels([label], 1)[0])        # raises the error that explains what is wrong

    def fit(self, X, y, epochs=10, batch_size=64, lr=0.1, momentum=0.0, lr_schedule=None,
            validation=None, progress=True, seed=0, augment=None):
        """Mini-batch SGD with momentum on cross-entropy. Returns a history of per-epoch metrics.

        - ``lr_schedule``: None (constant ``lr``), ``"cosine"`` (from ``lr`` down to 0), or a function
          ``epoch -> learning rate``.
        - ``validation``: optional ``(X_val, y_val)`` scored after every epoch.
        - ``augment``: optional function ``(images uint8 (N, 28, 28), rng) -> images``, applied to the
          whole training set at the start of every epoch (random shifts, rotations, ...).
        - Each epoch draws one random order of the examples and walks through it ``batch_size`` at a time.

        History: ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...], "lr": [...]}``.
        A NaN or infinite loss raises ``TrainingDiverged`` naming the learning rate, with the
        weights restored to those at the start of the epoch (the last values known to be finite).
        """
        images = np.asarray(X)
        if augment is not None and (images.dtype != np.uint8 or images.shape[-2:] != (28, 28)):
            raise ValueError(f"augment needs uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
        n = len(images)
        rows = self._rows(images, n)                           # (n, n_in) in the input's own dtype
        y = self._labels(y, n)
        if epochs < 1 or batch_size < 1 or lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0 and 0 <= momentum < 1; got "
                             f"epochs={epochs}, batch_size={batch_size}, lr={lr}, momentum={momentum}")
        schedule = _schedule(lr_schedule, lr, epochs)
        rng = np.random.default_rng(seed)
        # Fast path: no float copy of the whole set and no shuffled copy of it. Each batch gathers its
        # rows (in the epoch's random order) into one reused buffer and converts only those to floats.
        batch_size = min(batch_size, n)
        raw_buffer = np.empty((batch_size, rows.shape[1]), rows.dtype)      # a batch in the input's dtype
        buffers = self._step_buffers(batch_size)
        velocity = [np.zeros_like(p) for p in self.weights + self.biases]
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "lr": []}
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=epochs * n, unit="img", unit_scale=True, desc="fit")
            bar_every = max(batch_size, n // 100)               # about 100 updates per epoch, not one per batch
        try:
            for epoch in range(epochs):
                epoch_lr = float(schedule(epoch))
                order = rng.permutation(n)
                ye = y[order]
                if augment is None:
                    source, picks = rows, order                 # batch rows are gathered by ``picks``
                else:
                    source, picks = self._rows(augment(images[order], rng), n), None     # already in order
                snapshot = [p.copy() for p in self.weights + self.biases]
                total_loss, total_correct, shown = 0.0, 0, 0
                for start in range(0, n, batch_size):
                    stop = min(start + batch_size, n)
                    m = stop - start
                    if picks is None:
                        raw = source[start:stop]                                            # (m, n_in)
                    else:
                        raw = np.take(source, picks[start:stop], axis=0, out=raw_buffer[:m], mode="clip")
                    Xb, lit = self._batch_input(raw, buffers)
                    batch_loss, correct = self._sgd_step(Xb, ye[start:stop], epoch_lr, momentum, velocity,
                                                         buffers, lit)
                    if not math.isfinite(batch_loss):
                        for p, saved in zip(self.weights + self.biases, snapshot):
                            p[...] = saved
                        raise TrainingDiverged(
                            f"training diverged with lr={epoch_lr:g} (epoch {epoch + 1}, batch "
                            f"{start // batch_size + 1}: loss {batch_loss}); try a smaller learning rate. "
                            f"The weights are those from the start of epoch {epoch + 1}.")
                    total_loss += batch_loss * m
                    total_correct += correct
                    if progress and stop - shown >= bar_every:
                        bar.update(stop - shown)
                        shown = stop
                history["loss"].append(total_loss / n)
                history["accuracy"].append(total_correct / n)
                history["lr"].append(epoch_lr)
                postfix = {"loss": f"{total_loss / n:.4f}", "acc": f"{total_correct / n:.4f}"}
                if validation is not None:
                    Xv, yv = validation
                    history["val_loss"].append(self.loss(Xv, yv))
                    history["val_accuracy"].append(self.evaluate(Xv, yv))
                    postfix["val_acc"] = f"{history['val_accuracy'][-1]:.4f}"
                if progress:
                    bar.update(n - shown)
                    bar.set_postfix(postfix)
        finally:
            if progress:
                bar.close()
        return history

    def _rows(self, images, n):
        """Images (n, 28, 28) or (n, n_in) as rows (n, n_in), checked like ``as_input`` but kept in their dtype."""
        images = np.asarray(images)
        self.as_input(images[:1])                              # checks the shape and dtype
        rows = images.reshape(-1, self.sizes[0])
        if len(rows) != n:
            raise ValueError(f"expected {n} images, got an array of shape {images.shape}")
        return rows

    def _batch_input(self, raw, buffers):
        """A batch of rows in the input's dtype (m, n_in) -> (floats X (m, k), lit) for ``_sgd_step``.

        ``lit`` lists the k input columns that are non-zero in some row of the batch, if they are at most
        ``SPARSE_BATCH`` = 3/4 of all (an MNIST batch of 64 lights about 500 of 784 pixels), and X holds only those;
        otherwise lit is None and X is the whole batch. Floats are made as ``as_input`` makes them.
        """
        m, n_in = raw.shape
        lit = (raw.max(axis=0) if raw.dtype == np.uint8 else raw.any(axis=0)).nonzero()[0]     # (k,)
        if len(lit) <= SPARSE_BATCH * n_in:
            raw = raw[:, lit]                                      # (m, k), laid out column by column
        else:
            lit = None
        if raw.dtype == self.dtype:
            return raw, lit
        k = raw.shape[1]
        # The floats get the same column-by-column layout (a transposed buffer): copying across layouts
        # would cost several times the conversion, and matmul takes either.
        X = buffers["X"][:m * k].reshape(k, m).T if raw.flags.f_contiguous else buffers["X"][:m * k].reshape(m, k)
        if raw.dtype == np.uint8:
            np.divide(raw, self.dtype.type(255), out=X, dtype=self.dtype)       # astype, then / 255
        else:
            X[...] = raw
        return X, lit

    def _step_buffers(self, batch_size):
        """The arrays every ``_sgd_step`` of a ``fit`` writes into, allocated once instead of once per batch."""
        n_in, n_1 = self.sizes[:2]
        # p is column-major: the softmax's reductions over each row's 10 numbers then run along memory.
        return {
            "z": [np.empty((batch_size, n), self.dtype) for n in self.sizes[1:-1]]      # a_l of hidden layers
                 + [np.empty((self.sizes[-1], batch_size), self.dtype).T],              # p, (batch_size, n_L)
            "delta": [np.empty((batch_size, n), self.dtype) for n in self.sizes[1:-1]],  # delta_l, hidden layers
            "dW": [np.empty(W.size, self.dtype) for W in self.weights],                 # flat: (k, n_1) fits too
            "db": [np.empty_like(b) for b in self.biases],
            "X": np.empty(batch_size * n_in, self.dtype),                               # room for (m, k)
            "W1_lit": np.empty(n_in * n_1, self.dtype),                                 # room for (k, n_1)
            "rows": np.arange(batch_size),
            "ones": np.ones(batch_size, self.dtype),                                    # db = ones @ delta
        }

    def _sgd_step(self, X, y, lr, momentum, velocity, buffers=None, lit=None):
        """One mini-batch step: the arithmetic of ``backward``, then ``param -= lr * grad`` (or momentum).

        X is (m, n_in) floats, y (m,) labels; ``velocity`` lists one array per parameter (weights, then biases).
        With ``lit`` (k,) given, X is (m, k): only those input columns, the others being 0 in every example.
        Returns (loss before the step, number of correct predictions in the batch).

        Fast path, beside the reference:
        - sparse first layer: an input column that is 0 in every example of the batch adds nothing to
          X @ W1 and its row of dW1 is 0, so with ``lit`` layer 1 works on the lit columns of X and the
          lit rows of W1 only;
        - every array is written into ``buffers`` in place; the factor lr / m is applied once, to the
          (m, 10) delta, instead of to every gradient;
        - each layer's weights change as soon as the delta below it is computed, and layer 1 skips
          dloss/dX, which nothing needs.
        """
        m = len(X)
        if buffers is None:
            buffers = self._step_buffers(m)
        L = len(self.weights)
        _, f_prime = ACTIVATIONS[self.activation]
        sparse = lit is not None
        if sparse:
            k, n_1 = len(lit), self.sizes[1]
            W1 = np.take(self.weights[0], lit, axis=0, out=buffers["W1_lit"][:k * n_1].reshape(k, n_1),
                         mode="clip")                              # (k, n_1), a copy of W1's lit rows
        else:
            W1 = self.weights[0]
        weights = [W1] + self.weights[1:]
        a = X
        activations = [X]
        for l, (W, b) in enumerate(zip(weights, self.biases)):
            z = np.matmul(a, W, out=buffers["z"][l][:m])          # (m, n_l)
            z += b
            if l < L - 1:
                if self.activation == "relu":
                    a = np.maximum(z, 0, out=z)
                elif self.activation == "sigmoid":                 # 1 / (1 + exp(-z)), in place
                    np.negative(z, out=z)
                    np.exp(z, out=z)
                    z += 1
                    a = np.divide(1, z, out=z)
                else:
                    a = np.tanh(z, out=z)
                activations.append(a)
        z -= z.max(axis=1, keepdims=True)                         # softmax, in place on the logits
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        p = z                                                      # (m, n_L)
        rows = buffers["rows"][:m]
        picked = p[rows, y]                                        # (m,) the true labels' probabilities
        # cross_entropy's mean of -log, inf once a probability underflows to 0 (diverged); NaN stays NaN
        loss = -float(np.log(picked).sum()) / m if picked.all() else math.inf
        correct = int(np.count_nonzero(p.argmax(axis=1) == y))
        if not math.isfinite(loss):
            return loss, correct
        delta = p
        delta[rows, y] = picked - 1                                # p - onehot(y), reusing the gathered p[rows, y]
        delta *= lr / m                                            # lr * dloss/dz_L, (m, n_L)
        for l in reversed(range(L)):
            W, b = weights[l], self.biases[l]
            a_prev = activations[l]
            dW = np.matmul(a_prev.T, delta, out=buffers["dW"][l][:W.size].reshape(W.shape))   # lr * dW_{l+1}
            db = np.matmul(buffers["ones"][:m], delta, out=buffers["db"][l])             # lr * db_{l+1}
            if l > 0:
                delta_prev = np.matmul(delta, W.T, out=buffers["delta"][l - 1][:m])        # (m, n_{l-1})
                delta_prev *= f_prime(a_prev)
                delta = delta_prev
            if momentum:
                vW, vb = velocity[l], velocity[L + l]
                vW *= momentum
                if l == 0 and sparse:
                    vW[lit] -= dW                                  # dW is the lit rows' (k, n_1) gradient
                else:
                    vW -= dW
                self.weights[l] += vW
                vb *= momentum
                vb -= db
                b += vb
            else:
                W -= dW
                if l == 0 and sparse:
                    self.weights[0][lit] = W                       # the updated copy back into W1
                b -= db
        return loss, correct

    # --- saving and loading ---

    def save(self, path):
        """Write the model to ``.npz`` or ``.json``, atomically: a crash mid-save leaves any old file intact."""
        from ocrlib.saving import save_model
        save_model(self, path)

    @classmethod
    def load(cls, path):
        """Read a model saved by ``save`` (``.npz`` or ``.json``), or an original OCR_AI ``neural_network.json``."""
        from ocrlib.saving import load_model
        return load_model(path)


def _schedule(lr_schedule, lr, epochs):
    if lr_schedule is None:
        return lambda epoch: lr
    if lr_schedule == "cosine":
        return lambda epoch: lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if callable(lr_schedule):
        return lr_schedule
    raise ValueError(f"lr_schedule must be None, 'cosine' or a function epoch -> lr, got {lr_schedule!r}")
