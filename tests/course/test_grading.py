"""Grading a class: one bad submission (unreadable, or running forever) never stops the batch, is recorded by name,
and makes the command exit non-zero; a roster names the students; bad options are refused before anything runs.
On the one-question master of tiny_master.py, so that each grading takes seconds."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest

from xai_helpers.course.build import build_assignment
from xai_helpers.course.feedback import RELEASE_FOLDER
from xai_helpers.course.grading import grade_folder

from .tiny_master import tiny_master

NAME = "01_gradients"  # the tiny master's name (any assignment's)


@pytest.fixture(scope="module")
def tiny_dist(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    tiny_master(root, "import os")
    build_assignment(NAME, root / "dist", course_dir=root / "course")
    return root / "dist"


def _solution(dist: Path):
    return nbformat.read(dist / "autograder" / NAME / f"{NAME}.ipynb", as_version=4)


def _stuck_in_c(pid_file: Path) -> str:
    """A cell that records its kernel's pid, then spins in C code holding the GIL (a catastrophic regular expression):
    such a kernel does not notice that its grader was killed."""
    return (f"import os, re\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "re.match(r'(a+)+$', 'a' * 64 + 'b')")


def test_a_class_with_a_truncated_and_a_looping_submission_is_graded_whole(tiny_dist, tmp_path):
    """{good, truncated, looping, good}: the two good ones are scored, the truncated one is named with its reason,
    the looping one is stopped at the time limit with its kernel (killed although it ignores its grader's death),
    scores.csv holds all four rows, and the command exits 1 naming both."""
    folder = tmp_path / "submissions"
    folder.mkdir()
    good = _solution(tiny_dist)
    nbformat.write(good, folder / "a_good.ipynb")
    text = (folder / "a_good.ipynb").read_text()
    (folder / "b_truncated.ipynb").write_text(text[: len(text) // 2])
    pid_file = tmp_path / "kernel.pid"
    looping = _solution(tiny_dist)
    looping.cells.insert(1, nbformat.v4.new_code_cell(_stuck_in_c(pid_file)))
    nbformat.write(looping, folder / "c_loops.ipynb")
    shutil.copy(folder / "a_good.ipynb", folder / "d_good.ipynb")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,file\ns001,a_good.ipynb\ns002,b_truncated.ipynb\ns003,c_loops.ipynb\ns004,d_good.ipynb\n")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "xai_helpers.course", "grade", NAME, str(folder), "--dist",
                           str(tiny_dist), "--timeout", "20", "--jobs", "2", "--roster", str(roster)],
                          capture_output=True, text=True, timeout=180)  # a kernel left alive holds the batch
    assert done.returncode == 1, done.stderr
    table = pd.read_csv(folder / "scores.csv", keep_default_na=False).set_index("submission")
    assert list(table.index) == ["a_good.ipynb", "b_truncated.ipynb", "c_loops.ipynb", "d_good.ipynb"]
    assert list(table["student"]) == ["s001", "s002", "s003", "s004"]
    assert list(table["total"]) == ["1.0", "", "", "1.0"] and list(table["error"])[::3] == ["", ""]
    assert "NotJSONError" in table.loc["b_truncated.ipynb", "error"]
    assert table.loc["c_loops.ipynb", "error"].startswith("stopped after 20 s")
    assert "b_truncated.ipynb not graded" in done.stderr and "c_loops.ipynb not graded" in done.stderr
    assert "2 of 4 submissions not graded" in done.stderr
    assert time.perf_counter() - started < 20 * 3, "the looping submission held the batch up past its time limit"
    pid = int(pid_file.read_text())
    time.sleep(1)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, (
        "the looping submission's kernel outlived its grader")
    assert sorted(p.name for p in (folder / "feedback").iterdir()) == ["a_good.json", "d_good.json"]
    released = subprocess.run([sys.executable, "-m", "xai_helpers.course", "release", NAME, str(folder),
                               "--deadline", "2000-01-01T00:00"], capture_output=True, text=True)
    assert released.returncode == 0, released.stderr
    assert "Autograded: **1 of 1 points**" in (folder / RELEASE_FOLDER / "s001.md").read_text()
    assert "**Not graded:** stopped after 20 s" in (folder / RELEASE_FOLDER / "s003.md").read_text()


def test_bad_options_and_a_submission_off_the_roster_are_refused_before_grading(tiny_dist, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(_solution(tiny_dist), folder / "someone.ipynb")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,file\ns001,other.ipynb\n")
    with pytest.raises(ValueError, match=r"not on the roster .*: someone\.ipynb"):
        grade_folder(NAME, folder, dist=tiny_dist, roster=roster)
    (tmp_path / "bad.csv").write_text("id,notebook\ns001,someone.ipynb\n")
    with pytest.raises(ValueError, match=r"columns \['id', 'notebook'\]: expected 'student' and 'file'"):
        grade_folder(NAME, folder, dist=tiny_dist, roster=tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="jobs=0 is not allowed"):
        grade_folder(NAME, folder, dist=tiny_dist, jobs=0)
    with pytest.raises(ValueError, match="timeout=-1 is not allowed"):
        grade_folder(NAME, folder, dist=tiny_dist, timeout=-1)
    assert sorted(p.name for p in folder.iterdir()) == ["someone.ipynb"], "nothing is written before a refusal"


def test_grading_kernels_share_the_cores_and_keep_a_smaller_share_already_set(monkeypatch):
    """jobs kernels get cores // jobs threads each; a smaller share already set (the test suite gives each pytest-xdist
    worker one) is kept: overriding it with the machine's cores made the suite's grading 5x slower."""
    from xai_helpers.course.grading import _threads

    cores = len(os.sched_getaffinity(0))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert _threads(1) == cores and _threads(cores) == 1 and _threads(4 * cores) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _threads(1) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", str(4 * cores))
    assert _threads(1) == cores


def test_a_notebook_naming_another_student_than_the_roster_gets_a_note(tmp_path):
    """The capstone draws each student's shortcut from the STUDENT_ID the notebook sets: one that differs from the
    roster (a copied notebook, or an id left empty) is graded as submitted but flagged for the instructor."""
    from xai_helpers.course.grading import declared_id, id_notes

    v4 = nbformat.v4
    for name, source in (("alice.ipynb", 'SEED = 0\nSTUDENT_ID = "alice"'), ("bob.ipynb", "STUDENT_ID = 'alice'  # copied"),
                         ("carol.ipynb", 'STUDENT_ID = ""'), ("dave.ipynb", "x = 1")):
        nbformat.write(v4.new_notebook(cells=[v4.new_markdown_cell('STUDENT_ID = "not code"'), v4.new_code_cell(source)]),
                       tmp_path / name)
    (tmp_path / "eve.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "STUDENT_ID = \\"eve\\""')  # truncated
    assert [declared_id(tmp_path / f"{n}.ipynb") for n in ("alice", "bob", "carol", "dave", "eve")] == \
        ["alice", "alice", "", None, None]
    notebooks = sorted(tmp_path.glob("*.ipynb"))
    notes = id_notes(notebooks, {p.name: p.stem for p in notebooks})
    assert set(notes) == {"bob.ipynb", "carol.ipynb"}
    assert "STUDENT_ID is 'alice', not the roster's student 'bob'" in notes["bob.ipynb"]
    assert "example model" in notes["carol.ipynb"]
