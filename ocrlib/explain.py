"""Why did it say 3? What a network looked at, for one image (derived in notebook 10).

Three views, each computed by the network's own backward pass (``input_gradient``: backpropagation carried
down to the pixels), for the MLP and the ConvNet alike:

    saliency(model, image, digit)        d p(digit) / d pixel (28, 28), and input x gradient
    hidden_units(model, image, digit)    each hidden unit's (or first-layer channel's) part in the digit's logit
    counterfactual(model, image, digit)  the ink to add and remove so that the network reads ``digit``

The gradient of p(digit) with respect to the logits z is p(digit) (e_digit - p), the softmax's Jacobian row;
``input_gradient`` takes it from there to the image. A saliency map is a local, linear view: it says which
pixels would change p(digit) most if they changed a little, not what a large change would do. The
counterfactual takes many small steps and so shows what a large change does.
"""

from typing import NamedTuple

import numpy as np

from ocrlib.convnet import ConvNet
from ocrlib.mnist import IMAGE_SHAPE


class Saliency(NamedTuple):
    gradient: np.ndarray               # (28, 28) d p(digit) / d pixel
    input_times_gradient: np.ndarray   # (28, 28) pixel * gradient: what the ink that is there adds or takes away
    p: float                           # p(digit) for the image


class Units(NamedTuple):
    contribution: np.ndarray   # (n,) each unit's share of the digit's logit: activation x d logit / d activation
    activation: np.ndarray     # (n,) each unit's activation (a ConvNet channel: the mean of its map)
    pictures: np.ndarray       # (n, h, w) each unit's weights as a picture (28 x 28 rows of W1, or a kernel)
    up: np.ndarray             # indices of the units that push the digit up most, strongest first
    down: np.ndarray           # indices of the units that push it down most, strongest first


class Counterfactual(NamedTuple):
    image: np.ndarray          # (28, 28) the changed image, in [0, 1]
    added: np.ndarray          # (28, 28) ink added, >= 0
    removed: np.ndarray        # (28, 28) ink removed, >= 0
    p: float                   # p(digit) for the changed image
    steps: int                 # gradient steps taken
    reached: bool              # whether the network reads ``digit`` in the changed image


def image_of(model, image, name="image"):
    """One image (28, 28) or (784,), uint8 or floats in [0, 1] -> floats (28, 28) in the model's dtype."""
    x = model.as_input(image, name=name)
    if len(x) != 1:
        raise ValueError(f"{name} must be one image (28, 28) or (784,), got {len(x)} of them")
    return x.reshape(IMAGE_SHAPE)


def digit_of(digit, name="digit"):
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
        raise ValueError(f"{name} must be an integer digit 0-9, got {digit!r}")
    return int(digit)


def saliency(model, image, digit, of="p"):
    """d p(digit) / d pixel for one image, and input x gradient; both (28, 28), by the model's backward pass.

    ``of="logit"`` takes the gradient of the digit's logit z_digit instead: the same picture for a digit the
    network is unsure of, but one that does not fade away as p(digit) nears 0 or 1, where p(digit)'s own
    gradient, p(digit) (e_digit - p) through the softmax, does. The pad shows the logit's.
    """
    x = image_of(model, image)
    digit = digit_of(digit)
    if of not in ("p", "logit"):
        raise ValueError(f"of must be 'p' or 'logit', got {of!r}")
    p = model.predict_proba(x)                                          # (10,)
    onehot = np.eye(10, dtype=p.dtype)[digit]
    dz = p[digit] * (onehot - p) if of == "p" else onehot               # d p(digit) / dz, or d z_digit / dz
    gradient = model.input_gradient(x[None], dz[None]).reshape(IMAGE_SHAPE)
    return Saliency(gradient, x * gradient, float(p[digit]))


def logit_gradients(model, image, digit):
    """d z_digit / d(first hidden activations) for an MLP (n_1,), or d z_digit / d z1 for a ConvNet
    (24, 24, C1), with the activations themselves: (gradient, activation), by the model's ``deltas``."""
    onehot = np.eye(10, dtype=model.dtype)[[digit]]                     # d z_digit / d z_L, (1, 10)
    if isinstance(model, ConvNet):
        s = model.forward(image[None])
        return model.deltas(s, onehot)[0][0], s["a1"][0]                # (24, 24, C1) each
    activations = model.forward(image[None])
    delta_2 = model.deltas(activations, onehot)[1]                      # d z_digit / d z_2, (1, n_2)
    return (delta_2 @ model.weights[1].T)[0], activations[1][0]         # d z_digit / d a_1, and a_1: (n_1,) each


