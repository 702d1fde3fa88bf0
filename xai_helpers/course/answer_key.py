"""The answer key of an assignment: its solutions as the build ran them (seed 0), and where in that run each number a
model answer quotes was printed.

A model answer quotes a number from the run as a Markdown code span (`` `0.63` ``, `` `98 %` ``, `` `179` ``); every
other number in it (a sample size, a year, a prediction) is prose. The build keeps the notebook otter executed to
check the solutions (``otter_kernels.EXECUTED_ENV``), reduced to the autograder notebook's own cells, and looks each
quoted number up in the run's text outputs. A quoted number the run did not print (a model answer gone stale, or
another machine's floats: the course's models are trained with one thread everywhere, but other processors and
library versions round differently) is named on the terminal and marked in the instructor's pack, next to the run
that shows this build's value; the course's tests require every quote to be found. Without this, the numbers the
model answers assert were checked by nothing.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .masters import Question

#: Under course/dist/instructor/NAME/: the notebook otter ran to check the solutions, with its outputs.
ANSWER_KEY = "answer-key.ipynb"
SOLUTION_TAG = "otter_assign_solution_cell"
#: A number quoted from the run in a model answer: a code span holding a number, with an optional percent sign.
_QUOTED = re.compile(r"`(-?\d+(?:\.\d+)?)(\s?%)?`")
#: A number in an output line (a percent sign after it, with or without a space, makes it a percentage).
_PRINTED = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s?%)?")

_OTTER_LOG = re.compile(r"\[(DEBUG|INFO) otter\.")


@dataclass
class Quote:
    """A number a model answer quotes (``text`` as written) and the output line of the run that shows it."""
    text: str
    cell: int | None = None  # the key's cell number (from 1) whose output shows it; None: not printed by the run
    line: str = ""


@dataclass
class WrittenKey:
    """What the run gives a written question: its quotes located, and the figures drawn since the previous one."""
    question: str
    quotes: list[Quote] = field(default_factory=list)
    figures: list[tuple[int, bytes]] = field(default_factory=list)  # (cell number from 1, PNG)


def key_notebook(executed: nbformat.NotebookNode, autograder: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The autograder notebook's cells with the outputs they had in ``executed``. otter's grading adds cells of its
    own (told apart by their ids), puts ``SEED = ...`` at the top of every code cell and logs each check at debug
    level: the key keeps the cells as written and drops otter's log lines."""
    ran = {cell.get("id"): cell for cell in executed.cells}
    key = nbformat.v4.new_notebook(metadata=autograder.metadata)
    for cell in autograder.cells:
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code" and cell.get("id") in ran:
            cell.outputs = [_without_otter_log(output) for output in ran[cell.id].get("outputs", [])]
            cell.execution_count = ran[cell.id].get("execution_count")
        key.cells.append(cell)
    return key


def quoted(answer: str) -> list[str]:
    """The numbers a model answer quotes from the run, as written (``"0.63"``, ``"98 %"``)."""
    return [number + (percent or "") for number, percent in _QUOTED.findall(answer)]


def locate(quote: str, cells: list, at: int | None = None) -> Quote:
    """``quote`` looked up in the text outputs of ``cells``: found where a printed number rounds to it at its own
    precision, read in the quote's unit (``98 %`` matches a printed ``0.981``, ``0.06`` a printed ``6 %``), the
    closest such number in the first cell that has one. The search starts at cell ``at`` (the model answer's place) and goes back to the first cell, then on from ``at``:
    an answer quotes what it has just seen, a prediction what comes after it."""
    at = len(cells) if at is None else at
    percent = quote.endswith("%")
    value = float(quote.rstrip(" %"))
    tolerance = 0.5 * 10 ** -len(quote.rstrip(" %").partition(".")[2]) + 1e-9 * max(1.0, abs(value))
    for index in [*range(at - 1, -1, -1), *range(at, len(cells))]:
        matches = []  # (distance, -line number, line) of this cell's printed numbers that round to the quote
        for number, line in enumerate(_output_lines(cells[index])):
            for printed in _PRINTED.findall(line):
                shown = float(printed.rstrip(" %"))
                if printed.endswith("%") != percent:  # compare in the quote's unit
                    shown = shown * 100 if percent else shown / 100
                if abs(shown - value) <= tolerance:
                    matches.append((abs(shown - value), -number, line.strip()))
        if matches:  # the closest value; of equals the last line (a cell prints its result last)
            return Quote(quote, index + 1, min(matches)[2])
    return Quote(quote)


def written_keys(questions: list[Question], key: nbformat.NotebookNode) -> list[WrittenKey]:
    """For each written question, in order: its quotes looked up in the run's outputs (:func:`locate`, from its
    model answer's place), and the figures of the cells between the previous written
    question's model answer and its own."""
    answers = [k for k, cell in enumerate(key.cells)
               if cell.cell_type == "markdown" and SOLUTION_TAG in cell.metadata.get("tags", [])]
    written = [q for q in questions if q.manual]
    if len(answers) != len(written):
        raise ValueError(f"the executed notebook has {len(answers)} written model answers, the master "
                         f"{len(written)} written questions")
    keys, start = [], 0
    for question, end in zip(written, answers):
        keys.append(WrittenKey(question.name, [locate(q, key.cells, end) for q in quoted(question.solution)],
                               [(k + 1, png) for k in range(start, end) for png in _pngs(key.cells[k])]))
        start = end
    return keys


def quote_problems(name: str, keys: list[WrittenKey]) -> list[str]:
    """The quotes the run did not print, named with their question."""
    return [f"{name} {k.question.upper()}'s model answer quotes `{q.text}`, which no output of the run shows"
            for k in keys for q in k.quotes if q.cell is None]


def write_figures(keys: list[WrittenKey], folder: Path) -> dict[tuple[int, int], Path]:
    """Each figure as ``folder/cell-<N>-<k>.png``; returns ``{(cell, k): path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, count = {}, {}
    for key in keys:
        for cell, png in key.figures:
            count[cell] = count.get(cell, 0) + 1
            path = folder / f"cell-{cell}-{count[cell]}.png"
            path.write_bytes(png)
            paths[(cell, count[cell])] = path
    return paths


def _without_otter_log(output):
    if output.get("output_type") == "stream":
        output = nbformat.from_dict(dict(output))
        output.text = "".join(line for line in output.text.splitlines(keepends=True) if not _OTTER_LOG.match(line))
    return output


def _output_lines(cell) -> list[str]:
    lines = []
    for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
        if output.output_type == "stream":
            lines += output.text.splitlines()
        elif "data" in output and "text/plain" in output.data:
            lines += output.data["text/plain"].splitlines()
    return lines


def _pngs(cell) -> list[bytes]:
    if cell.cell_type != "code":
        return []
    return [base64.b64decode(output.data["image/png"]) for output in cell.get("outputs", [])
            if "data" in output and "image/png" in output.data]
