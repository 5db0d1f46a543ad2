"""A convolutional network for 28x28 digits, in NumPy (notebook 09): the network that reads people best.

The MLP (``ocrlib/network.py``) sees 784 unrelated numbers: a stroke moved by two pixels lights other
inputs, and each stroke style must be learnt at every place it may appear. A convolution slides one small
filter over the whole image, so what it learns about a curl or a bar holds everywhere, and max-pooling lets
a feature move a pixel without changing what comes out. The layers, with the shapes of one batch of N images
(channels last, as the images are stored):

    x                         (N, 28, 28, 1)   pixels in [0, 1]
    z1 = conv(x, K1) + b1     (N, 24, 24, C1)  K1 is (k, k, 1, C1), k = 5: "valid", no padding
    a1 = relu(z1); p1 = pool(a1)               (N, 12, 12, C1)   the max of each 2x2 block
    z2 = conv(p1, K2) + b2    (N, 8, 8, C2)    K2 is (k, k, C1, C2)
    a2 = relu(z2); p2 = pool(a2)               (N, 4, 4, C2), flattened to f (N, 16 C2)
    z3 = f @ W3 + b3; a3 = relu(z3)            (N, hidden)
    z4 = a3 @ W4 + b4; p = softmax(z4)         (N, 10)

A convolution is written as one matrix product (im2col, derived in notebook 09): every k x k x C window of
the input becomes a row of ``cols`` (N, Ho, Wo, k k C), and ``z = cols @ K.reshape(k k C, C_out) + b``.
Backward, with delta = dloss/dz of a layer (notebook 09 derives each line):

    dK = cols.T @ delta                 the same product as a dense layer's dW, over every window
    db = delta summed over N, Ho, Wo
    dcols = delta @ K.T, then col2im: each window's share added back where the window lay -> dloss/dx
    pool: the gradient goes to the one input of each 2x2 block that was the maximum, 0 to the other three

``forward`` and ``backward`` are those formulas: the reference, checked by finite differences. ``fit`` has
the MLP's interface (mini-batch SGD with momentum, schedules, validation, augmentation, a progress bar,
divergence caught); ``ConvTrainer`` below does the same arithmetic as ``backward`` in reused buffers, and a
test checks both give the same numbers.
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from tqdm.auto import tqdm

from ocrlib import checks, modelfile
from ocrlib.activations import relu, relu_prime
from ocrlib.mnist import IMAGE_SHAPE, N_PIXELS
from ocrlib.network import TrainingDiverged, _schedule, cross_entropy, one_hot, softmax

POOL = 2            # max-pooling over 2x2 blocks


# --- the layers (notebook 09) ---

def im2col(x, k):
    """Every k x k window of x (N, H, W, C) as a row: (N, H-k+1, W-k+1, k*k*C), ordered (row, column, channel)."""
    N, H, W, C = x.shape
    windows = sliding_window_view(x, (k, k), axis=(1, 2))          # (N, Ho, Wo, C, k, k), a view
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(N, H - k + 1, W - k + 1, k * k * C)


def col2im(dcols, x_shape, k):
    """The adjoint of ``im2col``: each window's gradient (N, Ho, Wo, k*k*C) added back into x's shape."""
    N, Ho, Wo, _ = dcols.shape
    C = x_shape[-1]
    dcols = dcols.reshape(N, Ho, Wo, k, k, C)
    dx = np.zeros(x_shape, dcols.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, i:i + Ho, j:j + Wo, :] += dcols[:, :, :, i, j, :]
    return dx


def conv(x, K, b):
    """A valid convolution of x (N, H, W, C_in) with kernels K (k, k, C_in, C_out): (z, cols)."""
    k, _, _, c_out = K.shape
    cols = im2col(x, k)                                             # (N, Ho, Wo, k k C_in)
    return cols @ K.reshape(-1, c_out) + b, cols                    # (N, Ho, Wo, C_out)


def conv_backward(delta, cols, K, x_shape=None):
    """dK, db and (if ``x_shape`` is given) dloss/dx for a convolution whose dloss/dz is delta (N, Ho, Wo, C_out)."""
    k, _, c_in, c_out = K.shape
    d = delta.reshape(-1, c_out)                                    # (N Ho Wo, C_out)
    dK = (cols.reshape(-1, k * k * c_in).T @ d).reshape(K.shape)    # (k, k, C_in, C_out)
    db = d.sum(axis=0)                                              # (C_out,)
    dx = None if x_shape is None else col2im(delta @ K.reshape(-1, c_out).T, x_shape, k)
    return dK, db, dx


def pool(a):
    """The maximum of each 2x2 block of a (N, H, W, C): (N, H/2, W/2, C)."""
    return np.maximum(np.maximum(a[:, 0::2, 0::2], a[:, 0::2, 1::2]), np.maximum(a[:, 1::2, 0::2], a[:, 1::2, 1::2]))


def pool_backward(delta, a, pooled):
    """dloss/da from dloss/dpooled: each block's gradient to the input that was its maximum (the first, if tied)."""
    da = np.zeros_like(a)
    taken = np.zeros(pooled.shape, bool)                            # blocks whose maximum has had its gradient
    for i in range(POOL):
        for j in range(POOL):
            first = (a[:, i::POOL, j::POOL] == pooled) & ~taken     # (N, H/2, W/2, C)
            da[:, i::POOL, j::POOL] = first * delta
            taken |= first
    return da


