"""The drawing pad as a web page of its own, served by Voila: ``python -m ocrlib.app --help``.

    python -m ocrlib.app                                   # this computer only: http://127.0.0.1:8866/
    python -m ocrlib.app --ip 0.0.0.0 --port 8866          # a class: every device on the network
    python -m ocrlib.app --model data/taught/my_model-1.npz --taught class.npz --present
    python -m ocrlib.app --model convnet                   # the ConvNet, which reads real writers best
    python -m ocrlib.app --read-only                       # draw and read, no teaching

Every page that opens gets a kernel of its own (about 80 MB) running a ``DigitPad``. A page that is closed
shuts its kernel down; a page that vanishes without closing (a phone locked, a browser crashed) is shut down
after ``--grace-seconds`` with no connection; a page left open with nobody drawing is shut down after
``--idle-minutes``; either says "Connection lost - reload". Served beyond this computer, the pad asks for a
class password (``--password``, or one made up and printed at start), and takes at most ``--max-pages`` pages
(``ocrlib/classroom.py``). Stop the server with Ctrl+C.
"""

import argparse
import io
import ipaddress
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import segno

from ocrlib.classroom import ADDRESS_VARIABLE, PASSWORD_VARIABLE, SHARE_PATH
from ocrlib.paths import PACKAGE_DIR, TAUGHT_DIR, TAUGHT_PATH
from ocrlib.pretrained import PRETRAINED

# The network a page reads with. The ConvNet reads real writers better (97.4 % against 96.1 %), and teaching its
# dense layers is now as safe for MNIST and fast enough (28 ms), but it helps a writer less (+2.0 points on the
# later digits of the 20 writers read worst, against the MLP's +7.6): the MLP stays the default (README, "The
# ConvNet").
DEFAULT_MODEL = "mlp"
PAGE_TEMPLATE = "digitpad"                  # ocrlib/page/voila/templates/digitpad: Voila's page, for a classroom
PAGE_DIR = PACKAGE_DIR / "page"             # a Jupyter data folder holding that template
CULL_INTERVAL = 60                          # seconds between two checks for idle kernels
MAX_IDLE_MINUTES = 7 * 24 * 60              # --idle-minutes at most: a week ("inf" cannot be given to the server)
KERNEL_MB = 100                             # memory a page's kernel takes, with room to spare (measured: about 80)
KEPT_FREE_MB = 1024                         # memory left for the system and the server when --max-pages is chosen
PASSWORD_WORDS = ("pen", "ink", "loop", "tail", "dot", "line", "curl", "bar", "hook", "arc", "nib", "pad")


