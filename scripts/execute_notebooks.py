"""Re-execute the notebooks as they are stored for nbval: each from a fresh kernel, top to bottom.

    python scripts/execute_notebooks.py                 # every notebooks/*.ipynb
    python scripts/execute_notebooks.py notebooks/04_training.ipynb

Widget state (the live canvas and sliders) is not stored: it is large, and it only means something
in a running kernel. Where a cell displayed a widget, the stored notebook shows a one-line hint instead of
the widget's text form (``interactive(children=(FloatLogSlider(...``), which is all a reader would see.
A script a widget displays beside itself (the pad's keyboard fix) is left out with it: in a notebook that is
only read, it would show as ``<IPython.core.display.Javascript object>``.
"""

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
WIDGET = "application/vnd.jupyter.widget-view+json"
SCRIPT = "application/javascript"
HINT = "A live widget goes here: run this cell in Jupyter to use it."


def widget_hint(output):
    """A widget's output as stored: the hint, in place of a view of a model the file does not hold."""
    if WIDGET not in output.get("data", {}):
        return output
    return nbformat.v4.new_output("display_data", data={"text/markdown": f"*{HINT}*", "text/plain": HINT})


def execute(path):
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                    str(path)], check=True, cwd=ROOT / "notebooks")
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [widget_hint(output) for output in cell.outputs if SCRIPT not in output.get("data", {})]
    nbformat.write(nb, path)
    print(f"{path.relative_to(ROOT)}: executed, {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    paths = [Path(p).resolve() for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        execute(path)