def log_loss(z, y):
    """The mean cross-entropy from the logits z (N, 10): log-sum-exp minus the label's logit. The same number
    as ``cross_entropy(softmax(z), y)``, but finite where a confident wrong answer makes p[label] 0 in float32."""
    top = z.max(axis=1)
    return np.mean(top + np.log(np.exp(z - top[:, None]).sum(axis=1)) - z[np.arange(len(z)), y])


# --- the network ---

class ConvNet:
    """conv(5x5, C1) - ReLU - pool - conv(5x5, C2) - ReLU - pool - dense(hidden) - ReLU - dense(10) - softmax.

    ``channels`` is (C1, C2), ``hidden`` the width of the dense layer. The parameters by their names in
    the math: ``K1, b1, K2, b2`` (convolutions), ``W3, b3, W4, b4`` (dense); ``weights`` and ``biases`` list
    them in that order, as the MLP's do. Weights start random from ``seed``: He's sqrt(2 / fan_in) into a
    ReLU (fan_in = k k C_in for a kernel), Glorot's sqrt(2 / (n_in + n_out)) into the softmax; biases at 0.
    """

    def __init__(self, channels=(16, 32), hidden=128, kernel_size=5, seed=0, dtype=np.float32):
        self.channels, self.hidden, self.kernel_size = _architecture(channels, hidden, kernel_size)
        self.dtype = checks.float_dtype(dtype)
        rng = checks.random_generator(seed)
        k, c1 = self.kernel_size, self.channels[0]
        shapes = self.shapes()

        def start(name, fan_in, fan_out=None):
            std = math.sqrt(2.0 / fan_in) if fan_out is None else math.sqrt(2.0 / (fan_in + fan_out))
            return (rng.standard_normal(shapes[name]) * std).astype(self.dtype)

        self.weights = [start("K1", k * k), start("K2", k * k * c1), start("W3", self.flat),
                        start("W4", self.hidden, 10)]
        self.biases = [np.zeros(shapes[name], self.dtype) for name in ("b1", "b2", "b3", "b4")]

    @property
    def flat(self):
        """The length of f, the pooled feature maps as one row: side * side * C2."""
        side = ((IMAGE_SHAPE[0] - self.kernel_size + 1) // POOL - self.kernel_size + 1) // POOL
        return side * side * self.channels[1]

    def shapes(self):
        """Each parameter's shape, by name."""
        k, (c1, c2) = self.kernel_size, self.channels
        return {"K1": (k, k, 1, c1), "b1": (c1,), "K2": (k, k, c1, c2), "b2": (c2,),
                "W3": (self.flat, self.hidden), "b3": (self.hidden,), "W4": (self.hidden, 10), "b4": (10,)}

    def __repr__(self):
        return f"ConvNet(channels={self.channels}, hidden={self.hidden}, kernel_size={self.kernel_size})"

    @property
    def params(self):
        """The parameters by name: {"K1": ..., "b1": ..., "K2": ..., "b2": ..., "W3": ..., ..., "b4": ...}."""
        names = ("K1", "K2", "W3", "W4")
        return {n: p for (w, W), (b, B) in zip(zip(names, self.weights), zip(("b1", "b2", "b3", "b4"), self.biases))
                for n, p in ((w, W), (b, B))}

    # --- inputs ---

    def as_input(self, X, name="X"):
        """Images (..., 28, 28), (..., 784) or (N, 28, 28, 1) -> floats (N, 28, 28, 1); uint8 is scaled by 1/255,
        floats must be in [0, 1]."""
        X = np.asarray(X)
        if X.shape[-3:] == IMAGE_SHAPE + (1,):
            X = X.reshape(X.shape[:-3] + (N_PIXELS,))
        return checks.image_rows(X, N_PIXELS, self.dtype, name).reshape(-1, *IMAGE_SHAPE, 1)

    def labels(self, y, n):
        return checks.labels(y, n, 10)

    # --- the reference ---

    def forward(self, X):
        """Every layer's output for images X, by name (the module docstring's): x, cols1, a1, p1, ..., z4, p."""
        K1, K2, W3, W4 = self.weights
        b1, b2, b3, b4 = self.biases
        x = self.as_input(X)                                    # (N, 28, 28, 1)
        z1, cols1 = conv(x, K1, b1)                             # (N, 24, 24, C1)
        a1 = relu(z1)
        p1 = pool(a1)                                           # (N, 12, 12, C1)
        z2, cols2 = conv(p1, K2, b2)                            # (N, 8, 8, C2)
        a2 = relu(z2)
        p2 = pool(a2)                                           # (N, 4, 4, C2)
        f = p2.reshape(len(x), -1)                              # (N, 16 C2)
        a3 = relu(f @ W3 + b3)                                  # (N, hidden)
        z4 = a3 @ W4 + b4                                       # (N, 10), the logits
        p = softmax(z4)
        return {"x": x, "cols1": cols1, "a1": a1, "p1": p1, "cols2": cols2, "a2": a2, "p2": p2, "f": f,
                "a3": a3, "z4": z4, "p": p}

    def backward(self, X, y):
        """Gradients of the mean cross-entropy on (X, y): lists ``dW`` and ``db`` shaped like ``weights``, ``biases``."""
        return self.gradients(self.forward(X), y)

    def gradients(self, s, y):
        """``backward`` from the layers' outputs ``s`` of a ``forward`` already made: (dW, db)."""
        p = s["p"]
        y = self.labels(y, len(p))
        delta1, delta2, delta3, delta4 = self.deltas(s, (p - one_hot(y).astype(p.dtype)) / len(p))
        dK1, db1, _ = conv_backward(delta1, s["cols1"], self.weights[0])   # the input needs no gradient
        dK2, db2, _ = conv_backward(delta2, s["cols2"], self.weights[1])
        dW3, db3 = s["f"].T @ delta3, delta3.sum(axis=0)
        dW4, db4 = s["a3"].T @ delta4, delta4.sum(axis=0)
        return [dK1, dK2, dW3, dW4], [db1, db2, db3, db4]

    def deltas(self, s, delta4):
        """dloss/dz of every layer, from the output's delta4 = dloss/dz4 (N, 10) down: (delta1, ..., delta4)."""
        _, K2, W3, W4 = self.weights
        delta3 = (delta4 @ W4.T) * relu_prime(s["a3"])                     # (N, hidden)
        dp2 = (delta3 @ W3.T).reshape(s["p2"].shape)                      # (N, 4, 4, C2)
        delta2 = pool_backward(dp2, s["a2"], s["p2"]) * relu_prime(s["a2"])     # (N, 8, 8, C2)
        _, _, dp1 = conv_backward(delta2, s["cols2"], K2, s["p1"].shape)   # (N, 12, 12, C1)
        delta1 = pool_backward(dp1, s["a1"], s["p1"]) * relu_prime(s["a1"])     # (N, 24, 24, C1)
        return delta1, delta2, delta3, delta4

    def input_gradient(self, X, delta4):
        """d(something)/dx for images X, given delta4 = d(something)/dz4 (N, 10) at the logits: ``deltas``
        down to the first convolution, then its dx (col2im), (N, 28, 28) (``ocrlib/explain.py``)."""
        s = self.forward(X)
        delta4 = np.asarray(delta4, dtype=s["p"].dtype).reshape(len(s["x"]), 10)
        delta1 = self.deltas(s, delta4)[0]
        _, _, dx = conv_backward(delta1, s["cols1"], self.weights[0], s["x"].shape)    # (N, 28, 28, 1)
        return dx[..., 0]

    def loss(self, X, y):
        """The mean cross-entropy on (X, y)."""
        p = self.predict_proba(X).reshape(-1, 10)
        y = self.labels(y, len(p))
        if len(p) == 0:
            raise ValueError("X holds no images: the loss is a mean over at least one")
        return cross_entropy(p, y)

    # --- prediction ---

    def predict_proba(self, X, batch_size=1000):
        """Class probabilities; inputs (..., 28, 28) or (..., 784) give (..., 10). Computed ``batch_size`` at a time."""
        shape = np.shape(X)
        lead = shape[:-3] if shape[-3:] == IMAGE_SHAPE + (1,) else shape[:-2] if shape[-2:] == IMAGE_SHAPE \
            else shape[:-1]
        x = self.as_input(X)
        p = np.concatenate([self.forward(x[i:i + batch_size])["p"] for i in range(0, len(x), batch_size)]
                           or [np.zeros((0, 10), self.dtype)])
        return p.reshape(lead + (10,))

    def predict(self, X):
        """The most probable digit for each input: (..., 28, 28) gives (...,)."""
        return self.predict_proba(X).argmax(axis=-1)

    def evaluate(self, X, y, batch_size=1000):
        """Accuracy: the fraction of inputs whose predicted digit equals the label."""
        x = self.as_input(X)
        y = self.labels(y, len(x))
        checks.count(batch_size, "batch_size")
        if len(x) == 0:
            raise ValueError("X holds no images: accuracy is a fraction of at least one")
        return float(np.mean(self.predict_proba(x, batch_size).argmax(axis=-1) == y))

    # --- training ---

    def train_on_instance(self, x, label, lr=0.1):
        """One SGD step on one example; returns the loss before it. A step that is not finite changes nothing."""
        checks.learning_rate(lr)
        x = self.as_input(x, name="x")
        if len(x) != 1:
            raise ValueError(f"x must be one example (28, 28) or (784,), got {len(x)} of them")
        label = checks.label(label, 10)
        with np.errstate(all="ignore"):                        # overflow is checked for below
            state = self.forward(x)
            loss = float(log_loss(state["z4"], [label]))
            dW, db = self.gradients(state, [label])
            new = [p - lr * g for p, g in zip(self.weights + self.biases, dW + db)]
        if not math.isfinite(loss) or not all(np.isfinite(p).all() for p in new):
            raise TrainingDiverged(f"the step on this example with lr={lr:g} gives NaN or infinite values "
                                   f"(loss {loss}); the weights were not changed")
        for p, value in zip(self.weights + self.biases, new):
            p[...] = value
        return loss

    def fit(self, X, y, epochs=10, batch_size=64, lr=0.05, momentum=0.0, lr_schedule=None,
            validation=None, progress=True, seed=0, augment=None):
        """Mini-batch SGD with momentum on cross-entropy: ``MLP.fit``'s arguments, history and divergence check.

        A NaN or infinite loss or weight raises ``TrainingDiverged`` naming the learning rate, with the weights
        put back as they were at the start of that epoch (the last known to be finite).
        """
        images = np.asarray(X)
        checks.fit_arguments(epochs, batch_size, momentum, validation, augment, N_PIXELS, 10)
        rows = checks.training_rows(images, N_PIXELS, augment)
        n = len(rows)
        y = self.labels(y, n)
        schedule = _schedule(lr_schedule, checks.learning_rate(lr), epochs)
        rng = checks.random_generator(seed)
        trainer = ConvTrainer(self, min(batch_size, n))
        history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "lr": []}
        with tqdm(total=epochs * n, unit="img", unit_scale=True, desc="fit", disable=not progress) as bar:
            for epoch in range(epochs):
                epoch_lr = checks.learning_rate(schedule(epoch), name=f"the learning rate of epoch {epoch + 1}")
                order = rng.permutation(n)
                if augment is None:
                    source = rows[order]
                else:
                    source = checks.training_rows(augment(images[order], rng), N_PIXELS, n=n)
                with np.errstate(all="ignore"):                 # a NaN or an overflow is looked for below
                    loss, correct = trainer.epoch(source, y[order], epoch_lr, momentum, bar)
                if not math.isfinite(loss):
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

    def save(self, path):
        """Write the model to ``.npz`` or ``.json``, atomically: a crash mid-save leaves any old file intact."""
        modelfile.save_convnet(path, self.channels, self.hidden, self.kernel_size, self.params)

    @classmethod
    def load(cls, path):
        """Read a ConvNet saved by ``save`` (``.npz`` or ``.json``); never runs code from the file."""
        channels, hidden, kernel_size, params = modelfile.load_convnet(path, _architecture, cls.parameter_shapes)
        net = cls(channels, hidden, kernel_size)
        for name, value in params.items():
            net.params[name][...] = value
        return net

    @staticmethod
    def parameter_shapes(channels, hidden, kernel_size):
        """The shapes of the parameters of a ConvNet of this architecture, without making one."""
        shell = ConvNet.__new__(ConvNet)
        shell.channels, shell.hidden, shell.kernel_size = channels, hidden, kernel_size
        return shell.shapes()


