"""Find the pen digits whose labels are shifted against their ink, and write them to ``data/pen_digits/flagged.csv``::

    python -m benchmarks.flag_pen_digits             # about 15 s: images, both pretrained networks, the search

From scratch: the digits go through the pad's path (``pen_digits_to_mnist(drawings, seed=0)``), both shipped
networks read them (``load_pretrained("mlp")`` and ``load_pretrained("convnet")``, trained independently), and
``shifted_runs`` looks, writer by writer, for runs of at least ``--min-run`` digits that both networks read as
their neighbour's label (see its docstring). Prints the runs and each network's accuracy on all digits and
without the flagged ones, overall and per site. ``ocrlib.pendigits.load_flags()`` reads the file back.
"""

import argparse
import csv
from pathlib import Path

import numpy as np

from ocrlib.paths import FLAGS_PATH
from ocrlib.pendigits import FLAG_COLUMNS, load_pen_digits, pen_digits_to_mnist, shifted_runs
from ocrlib.pretrained import load_pretrained

MODELS = ("mlp", "convnet")
OFFSETS = (1, -1, 2, -2, 3, -3)
# Segments cut from their digit: a bare stroke or a fragment under a digit's label, where a writer's run of
# segments slipped against the ink. Found by looking at every stretch of two or more consecutive digits that
# both networks misread (the script prints them as candidates); {index: what the ink shows, -1 for no digit}.
# The other candidates are real handwriting read wrong (crossed zeros, open 4s, 5s with a detached bar, looped
# 8s) and are not flagged.
CUT = {2253: -1, 2254: -1, 3933: -1, 4152: -1, 4154: -1, 4162: -1, 4322: 1, 4323: -1, 4414: 1}


def write_flags(path, rows):
    """The flags file: one row per flagged digit, columns ``FLAG_COLUMNS``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(FLAG_COLUMNS)
        out.writerows(rows)


def joint_misread_stretches(predicted, labels, writers, min_length=2):
    """(start, stop) of each stretch of >= ``min_length`` consecutive digits of one writer that every model misreads."""
    wrong = np.all([p != labels for p in predicted], axis=0)
    stretches, i = [], 0
    while i < len(labels):
        j = i
        while wrong[i] and j + 1 < len(labels) and wrong[j + 1] and writers[j + 1] == writers[i]:
            j += 1
        if wrong[i] and j - i + 1 >= min_length:
            stretches.append((i, j + 1))
        i = j + 1
    return stretches


def accuracy_table(predicted, labels, sources, kept):
    """Markdown: one row per site and one for all, each model's accuracy on all digits and on the kept ones."""
    head = " | ".join(f"{name} all | {name} kept" for name in predicted)
    lines = [f"| site | digits | flagged | {head} |", "|---|---|---|" + "---|---|" * len(predicted)]
    for site in sorted(set(sources.tolist())) + ["all"]:
        here = np.ones(len(labels), dtype=bool) if site == "all" else sources == site
        cells = " | ".join(f"{(p[here] == labels[here]).mean():.2%} | {(p[here & kept] == labels[here & kept]).mean():.2%}"
                           for p in predicted.values())
        lines.append(f"| {site} | {here.sum():,} | {(here & ~kept).sum()} | {cells} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FLAGS_PATH, help="the flags file to write (CSV)")
    parser.add_argument("--min-run", type=int, default=2, help="shortest run of shifted labels to flag")
    args = parser.parse_args(argv)

    drawings, labels, writers, sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings, seed=0)                     # (N, 28, 28)
    predicted = {name: load_pretrained(name).predict(images) for name in MODELS}     # each (N,)
    index, ink, run = shifted_runs(list(predicted.values()), labels, writers, min_run=args.min_run, offsets=OFFSETS)
    rows = {int(i): [int(i), writers[i], sources[i], int(labels[i]), int(k), int(r), "shifted"]
            for i, k, r in zip(index, ink, run)}
    next_run = int(run.max()) + 1 if len(run) else 0
    for i, shows in sorted(CUT.items()):
        if i not in rows:
            rows[i] = [i, writers[i], sources[i], int(labels[i]), shows, next_run, "cut"]
            next_run += 1
    write_flags(args.out, [rows[i] for i in sorted(rows)])
    index = np.array(sorted(rows), dtype=np.intp)
    run = np.array([rows[i][5] for i in index], dtype=np.intp)
    ink = np.array([rows[i][4] for i in index], dtype=np.intp)

    kept = np.ones(len(labels), dtype=bool)
    kept[index] = False
    print(f"{len(index)} digits flagged in {len(set(run.tolist()))} runs of {len(set(writers[index].tolist()))} "
          f"writers (min run {args.min_run}), written to {args.out}")
    for r in sorted(set(run.tolist())):
        here = index[run == r]
        print(f"  run {r}: {writers[here[0]]} digits {', '.join(map(str, here))}: labels "
              f"{''.join(map(str, labels[here]))}, ink shows {' '.join(map(str, ink[run == r]))}")
    print("Candidates looked at (stretches of digits both networks misread):")
    for start, stop in joint_misread_stretches(list(predicted.values()), labels, writers):
        print(f"  {writers[start]} digits {start}-{stop - 1}: labels {''.join(map(str, labels[start:stop]))}, read "
              + ", ".join(''.join(map(str, p[start:stop])) for p in predicted.values()))
    print(accuracy_table(predicted, labels, sources, kept))


if __name__ == "__main__":
    main()
