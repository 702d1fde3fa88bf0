"""Grade a folder of submissions offline, as a class is graded: ``otter run`` (no Docker, no network) on each
notebook, each in a process of its own with a time limit, several at once, into a scores table. ``otter grade`` is
not used: it needs Docker and the network.

Each submission runs top to bottom in this environment's Python kernel, with every test (public and hidden) of the
assignment's ``autograder.zip``; manually graded (written) questions are not scored here. One bad submission never
stops the batch: a notebook that cannot be read, a grader that crashes, or a notebook that runs past the time limit
gets a row with its error instead of scores, the others are graded, and the caller learns that not all were.
"""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .build import DIST_DIR, OTTER_CLI, autograder_zip, master_path

#: Seconds one submission may run (the solutions run in 20–75 s from a warm model cache on 2 cores).
DEFAULT_TIMEOUT = 600


@dataclass
class Graded:
    """One submission's outcome: its scores per question, or the error that kept it from being graded."""

    submission: str
    student: str
    seconds: float
    scores: dict = field(default_factory=dict)
    total: float | None = None
    possible: float | None = None
    messages: dict = field(default_factory=dict)   # {question: [failed test's message, ...]}
    possible_by_question: dict = field(default_factory=dict)
    error: str = ""
    note: str = ""  # graded, but worth an instructor's look (see id_notes)

    def row(self) -> dict:
        percent = round(100 * self.total / self.possible, 1) if self.possible else (None if self.error else 0.0)
        return {"submission": self.submission, "student": self.student, **self.scores, "total": self.total,
                "possible": self.possible, "percent": percent, "seconds": round(self.seconds, 1),
                "error": self.error, "note": self.note}


def grade_folder(name: str, submissions: str | Path, *, dist: Path = DIST_DIR, out: str | Path | None = None,
                 strict: bool = False, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT,
                 roster: str | Path | None = None) -> pd.DataFrame:
    """Grade every ``*.ipynb`` in ``submissions`` against assignment ``name``'s autograder (built into ``dist``),
    ``jobs`` at a time, each stopped after ``timeout`` seconds. Returns one row per submission (its student, score
    per question, total, possible, percent, seconds and ``error``, empty when it was graded) in name order, and
    writes it to ``out`` (default ``<submissions>/scores.csv``), with each graded submission's points per question
    and failed tests' messages in ``<submissions>/feedback/<submission>.json`` (``{"possible": {question: points},
    "failed": {question: [message, ...]}}``: for the instructor until ``release``, as they quote hidden inputs). A
    submission that could not be graded has no scores and says why in ``error``; see :func:`failed`.

    ``roster``: a CSV with the columns ``student`` and ``file`` (a submission's file name): the scores name the
    student; without it a submission's student is its file name without ``.ipynb``.

    ``strict``: a cell that raises is an error of the submission (otter's debug mode), instead of costing the marks
    of the questions that need it, and any error raises a :class:`RuntimeError` naming the submission, with
    nothing written. For checking a course's own notebooks (the untouched student version must run top to
    bottom), not for grading a class."""
    zip_path, notebooks, students = _check_inputs(name, submissions, dist, jobs, timeout, roster)
    graded = _grade_all(name, notebooks, zip_path, strict=strict, jobs=jobs, timeout=timeout)
    notes = id_notes(notebooks, students) if roster is not None else {}
    for result in graded:
        result.student = students[result.submission]
        result.note = notes.get(result.submission, "")
    if strict and failed(graded):
        first = failed(graded)[0]
        raise RuntimeError(f"{first.submission}: {first.error}")
    folder = Path(submissions)
    feedback = folder / "feedback"
    feedback.mkdir(exist_ok=True)
    for result in graded:
        if not result.error:
            (feedback / f"{Path(result.submission).stem}.json").write_text(json.dumps(
                {"possible": result.possible_by_question, "failed": result.messages}, indent=1, ensure_ascii=False))
    questions = next((list(result.scores) for result in graded if result.scores), [])
    table = pd.DataFrame([result.row() for result in graded],
                         columns=["submission", "student", *questions, "total", "possible", "percent", "seconds", "error",
                                  "note"])
    out = Path(out) if out else folder / "scores.csv"
    partial = out.with_name(f".{out.name}.{os.getpid()}")
    table.to_csv(partial, index=False)
    partial.replace(out)  # whole or not at all
    return table