def _architecture(channels, hidden, kernel_size):
    """(C1, C2), hidden and k, checked: whole numbers, k odd-or-even from 1 to 9, within ``MAX_PARAMETERS``."""
    if (not isinstance(channels, (list, tuple, np.ndarray)) or len(channels) != 2
            or not all(checks.whole(c) for c in channels)):
        raise ValueError(f"channels must be two whole numbers >= 1 (C1, C2), got {channels!r}")
    if not checks.whole(hidden):
        raise ValueError(f"hidden must be a whole number >= 1, got {hidden!r}")
    if not checks.whole(kernel_size) or kernel_size > 9:
        raise ValueError(f"kernel_size must be a whole number from 1 to 9, got {kernel_size!r}")
    channels, hidden, k = (int(channels[0]), int(channels[1])), int(hidden), int(kernel_size)
    side = ((IMAGE_SHAPE[0] - k + 1) // POOL - k + 1) // POOL
    if side < 1:
        raise ValueError(f"kernel_size {k} leaves no pixels after two convolutions and poolings of 28x28")
    c1, c2 = channels
    parameters = k * k * c1 + c1 + k * k * c1 * c2 + c2 + side * side * c2 * hidden + hidden + hidden * 10 + 10
    if parameters > checks.MAX_PARAMETERS:
        raise ValueError(f"channels {channels}, hidden {hidden}, kernel_size {k} make {parameters:,} parameters, "
                         f"more than the {checks.MAX_PARAMETERS:,} of the largest network (MAX_PARAMETERS)")
    return channels, hidden, k


class ConvTrainer:
    """Mini-batch SGD with momentum on a ``ConvNet``'s parameters (changed in place): ``backward``'s arithmetic.

    ``batch_input`` and ``step`` have the MLP trainer's interface (``ocrlib/fastpath.py``), so that ``Teacher``
    drives either network. ``dense_only``: steps change the dense layers only (W3, b3, W4, b4) and skip the
    convolutions' backward: the features the convolutions learnt from MNIST stay as they are.
    """

    def __init__(self, net, batch_size, dense_only=False):
        self.net, self.batch_size, self.dtype = net, batch_size, net.dtype
        self.dense_only = dense_only
        self.velocity = [np.zeros_like(p) for p in net.weights + net.biases]

    def batch_input(self, raw):
        """A batch of uint8 or float rows (m, 784) -> (floats (m, 784), None): no sparse columns here."""
        if raw.dtype == np.uint8:
            return np.divide(raw, self.dtype.type(255), dtype=self.dtype), None
        return raw.astype(self.dtype, copy=False), None

    def step(self, X, y, lr, momentum=0.0, lit=None):
        """One step on floats X (m, 784) and labels y (m,): (the loss before it, correct predictions).

        If the loss is NaN or infinite nothing changes."""
        net = self.net
        s = net.forward(X)
        p = s["p"]                                                  # (m, 10), before the step
        loss = float(log_loss(s["z4"], y))
        correct = int(np.count_nonzero(p.argmax(axis=1) == y))
        if not math.isfinite(loss):
            return loss, correct
        if self.dense_only:                                         # backward through the dense layers only
            delta4 = (p - one_hot(y).astype(p.dtype)) / len(p)
            delta3 = (delta4 @ net.weights[3].T) * relu_prime(s["a3"])
            pairs = [(net.weights[2], s["f"].T @ delta3), (net.weights[3], s["a3"].T @ delta4),
                     (net.biases[2], delta3.sum(axis=0)), (net.biases[3], delta4.sum(axis=0))]
            for param, grad in pairs:
                param -= lr * grad
            return loss, correct
        dW, db = net.gradients(s, y)
        for param, velocity, grad in zip(net.weights + net.biases, self.velocity, dW + db):
            if momentum:
                velocity *= momentum
                velocity -= lr * grad
                param += velocity
            else:
                param -= lr * grad
        return loss, correct

    def epoch(self, source, y, lr, momentum, bar):
        """One pass over ``source`` (n, 784) in order, in batches; (mean loss before each step, correct).

        If a loss or any weight at the end is NaN or infinite, every parameter goes back to its value at the
        start of the epoch and the loss returned is NaN or inf."""
        params = self.net.weights + self.net.biases
        start_params = [p.copy() for p in params]
        n = len(y)
        total_loss, total_correct = 0.0, 0
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            X, _ = self.batch_input(source[start:stop])
            loss, correct = self.step(X, y[start:stop], lr, momentum)
            if not math.isfinite(loss):
                break
            total_loss += loss * (stop - start)
            total_correct += correct
            bar.update(stop - start)
        else:
            if all(np.isfinite(p).all() for p in params):
                return total_loss / n, total_correct
            loss = math.nan
        for p, saved in zip(params, start_params):
            p[...] = saved
        return loss, total_correct
