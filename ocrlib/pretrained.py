"""The model that ships inside the package, made by ``python -m ocrlib.train``."""

from ocrlib.network import MLP
from ocrlib.paths import MODEL_PATH


def load_pretrained():
    """The shipped pretrained MLP (see the README for its test accuracy and how it was trained)."""
    if not MODEL_PATH.is_file():
        raise FileNotFoundError(f"pretrained model not found at {MODEL_PATH}; make it with: python -m ocrlib.train")
    return MLP.load(MODEL_PATH)
