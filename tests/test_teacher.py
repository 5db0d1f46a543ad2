"""ocrlib.teacher: teaching one drawing with rehearsal and EWC, undo, bad input, and the Fisher diagonal."""

import copy

import numpy as np
import pytest

import ocrlib
from ocrlib.network import MLP, TrainingDiverged
from ocrlib.preprocess import drawings_to_mnist
from ocrlib.strokeset import load_stroke_set
from ocrlib.taught import DuplicateDrawing, TaughtStore, load_taught
from ocrlib.teacher import Teacher, fisher_diagonal, shift


@pytest.fixture(scope="module")
def shipped():
    return ocrlib.load_pretrained()


@pytest.fixture(scope="module")
def drawings():
    """Pen-drawn template digits through the pad's path: images float32 (40, 28, 28), labels (40,)."""
    strokes, labels = load_stroke_set(source="template")
    return drawings_to_mnist(strokes[:40]), labels[:40]


@pytest.fixture(scope="module")
def mnist_check():
    X, y = ocrlib.load_mnist("test")
    return X[:2000], y[:2000]


def params(model):
    return [p.copy() for p in model.weights + model.biases]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_teach_needs_only_the_model_and_learns_the_drawing(shipped, drawings):
    model = copy.deepcopy(shipped)
    teacher = Teacher(model)
    images, labels = drawings
    wrong = (int(labels[0]) + 1) % 10                       # a label it surely does not read: much to learn
    p_expected = float(model.predict_proba(images[0])[wrong])
    p_before, p_after = teacher.teach(images[0], wrong)
    assert p_before == pytest.approx(p_expected)
    assert p_after == pytest.approx(float(model.predict_proba(images[0])[wrong]))
    assert p_after > p_before + 0.2 and teacher.model is model
    assert not same(params(model), params(shipped))


def test_teacher_forgets_far_less_than_plain_steps(shipped, drawings, mnist_check):
    """Five lessons that contradict MNIST (each template digit taught as another digit): plain steps cost MNIST
    many points, Teacher about one, and it still learns each drawing."""
    images, labels = drawings
    lessons = [(images[i], (int(labels[i]) + 3) % 10) for i in range(5)]
    plain, taught = copy.deepcopy(shipped), copy.deepcopy(shipped)
    teacher = Teacher(taught)
    for image, label in lessons:
        plain.train_on_instance(image, label, lr=0.03)
        teacher.teach(image, label)
    start = shipped.evaluate(*mnist_check)
    plain_drop, teacher_drop = start - plain.evaluate(*mnist_check), start - taught.evaluate(*mnist_check)
    assert teacher_drop < 0.02 and teacher_drop < plain_drop / 5     # measured: 1.3 and 23 points
    learnt = [taught.predict_proba(image)[label] > shipped.predict_proba(image)[label] for image, label in lessons]
    assert all(learnt)


def test_undo_puts_the_weights_back_and_forgets_the_drawing(shipped, drawings, tmp_path):
    model = copy.deepcopy(shipped)
    teacher = Teacher(model, store=tmp_path / "t.sqlite", pad="test")
    images, labels = drawings
    teacher.teach(images[0], int(labels[0]))
    after_first = params(model)
    assert teacher.can_undo
    teacher.teach(images[1], int(labels[1]))
    assert len(teacher.taught_y) == 2 and len(TaughtStore(tmp_path / "t.sqlite")) == 2
    assert teacher.undo() is True
    assert same(params(model), after_first)
    assert teacher.taught_y == [int(labels[0])] and load_taught(tmp_path / "t.sqlite")[1].tolist() == [labels[0]]
    assert teacher.undo() is False and not teacher.can_undo and same(params(model), after_first)


