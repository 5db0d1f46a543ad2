"""The fast path of ``MLP.fit``: the arithmetic of ``MLP.backward``, with less memory traffic.

Read ``network.py`` first: this file computes the same mini-batch step, ``param -= lr * grad`` (or with
momentum), and ``tests/test_fastpath.py`` checks that it gives the reference's numbers. What it does
differently, and why each pays on a 784-128-10 network with batches of 64:

- **Reused buffers.** Every array a step writes (activations, deltas, gradients, the float copy of the
  batch) is allocated once per ``fit``, in ``Buffers``, instead of once per batch.
- **No float copy of the training set.** Each batch gathers its rows of uint8 pixels in the epoch's random
  order and converts only those to floats.
- **A sparse first layer.** An input pixel that is 0 in every example of the batch adds nothing to
  X @ W1, and its row of dW1 is 0. A batch of 64 MNIST digits lights about 500 of 784 pixels, so layer 1
  works on the lit columns of X and the lit rows of W1 only.
- **lr folded in once.** lr / m multiplies the (m, 10) delta once, instead of every gradient.
- **Layer 1 skips dloss/dX**, which nothing needs.
"""

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

# Layer 1 works on the lit input columns of a batch only when they are at most this fraction of all: below
# it, skipping the dark columns in both big matmuls saves more than gathering the lit ones costs.
SPARSE_BATCH = 0.75


@dataclass
class Buffers:
    """The arrays every step of one ``fit`` writes into, each allocated once. m <= batch_size rows."""
    X: np.ndarray           # flat, room for the batch as floats (m, k), k <= n_in lit columns
    W1_lit: np.ndarray      # flat, room for the lit rows of W1 (k, n_1)
    a: list                 # a_l of each hidden layer (batch_size, n_l), then p (batch_size, n_L), column-major
    delta: list             # delta_l of each hidden layer (batch_size, n_l)
    dW: list                # flat, room for each lr * dW_l ((k, n_1) fits in the first)
    db: list                # lr * db_l (n_l,)
    rows: np.ndarray        # 0 .. batch_size - 1, for picking p[i, y_i]
    ones: np.ndarray        # (batch_size,) of 1: db = ones @ delta is a BLAS call

    @classmethod
    def allocate(cls, sizes, dtype, batch_size):
        hidden = sizes[1:-1]
        return cls(
            X=np.empty(batch_size * sizes[0], dtype),
            W1_lit=np.empty(sizes[0] * sizes[1], dtype),
            # p is column-major: the softmax's reductions over each row's 10 numbers then run along memory
            a=[np.empty((batch_size, n), dtype) for n in hidden] + [np.empty((sizes[-1], batch_size), dtype).T],
            delta=[np.empty((batch_size, n), dtype) for n in hidden],
            dW=[np.empty(n_in * n_out, dtype) for n_in, n_out in pairwise(sizes)],
            db=[np.empty(n, dtype) for n in sizes[1:]],
            rows=np.arange(batch_size),
            ones=np.ones(batch_size, dtype),
        )


