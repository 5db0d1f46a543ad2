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
from itertools import pairwise

import numpy as np
from tqdm.auto import tqdm

from ocrlib import checks, fastpath, modelfile
from ocrlib.activations import ACTIVATIONS
from ocrlib.mnist import IMAGE_SHAPE

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
        self.sizes = sizes = checks.layer_sizes(sizes)
        checks.one_of(activation, ACTIVATIONS, "activation")
        self.activation = activation
        self.dtype = checks.float_dtype(dtype)
        rng = checks.random_generator(seed)
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
        return {name: p for l, (W, b) in enumerate(zip(self.weights, self.biases), start=1)
                for name, p in ((f"W{l}", W), (f"b{l}", b))}

    # --- inputs, checked in ocrlib/checks.py ---

    def as_input(self, X, name="X"):
        """Images (..., 28, 28) or (..., 784) -> float rows (N, 784). uint8 is scaled by 1/255; floats must be in [0, 1]."""
        return checks.image_rows(X, self.sizes[0], self.dtype, name)

    def labels(self, y, n):
        """Labels y as integers (n,), checked against the number of inputs n and of outputs."""
        return checks.labels(y, n, self.sizes[-1])

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

    def deltas(self, activations, delta):
        """d(something)/dz of every layer, ``[delta_1, ..., delta_L]``, from ``delta`` = d(something)/dz_L at the
        logits and ``forward``'s activations: ``backward``'s recursion, for a quantity other than the loss."""
        f_prime = ACTIVATIONS[self.activation].f_prime
        deltas = [delta]
        for l in reversed(range(1, len(self.weights))):
            deltas.insert(0, (deltas[0] @ self.weights[l].T) * f_prime(activations[l]))    # (N, n_l)
        return deltas

    def input_gradient(self, X, delta):
        """d(something)/dx for inputs X, given delta = d(something)/dz_L (N, 10) at the logits: ``deltas``, carried
        one layer further, down to the pixels, ``delta_1 @ W_1.T`` (N, 784). With ``delta`` = dloss/dz_L it is
        the loss's gradient with respect to the image (``ocrlib/explain.py``)."""
        activations = self.forward(X)
        delta = np.asarray(delta, dtype=activations[-1].dtype).reshape(len(activations[0]), self.sizes[-1])
        return self.deltas(activations, delta)[0] @ self.weights[0].T

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
        checks.count(batch_size, "batch_size")
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
        checks.learning_rate(lr)
        x = self.as_input(x, name="x")
        if len(x) != 1:
            raise ValueError(f"x must be one example (28, 28) or ({self.sizes[0]},), got {len(x)} of them")
        label = checks.label(label, self.sizes[-1])
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
        delta = lr * p
        delta[label] -= lr                              # lr * dloss/dz_L = lr * (p - onehot(label))
        steps = []                                      # (l, W_l - lr * dW_l, b_l - lr * db_l), from the last layer down
        for l in reversed(range(len(W))):
            column, row = activations[l][:, None], delta[None, :]
            # the outer product a_{l-1} delta_l, (n_{l-1}, n_l); np.dot of a column and a row is several times
            # quicker here than np.outer or @
            if l == 0:
                W_new = W[0][lit]                       # a copy of the lit rows of W1, the only ones that change
                W_new -= np.dot(column, row)
            else:
                W_new = W[l] - np.dot(column, row)
            steps.append((l, W_new, b[l] - delta))
            if l > 0:
                delta = (W[l] @ delta) * f_prime(activations[l])      # (n_{l-1},)
        if not math.isfinite(loss) or not all(np.isfinite(W_new).all() and np.isfinite(b_new).all()
                                              for _, W_new, b_new in steps):
            raise TrainingDiverged(f"the step on this example with lr={lr:g} gives NaN or infinite values "
                                   f"(loss {loss}); the weights were not changed")
        for l, W_new, b_new in steps:                   # every new value is finite: now apply them
            if l == 0:
                W[0][lit] = W_new
            else:
                W[l][...] = W_new
            b[l][...] = b_new
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
        checks.fit_arguments(epochs, batch_size, momentum, validation, augment, self.sizes[0], self.sizes[-1])
        rows = checks.training_rows(images, self.sizes[0], augment)     # (n, n_in) in the input's own dtype
        n = len(rows)
        y = self.labels(y, n)
        schedule = _schedule(lr_schedule, checks.learning_rate(lr), epochs)
        rng = checks.random_generator(seed)
        trainer = fastpath.Trainer(self.weights, self.biases, ACTIVATIONS[self.activation], min(batch_size, n))
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "lr": []}
        with tqdm(total=epochs * n, unit="img", unit_scale=True, desc="fit", disable=not progress) as bar:
            for epoch in range(epochs):
                epoch_lr = checks.learning_rate(schedule(epoch), name=f"the learning rate of epoch {epoch + 1}")
                order = rng.permutation(n)
                if augment is None:
                    source, picks = rows, order                 # each batch gathers its rows by ``picks``
                else:
                    source, picks = checks.training_rows(augment(images[order], rng), self.sizes[0], n=n), None
                loss, correct = trainer.epoch(source, y[order], picks, epoch_lr, momentum, bar, self._loss_after)
                if not math.isfinite(loss):                     # the trainer put back the epoch's first weights
                    raise TrainingDiverged(
                        f"training diverged with lr={epoch_lr:g} in epoch {epoch + 1}: a loss or a weight became NaN "
                        f"or infinite; try a smaller learning rate. The weights are those from the start of epoch "
                        f"{epoch + 1}.")
                history["loss"].append(loss)
                history["accuracy"].append(correct / n)
                history["lr"].append(epoch_lr)
                if validation is not None:
                    history["val_loss"].append(self.loss(*validation))
                    history["val_accuracy"].append(self.evaluate(*validation))
                bar.set_postfix({key: f"{values[-1]:.4f}" for key, values in history.items() if values and key != "lr"})
        return history

    # --- saving and loading (ocrlib/modelfile.py) ---

    def _loss_after(self, rows, y):
        """The loss on a batch after its step: how ``fit`` checks an epoch's last step (overflow is the question)."""
        with np.errstate(all="ignore"):
            return self.loss(rows, y)

    def save(self, path):
        """Write the model to ``.npz`` or ``.json``, atomically: a crash mid-save leaves any old file intact."""
        modelfile.save_model(path, self.sizes, self.activation, self.params)

    @classmethod
    def load(cls, path):
        """Read a model saved by ``save`` (``.npz`` or ``.json``), or an original OCR_AI ``neural_network.json``."""
        sizes, activation, params = modelfile.load_model(path, ACTIVATIONS, checks.MAX_PARAMETERS)
        net = cls(sizes, activation=activation)
        for name, value in params.items():
            net.params[name][...] = value
        return net


def _schedule(lr_schedule, lr, epochs):
    if lr_schedule is None:
        return lambda epoch: lr
    if lr_schedule == "cosine":
        return lambda epoch: lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    if callable(lr_schedule):
        return lr_schedule
    raise ValueError(f"lr_schedule must be None, 'cosine' or a function epoch -> lr, got {lr_schedule!r}")