#: How a notebook names its student (the capstone draws the student's shortcut from it).
_DECLARED_ID = re.compile(r"""^STUDENT_ID\s*=\s*["']([^"']*)["']""", re.M)


def declared_id(notebook: Path) -> str | None:
    """The ``STUDENT_ID = "..."`` a notebook sets in a code cell; None if it sets none or cannot be read."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None  # an unreadable submission is reported by its grading
    for cell in cells:
        source = "".join(cell.get("source", "")) if cell.get("cell_type") == "code" else ""
        if match := _DECLARED_ID.search(source):
            return match.group(1)
    return None


def id_notes(notebooks, students: dict[str, str]) -> dict[str, str]:
    """{submission: why its ``STUDENT_ID`` needs a look}, for notebooks that set one other than the roster's
    student: graded as submitted (against the shortcut of the id they name), but an instructor should know."""
    notes = {}
    for path in notebooks:
        declared, student = declared_id(path), students[Path(path).name]
        if declared is not None and declared != student:
            notes[Path(path).name] = (f"STUDENT_ID is {declared!r}, not the roster's student {student!r}"
                                      + (" (empty: graded on the example model)" if declared == "" else ""))
    return notes


def failed(graded) -> list:
    """The submissions that could not be graded: rows of a scores table, or :class:`Graded` results."""
    if isinstance(graded, pd.DataFrame):
        return list(graded.loc[graded["error"].fillna("") != "", "submission"])
    return [result for result in graded if result.error]


def _check_inputs(name, submissions, dist, jobs, timeout, roster):
    """Everything the grading needs, refused by name before anything runs."""
    master_path(name)  # refuses an unknown assignment by name
    zip_path = autograder_zip(name, dist)
    if not zip_path.is_file():
        raise FileNotFoundError(f"no autograder for {name} at {zip_path}: build it first (./run_all.sh --course)")
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ValueError(f"jobs={jobs!r} is not allowed: expected a whole number of submissions at once, ≥ 1")
    if not timeout > 0:
        raise ValueError(f"timeout={timeout!r} is not allowed: expected seconds per submission, > 0")
    notebooks, students = submissions_of(name, submissions, roster)
    return zip_path, notebooks, students


def submissions_of(name: str, submissions: str | Path, roster=None) -> tuple[list[Path], dict[str, str]]:
    """The submitted notebooks of a folder, in name order, and {file name: student id} (from ``roster`` when given,
    else the file name without ``.ipynb``); refused by name when the assignment, the folder or a student is
    unknown."""
    master_path(name)
    folder = Path(submissions)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise FileNotFoundError(f"no submissions (*.ipynb) in {folder}")
    return notebooks, _students(roster, [p.name for p in notebooks])


def _students(roster, files: list[str]) -> dict[str, str]:
    """{submission file: student id}, from the roster when given; every submission must be on it."""
    if roster is None:
        return {f: f.removesuffix(".ipynb") for f in files}
    path = Path(roster)
    if not path.is_file():
        raise FileNotFoundError(f"roster {path} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"student", "file"} <= set(reader.fieldnames or ()):
            raise ValueError(f"roster {path} has the columns {reader.fieldnames}: expected 'student' and 'file'")
        mapping = {row["file"].strip(): row["student"].strip() for row in reader}
    unknown = [f for f in files if f not in mapping]
    if unknown:
        raise ValueError(f"submissions not on the roster {path}: {', '.join(unknown)} (add a row: student,file)")
    return mapping


def _grade_all(name, notebooks, zip_path, *, strict, jobs, timeout) -> list[Graded]:
    threads = _threads(jobs)
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_grade_one, path, zip_path, strict, timeout, threads) for path in notebooks]
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"grading {name}", unit="submission"):
            results.append(future.result())
    return sorted(results, key=lambda result: result.submission)


#: What sets a kernel's CPU threads (the runner's THREAD_VARIABLES: the course, a part, does not import the roof).
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _threads(jobs: int) -> int:
    """Each kernel's share of the cores, so that ``jobs`` kernels share them instead of fighting for them (OpenMP
    threads beyond the cores made grading 5x slower); a smaller share already set (the test suite gives each
    pytest-xdist worker its own) is kept."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = max(1, cores // jobs)
    current = os.environ.get("OMP_NUM_THREADS", "")
    return min(share, int(current)) if current.isdigit() and int(current) > 0 else share