class Trainer:
    """Mini-batch SGD with momentum on ``weights`` and ``biases`` (the MLP's own lists, changed in place).

    ``activation`` is the network's row of ``ocrlib.activations.ACTIVATIONS``: ``f(z, out=...)`` and ``f_prime(a)``.
    ``velocity`` holds one array per parameter (weights, then biases) and carries over from step to step.
    """

    def __init__(self, weights, biases, activation, batch_size):
        self.weights, self.biases, self.activation = weights, biases, activation
        self.dtype = weights[0].dtype
        sizes = [W.shape[0] for W in weights] + [weights[-1].shape[1]]
        self.buffers = Buffers.allocate(sizes, self.dtype, batch_size)
        self.batch_size = batch_size
        self.velocity = [np.zeros_like(p) for p in weights + biases]

    def epoch(self, source, y, picks, lr, momentum, bar, loss_after):
        """One pass over the examples in batches: ``source[picks]`` (or ``source`` in order if ``picks`` is None),
        labels ``y`` in that order. Returns (mean loss before each step, number of correct predictions).

        Each step's loss is computed before the next step, on the next batch; ``loss_after(rows, y)`` computes it
        for the epoch's last step, on its own batch. Diverged: if a batch's loss, any weight at the end, or the
        loss after the last step is NaN or infinite, every parameter goes back to its value at the start of the
        epoch (the last known to be finite) and the loss returned is NaN or inf.
        """
        params = self.weights + self.biases
        start_params = [p.copy() for p in params]
        loss, correct, last = self._batches(source, y, picks, lr, momentum, bar)
        if math.isfinite(loss) and all(np.isfinite(p).all() for p in params) and math.isfinite(loss_after(*last)):
            return loss, correct
        for p, saved in zip(params, start_params):
            p[...] = saved
        return (loss if not math.isfinite(loss) else math.nan), correct

    def _batches(self, source, y, picks, lr, momentum, bar):
        n, n_in = len(y), source.shape[1]
        raw_buffer = np.empty((self.batch_size, n_in), source.dtype)       # a batch in the input's dtype
        bar_every = max(self.batch_size, n // 100)          # about 100 updates of the bar per epoch
        total_loss, total_correct, shown = 0.0, 0, 0
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            m = stop - start
            if picks is None:
                raw = source[start:stop]                                            # (m, n_in)
            else:
                raw = np.take(source, picks[start:stop], axis=0, out=raw_buffer[:m], mode="clip")
            X, lit = self.batch_input(raw)
            loss, correct = self.step(X, y[start:stop], lr, momentum, lit)
            if not math.isfinite(loss):
                return loss, total_correct, None
            total_loss += loss * m
            total_correct += correct
            if stop - shown >= bar_every:
                bar.update(stop - shown)
                shown = stop
        bar.update(n - shown)
        return total_loss / n, total_correct, (raw, y[start:stop])

    def batch_input(self, raw):
        """A batch of rows in the input's dtype (m, n_in) -> (floats X (m, k), lit) for ``step``.

        ``lit`` lists the k input columns that are non-zero in some row of the batch if they are at most
        ``SPARSE_BATCH`` of all, and X holds only those; otherwise lit is None and X is the whole batch.
        uint8 becomes floats as ``MLP.as_input`` makes them: astype, then / 255.
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
        flat = self.buffers.X[:m * k]
        X = flat.reshape(k, m).T if raw.flags.f_contiguous else flat.reshape(m, k)
        if raw.dtype == np.uint8:
            np.divide(raw, self.dtype.type(255), out=X, dtype=self.dtype)
        else:
            X[...] = raw
        return X, lit

    def step(self, X, y, lr, momentum=0.0, lit=None):
        """One mini-batch step on floats X (m, n_in), or (m, k) holding only the columns ``lit``, and labels y (m,).

        Returns (the batch's mean loss before the step, the number of correct predictions). If the loss is
        NaN or infinite, nothing changes.
        """
        m, L, buf = len(X), len(self.weights), self.buffers
        f, f_prime = self.activation
        W1 = self.weights[0]
        if lit is not None:
            k, n_1 = len(lit), W1.shape[1]
            W1 = np.take(W1, lit, axis=0, out=buf.W1_lit[:k * n_1].reshape(k, n_1), mode="clip")  # (k, n_1)
        weights = [W1] + self.weights[1:]

        # forward, in place: a_l = f(a_{l-1} @ W_l + b_l), then p = softmax(z_L)
        activations = [X]
        for l, (W, b) in enumerate(zip(weights, self.biases)):
            z = np.matmul(activations[-1], W, out=buf.a[l][:m])   # (m, n_l)
            z += b
            if l < L - 1:
                activations.append(f(z, out=z))
        p = z                                                      # (m, n_L), the softmax in place
        p -= p.max(axis=1, keepdims=True)
        np.exp(p, out=p)
        p /= p.sum(axis=1, keepdims=True)

        rows = buf.rows[:m]
        picked = p[rows, y]                                        # (m,) p[i, y_i]
        loss = -float(np.log(picked).sum()) / m if picked.all() else math.inf   # NaN stays NaN
        correct = int(np.count_nonzero(p.argmax(axis=1) == y))
        if not math.isfinite(loss):
            return loss, correct

        # backward: delta_L = lr * (p - onehot(y)) / m, then down through the layers
        delta = p
        delta[rows, y] = picked - 1
        delta *= lr / m
        for l in reversed(range(L)):
            W = weights[l]
            a_prev = activations[l]
            dW = np.matmul(a_prev.T, delta, out=buf.dW[l][:W.size].reshape(W.shape))   # lr * dW_{l+1}
            db = np.matmul(buf.ones[:m], delta, out=buf.db[l])                         # lr * db_{l+1}
            if l > 0:                                              # layer 1 needs no delta below it
                delta_prev = np.matmul(delta, W.T, out=buf.delta[l - 1][:m])           # (m, n_{l-1})
                delta_prev *= f_prime(a_prev)
                delta = delta_prev
            if l == 0 and lit is not None and not momentum:
                W -= dW                                            # W1's lit rows, gathered above ...
                self.weights[0][lit] = W                           # ... go back into W1
            else:
                self._update(self.weights[l], self.velocity[l], dW, momentum, lit if l == 0 else None)
            self._update(self.biases[l], self.velocity[L + l], db, momentum)
        return loss, correct

    @staticmethod
    def _update(param, velocity, step, momentum, rows=None):
        """The optimiser: ``v = momentum * v - step; param += v`` (plain SGD, ``param -= step``, when momentum is 0).

        ``step`` is lr times the gradient. With ``rows`` (momentum only), ``step`` holds only those rows of the
        gradient, the others being 0.
        """
        if not momentum:
            param -= step
            return
        velocity *= momentum
        if rows is None:
            velocity -= step
        else:
            velocity[rows] -= step
        param += velocity
