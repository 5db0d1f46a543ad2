"""The drawing pad as a web page of its own, served by Voila.

    python -m ocrlib.app [--port 8866] [--no-browser] [--taught data/taught/taught.npz]

Opens http://127.0.0.1:8866/ with only the pad: draw a digit, see what the network sees, teach it.
Taught drawings go to ``--taught`` (or env ``OCRLIB_TAUGHT_PATH``, else ``data/taught/taught.npz``).
Stop the server with Ctrl+C.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

APP_CELLS = [
    ("markdown", ("## Draw a digit\n"
                  "Draw with the mouse or a finger. The network reads the 28x28 image on the right; "
                  "if it is wrong, tell it which digit you drew.")),
    ("code", "from ocrlib.widget import DigitPad\n\nDigitPad()"),
]


def app_notebook():
    """The one-page app as a notebook (nbformat 4) for Voila to run."""
    cells = []
    for n, (kind, source) in enumerate(APP_CELLS):
        cell = {"cell_type": kind, "id": f"cell-{n}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def main(argv=None):
    parser = argparse.ArgumentParser(description="Serve the digit drawing pad as a web page (Voila).")
    parser.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default 8866)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--taught", type=Path, help="dataset file for taught drawings")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    # One drawing at a time is far too little work to share between BLAS threads; waking them costs more
    # (milliseconds on a busy machine) than the whole forward pass.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    if args.taught is not None:
        env["OCRLIB_TAUGHT_PATH"] = str(args.taught.resolve())
    with tempfile.TemporaryDirectory(prefix="ocrlib-app-") as folder:
        notebook = Path(folder) / "Digit pad.ipynb"
        notebook.write_text(json.dumps(app_notebook()))
        command = [sys.executable, "-m", "voila", str(notebook), f"--port={args.port}", "--Voila.ip=127.0.0.1"]
        if args.no_browser:
            command.append("--no-browser")
        server = subprocess.Popen(command, env=env)
        signal.signal(signal.SIGTERM, lambda *_: server.terminate())    # stopping the app stops the server
        try:
            return server.wait()
        except KeyboardInterrupt:                                       # Ctrl+C reaches the server too
            return server.wait()


if __name__ == "__main__":
    sys.exit(main())
