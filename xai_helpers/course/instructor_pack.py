"""The instructor's pack of an assignment, written by the build to ``course/dist/instructor/<NAME>.md``: the marks
(each question's points, autograded or written, its public and hidden tests), and each written question's prompt,
model answer and rubric, with the commands that grade a class. Never handed to students: it holds the answers."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .answer_key import ANSWER_KEY, QUOTES_MEASURED_ON, WrittenKey
from .masters import Question

#: Under course/dist/: the instructor's pack per assignment.
PACK_FOLDER = "instructor"


def instructor_pack(name: str, questions: list[Question], commit: str, keys: Sequence[WrittenKey] = (),
                    figures: dict[tuple[int, int], Path] | None = None, machine: str = "") -> str:
    """The pack of assignment ``name`` (its master read by :func:`~.masters.read_master`), as Markdown; with the
    answer key's ``keys`` (:func:`~.answer_key.written_keys`) and ``figures`` (``{(cell, k): path}`` relative to the
    pack), each written question shows where the run printed what its model answer quotes, and the figures drawn
    before it; ``machine`` (:func:`~.answer_key.this_machine`) is named beside the one the quotes were measured on."""
    total = sum(q.points for q in questions)
    written = sum(q.points for q in questions if q.manual)
    lines = [f"# {name} · instructor's pack", "",
             f"Built from commit `{commit}`. Not for students: it holds the model answers and the hidden tests' names.",
             "", "## Marks", "",
             "| question | graded | points | public tests (points) | hidden tests (points) |", "|---|---|---|---|---|"]
    for q in questions:
        if q.manual:
            lines.append(f"| {q.name.upper()} | written, by the rubric below | {q.points:g} | | |")
            continue
        public = [t for t in q.tests if not t.hidden]
        hidden = [t for t in q.tests if t.hidden]
        lines.append(f"| {q.name.upper()} | autograded | {q.points:g} | {_tests(public)} | {_tests(hidden)} |")
    share = f"{written / total:.0%}" if total else "0 %"
    lines += ["", f"Total {total:g} points: {total - written:g} autograded, {written:g} written ({share}).", ""]
    lines += ["## Written questions", ""]
    if machine:
        lines += [f"This build ran on {machine}; the model answers' numbers were measured on {QUOTES_MEASURED_ON}"
                  + ("." if machine == QUOTES_MEASURED_ON else ": on another processor or torch build some digits may "
                     "differ, and a quote this run did not print is marked below."), ""]
    by_question = {key.question: key for key in keys}
    for q in (q for q in questions if q.manual):
        lines += [f"### {q.name.upper()} ({q.points:g} points)", "", f"**Prompt.** {q.prompt}", "",
                  f"**Model answer.** {q.solution}", ""]
        if q.name in by_question:
            lines += _from_the_run(name, by_question[q.name], figures or {})
        lines += ["**Rubric.** A sub-question's points go to an answer that makes its point in the student's own "
                  "words and with the student's own numbers; half of them where the point is made without the reason.",
                  ""]
        lines += [f"- ({part}) {points:g}: {words}" for part, points, words in q.rubric] + [""]
    lines += ["## Grading a class", "", "```bash",
              f"./run_all.sh --course grade {name} path/to/submissions --roster roster.csv   # scores.csv, feedback/",
              f"./run_all.sh --course written {name} path/to/submissions --roster roster.csv # written/<Q>.md",
              f"./run_all.sh --course release {name} path/to/submissions --deadline 2026-12-20T23:59  # released/",
              "```", "", "The feedback quotes the hidden tests' messages: `release` writes each student's page only "
              "after the deadline (give the last one, extensions included).", ""]
    return "\n".join(lines)


def _from_the_run(name: str, key: WrittenKey, figures: dict[tuple[int, int], Path]) -> list[str]:
    """The answer key's part for one written question: each quoted number with the output line that shows it, then
    the figures of the cells since the previous written question."""
    lines = [f"**From the seed-0 run** (`{name}/{ANSWER_KEY}`, cell numbers from 1)."]
    lines += [f"- `{q.text}`: cell {q.cell} ([{q.count}] in JupyterLab), `{q.line}`" if q.cell else
              f"- `{q.text}`: **not printed by this run** (the model answer was written from another run: read this "
              "run's value in the key)" for q in key.quotes] or ["- (the model answer quotes no number)"]
    cells = {cell for cell, _ in key.figures}
    shown = [(cell, k) for (cell, k) in figures if cell in cells]
    lines += [""] + [f"![cell {cell}, figure {k}]({figures[(cell, k)].as_posix()})" for cell, k in sorted(shown)]
    return lines + [""]


def _tests(tests) -> str:
    if not tests:
        return "none"
    return f"{len(tests)} ({sum(t.points for t in tests):g}): " + ", ".join(f"`{t.name}`" for t in tests)