def app_notebook(pad_code, teaching=True):
    """The one-page app as a notebook (nbformat 4) for Voila to run; ``pad_code`` makes the ``DigitPad``."""
    text = ("## Draw a digit\n"
            "Draw with a mouse, a finger or a pen: the network reads it as the small 28x28 image shown with its answer.")
    if teaching:
        text += " If it reads it wrong, tell it which digit you drew."
    text += ("\n\n<p class='digitpad-keys'>Keys: <kbd>Esc</kbd> clears, <kbd>Backspace</kbd> removes the last "
             "stroke" + (", <kbd>0</kbd>-<kbd>9</kbd> choose a digit, <kbd>Ctrl</kbd>+<kbd>Enter</kbd> teaches it."
                         if teaching else ".") + "</p>")
    cells = [("markdown", text), ("code", pad_code)]
    notebook_cells = []
    for n, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{n}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        notebook_cells.append(cell)
    return {"cells": notebook_cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def pad_code(model=None, taught=None, model_path=None, teaching=True, present=False):
    """The code of the app's one cell: a ``DigitPad`` with the app's options, paths written out in full."""
    lines = ["from ocrlib.widget import DigitPad"]
    arguments = []
    if isinstance(model, str):
        arguments.append(f"model={model!r}")
    elif model is not None:
        lines.append("from ocrlib.pretrained import load_model")
        arguments.append(f"model=load_model({str(model)!r})")
    if taught is not None:
        arguments.append(f"taught_path={str(taught)!r}")
    if model_path is not None:
        arguments.append(f"model_path={str(model_path)!r}")
    if not teaching:
        arguments.append("teaching=False")
    if present:
        arguments.append("present=True")
    return "\n".join(lines) + "\n\nDigitPad(" + ", ".join(arguments) + ")"


# --- the command line ---

def number_in(convert, low, high, what, above_low=False):
    """An argparse type: ``convert(text)`` from ``low`` (or, with ``above_low``, above it) to ``high``, else an
    error that says ``what`` was expected and what was given."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = math.nan                        # fails both comparisons below
        if not ((low < value if above_low else low <= value) and value <= high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


port_number = number_in(int, 1, 65535, "a port number 1-65535")
minutes = number_in(float, 0, MAX_IDLE_MINUTES, f"a number of minutes > 0 and at most {MAX_IDLE_MINUTES} (a week)",
                    above_low=True)
seconds = number_in(float, 1, 24 * 3600, "a number of seconds from 1 to 86400 (a day)")
page_count = number_in(int, 1, 10_000, "a whole number of pages from 1 to 10000")


def ip_address(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address of this machine such as 127.0.0.1 (this "
                                         f"computer only) or 0.0.0.0 (every network), got {text!r}") from None


def default_max_pages():
    """As many pages as this computer's memory holds: KERNEL_MB each, with KEPT_FREE_MB kept free; at least 1."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (AttributeError, ValueError, OSError):
        return 20
    return max(1, int((total_mb - KEPT_FREE_MB) // KERNEL_MB))


def class_password():
    """A password a class can type: three short words and two digits, e.g. ``loop-ink-arc-42``."""
    words = [secrets.choice(PASSWORD_WORDS) for _ in range(3)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


def qr_text(url):
    """``url`` as a QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m ocrlib.app",
        description="Serve the digit drawing pad as a web page (Voila), for one person or a class.")
    parser.add_argument("--ip", type=ip_address, default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0: every "
                             "network this computer is on, so that students' devices can open the pad)")
    parser.add_argument("--port", type=port_number, default=8866, help="port (default 8866)")
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME_OR_PATH",
                        help="the network: 'mlp' (default: the lessons' network, whose teaching is safe), "
                             "'convnet' (the shipped network that reads real writers best), or a saved model file "
                             "(.npz or .json, e.g. one saved with 'Save model')")
    parser.add_argument("--taught", type=Path, metavar="PATH",
                        help="the taught-drawings file every page adds to (default: env OCRLIB_TAUGHT_PATH, else "
                             f"data/taught/{TAUGHT_PATH.name}); 'Save model' writes next to it")
    parser.add_argument("--read-only", action="store_true", help="teaching switched off: draw and read only")
    parser.add_argument("--present", action="store_true",
                        help="open in presentation mode (large pad and prediction, for a projector)")
    parser.add_argument("--idle-minutes", type=minutes, default=20, metavar="MINUTES",
                        help="shut down a page's kernel after this many minutes with no drawing (default 20)")
    parser.add_argument("--grace-seconds", type=seconds, default=120, metavar="SECONDS",
                        help="shut down a page's kernel once it has had no connection this long: a page that "
                             "vanished without closing, such as a locked phone (default 120)")
    parser.add_argument("--password", metavar="WORD",
                        help="the class password students type once per browser (default: none on this computer "
                             "only; made up and printed at start when --ip serves other devices)")
    parser.add_argument("--no-password", action="store_true",
                        help="no password even when serving other devices (anyone who reaches the computer can "
                             "open the pad and teach it)")
    parser.add_argument("--max-pages", type=page_count, default=None, metavar="N",
                        help="at most N pages at once; the next gets 'the class is full' (default: as many as "
                             f"this computer's memory holds at {KERNEL_MB} MB a page, printed at start)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    if args.password is not None and args.no_password:
        parser.error("--password and --no-password contradict each other: give one")
    if args.password is not None and not args.password.strip():
        parser.error("--password must not be empty (use --no-password for none)")
    if args.max_pages is None:
        args.max_pages = default_max_pages()

    if args.model not in PRETRAINED:
        args.model = Path(args.model).resolve()
        check_model(parser, args.model)
    if args.taught is not None:
        args.taught = args.taught.resolve()
        check_taught(parser, args.taught)
    return args


def check_model(parser, path):
    """Fail now, naming --model, rather than in every student's page."""
    from ocrlib.network import MLP
    from ocrlib.pretrained import load_model

    if not path.is_file():
        parser.error(f"--model {path}: no such file (expected {' or '.join(sorted(PRETRAINED))}, or a model file)")
    try:
        model = load_model(path)
    except (ValueError, OSError) as err:
        parser.error(f"--model {path}: not a model file ocrlib can read ({err})")
    if isinstance(model, MLP) and (model.sizes[0] != 784 or model.sizes[-1] != 10):
        parser.error(f"--model {path}: expected a network from 784 pixels to 10 digits, got layers {model.sizes}")


def check_taught(parser, path):
    from ocrlib.taught import load_taught

    if path.is_dir():
        parser.error(f"--taught {path}: is a folder; expected a file, e.g. {path / TAUGHT_PATH.name}")
    try:
        load_taught(path)
    except (ValueError, OSError) as err:
        parser.error(f"--taught {path}: {err}")


def addresses(ip, port, password=None):
    """The addresses students can open, and a warning when the pad is visible beyond this computer without a
    password."""
    if ipaddress.ip_address(ip).is_loopback:
        return [f"http://{ip}:{port}/"], None
    hosts = [ip]
    if ipaddress.ip_address(ip).is_unspecified:
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
            hosts = sorted({info[4][0] for info in infos if not info[4][0].startswith("127.")}) or [socket.gethostname()]
        except OSError:
            hosts = [socket.gethostname()]
    warning = None if password else (
        "Anyone on this network who can reach this computer can open the pad and teach it: there is no "
        "password (--no-password). Serve it on a classroom network only, and stop it (Ctrl+C) after the lesson.")
    return [f"http://{host}:{port}/" for host in hosts], warning


def voila_command(notebook, args):
    command = [sys.executable, "-m", "ocrlib.classroom", str(notebook), f"--port={args.port}", f"--Voila.ip={args.ip}",
               f"--template={PAGE_TEMPLATE}", "--VoilaConfiguration.show_tracebacks=False",
               # kernels of pages left open and idle (a closed page shuts its own down at once)
               f"--MappingKernelManager.cull_idle_timeout={round(args.idle_minutes * 60)}",
               f"--MappingKernelManager.cull_interval={CULL_INTERVAL}",
               "--MappingKernelManager.cull_connected=True",
               f"--ClassroomVoila.max_pages={args.max_pages}",
               f"--ClassroomVoila.grace_seconds={args.grace_seconds:g}"]
    if args.no_browser:
        command.append("--no-browser")
    return command


def main(argv=None):
    args = parse_args(argv)
    env = dict(os.environ)
    # One drawing at a time is far too little work to share between BLAS threads; waking them costs more
    # (milliseconds on a busy machine) than the whole forward pass.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(PAGE_DIR), env.get("JUPYTER_PATH")]))
    taught = args.taught
    if taught is None and env.get("OCRLIB_TAUGHT_PATH"):
        taught = Path(env["OCRLIB_TAUGHT_PATH"]).resolve()
    model_path = (taught.parent if taught is not None else TAUGHT_DIR) / "my_model.npz"
    code = pad_code(args.model, taught, model_path, teaching=not args.read_only, present=args.present)

    password = args.password
    if password is None and not args.no_password and not ipaddress.ip_address(args.ip).is_loopback:
        password = class_password()
    env.pop(PASSWORD_VARIABLE, None)
    if password:
        env[PASSWORD_VARIABLE] = password           # to the server only: a command line is visible to all users
    urls, warning = addresses(args.ip, args.port, password)
    env[ADDRESS_VARIABLE] = urls[0]
    print("The drawing pad: open " + " or ".join(urls), flush=True)
    if not ipaddress.ip_address(args.ip).is_loopback:
        print(qr_text(urls[0]), flush=True)
        print(f"For the projector, the address as a QR code: http://127.0.0.1:{args.port}{SHARE_PATH} "
              f"(on this computer)", flush=True)
    if password:
        print(f"Class password: {password}   (each browser types it once)", flush=True)
    print(f"At most {args.max_pages} pages at once (--max-pages); a page gone without closing is freed after "
          f"{args.grace_seconds:g} s (--grace-seconds)", flush=True)
    if warning:
        print("WARNING: " + warning, flush=True)
    with tempfile.TemporaryDirectory(prefix="ocrlib-app-") as folder:
        notebook = Path(folder) / "Digit pad.ipynb"
        notebook.write_text(json.dumps(app_notebook(code, teaching=not args.read_only)))
        server = subprocess.Popen(voila_command(notebook, args), env=env)
        signal.signal(signal.SIGTERM, lambda *_: server.terminate())    # stopping the app stops the server
        try:
            return server.wait()
        except KeyboardInterrupt:                                       # Ctrl+C reaches the server too
            return server.wait()


if __name__ == "__main__":
    sys.exit(main())
