"""Collect a class's written answers question by question, for grading by reading (``./run_all.sh --course written
NAME FOLDER``): each written question's prompt once, then every student's answer under their name, in one file per
question, so that a grader reads one question across the class instead of one notebook at a time.

A written question in a student notebook is what ``otter assign`` makes of a ``manual`` question: a prompt cell that
opens with ``<!-- BEGIN QUESTION -->`` and names the question in bold (``**Q6**``), the student's answer cells
(tagged ``otter_answer_cell``), and a cell that opens with ``<!-- END QUESTION -->``.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pandas as pd

from .grading import submissions_of

#: What otter's student version holds where a written answer goes, until the student replaces it.
PLACEHOLDER = "_Type your answer here, replacing this text._"
NO_ANSWER = "(no answer)"


def written_questions(path: str | Path) -> dict[str, dict]:
    """{question (``Q6``): {"prompt": text, "answer": text}} of one notebook, in its order; ``NO_ANSWER`` where the
    student wrote nothing."""
    cells = nbformat.read(path, as_version=4).cells
    found, current = {}, None
    for cell in cells:
        text = cell.source.strip()
        if text.startswith("<!-- END QUESTION -->"):
            current = None
        if text.startswith("<!-- BEGIN QUESTION -->"):
            match = re.search(r"\*\*([A-Z]\d+)\*\*", text)  # Q6, or P1 for a prediction
            current = match.group(1) if match else f"question {len(found) + 1}"
            found[current] = {"prompt": text.removeprefix("<!-- BEGIN QUESTION -->").strip(), "answer": []}
        elif current and "otter_answer_cell" in cell.metadata.get("tags", []):
            found[current]["answer"].append(text)
    for question in found.values():
        answer = "\n\n".join(a for a in question["answer"] if a and a != PLACEHOLDER)
        question["answer"] = answer or NO_ANSWER
    return found


def collect_written(name: str, submissions: str | Path, *, roster: str | Path | None = None) -> pd.DataFrame:
    """Every submission's written answers: a table (one row per submission: student, one column per written
    question) written to ``<submissions>/written/answers.csv``, and ``<submissions>/written/<Q>.md`` per question
    (the prompt, then each student's answer). A notebook that cannot be read is named, with the reason, as its
    answers; the others are collected."""
    folder = Path(submissions)
    notebooks, students = submissions_of(name, folder, roster)
    rows, prompts = [], {}
    for path in notebooks:
        row = {"submission": path.name, "student": students[path.name]}
        try:
            for question, part in written_questions(path).items():
                prompts.setdefault(question, part["prompt"])
                row[question] = part["answer"]
        except Exception as error:  # a truncated upload: say so where its answers would be, and go on
            row["error"] = f"could not be read: {type(error).__name__}: {error}"[:300]
        rows.append(row)
    table = pd.DataFrame(rows, columns=["submission", "student", *prompts, "error"]).fillna({"error": ""})
    out = folder / "written"
    out.mkdir(exist_ok=True)
    table.to_csv(out / "answers.csv", index=False)
    for question, prompt in prompts.items():
        parts = [f"# {name} · {question}\n\n{prompt}\n"]
        for _, row in table.iterrows():
            answer = row["error"] or row[question]
            parts.append(f"## {row['student']} ({row['submission']})\n\n{answer if isinstance(answer, str) else NO_ANSWER}\n")
        (out / f"{question}.md").write_text("\n".join(parts))
    return table
