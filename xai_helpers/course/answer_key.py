"""The answer key of an assignment: its solutions as the build ran them (seed 0), and where in that run each number a
model answer quotes was printed.

A model answer quotes a number from the run as a Markdown code span (`` `0.63` ``, `` `98 %` ``, `` `179` ``); a
number it states without one (a sample size it chose, a year, a prediction's guess) is not looked up. The build
keeps the notebook otter executed to check the solutions (``otter_kernels.EXECUTED_ENV``), reduced to the autograder
notebook's own cells, and looks each quoted number up in the run's text outputs. A quoted number the run did not
print (a model answer gone stale, or another machine's floats: the course's models are trained with one thread
everywhere, but other processors and library versions may round differently) is named on the terminal and marked
in the instructor's pack, next to the run that shows this build's value; the course's tests require every quote to
be found. Without this, the numbers the model answers assert were checked by nothing.
"""
from __future__ import annotations

import base64
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .masters import Question

#: The machine the model answers' quoted numbers were measured on (:func:`this_machine`). Another processor or
#: torch build may round differently in training, and print other digits: the pack then says so, and the course's
#: tests require every quote found only on this machine.
QUOTES_MEASURED_ON = "x86_64 AuthenticAMD AVX512 torch 2.14.1"

#: The first letter of a prediction's name (``p1``): its model answer is checked against the run after it first.
PREDICTION_PREFIX = "p"

#: Under course/dist/instructor/NAME/: the notebook otter ran to check the solutions, with its outputs.
ANSWER_KEY = "answer-key.ipynb"
SOLUTION_TAG = "otter_assign_solution_cell"
#: A number quoted from the run in a model answer: a code span holding a number, with an optional percent sign.
_QUOTED = re.compile(r"`(-?\d+(?:\.\d+)?)(\s?%)?`")
#: A code span that looks like a number: one the pattern above cannot read (``1,024``, ``6.9e-04``) is refused.
_NUMBERISH = re.compile(r"`([-+]?[\d.,]*\d[\d.,]*(?:[eE][-+]?\d+)?\s?%?)`")
#: A number in an output line, ``1,024`` read as one number; a percent sign after it makes it a percentage.
_PRINTED = re.compile(r"(?<![\w.,])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?(?:\s?%)?")

_OTTER_LOG = re.compile(r"\[(DEBUG|INFO) otter\.")


@dataclass
class Quote:
    """A number a model answer quotes (``text`` as written) and the output line of the run that shows it."""
    text: str
    cell: int | None = None  # the key's cell number (from 1) whose output shows it; None: not printed by the run
    line: str = ""
    count: int | None = None  # that cell's execution count in the run (JupyterLab's ``[n]``)


@dataclass
class WrittenKey:
    """What the run gives a written question: its quotes located, and the figures drawn since the previous one."""
    question: str
    quotes: list[Quote] = field(default_factory=list)
    figures: list[tuple[int, bytes]] = field(default_factory=list)  # (cell number from 1, PNG)


def this_machine() -> str:
    """What a run's floats depend on besides the code: architecture, processor vendor, torch's CPU capability (the
    vector instructions its kernels use) and torch's version."""
    import platform

    import torch

    info = Path("/proc/cpuinfo")
    vendors = [line.split(":", 1)[1].strip() for line in (info.read_text().splitlines() if info.is_file() else [])
               if line.startswith("vendor_id")]
    return (f"{platform.machine()} {vendors[0] if vendors else 'unknown'} {torch.backends.cpu.get_cpu_capability()} "
            f"torch {torch.__version__.split('+')[0]}")


