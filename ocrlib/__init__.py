"""OCR_AI: handwritten digit recognition with a neural network written from scratch in NumPy."""

from ocrlib.convnet import ConvNet
from ocrlib.mnist import load_mnist, read_idx
from ocrlib.network import MLP, TrainingDiverged, cross_entropy, softmax
from ocrlib.preprocess import rasterize, to_mnist
from ocrlib.pretrained import load_model, load_pretrained
from ocrlib.teacher import Teacher

__all__ = ["MLP", "ConvNet", "Teacher", "TrainingDiverged", "cross_entropy", "load_mnist", "load_model",
           "load_pretrained", "rasterize", "read_idx", "softmax", "to_mnist"]
__version__ = "0.1.0"
