import pytest

import ocrlib
from ocrlib import train


def test_command_line_trains_and_saves(tmp_path, monkeypatch, capsys):
    X, y = ocrlib.load_mnist("test")
    X, y = X[:200], y[:200]
    monkeypatch.setattr(train, "load_mnist", lambda split: (X, y))
    out = tmp_path / "small.npz"
    train.main(["--hidden", "16", "--epochs", "2", "--synthetic", "20", "--out", str(out), "--no-progress"])
    net = ocrlib.MLP.load(out)
    assert net.sizes == (784, 16, 10)
    assert f"saved to {out}" in capsys.readouterr().out


def test_command_line_mixes_in_synthetic_digits_and_sets_the_elastic_strength(tmp_path, monkeypatch):
    X, y = ocrlib.load_mnist("test")
    monkeypatch.setattr(train, "load_mnist", lambda split: (X[:100], y[:100]))
    seen = {}

    def fit(self, X, y, augment=None, **kwargs):
        seen.update(n=len(X), labels=y, alpha=augment.keywords["alpha"])
        return {"loss": [0.0]}

    monkeypatch.setattr(ocrlib.MLP, "fit", fit)
    train.main(["--hidden", "8", "--synthetic", "30", "--alpha", "12", "--out", str(tmp_path / "m.npz"),
                "--no-progress"])
    assert seen["n"] == 130 and seen["alpha"] == 12.0
    assert seen["labels"][100:].tolist() == [k % 10 for k in range(30)]
    train.main(["--hidden", "8", "--synthetic", "0", "--out", str(tmp_path / "m.npz"), "--no-progress"])
    assert seen["n"] == 100 and seen["alpha"] == train.ALPHA


def test_command_line_refuses_negative_counts(capsys):
    with pytest.raises(SystemExit):
        train.main(["--synthetic", "-5"])
    assert "--synthetic and --alpha must be >= 0" in capsys.readouterr().err


def test_command_line_adds_habits_and_redrawn_digits_when_asked(tmp_path, monkeypatch):
    X, y = ocrlib.load_mnist("test")
    monkeypatch.setattr(train, "load_mnist", lambda split: (X[:50], y[:50]))
    seen = {}

    def fit(self, X, y, augment=None, **kwargs):
        seen.update(X=X, labels=y)
        return {"loss": [0.0]}

    monkeypatch.setattr(ocrlib.MLP, "fit", fit)
    out = str(tmp_path / "m.npz")
    train.main(["--hidden", "8", "--synthetic", "20", "--out", out, "--no-progress"])
    plain = seen["X"]
    train.main(["--hidden", "8", "--synthetic", "20", "--habits", "--redrawn", "10", "--out", out, "--no-progress"])
    assert len(seen["X"]) == 80 and not (seen["X"][50:70] == plain[50:70]).all()
    assert set(seen["labels"][70:].tolist()) <= set(y[:50].tolist())
    with pytest.raises(SystemExit):
        train.main(["--redrawn", "70000"])