def test_earlier_drawings_are_rehearsed_from_the_store(shipped, drawings, tmp_path):
    images, labels = drawings
    store = TaughtStore(tmp_path / "t.sqlite")
    for image, label in zip(images[:3], labels[:3]):
        store.add(image, int(label))
    teacher = Teacher(copy.deepcopy(shipped), store=store)
    assert teacher.taught_y == labels[:3].tolist()
    TaughtStore(tmp_path / "t.sqlite").add(images[3], int(labels[3]))      # another pad, meanwhile
    teacher.teach(images[4], int(labels[4]))
    assert teacher.taught_y == labels[:5].tolist() and len(store) == 5
    np.testing.assert_array_equal(teacher.taught_X[3], load_taught(store.path)[0][3].ravel())


def blank():
    return np.zeros((28, 28), np.float32)


def nan_image(images):
    image = images[0].copy()
    image[3, 3] = np.nan
    return image


@pytest.mark.parametrize("make_image, label, match", [
    (lambda images: blank(), 3, "blank"),
    (lambda images: images[0], 10, "label"),
    (lambda images: images[0], -1, "label"),
    (lambda images: images[0], 3.0, "label"),
    (lambda images: images[0], True, "label"),
    (nan_image, 3, "NaN"),
    (lambda images: images[0][:27], 3, "shape"),
    (lambda images: images[0][None], 3, "shape"),
    (lambda images: images[0] * 255, 3, r"\[0, 1\]"),
    (lambda images: images[0].astype(np.int64), 3, "dtype"),
])
def test_bad_input_changes_nothing_and_stores_nothing(shipped, drawings, tmp_path, make_image, label, match):
    model = copy.deepcopy(shipped)
    teacher = Teacher(model, store=tmp_path / "t.sqlite")
    teacher.teach(drawings[0][5], int(drawings[1][5]))
    before = params(model)
    with pytest.raises(ValueError, match=match):
        teacher.teach(make_image(drawings[0]), label)
    assert same(params(model), before) and len(TaughtStore(tmp_path / "t.sqlite")) == 1
    assert len(teacher.taught_y) == 1 and teacher.can_undo                # the earlier teach can still be undone


def test_a_drawing_already_stored_is_not_taught_again(shipped, drawings, tmp_path):
    model = copy.deepcopy(shipped)
    teacher = Teacher(model, store=tmp_path / "t.sqlite")
    image = drawings[0][0]
    teacher.teach(image, 4)
    before = params(model)
    with pytest.raises(DuplicateDrawing):
        teacher.teach(image, 4)
    assert same(params(model), before) and len(teacher.taught_y) == 1


def test_divergence_puts_everything_back(shipped, drawings, tmp_path):
    model = copy.deepcopy(shipped)
    teacher = Teacher(model, store=tmp_path / "t.sqlite", lr=1e30, consolidation=0)
    before = params(model)
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match="lr=1e"):
        teacher.teach(drawings[0][0], 3)
    assert same(params(model), before) and len(TaughtStore(tmp_path / "t.sqlite")) == 0
    assert not teacher.can_undo and teacher.taught_y == []


def test_options_are_checked(shipped):
    with pytest.raises(ValueError, match="copies"):
        Teacher(shipped, copies=60, taught_per_step=10)
    with pytest.raises(ValueError, match="784"):
        Teacher(MLP((12, 5, 10)))


@pytest.mark.parametrize("name, value", [
    ("steps", 2.5), ("steps", "5"), ("batch_size", 10 ** 9), ("taught_per_step", -1), ("lr", float("inf")),
    ("lr", True), ("consolidation", float("nan")), ("at_risk", 1.5), ("seed", -1),
])
def test_each_option_is_checked_on_its_own(shipped, name, value):
    before = copy.deepcopy(params(shipped))
    with pytest.raises(ValueError, match=name):
        Teacher(shipped, rehearsal=(np.ones((10, 28, 28), np.uint8), np.arange(10)), **{name: value})
    assert same(params(shipped), before)


@pytest.mark.parametrize("rehearsal", [
    (np.ones((5, 28, 28), np.uint8), np.arange(5)),             # digits 5..9 missing: nothing to rehearse them
    (np.ones((10, 28, 28)), np.arange(10)),                    # floats
    (np.ones((10, 28, 28), np.uint8), np.arange(9)),            # one label short
    3,
])
def test_bad_rehearsal_digits_are_named(shipped, rehearsal):
    with pytest.raises(ValueError, match="rehearsal"):
        Teacher(shipped, rehearsal=rehearsal)