def _grade_one(path: Path, zip_path: Path, strict: bool, timeout: float, threads: int) -> Graded:
    """``otter run`` on one submission in a process group of its own (the grader and its kernel), killed whole
    when it runs past ``timeout``. Its temporary files live in a folder removed afterwards, also after a kill."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch:
        env = {**os.environ, "TMPDIR": scratch, "XAI_HEADLESS": "1",  # no one watches: forms show their static view
               **{variable: str(threads) for variable in _THREAD_VARIABLES}}
        out = Path(scratch, "results")
        out.mkdir()
        # otter_kernels.py as a script (-P: its folder stays off sys.path): otter's command line, kernels killed
        # after the last cell; -p keeps otter's results object, whose test cases say which are hidden
        command = [sys.executable, "-P", str(OTTER_CLI), "run", "-a", str(zip_path), "-o", str(out), "--no-logo",
                   "-p", *(["--debug"] if strict else []), str(path)]
        process = subprocess.Popen(command, env=env, cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(process)
            process.communicate()
            return Graded(path.name, "", time.perf_counter() - started,
                          error=f"stopped after {timeout:g} s: the notebook ran past the time limit (--timeout)")
        seconds = time.perf_counter() - started
        pickle = Path(scratch, "results.pkl")  # otter run -p writes it into its working folder
        if process.returncode != 0 or not pickle.is_file():
            return Graded(path.name, "", seconds, error=_reason(output, strict))
        return _read_results(path.name, pickle, seconds)


def _kill_tree(process: subprocess.Popen) -> None:
    """Kill the grader and every process it started. Its kernel runs in a session of its own (jupyter_client
    starts kernels so), which killing the grader's process group would miss; a kernel stuck in C code would then
    outlive its grader (it polls for its parent's death only between Python bytecodes)."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    os.killpg(process.pid, signal.SIGKILL)
    for child in children:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def _reason(output: str, strict: bool) -> str:
    """Why otter could not grade a submission, from the end of its output: the exception's line (such as
    ``NotJSONError: Notebook does not appear to be JSON`` for a truncated file), or the failed cell."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    if strict and any("CellExecutionError" in line for line in lines):
        start = next(i for i, line in enumerate(lines) if "CellExecutionError" in line)
        return "a cell raised while grading strictly:\n" + "\n".join(lines[start:][-25:])
    return "could not be graded: " + (lines[-1][:300] if lines else "otter run exited without a word")


def _read_results(submission: str, pickle: Path, seconds: float) -> Graded:
    import dill  # otter's own pickler (its results hold test-case objects)

    with pickle.open("rb") as handle:
        result = dill.load(handle)
    by_question = result.to_dict()
    messages = {}
    for question, res in by_question.items():
        failures = [case["message"] for case in res.get("test_case_results", []) if not case.get("passed")]
        if failures:
            messages[question] = failures
    return Graded(submission, "", seconds, scores={q: res["score"] for q, res in by_question.items()},
                  total=result.total, possible=result.possible, messages=messages,
                  possible_by_question={q: res["possible"] for q, res in by_question.items()})