def key_notebook(executed: nbformat.NotebookNode, autograder: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The autograder notebook's cells with the outputs they had in ``executed``. otter's grading adds cells of its
    own (told apart by their ids), puts ``SEED = ...`` at the top of every code cell and logs each check at debug
    level: the key keeps the cells as written and drops otter's log lines."""
    ran = {cell.get("id"): cell for cell in executed.cells if cell.get("id")}
    key = nbformat.v4.new_notebook(metadata=autograder.metadata)
    for cell in autograder.cells:
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code" and cell.get("id") and cell.get("id") in ran:
            cell.outputs = [_without_otter_log(output) for output in ran[cell.id].get("outputs", [])]
            cell.execution_count = ran[cell.id].get("execution_count")
        key.cells.append(cell)
    return key


def quoted(answer: str) -> list[str]:
    """The numbers a model answer quotes from the run, as written (``"0.63"``, ``"98 %"``)."""
    return [number + (percent or "") for number, percent in _QUOTED.findall(answer)]


def unreadable_quotes(question: Question) -> list[str]:
    """Code spans of a written question's model answer that look like numbers but cannot be looked up (``1,024``,
    ``6.9e-04``): the build refuses them by name before anything runs."""
    if not question.manual:
        return []
    return [f"{question.name}: the model answer's `{span}` is not a number the answer key can look up: write it as "
            "a plain decimal (`1024`, `0.00069`), with ` %` for a percentage"
            for span in _NUMBERISH.findall(question.solution) if not _QUOTED.fullmatch(f"`{span}`")]


def locate(quote: str, cells: list, at: int | None = None, *, ahead_first: bool = False) -> Quote:
    """``quote`` looked up in the text outputs of ``cells``: found where a printed number rounds to it at the
    quote's precision (half up), read in the quote's unit (``98 %`` matches a printed ``0.981``, ``0.06`` a printed
    ``6 %``); a whole-number quote (``179``) matches only that whole number as printed. ``at`` is the index of the
    model answer's cell: the search goes back from the cell before it to the first, then on from it (an answer
    quotes what it has just seen), or the other way round with ``ahead_first`` (a prediction, checked by what comes
    after it). The last matching line of the first cell that has one is shown (a cell prints its result last)."""
    at = len(cells) if at is None else at
    behind, ahead = list(range(at - 1, -1, -1)), list(range(at, len(cells)))
    for index in (ahead + behind if ahead_first else behind + ahead):
        lines = [line.strip() for line in _output_lines(cells[index])
                 if any(_rounds_to(printed, quote) for printed in _PRINTED.findall(line))]
        if lines:
            return Quote(quote, index + 1, lines[-1], cells[index].get("execution_count"))
    return Quote(quote)


def _rounds_to(printed: str, quote: str) -> bool:
    """Whether ``printed`` (``0.9800000190734863``, ``6 %``, ``6.9e-04``, ``1,024``), read in ``quote``'s unit, is
    ``quote`` at its precision. A printed whole number is never read as a fraction (``seed 0`` is no ``0 %``)."""
    percent, shown_percent = quote.endswith("%"), printed.endswith("%")
    wanted = Decimal(quote.rstrip(" %"))
    shown = Decimal(printed.rstrip(" %").replace(",", ""))
    whole = not re.search(r"[.eE]", printed.rstrip(" %"))
    if percent != shown_percent:
        if whole and not shown_percent:
            return False
        shown = shown.scaleb(2) if percent else shown.scaleb(-2)
    if "." not in quote and not percent:
        return whole and shown == wanted
    try:
        return shown.quantize(Decimal(1).scaleb(wanted.as_tuple().exponent), rounding=ROUND_HALF_UP) == wanted
    except InvalidOperation:  # more digits than a Decimal holds: far from any quote
        return False


def written_keys(questions: list[Question], key: nbformat.NotebookNode) -> list[WrittenKey]:
    """For each written question, in order: its quotes looked up in the run's outputs (:func:`locate`, from its
    model answer's place, ahead first for a prediction), and the figures of the cells between the previous written
    question's model answer and its own."""
    answers = [k for k, cell in enumerate(key.cells)
               if cell.cell_type == "markdown" and SOLUTION_TAG in cell.metadata.get("tags", [])]
    written = [q for q in questions if q.manual]
    if len(answers) != len(written):
        raise ValueError(f"the executed notebook has {len(answers)} written model answers, the master "
                         f"{len(written)} written questions")
    keys, start = [], 0
    for question, end in zip(written, answers):
        ahead_first = question.name.startswith(PREDICTION_PREFIX)
        quotes = [locate(q, key.cells, end, ahead_first=ahead_first) for q in quoted(question.solution)]
        keys.append(WrittenKey(question.name, quotes,
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
