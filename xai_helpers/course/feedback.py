"""Feedback for students, released only after the deadline (``./run_all.sh --course release NAME FOLDER --deadline
WHEN``).

``grade`` writes the instructor's record: ``FOLDER/scores.csv`` and ``FOLDER/feedback/<submission>.json`` (each
failed test's message). Those messages quote the hidden tests' inputs and expected values, so a student who reads
them before the deadline (or before a classmate's extension ends) could fit an answer to them. ``release`` turns the
record into one Markdown page per student, ``OUT/<student>.md`` (the autograded points per question, each failed
test's message, or why the notebook could not be graded), and refuses, writing nothing, until the deadline given has
passed: give the last deadline, extensions included. A later release replaces ``OUT`` whole, and only when an
earlier release wrote it (``RELEASE_MARK``).
"""
from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pandas as pd

from .build import master_path

#: Under the submissions folder: the pages ``release`` writes, unless told otherwise.
RELEASE_FOLDER = "released"
#: In a folder ``release`` wrote: the mark that lets a later release replace it (and nothing else).
RELEASE_MARK = ".released-feedback"


def parse_deadline(text: str) -> datetime:
    """An ISO 8601 date and time; one without a time zone is in this machine's. A date alone is refused: it would
    mean the first minute of that day, not its end."""
    if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", str(text)):
        raise ValueError(f"deadline {text!r} has no time: give it, such as {text.strip()}T23:59 (a date alone would "
                         "mean the first minute of that day)")
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"deadline {text!r} is not a date and time: expected ISO 8601, such as 2026-12-20T23:59 "
                         "or 2026-12-20T23:59+01:00") from None
    return when.astimezone() if when.tzinfo is None else when


def release_feedback(name: str, submissions: str | Path, deadline: datetime, *, out: str | Path | None = None,
                     now: datetime | None = None) -> list[Path]:
    """One page per graded row of ``submissions/scores.csv`` in ``out`` (default ``submissions/released``);
    refused before ``deadline`` (timezone-aware) and when the folder was not graded. Returns the pages written."""
    master_path(name)  # refuses an unknown assignment by name
    folder = Path(submissions)
    now = now or datetime.now().astimezone()
    if now < deadline:
        raise ValueError(f"feedback for {name} is held back until the deadline, {deadline:%Y-%m-%d %H:%M %Z%z} "
                         f"(now {now:%Y-%m-%d %H:%M %Z%z}): its messages quote the hidden tests' inputs")
    scores_path = folder / "scores.csv"
    if not scores_path.is_file():
        raise FileNotFoundError(f"no scores in {folder}: grade it first (./run_all.sh --course grade {name} {folder})")
    scores = pd.read_csv(scores_path, keep_default_na=False, dtype=str)
    _check_students(list(scores["student"]))
    records = _records(scores, folder / "feedback")
    columns = list(scores.columns)  # the graded questions lie between "student" and "total"
    questions = columns[columns.index("student") + 1:columns.index("total")]
    pages = {row["student"]: _page(name, row, questions, records.get(row["submission"]))
             for _, row in scores.iterrows()}
    target = Path(out) if out else folder / RELEASE_FOLDER
    if target.exists() and not (target / RELEASE_MARK).is_file():
        raise ValueError(f"{target} exists and was not written by release: give --out a new folder (release replaces "
                         "only a folder of its own)")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for student, text in pages.items():
            (scratch / f"{student}.md").write_text(text)
        (scratch / RELEASE_MARK).write_text(f"{name}: feedback released {now:%Y-%m-%d %H:%M %Z%z}\n")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if target.exists():
        shutil.rmtree(target)
    scratch.rename(target)  # whole or not at all
    return sorted(target / f"{student}.md" for student in pages)


def _check_students(students: list[str]) -> None:
    """Each student gets one page named by their id: refused by name when two rows share an id or an id is no
    file name."""
    repeated = sorted({s for s in students if students.count(s) > 1})
    unsafe = [s for s in students if not s or s.startswith(".") or any(c in s for c in "/\\:")]
    if repeated or unsafe:
        raise ValueError("each student needs one page named by their id: "
                         + "; ".join([*(f"{s!r} has several submissions" for s in repeated),
                                      *(f"{s!r} is not a file name" for s in unsafe)]))


def _records(scores: pd.DataFrame, feedback: Path) -> dict[str, dict]:
    """{submission: its grading record} for every graded row; refused, naming them, when a record is missing or
    was written by an older ``grade`` (without each question's points)."""
    records, missing = {}, []
    for submission in scores.loc[scores["error"] == "", "submission"]:
        path = feedback / f"{Path(submission).stem}.json"
        record = json.loads(path.read_text()) if path.is_file() else {}
        if not {"possible", "failed"} <= set(record):
            missing.append(submission)
        records[submission] = record
    if missing:
        raise ValueError(f"no whole grading record in {feedback} for {', '.join(missing)}: grade the folder again")
    return records


def _page(name: str, row: pd.Series, questions: list[str], record: dict | None) -> str:
    lines = [f"# {name} · feedback for {row['student']}", "", f"Submission `{row['submission']}`.", ""]
    if row["error"]:
        return "\n".join(lines + [f"**Not graded:** {row['error']}", "",
                                  "Ask your instructor: the notebook has to run from top to bottom.", ""])
    lines += [f"Autograded: **{_number(row['total'])} of {_number(row['possible'])} points**. Written questions are "
              "graded separately, with the rubric.", "", "| question | points | of |", "|---|---|---|"]
    lines += [f"| {q.upper()} | {_number(row[q])} | {_number(str(record['possible'].get(q, '')))} |"
              for q in questions]
    for question, failures in record["failed"].items():
        lines += ["", f"## {question.upper()}: what the tests found", ""]
        for message in failures:
            lines += ["```text", message.strip(), "```"]
    return "\n".join(lines + [""])


def _number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text or "–"
    return f"{value:g}" if math.isfinite(value) else text
