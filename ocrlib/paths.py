"""Where the repository keeps its data, in one place.

``ocrlib`` is installed editable from a clone, so the data travels with the code::

    data/mnist/            MNIST's four IDX files                 (ocrlib.mnist)
    data/strokes/          the pen-drawn test set, as strokes     (ocrlib.strokeset)
    data/pen_digits/       pen digits from real writers (UNIPEN)  (ocrlib.pendigits)
    data/taught/           drawings taught on the pad, and models saved from it   (ocrlib.taught, ocrlib.pad)
    ocrlib/models/mlp.npz  the shipped pretrained MLP             (ocrlib.pretrained)
    ocrlib/models/convnet.npz  the shipped pretrained ConvNet     (ocrlib.pretrained)
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DATA_DIR = REPO_DIR / "data"

MNIST_DIR = DATA_DIR / "mnist"
STROKE_SET_PATH = DATA_DIR / "strokes" / "strokes_test.npz"
PEN_DIGITS_PATH = DATA_DIR / "pen_digits" / "unipen_1a_dev.json.gz"
FLAGS_PATH = DATA_DIR / "pen_digits" / "flagged.csv"      # pen digits whose ink does not show their label
TAUGHT_DIR = DATA_DIR / "taught"
TAUGHT_PATH = TAUGHT_DIR / "taught.sqlite"           # taught-drawings database; env OCRLIB_TAUGHT_PATH overrides
USER_MODEL_PATH = TAUGHT_DIR / "my_model.npz"        # default file for the pad's "Save model"
MODEL_PATH = PACKAGE_DIR / "models" / "mlp.npz"       # the shipped pretrained MLP
CONVNET_PATH = PACKAGE_DIR / "models" / "convnet.npz"   # the shipped pretrained ConvNet
