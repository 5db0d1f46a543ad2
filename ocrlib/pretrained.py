"""The models that ship inside the package, made by ``python -m ocrlib.train``, and ``load_model`` for any file."""

from ocrlib.convnet import ConvNet
from ocrlib.modelfile import model_kind
from ocrlib.network import MLP
from ocrlib.paths import CONVNET_PATH, MODEL_PATH

PRETRAINED = {"mlp": (MLP, MODEL_PATH, "python -m ocrlib.train"),
              "convnet": (ConvNet, CONVNET_PATH, "python -m ocrlib.train --network convnet")}


def load_pretrained(name="mlp"):
    """A shipped pretrained network: ``"mlp"`` (the default, the lessons' network) or ``"convnet"``.

    The README gives each one's accuracy on MNIST and on real writers' pen digits, and how it was trained.
    """
    if name not in PRETRAINED:
        raise ValueError(f"name must be one of {sorted(PRETRAINED)}, got {name!r}")
    cls, path, command = PRETRAINED[name]
    if not path.is_file():
        raise FileNotFoundError(f"pretrained {name} not found at {path}; make it with: {command}")
    return cls.load(path)


def load_model(path):
    """The network in the model file ``path``, an ``MLP`` or a ``ConvNet``, whichever it holds."""
    return ConvNet.load(path) if model_kind(path) == "convnet" else MLP.load(path)
