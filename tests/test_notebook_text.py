"""The notebooks' text as a learner reads it: every markdown cell rendered to HTML as nbconvert renders it.

nbval runs the code cells; these tests read the markdown cells. They fail on what a learner would see as
broken: more than one title, headings that skip a level, a cell turned into a column of headings by a
stray ``# `` on every line, formulas torn apart by the markdown parser, tables that do not become tables,
links to notebooks that do not exist, and a notebook without its exercises.
"""

import html
import re
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)          # display first, then inline
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


class Headings(HTMLParser):
    """Collects (level, text) of every <h1>..<h6> and the number of <table> elements in rendered HTML."""

    def __init__(self):
        super().__init__()
        self.headings, self.tables, self._open = [], 0, None

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self._open = [int(tag[1]), ""]
        elif tag == "table":
            self.tables += 1
        elif tag == "a" and self._open is not None:
            self._open.append("skip")                       # nbconvert's anchor link, the pilcrow

    def handle_data(self, data):
        if self._open is not None and self._open[-1] != "skip":
            self._open[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None and self._open[-1] == "skip":
            self._open.pop()
        elif re.fullmatch(r"h[1-6]", tag) and self._open is not None:
            self.headings.append((self._open[0], self._open[1].strip()))
            self._open = None


def rendered(path):
    """[(cell index, markdown source, parsed HTML)] for every markdown cell of the notebook."""
    cells = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "markdown":
            page = Headings()
            page.feed(markdown2html_mistune(cell.source))
            cells.append((index, cell.source, page))
    return cells


def ids(paths):
    return [p.name for p in paths]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5, f"expected the notebooks of the learning path, found {ids(NOTEBOOKS)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_one_title_first_then_headings_in_order(path):
    headings = [(index, level, text) for index, _, page in rendered(path) for level, text in page.headings]
    titles = [(index, text) for index, level, text in headings if level == 1]
    assert len(titles) == 1, f"{path.name}: expected one title (# heading), found {len(titles)}: {titles[:5]}"
    assert headings[0][1] == 1, f"{path.name}: the first heading must be the title, got {headings[0]}"
    for (_, previous, _), (index, level, text) in pairwise(headings):
        assert level <= previous + 1, (f"{path.name}, cell {index}: heading {text!r} is level {level} right "
                                       f"after a level {previous}; a level is skipped")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_no_cell_is_a_column_of_headings(path):
    for index, source, page in rendered(path):
        lines = [line for line in source.splitlines() if line.strip()]
        assert not (len(lines) > 1 and all(line.startswith("#") for line in lines)), (
            f"{path.name}, cell {index}: every line starts with '#', so every line renders as a heading: "
            f"{lines[:2]}")
        for level, text in page.headings:
            assert not text.startswith("#"), f"{path.name}, cell {index}: a heading shows a literal '#': {text!r}"
            assert len(text) <= 80, f"{path.name}, cell {index}: a sentence rendered as a heading: {text[:60]!r}..."


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_formulas_reach_the_page_whole(path):
    """MathJax finds a formula only if the markdown parser left it in one piece (no <em>, no lost backslash)."""
    for index, source, page in rendered(path):
        text = CODE.sub("", source)
        assert text.count("$$") % 2 == 0, f"{path.name}, cell {index}: an unclosed $$"
        html_text = markdown2html_mistune(source)
        for formula in MATH.findall(text):
            assert html.escape(formula, quote=False) in html_text, (
                f"{path.name}, cell {index}: the formula {formula[:60]!r} does not survive rendering")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_tables_render_as_tables(path):
    for index, source, page in rendered(path):
        rules = [line for line in source.splitlines() if re.match(r"\s*\|\s*:?-{3,}", line)]
        assert page.tables == len(rules), (f"{path.name}, cell {index}: {len(rules)} table(s) written, "
                                           f"{page.tables} rendered")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_links_to_notebooks_exist(path):
    for index, source, _ in rendered(path):
        for target in re.findall(r"\]\(([^)#]+\.ipynb)", source):
            assert (path.parent / target).exists(), f"{path.name}, cell {index}: link to missing {target}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_stored_outputs_show_no_stale_widgets_or_progress_bars(path):
    """Opened before it runs, a notebook shows what the stored outputs hold: no widget reprs, no 0% bars."""
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(output.get("text", "")) + "".join(data.get("text/plain", ""))
            assert "application/vnd.jupyter.widget-view+json" not in data, (
                f"{path.name}, cell {index}: a widget view without its state (run scripts/execute_notebooks.py)")
            assert not re.search(r"\w+\(children=\(|\b0%\|", text), (
                f"{path.name}, cell {index}: a widget's text form or a progress bar is stored: {text[:60]!r}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_ends_with_exercises_each_checked_and_solved(path):
    """3 to 5 exercises, each: the question with a solution in a collapsed <details> block, an answer cell that
    runs that same solution after two comment lines (so nbval checks it), and a check cell with assertions."""
    cells = nbformat.read(path, as_version=4).cells
    titles = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Exercises")]
    assert len(titles) == 1, f"{path.name}: expected one '## Exercises' section, found {len(titles)}"
    starts = [i for i, c in enumerate(cells) if i > titles[0] and c.cell_type == "markdown"
              and re.match(r"\*\*Exercise \d+\.\*\*", c.source)]
    assert 3 <= len(starts) <= 5, f"{path.name}: expected 3-5 exercises, found {len(starts)}"
    for number, i in enumerate(starts, start=1):
        question, answer, check = cells[i:i + 3]
        name = f"{path.name}, exercise {number}"
        assert question.source.startswith(f"**Exercise {number}.**"), f"{name}: numbered out of order"
        solution = re.search(r"<details><summary>Solution</summary>.*?```python\n(.*?)\n```\s*</details>",
                             question.source, re.DOTALL)
        assert solution, f"{name}: no solution in a collapsed <details> block"
        assert answer.cell_type == "code" and answer.source.split("\n", 2)[2] == solution.group(1), (
            f"{name}: the answer cell must run the solution shown under <details>")
        assert check.cell_type == "code" and check.source.startswith("# check") and "assert" in check.source, (
            f"{name}: no check cell (a code cell starting '# check' with an assertion) after the answer")
