"""The activations of the hidden layers (notebook 02), each beside its derivative, in one table.

A derivative is written from the activation's output a = f(z), which backpropagation has at hand:
relu'(z) = 1 where a > 0, sigmoid'(z) = a (1 - a), tanh'(z) = 1 - a^2. Each f takes ``out=`` so that the
fast path (``ocrlib/fastpath.py``) can work in place; the reference never passes it. Every path, forward,
backward, ``train_on_instance`` and ``fit``, takes f and f' from ``ACTIVATIONS``: an activation added here
is used, and tested, everywhere.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


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