def test_a_ragged_image_is_named(shipped):
    teacher = Teacher(shipped, rehearsal=(np.ones((10, 28, 28), np.uint8), np.arange(10)), steps=1)
    with pytest.raises(ValueError, match="image"):
        teacher.teach([[1, 2], [3]], 3)


def test_fisher_diagonal_is_the_mean_squared_gradient():
    """F from two matrix products equals the mean of each example's own squared gradient (``backward``)."""
    model = MLP((12, 6, 4, 10), activation="tanh", seed=1, dtype=np.float64)
    X = np.random.default_rng(2).random((30, 12))
    F = fisher_diagonal(model, X, np.random.default_rng(0), n=30)
    own = model.predict(X)                               # each example's gradient, on the model's own answer
    squares = [np.zeros_like(p) for p in model.weights + model.biases]
    for x, label in zip(X, own):
        dW, db = model.backward(x[None], [label])
        for s, g in zip(squares, dW + db):
            s += g ** 2
    mean = sum(s.sum() for s in squares) / sum(s.size for s in squares)
    for f, s in zip(F, squares):
        np.testing.assert_allclose(f, s / mean, rtol=1e-9, atol=1e-12)


def test_shift_moves_the_drawing_one_pixel():
    image = np.zeros((28, 28), np.uint8)
    image[0, 5], image[10, 27] = 200, 100
    right = shift(image.ravel(), 1, 0).reshape(28, 28)
    assert right[0, 6] == 200 and right[10].sum() == 0                 # the pixel at the edge is lost
    up = shift(image.ravel(), 0, -1).reshape(28, 28)
    assert up[9, 27] == 100 and up[:, 5].sum() == 0


# --- the ConvNet ---

def test_the_convnets_fisher_diagonal_is_the_mean_squared_gradient():
    model = ocrlib.ConvNet(channels=(2, 3), hidden=5, seed=1, dtype=np.float64)
    X = np.random.default_rng(2).random((7, 28, 28))
    F = fisher_diagonal(model, X, np.random.default_rng(0), n=7)
    squares = [np.zeros_like(p) for p in model.weights + model.biases]
    for x, label in zip(X, model.predict(X)):
        dW, db = model.backward(x[None], [label])
        for s, g in zip(squares, dW + db):
            s += g ** 2
    mean = sum(s.sum() for s in squares) / sum(s.size for s in squares)
    for f, s in zip(F, squares):
        np.testing.assert_allclose(f, s / mean, rtol=1e-9, atol=1e-12)


def test_teacher_teaches_the_convnet_forgets_less_than_plain_steps_and_undoes(drawings, mnist_check, tmp_path):
    """Three lessons that contradict MNIST: each is learnt, and MNIST loses less than plain steps cost it."""
    shipped = ocrlib.load_pretrained("convnet")
    plain, model = copy.deepcopy(shipped), copy.deepcopy(shipped)
    teacher = Teacher(model, store=tmp_path / "taught.sqlite")
    images, labels = drawings
    lessons = [(images[i], (int(labels[i]) + 3) % 10) for i in range(3)]
    assert all(shipped.predict_proba(image)[label] < 0.5 for image, label in lessons)
    for image, label in lessons:
        _, p_after = teacher.teach(image, label)
        assert p_after > 0.5                                 # learnt (an earlier lesson may have taught it already)
        for _ in range(3):
            plain.train_on_instance(image, label, lr=0.03)
        assert plain.predict_proba(image)[label] > 0.5
    start = shipped.evaluate(*mnist_check)
    teacher_drop, plain_drop = start - model.evaluate(*mnist_check), start - plain.evaluate(*mnist_check)
    assert teacher_drop < 0.05 and teacher_drop < plain_drop
    before_last = params(model)
    teacher.teach(images[5], (int(labels[5]) + 1) % 10)
    assert teacher.undo() and same(params(model), before_last)
    assert len(load_taught(tmp_path / "taught.sqlite")[1]) == 3
