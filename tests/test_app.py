"""ocrlib.app: the command line and the notebook it serves (the page itself: test_browser.py)."""

import ast

import pytest

from ocrlib.app import addresses, app_notebook, pad_code, parse_args, voila_command
from ocrlib.convnet import ConvNet
from ocrlib.pretrained import load_pretrained


def test_defaults_serve_this_computer_only():
    args = parse_args([])
    assert (args.ip, args.port, args.model, args.read_only, args.present) == ("127.0.0.1", 8866, "mlp", False, False)
    urls, warning = addresses(args.ip, args.port)
    assert urls == ["http://127.0.0.1:8866/"] and warning is None


def test_serving_a_network_warns_that_anyone_on_it_can_use_the_pad():
    urls, warning = addresses("0.0.0.0", 8870)
    assert urls and all(u.startswith("http://") and u.endswith(":8870/") for u in urls)
    assert "Anyone on this network" in warning


@pytest.mark.parametrize("argv, named", [
    (["--port", "99999"], "--port"), (["--port", "eighty"], "--port"), (["--ip", "localhost"], "--ip"),
    (["--idle-minutes", "0"], "--idle-minutes"), (["--model", "no/such/model.npz"], "--model"),
    (["--idle-minutes", "inf"], "--idle-minutes"), (["--idle-minutes", "1e300"], "--idle-minutes"),
    (["--grace-seconds", "0"], "--grace-seconds"), (["--grace-seconds", "nan"], "--grace-seconds"),
    (["--max-pages", "0"], "--max-pages"), (["--max-pages", "ten"], "--max-pages"),
    (["--password", " "], "--password"), (["--password", "x", "--no-password"], "--no-password"),
])
def test_a_bad_option_is_named(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2 and named in capsys.readouterr().err


def test_an_unreadable_model_or_taught_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    for option in ("--model", "--taught"):
        with pytest.raises(SystemExit):
            parse_args([option, str(bad)])
        assert f"{option} {bad}" in capsys.readouterr().err


def test_a_saved_model_is_accepted(tmp_path):
    path = tmp_path / "taught.npz"
    load_pretrained().save(path)
    assert parse_args(["--model", str(path)]).model == path.resolve()


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_a_shipped_network_is_chosen_by_name(name):
    args = parse_args(["--model", name])
    assert args.model == name
    call = ast.parse(pad_code(model=args.model)).body[-1].value
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {"model": name}


def test_a_saved_convnet_is_accepted_and_a_wrong_name_is_refused(tmp_path, capsys):
    path = tmp_path / "c.npz"
    ConvNet(channels=(2, 2), hidden=4).save(path)
    assert parse_args(["--model", str(path)]).model == path.resolve()
    with pytest.raises(SystemExit):
        parse_args(["--model", "resnet"])
    assert "--model" in capsys.readouterr().err


def test_the_notebook_runs_one_pad_with_the_options(tmp_path):
    code = pad_code(model=tmp_path / "m.npz", taught=tmp_path / "t.npz", model_path=tmp_path / "my_model.npz",
                    teaching=False, present=True)
    call = ast.parse(code).body[-1].value
    keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
    assert call.func.id == "DigitPad"
    assert keywords == {"model": f"load_model({str(tmp_path / 'm.npz')!r})", "taught_path": repr(str(tmp_path / "t.npz")),
                        "model_path": repr(str(tmp_path / "my_model.npz")), "teaching": "False", "present": "True"}
    notebook = app_notebook(pad_code(), teaching=True)
    sources = [cell["source"] for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert sources == ["from ocrlib.widget import DigitPad\n\nDigitPad()"]
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


def test_voila_is_told_to_cull_idle_kernels_and_use_the_classroom_page(tmp_path):
    command = voila_command(tmp_path / "pad.ipynb", parse_args(["--idle-minutes", "5", "--ip", "0.0.0.0"]))
    assert "--MappingKernelManager.cull_idle_timeout=300" in command
    assert "--MappingKernelManager.cull_connected=True" in command
    assert "--template=digitpad" in command and "--Voila.ip=0.0.0.0" in command


def test_the_class_options_reach_the_server(tmp_path):
    from ocrlib.app import PASSWORD_WORDS, class_password, default_max_pages

    command = voila_command(tmp_path / "pad.ipynb", parse_args(["--max-pages", "12", "--grace-seconds", "30"]))
    assert command[1:3] == ["-m", "ocrlib.classroom"]
    assert "--ClassroomVoila.max_pages=12" in command and "--ClassroomVoila.grace_seconds=30" in command
    assert not any("secret" in part for part in voila_command(tmp_path / "p.ipynb", parse_args(["--password", "secret"])))
    assert parse_args([]).max_pages == default_max_pages() >= 1
    words = class_password().split("-")
    assert len(words) == 4 and words[-1].isdigit() and all(w in PASSWORD_WORDS for w in words[:3])
    _, warning = addresses("0.0.0.0", 8870, password="loop-ink-arc-42")
    assert warning is None                          # a password: no warning that anyone can use the pad


def test_the_address_is_printed_as_a_qr_code():
    from ocrlib.app import qr_text

    code = qr_text("http://192.168.1.20:8866/")
    rows = code.rstrip("\n").split("\n")
    assert len(rows) >= 12 and len({len(row) for row in rows}) == 1        # a square of half-height blocks
    assert set("".join(rows)) <= set("█▀▄ ") and "▄" in code and "▀" in code
    assert qr_text("http://192.168.1.21:8866/") != code
