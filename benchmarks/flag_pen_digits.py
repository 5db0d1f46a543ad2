"""Find the pen digits whose ink does not show their label, and compare them with ``data/pen_digits/flagged.csv``::

    python -m benchmarks.flag_pen_digits            # about 20 s: prints the runs, then same or what differs
    python -m benchmarks.flag_pen_digits --write    # rewrites data/pen_digits/flagged.csv

From scratch: the digits go through the pad's path (``pen_digits_to_mnist(drawings, seed=0)``); three readers
read them, trained apart: the shipped MLP, the shipped ConvNet, and each digit's 5 nearest digits of other
writers (``nearest_neighbour_reading``); ``find_mislabelled`` weighs the evidence (see its docstring and
``data/pen_digits/README.md``). ``SEEN`` adds the few digits that are no digit at all, found by looking at the
digits both networks misread. Prints the runs as a Markdown table, the digits that held one piece of evidence
only (looked at, not flagged), and both networks' accuracy per site on all digits and without the flagged.
``ocrlib.pendigits.load_flags()`` reads the file back as a mask.
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from ocrlib.paths import FLAGS_PATH
from ocrlib.pendigits import (
    EVIDENCE,
    FLAG_COLUMNS,
    find_mislabelled,
    flag_runs,
    load_pen_digits,
    nearest_neighbour_reading,
    pen_digits_to_mnist,
)
from ocrlib.pretrained import load_pretrained

NETWORKS = ("mlp", "convnet")
# No digit at all, under a digit's label: found by looking at the digits both networks misread that hold one
# piece of evidence only. {index: what the ink shows}
SEEN = {2253: "a percent sign", 2254: "a closing parenthesis", 7054: "a bar and an upright"}


def flag_rows(labels, writers, sources, flagged, evidence, ink):
    """The flags file's rows, ``FLAG_COLUMNS``, in file order: the found digits and ``SEEN``."""
    flagged = flagged.copy()
    flagged[list(SEEN)] = True
    run = flag_runs(flagged, writers)
    rows = []
    for i in np.flatnonzero(flagged):
        reason = "seen" if i in SEEN else "+".join(name for name in EVIDENCE if evidence[name][i])
        shows = -1 if i in SEEN else int(ink[i])
        rows.append([str(i), writers[i], sources[i], str(labels[i]), str(shows), str(run[i]), reason])
    return rows


def read_rows(path):
    """The rows of a flags file, as strings, without its header ([] when there is no file)."""
    if not Path(path).is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f)][1:]


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(FLAG_COLUMNS)
        out.writerows(rows)


def runs_table(rows):
    """Markdown: one line per run: writer, site, digits, their labels, what the readers agree the ink shows."""
    lines = ["| run | site | writer | digits | labels | readers agree on | evidence |", "|---|---|---|---|---|---|---|"]
    for run in dict.fromkeys(row[5] for row in rows):
        here = [row for row in rows if row[5] == run]
        shows = ", ".join("—" if row[4] == "-1" else row[4] for row in here)
        lines.append(f"| {run} | {here[0][2]} | {Path(here[0][1]).stem} | {', '.join(row[0] for row in here)} | "
                     f"{', '.join(row[3] for row in here)} | {shows} | {'; '.join(row[6] for row in here)} |")
    return "\n".join(lines)


def accuracy_table(predicted, labels, sources, kept):
    """Markdown: one row per site and one for all, each network's accuracy on all digits and without the flagged."""
    head = " | ".join(f"{name} all | {name} without" for name in predicted)
    lines = [f"| site | digits | flagged | {head} |", "|---|---|---|" + "---|---|" * len(predicted)]
    for site in sorted(set(sources.tolist())) + ["all"]:
        here = np.ones(len(labels), dtype=bool) if site == "all" else sources == site
        cells = " | ".join(f"{(p[here] == labels[here]).mean():.2%} | "
                           f"{(p[here & kept] == labels[here & kept]).mean():.2%}" for p in predicted.values())
        lines.append(f"| {site} | {here.sum():,} | {(here & ~kept).sum()} | {cells} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flag_pen_digits", description=__doc__.split("::")[0])
    parser.add_argument("--flags", type=Path, default=FLAGS_PATH, help="the flags file to compare with or write")
    parser.add_argument("--write", action="store_true", help="write the flags file instead of comparing")
    args = parser.parse_args(argv)

    drawings, labels, writers, sources = load_pen_digits()
    images = pen_digits_to_mnist(drawings, seed=0)                                   # (N, 28, 28)
    predicted = {name: load_pretrained(name).predict(images) for name in NETWORKS}  # each (N,)
    readings = np.stack([*predicted.values(), nearest_neighbour_reading(images, labels, writers)])   # (3, N)
    flagged, evidence, ink = find_mislabelled(readings, labels, writers, images, drawings)
    rows = flag_rows(labels, writers, sources, flagged, evidence, ink)

    index = np.array([int(row[0]) for row in rows], dtype=np.intp)
    print(f"{len(rows)} digits flagged ({len(rows) - len(SEEN)} found, {len(SEEN)} seen) of "
          f"{len(set(writers[index].tolist()))} writers, in {len({row[5] for row in rows})} runs:\n")
    print(runs_table(rows))
    misread = (readings[:2] != labels).all(axis=0)
    pieces = np.sum([evidence[name] for name in EVIDENCE], axis=0)
    alone = np.flatnonzero(misread & (pieces >= 1) & ~np.isin(np.arange(len(labels)), index))
    print(f"\nMisread by both networks with one piece of evidence, not flagged ({len(alone)}):")
    for name in EVIDENCE:
        these = alone[evidence[name][alone]]
        if len(these):
            print(f"  {name} ({len(these)}): " + ", ".join(f"{i} ({sources[i]} {labels[i]}->{ink[i] if ink[i] >= 0 else '?'})"
                                                          for i in these))
    kept = np.ones(len(labels), dtype=bool)
    kept[index] = False
    print("\n" + accuracy_table(predicted, labels, sources, kept) + "\n")

    if args.write:
        write_rows(args.flags, rows)
        print(f"Written to {args.flags}.")
        return 0
    before = read_rows(args.flags)
    if before == rows:
        print(f"Same as {args.flags}.")
        return 0
    old, new = {tuple(row) for row in before}, {tuple(row) for row in rows}
    for row in sorted(old - new, key=lambda r: int(r[0])):
        print(f"  only in {args.flags}: {','.join(row)}")
    for row in sorted(new - old, key=lambda r: int(r[0])):
        print(f"  only found now: {','.join(row)}")
    print(f"Differs from {args.flags}; --write rewrites it.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
