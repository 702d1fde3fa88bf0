"""A master notebook read as its questions: points, prompt, solution, tests and, for a written question, its rubric.

The master is in otter-grader's format (``course/README.md``): a raw ``# BEGIN QUESTION`` cell (YAML: ``name``,
``points``, ``manual``), the prompt in Markdown, the solution between raw ``# BEGIN SOLUTION`` / ``# END SOLUTION``
cells, the tests between ``# BEGIN TESTS`` / ``# END TESTS`` (each with a ``# BEGIN TEST CONFIG`` header), and a raw
``# END QUESTION``. A written question's solution is its model answer followed by its rubric::

    **Rubric**
    - (a) 0.75: what an answer to (a) must say for its points
    - (b) 0.5: ...

A number the model answer quotes from the solutions' run is a code span (`` `0.61` ``, `` `98 %` ``): the build
finds it in the run's outputs (:mod:`.answer_key`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

RUBRIC_HEADING = "**Rubric**"
_RUBRIC_ITEM = re.compile(r"^- \((\w)\) ([0-9.]+): (.+)$")


@dataclass
class Test:
    name: str
    points: float
    hidden: bool


@dataclass
class Question:
    name: str
    points: float
    manual: bool
    prompt: str = ""
    solution: str = ""  # the model answer of a written question (its rubric apart), the code of an autograded one
    rubric: list[tuple[str, float, str]] = field(default_factory=list)  # (sub-question, points, what earns them)
    tests: list[Test] = field(default_factory=list)

    @property
    def parts(self) -> list[str]:
        """The sub-questions its prompt asks, ``(a)``, ``(b)``, ... in order."""
        return re.findall(r"\((\w)\) ", self.prompt)


def read_master(path: str | Path) -> list[Question]:
    """The questions of a master notebook, in order."""
    questions, question, section = [], None, None
    for cell in nbformat.read(path, as_version=4).cells:
        text = cell.source.strip()
        if cell.cell_type == "raw" and text.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(text.split("\n", 1)[1])
            question = Question(config["name"], float(config["points"]), bool(config.get("manual")))
            questions.append(question)
            section = "prompt"
        elif question is None:
            continue
        elif cell.cell_type == "raw" and text in ("# BEGIN SOLUTION", "# BEGIN TESTS"):
            section = "solution" if "SOLUTION" in text else "tests"
        elif cell.cell_type == "raw" and text in ("# END SOLUTION", "# END TESTS"):
            section = None
        elif cell.cell_type == "raw" and text == "# END QUESTION":
            question = None
        elif section == "prompt" and cell.cell_type == "markdown":
            question.prompt = "\n\n".join(filter(None, [question.prompt, text]))
        elif section == "solution":
            _add_solution(question, text)
        elif section == "tests" and cell.cell_type == "code":
            question.tests.append(_test(text))
    return questions


def rubric_problems(question: Question) -> list[str]:
    """What is wrong with a written question's rubric: missing, a sub-question without an item (or an item for no
    sub-question), or points that do not add up to the question's."""
    if not question.manual:
        return []
    if not question.rubric:
        return [f"{question.name}: a written question needs a rubric ({RUBRIC_HEADING} and '- (a) POINTS: ...' lines)"]
    problems = []
    items = [part for part, _, _ in question.rubric]
    if question.parts and items != question.parts:
        problems.append(f"{question.name}: the rubric's items {items} do not match the prompt's sub-questions "
                        f"{question.parts}")
    total = sum(points for _, points, _ in question.rubric)
    if abs(total - question.points) > 1e-9:
        problems.append(f"{question.name}: the rubric gives {total:g} points, the question {question.points:g}")
    return problems


def _add_solution(question: Question, text: str) -> None:
    answer, _, rubric = text.partition(RUBRIC_HEADING)
    question.solution = "\n\n".join(filter(None, [question.solution, answer.strip()]))
    for line in rubric.strip().splitlines():
        match = _RUBRIC_ITEM.match(line.strip())
        if match:
            question.rubric.append((match.group(1), float(match.group(2)), match.group(3)))
        elif question.rubric and line.strip():  # an item continued on the next line
            part, points, words = question.rubric[-1]
            question.rubric[-1] = (part, points, f"{words} {line.strip()}")


def _test(source: str) -> Test:
    header = re.search(r'""" # BEGIN TEST CONFIG\n(.*?)""" # END TEST CONFIG', source, flags=re.S)
    config = yaml.safe_load(header.group(1)) if header else {}
    name = re.search(r"^def (\w+)", source, flags=re.M)
    return Test(name.group(1) if name else "?", float(config.get("points", 0)), bool(config.get("hidden")))
