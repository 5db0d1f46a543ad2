"""Do the tests catch wrong math? Apply deliberate bugs to ocrlib, one at a time, and see which tests fail.

    python scripts/mutation_check.py            # every mutant; prints a table, mutant by mutant
    python scripts/mutation_check.py 3 7        # only mutants 3 and 7 (numbers from the table)

Each mutant is one small edit to one file of ``ocrlib`` (a flipped sign, a missing term, a wrong axis ...),
made in a temporary copy of the package, never in the working tree. The copy comes first on PYTHONPATH, so
the library tests and the notebooks (run by nbval, whose kernels inherit PYTHONPATH) import it. Each mutant
runs only the tests and notebooks that exercise the code it changes, so that the whole check takes minutes.
First the same tests run on an unchanged copy: they must pass, or a failure would mean nothing.

A mutant is *caught* when at least one of its tests fails. Every mutant must be caught; the script exits
with status 1 if one is not.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NB = "notebooks/"

# (what the bug is, file in ocrlib, the exact text, what it becomes, the tests that should catch it)
MUTANTS = [
    ("backward: the output error's sign flipped, (Y - p) / N",
     "network.py", "delta = (p - one_hot(y, p.shape[1]).astype(p.dtype)) / len(p)",
     "delta = (one_hot(y, p.shape[1]).astype(p.dtype) - p) / len(p)",
     ["tests/test_network.py", NB + "03_backprop.ipynb"]),
    ("backward: the gradient averaged over the 10 classes instead of the N examples",
     "network.py", "delta = (p - one_hot(y, p.shape[1]).astype(p.dtype)) / len(p)",
     "delta = (p - one_hot(y, p.shape[1]).astype(p.dtype)) / p.shape[1]",
     ["tests/test_network.py", NB + "03_backprop.ipynb"]),
    ("backward: the bias gradient averaged over the batch, not summed",
     "network.py", "db[l] = delta.sum(axis=0)", "db[l] = delta.mean(axis=0)",
     ["tests/test_network.py", NB + "03_backprop.ipynb"]),
    ("ReLU's derivative 1 at a = 0 too, [a >= 0]",
     "activations.py", "return (a > 0).astype(a.dtype)", "return (a >= 0).astype(a.dtype)",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("sigmoid's derivative a (1 + a)",
     "activations.py", "return a * (1 - a)", "return a * (1 + a)",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("softmax without its max-shift",
     "network.py", "e = np.exp(z - z.max(axis=-1, keepdims=True))", "e = np.exp(z)",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("softmax: off by one in the denominator",
     "network.py", "return e / e.sum(axis=-1, keepdims=True)", "return e / (e.sum(axis=-1, keepdims=True) + 1)",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("cross-entropy summed over the batch instead of averaged",
     "network.py", "return float(-np.mean(np.log(picked)))", "return float(-np.sum(np.log(picked)))",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("ReLU layers started at sqrt(1/n_in) instead of He's sqrt(2/n_in)",
     "network.py", 'std = math.sqrt((2.0 if activation == "relu" else 1.0) / n_in)', "std = math.sqrt(1.0 / n_in)",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("the output layer started at sqrt(1/n_in) instead of Glorot's",
     "network.py", "std = math.sqrt(2.0 / (n_in + n_out))", "std = math.sqrt(1.0 / n_in)",
     ["tests/test_network.py", NB + "02_forward_pass.ipynb"]),
    ("pixels not scaled by 1/255",
     "checks.py", "return X.reshape(-1, n_in).astype(dtype) / dtype.type(255)",
     "return X.reshape(-1, n_in).astype(dtype)",
     ["tests/test_network.py", NB + "01_the_data.ipynb"]),
    ("fit: no momentum on the biases",
     "fastpath.py", "self._update(self.biases[l], self.velocity[L + l], db, momentum)",
     "self._update(self.biases[l], self.velocity[L + l], db, 0.0)",
     ["tests/test_fastpath.py", NB + "04_training.ipynb"]),
    ("fit: the velocity never decays (v = v - step)",
     "fastpath.py", "        velocity *= momentum\n", "",
     ["tests/test_fastpath.py", NB + "04_training.ipynb"]),
    ("fit: softmax without its max-shift",
     "fastpath.py", "p -= p.max(axis=1, keepdims=True)", "pass",
     ["tests/test_fastpath.py", NB + "04_training.ipynb"]),
    ("fit: the step not divided by the batch size",
     "fastpath.py", "delta *= lr / m", "delta *= lr",
     ["tests/test_fastpath.py", NB + "04_training.ipynb"]),
    ("train_on_instance: the bias step with the wrong sign",
     "network.py", "steps.append((l, W_new, b[l] - delta))", "steps.append((l, W_new, b[l] + delta))",
     ["tests/test_network.py", NB + "03_backprop.ipynb"]),
    ("the cosine schedule one epoch ahead",
     "network.py", "math.cos(math.pi * epoch / epochs)", "math.cos(math.pi * (epoch + 1) / epochs)",
     ["tests/test_network.py", NB + "06_learning_rate_and_momentum.ipynb"]),
]


def mutated_copy(destination, file, old, new):
    """ocrlib copied into ``destination`` with ``old`` replaced by ``new`` in ``file``; data/ linked beside it."""
    package = destination / "ocrlib"
    shutil.copytree(ROOT / "ocrlib", package, ignore=shutil.ignore_patterns("__pycache__"))
    data = destination / "data"
    data.mkdir()
    for entry in (ROOT / "data").iterdir():
        if entry.name != "taught":                    # a mutant's tests must not write into the real store
            (data / entry.name).symlink_to(entry)
    (data / "taught").mkdir()
    if file is not None:
        path = package / file
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"mutant text not found exactly once in ocrlib/{file}: {old!r} "
                             f"(found {text.count(old)} times); update MUTANTS to the code as it is now")
        path.write_text(text.replace(old, new))


def run_tests(copy_dir, tests):
    """(ok, names of the failed tests) for pytest (with nbval for notebooks) run against the copy."""
    env = dict(os.environ, PYTHONPATH=str(copy_dir), OCRLIB_TAUGHT_PATH=str(copy_dir / "data" / "taught" / "t.npz"))
    # run from the copy's folder: ``python -m`` puts the working directory first on sys.path
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                             "--rootdir", str(ROOT), "-o", "addopts=", "-rf", *(str(ROOT / t) for t in tests)],
                            check=False, cwd=copy_dir, env=env, capture_output=True, text=True)
    failed = re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", result.stdout, re.MULTILINE)
    return result.returncode == 0, failed


def caught_by(failed):
    """Failed test ids grouped by file: '03_backprop.ipynb: cells 5, 11; test_network.py: test_backward (3 cases)'."""
    by_file = {}
    for test_id in failed:
        file, _, name = test_id.split("/")[-1].partition("::")
        by_file.setdefault(file, []).append(re.sub(r"\[.*\]$", "", name))    # one name for all parameter sets
    parts = []
    for file, names in sorted(by_file.items()):
        if file.endswith(".ipynb"):
            cells = sorted({int(n.split()[-1]) for n in names if n.split()[-1].isdigit()})
            parts.append(f"{file}: cell{'s' if len(cells) > 1 else ''} {', '.join(map(str, cells))}")
        else:
            counts = {n: names.count(n) for n in dict.fromkeys(names)}
            shown = [f"{n} ({k} cases)" if k > 1 else n for n, k in counts.items()]
            parts.append(f"{file}: {', '.join(shown[:2])}" + (f" and {len(shown) - 2} more" if len(shown) > 2 else ""))
    return "; ".join(parts)


def check_copy_imports(copy_dir):
    env = dict(os.environ, PYTHONPATH=str(copy_dir))
    found = subprocess.run([sys.executable, "-c", "import ocrlib; print(ocrlib.__file__)"], env=env, cwd=copy_dir,
                           capture_output=True, text=True, check=True).stdout.strip()
    if not found.startswith(str(copy_dir)):
        raise SystemExit(f"the copy is not what Python imports: ocrlib comes from {found}")


def main(selected):
    chosen = [(number, m) for number, m in enumerate(MUTANTS, start=1) if not selected or number in selected]
    with tempfile.TemporaryDirectory() as tmp:                 # every mutant's text is there, before any test runs
        for number, (_, file, old, new, _) in chosen:
            shutil.rmtree(tmp, ignore_errors=True)
            Path(tmp).mkdir()
            mutated_copy(Path(tmp), file, old, new)
    all_tests = sorted({t for _, m in chosen for t in m[4]})
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean"
        clean.mkdir()
        mutated_copy(clean, None, None, None)
        check_copy_imports(clean)
        ok, failed = run_tests(clean, all_tests)
        if not ok:
            raise SystemExit(f"the tests fail without any mutant, so a mutant's failure would mean nothing: {failed}")
    print(f"unchanged copy: {len(all_tests)} test files and notebooks pass\n")
    print("| # | mutant | file | caught by |")
    print("|---|---|---|---|")
    missed = []
    for number, (name, file, old, new, tests) in chosen:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp)
            mutated_copy(copy, file, old, new)
            ok, failed = run_tests(copy, tests)
        if ok:
            missed.append(name)
            caught = "**NOT CAUGHT**"
        else:
            caught = caught_by(failed) or "(pytest stopped before any test: an import error)"
        print(f"| {number} | {name} | `{file}` | {caught} |", flush=True)
        print(f"    ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    print(f"\n{len(chosen) - len(missed)} of {len(chosen)} mutants caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main({int(a) for a in sys.argv[1:]}))