def hidden_units(model, image, digit, top=4):
    """Each hidden unit's part in the logit of ``digit`` for one image, and its weights as a picture.

    MLP: the units of the first hidden layer; a unit's part is a_j * d z_digit / d a_j, which for one hidden
    layer is exactly a_j W2[j, digit]: the logit is b2[digit] plus the sum of the parts. Pictures are the
    units' rows of W1 as 28 x 28 images. ConvNet: the channels of the first convolution; a channel's part is
    the sum over its map of a1 * d z_digit / d a1, and its picture is its 5 x 5 kernel.
    """
    x = image_of(model, image)
    digit = digit_of(digit)
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a whole number >= 1, got {top!r}")
    g, a = logit_gradients(model, x, digit)
    if isinstance(model, ConvNet):
        contribution = (a * g).sum(axis=(0, 1))                         # (C1,); where a1 = 0 the product is 0
        activation = a.mean(axis=(0, 1))
        pictures = np.moveaxis(model.weights[0][:, :, 0, :], -1, 0)     # (C1, 5, 5)
    else:
        contribution = a * g                                            # (n_1,)
        activation = a
        pictures = model.weights[0].T.reshape(-1, *IMAGE_SHAPE)         # (n_1, 28, 28)
    order = np.argsort(contribution, kind="stable")
    up = [i for i in order[::-1][:top] if contribution[i] > 0]
    down = [i for i in order[:top] if contribution[i] < 0]
    return Units(contribution, activation, pictures, np.array(up, int), np.array(down, int))


def counterfactual(model, image, digit, step=0.1, max_steps=200, p_target=0.5, keep=0.6):
    """A small change of ink, found by gradient steps, that makes the network read ``digit``.

    Each step moves the pixels whose gradient of log p(digit) is at least ``keep`` times the largest, each by
    ``step`` times its share of the largest (so the strongest pixel moves by ``step``), keeps pixels in
    [0, 1] (a full pixel gains no more ink, a blank one loses none, and neither counts as the largest), and
    stops as soon as ``digit`` is the reading and p(digit) >= ``p_target``, or after ``max_steps``.
    Moving only the strongest pixels keeps the change to a few strokes' worth of ink, where plain gradient
    steps would grey the whole image a little.
    """
    x = image_of(model, image)
    digit = digit_of(digit)
    if not 0 < step <= 1:
        raise ValueError(f"step must be in (0, 1], got {step!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
        raise ValueError(f"max_steps must be a whole number >= 0, got {max_steps!r}")
    if not 0 < p_target < 1:
        raise ValueError(f"p_target must be in (0, 1), got {p_target!r}")
    if not 0 <= keep < 1:
        raise ValueError(f"keep must be in [0, 1), got {keep!r}")
    onehot = np.eye(10, dtype=x.dtype)[digit]
    changed = x.copy()
    steps = 0
    p = model.predict_proba(changed)
    while not (p.argmax() == digit and p[digit] >= p_target) and steps < max_steps:
        g = model.input_gradient(changed[None], (onehot - p)[None]).reshape(IMAGE_SHAPE)   # d log p(digit) / dx
        g[((g > 0) & (changed >= 1)) | ((g < 0) & (changed <= 0))] = 0   # pixels already full or blank stay
        largest = np.abs(g).max()
        if not largest > 0:
            break
        move = step * g / largest
        move[np.abs(g) < keep * largest] = 0                            # only the pixels that matter most move
        changed = np.clip(changed + move, 0, 1).astype(x.dtype)
        steps += 1
        p = model.predict_proba(changed)
    reached = bool(p.argmax() == digit and p[digit] >= p_target)
    return Counterfactual(changed, np.clip(changed - x, 0, None), np.clip(x - changed, 0, None),
                          float(p[digit]), steps, reached)


def top_two(model, image):
    """The network's reading and its runner-up for one image: (digit, runner_up, p (10,))."""
    p = model.predict_proba(image_of(model, image))
    first, second = np.argsort(p, kind="stable")[::-1][:2]
    return int(first), int(second), p


class Explanation(NamedTuple):
    digit: int                     # what the network reads
    runner_up: int                 # the digit it gives the next highest probability
    p: np.ndarray                  # (10,) probabilities
    digit_map: np.ndarray          # (28, 28) input x gradient of the digit's logit: the ink that raised and lowered it
    runner_up_map: np.ndarray      # (28, 28) the same for the runner-up
    units: Units                   # the hidden units that pushed the digit up and down most
    change: Counterfactual         # the ink to add and remove to make it read the runner-up


def explain(model, image, top=3):
    """Everything the pad's "Why?" shows, for one image: see ``Explanation``. The two maps are ``saliency(...,
    of="logit")``'s input x gradient, for the digit and the runner-up, in one backward pass of two rows."""
    x = image_of(model, image)
    digit, runner_up, p = top_two(model, x)
    dz = np.eye(10, dtype=x.dtype)[[digit, runner_up]]                  # d z_digit / dz and d z_runner_up / dz
    maps = x * model.input_gradient(np.stack([x, x]), dz).reshape(2, *IMAGE_SHAPE)
    return Explanation(digit, runner_up, p, maps[0], maps[1], hidden_units(model, x, digit, top=top),
                       counterfactual(model, x, runner_up))


__all__ = ["Counterfactual", "Explanation", "Saliency", "Units", "counterfactual", "explain", "hidden_units", "saliency",
           "top_two"]
