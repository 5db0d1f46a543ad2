import ocrlib
from ocrlib import train


def test_command_line_trains_and_saves(tmp_path, monkeypatch, capsys):
    X, y = ocrlib.load_mnist("test")
    X, y = X[:200], y[:200]
    monkeypatch.setattr(train, "load_mnist", lambda split: (X, y))
    out = tmp_path / "small.npz"
    train.main(["--hidden", "16", "--epochs", "2", "--out", str(out), "--no-progress"])
    net = ocrlib.MLP.load(out)
    assert net.sizes == (784, 16, 10)
    assert f"saved to {out}" in capsys.readouterr().out
