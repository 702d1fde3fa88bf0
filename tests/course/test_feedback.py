"""Feedback quotes the hidden tests' inputs: ``release`` writes each student's page only after the deadline."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from xai_helpers.course.feedback import RELEASE_FOLDER, parse_deadline, release_feedback

NAME = "01_gradients"
DEADLINE = datetime(2026, 12, 20, 23, 59, tzinfo=timezone.utc)


@pytest.fixture
def graded(tmp_path):
    """A folder as ``grade`` leaves it: three submissions, one with a failed hidden test, one not graded."""
    folder = tmp_path / "submissions"
    (folder / "feedback").mkdir(parents=True)
    rows = [dict(submission="a.ipynb", student="s001", q1=2, q2=3, q3=1, q4=2, total=8, possible=8, error=""),
            dict(submission="b.ipynb", student="s002", q1=2, q2=1.5, q3=1, q4=2, total=6.5, possible=8, error=""),
            dict(submission="c.ipynb", student="s003", q1="", q2="", q3="", q4="", total="", possible="",
                 error="NotJSONError: the notebook is truncated")]
    pd.DataFrame(rows).to_csv(folder / "scores.csv", index=False)
    possible = {"q1": 2.0, "q2": 3.0, "q3": 1.0, "q4": 2.0}
    (folder / "feedback" / "a.json").write_text(json.dumps({"possible": possible, "failed": {}}))
    (folder / "feedback" / "b.json").write_text(json.dumps({"possible": possible, "failed": {
        "q2": ["steps = 2 on x**3 from 0 to 1: expected 0.28125 (the midpoint rule), got 0.25"]}}))
    return folder


def test_before_the_deadline_nothing_is_released(graded):
    with pytest.raises(ValueError, match=r"held back until the deadline, 2026-12-20 23:59 UTC\+0000 .*hidden tests"):
        release_feedback(NAME, graded, DEADLINE, now=DEADLINE - timedelta(minutes=1))
    assert not (graded / RELEASE_FOLDER).exists()


def test_after_the_deadline_each_student_gets_a_page_with_their_points_and_messages(graded):
    pages = release_feedback(NAME, graded, DEADLINE, now=DEADLINE + timedelta(minutes=1))
    assert [p.name for p in pages] == ["s001.md", "s002.md", "s003.md"]
    second = (graded / RELEASE_FOLDER / "s002.md").read_text()
    assert "Autograded: **6.5 of 8 points**" in second and "| Q2 | 1.5 | 3 |" in second
    assert "## Q2: what the tests found" in second and "expected 0.28125 (the midpoint rule), got 0.25" in second
    assert "what the tests found" not in (graded / RELEASE_FOLDER / "s001.md").read_text()
    assert "**Not graded:** NotJSONError: the notebook is truncated" in (graded / RELEASE_FOLDER / "s003.md").read_text()


def test_a_deadline_must_be_a_date_and_time_and_the_folder_graded(graded, tmp_path):
    with pytest.raises(ValueError, match=r"deadline '20 December' is not a date and time: expected ISO 8601"):
        parse_deadline("20 December")
    with pytest.raises(ValueError, match=r"deadline '2026-12-20' has no time: give it, such as 2026-12-20T23:59"):
        parse_deadline("2026-12-20")  # would release at the day's first minute
    assert parse_deadline("2026-12-20T23:59").tzinfo is not None  # a local time, made comparable
    with pytest.raises(ValueError, match="assignment '09_extra' is not allowed"):
        release_feedback("09_extra", graded, DEADLINE, now=DEADLINE + timedelta(days=1))
    with pytest.raises(FileNotFoundError, match="grade it first"):
        release_feedback(NAME, tmp_path, DEADLINE, now=DEADLINE + timedelta(days=1))


def test_the_command_refuses_before_the_deadline_and_releases_after_it(graded):
    command = [sys.executable, "-m", "xai_helpers.course", "release", NAME, str(graded), "--deadline"]
    early = subprocess.run(command + ["2999-01-01T00:00+00:00"], capture_output=True, text=True)
    assert early.returncode == 2 and "held back until the deadline, 2999-01-01 00:00" in early.stderr
    assert not (graded / RELEASE_FOLDER).exists()
    late = subprocess.run(command + ["2000-01-01T00:00"], capture_output=True, text=True)
    assert late.returncode == 0 and "3 feedback pages" in late.stdout, late.stderr


def test_release_replaces_only_a_folder_of_its_own(graded):
    after = DEADLINE + timedelta(minutes=1)
    release_feedback(NAME, graded, DEADLINE, now=after)
    release_feedback(NAME, graded, DEADLINE, now=after)  # again: its own folder, replaced whole
    with pytest.raises(ValueError, match=r"submissions exists and was not written by release"):
        release_feedback(NAME, graded, DEADLINE, out=graded, now=after)  # --out the submissions folder
    assert (graded / "scores.csv").is_file() and (graded / "feedback" / "b.json").is_file()


@pytest.mark.parametrize("change, problem", [
    (lambda folder: (folder / "feedback" / "b.json").unlink(), r"no whole grading record .* for b\.ipynb"),
    (lambda folder: (folder / "feedback" / "a.json").write_text('{"q2": ["old format"]}'), r"for a\.ipynb: grade"),
    (lambda folder: (folder / "scores.csv").write_text((folder / "scores.csv").read_text().replace("s002", "s001")),
     r"'s001' has several submissions"),
    (lambda folder: (folder / "scores.csv").write_text((folder / "scores.csv").read_text().replace("s002", "../s2")),
     r"'\.\./s2' is not a file name"),
])
def test_a_record_that_cannot_give_each_student_one_whole_page_is_refused_by_name(graded, change, problem):
    change(graded)
    with pytest.raises(ValueError, match=problem):
        release_feedback(NAME, graded, DEADLINE, now=DEADLINE + timedelta(minutes=1))
    assert not (graded / RELEASE_FOLDER).exists()
