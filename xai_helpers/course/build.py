"""Build the course: ``otter assign`` on every master notebook under ``course/`` (``./run_all.sh --course``).

``otter assign`` writes a student version (solutions and hidden tests removed, outputs cleared) and an autograder
version (solutions, all tests, and the ``autograder.zip`` that ``otter run`` grades with), and runs every test
against the solutions on the way: a master whose solutions fail its own tests does not build. Each assignment is
built in a scratch folder and moved into ``course/dist/{student,autograder}/<name>/`` only when it succeeded, so a
failed build leaves nothing half-written behind.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pandas as pd

from ..study import REPO_ROOT, RESULT_PATHS, git_sha
from .answer_key import (ANSWER_KEY, key_notebook, quote_problems, this_machine, unreadable_quotes, write_figures,
                         written_keys)
from .hidden_tests import FREEZE_ENV, FROZEN_FILE
from .instructor_pack import PACK_FOLDER, instructor_pack
from .lab import ASSIGNMENTS
from .masters import read_master, rubric_problems
from .otter_kernels import EXECUTED_ENV

#: Under course/dist/: otter assign's output per assignment, ``<LOG_FOLDER>/<NAME>.log`` (the course's own
#: folder, not a run folder).
LOG_FOLDER = "logs"

COURSE_DIR = REPO_ROOT / "course"
DIST_DIR = COURSE_DIR / "dist"
OTTER_CLI = Path(__file__).with_name("otter_kernels.py")
#: Where uncommitted changes make a build's commit ``+dirty``: the study's results' paths and the masters.
BUILD_PATHS = (*RESULT_PATHS, ":/course")


def master_path(name: str, course_dir: Path = COURSE_DIR) -> Path:
    if name not in ASSIGNMENTS:
        raise ValueError(f"assignment {name!r} is not allowed: expected one of {', '.join(ASSIGNMENTS)}")
    return Path(course_dir) / name / f"{name}.ipynb"


def available(course_dir: Path = COURSE_DIR) -> list[str]:
    """The assignments whose master notebook exists, in teaching order."""
    return [name for name in ASSIGNMENTS if master_path(name, course_dir).is_file()]


def autograder_zip(name: str, dist: Path = DIST_DIR) -> Path:
    return Path(dist) / "autograder" / name / f"{name}-autograder.zip"


def build_assignment(name: str, dist: Path = DIST_DIR, *, course_dir: Path = COURSE_DIR,
                     cache_dir: str | os.PathLike | None = None) -> dict:
    """``otter assign`` one master into ``dist``; returns its row of the build table (seconds, files). The
    notebooks run with ``XAI_CACHE_DIR=cache_dir`` when given (the study's cache otherwise)."""
    master = master_path(name, course_dir)
    if not master.is_file():
        raise FileNotFoundError(f"no master notebook for {name}: expected {master}")
    questions = read_master(master)
    problems = [problem for q in questions for problem in (*rubric_problems(q), *unreadable_quotes(q))]
    if problems:
        raise ValueError(f"{name}'s master ({master}) cannot be built: " + "; ".join(problems))
    # The commit the autograder is built from (its hidden tests and the study code they call): a grade can be
    # traced to it, and a rebuild from another commit shows in the build table.
    commit = git_sha(cwd=course_dir if Path(course_dir).exists() else None, paths=BUILD_PATHS)
    dist = Path(dist)
    logs = dist / LOG_FOLDER
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "XAI_HEADLESS": "1"}  # nobody watches: forms show their static view (assignment 7's rating)
    if cache_dir is not None:
        env["XAI_CACHE_DIR"] = str(cache_dir)
    with tempfile.TemporaryDirectory(prefix=f"{name}-", dir=dist) as scratch:
        frozen = Path(scratch, FROZEN_FILE)
        env[FREEZE_ENV] = str(frozen)  # the hidden tests record the values they freeze (hidden_tests.frozen)
        executed = Path(scratch, "executed.ipynb")
        env[EXECUTED_ENV] = str(executed)  # otter's run of the solutions, kept as the answer key
        started = time.perf_counter()
        # otter assign executes the solutions with a "python3" kernel: this interpreter's own (ipykernel).
        # --debug: a cell that raises fails the build (by default otter swallows errors and only checks scores,
        # so a master whose setup cell broke could still pass the tests that do not need what it defines).
        # otter_kernels.py as a script (-P: its folder stays off sys.path) is otter's command line with kernels
        # shut down at once; it does not import this package (and torch).
        done = subprocess.run([sys.executable, "-P", str(OTTER_CLI), "assign", "--debug", str(master), scratch],
                              cwd=master.parent, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        log = logs / f"{name}.log"
        log.write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(f"otter assign failed for {name} (exit {done.returncode}); log: {log}\n{tail}")
        zips = list(Path(scratch, "autograder").glob("*.zip"))
        if len(zips) != 1:
            raise RuntimeError(f"otter assign wrote {len(zips)} autograder zips for {name}; expected 1 (log: {log})")
        key, keys, stale = _answer_key(name, questions, executed, Path(scratch, "autograder", master.name))
        zip_path = zips[0].rename(Path(scratch, "autograder", f"{name}-autograder.zip"))  # a stable name
        if frozen.is_file():
            with zipfile.ZipFile(zip_path, "a") as archive:  # files/ goes next to each graded submission
                archive.write(frozen, f"files/{FROZEN_FILE}")
        for part in ("student", "autograder"):
            target = dist / part / name
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(Path(scratch, part)), target)
    _write_pack(dist / PACK_FOLDER / f"{name}.md", name, questions, commit, key, keys)
    return {"assignment": name, "seconds": round(seconds, 1), "commit": commit,
            "student_notebook": str((dist / "student" / name / f"{name}.ipynb").relative_to(dist)),
            "autograder_zip": str(autograder_zip(name, dist).relative_to(dist)), "unprinted_quotes": len(stale)}


def _answer_key(name: str, questions, executed: Path, autograder: Path):
    """The answer key (the run of the solutions otter made, as the autograder notebook's cells), each written
    question's part of it, and the quotes the run did not print (named on the terminal: another machine's floats,
    or a model answer gone stale; the pack marks each)."""
    key = key_notebook(nbformat.read(executed, as_version=4), nbformat.read(autograder, as_version=4))
    keys = written_keys(questions, key)
    stale = quote_problems(name, keys)
    if stale:
        print(f"[course] warning: {len(stale)} number(s) that {name}'s model answers quote were not printed by this "
              "build's run; the instructor's pack marks them: " + "; ".join(stale), file=sys.stderr, flush=True)
    return key, keys, stale


def _write_pack(pack: Path, name: str, questions, commit: str, key, keys) -> None:
    """The instructor's pack, with the answer key's notebook and figures in a folder of the same name beside it."""
    folder = pack.with_suffix("")
    if folder.exists():
        shutil.rmtree(folder)
    figures = {cell: path.relative_to(pack.parent) for cell, path in write_figures(keys, folder).items()}
    nbformat.write(key, folder / ANSWER_KEY)
    pack.write_text(instructor_pack(name, questions, commit, keys, figures, this_machine()))


def build_course(names=None, dist: Path = DIST_DIR, *, course_dir: Path = COURSE_DIR, fresh_cache: bool = False,
                 cache_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Build ``names`` (default: every assignment with a master) into ``dist``; returns the build table, also
    merged into ``dist/build.csv`` (one row per assignment ever built there, with the commit it was built from).
    ``fresh_cache`` gives each assignment its own empty model cache, so that its time is the time from an empty
    cache (the ``course`` profile's budget: 2 minutes)."""
    names = list(names) if names else available(course_dir)
    for name in names:
        master_path(name, course_dir)  # refuses unknown names before anything runs
    missing = [n for n in names if not master_path(n, course_dir).is_file()]
    if missing or not names:
        raise FileNotFoundError(f"no master notebook for {missing or 'any assignment'} under {course_dir}; "
                                f"available: {', '.join(available(course_dir)) or 'none'}")
    dist = Path(dist)
    dist.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        print(f"[course] building {name} ...", flush=True)
        if fresh_cache:
            with tempfile.TemporaryDirectory(prefix="cache-", dir=dist) as empty:
                row = build_assignment(name, dist, course_dir=course_dir, cache_dir=empty)
        else:
            row = build_assignment(name, dist, course_dir=course_dir, cache_dir=cache_dir)
        row["cache"] = "empty" if fresh_cache else "shared"
        print(f"[course] {name}: built in {row['seconds']:.1f} s (otter assign, solutions run and tested)", flush=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    _record(table, dist / "build.csv")
    return table


def _record(table: pd.DataFrame, path: Path) -> None:
    """Merge ``table`` into the build table at ``path``: its assignments' rows replaced, the others kept, in teaching
    order; whole or not at all, also when two builds share the folder."""
    from filelock import FileLock

    with FileLock(path.with_name(f".{path.name}.lock")):
        if path.is_file():
            kept = pd.read_csv(path, dtype=str, keep_default_na=False)
            kept = kept[~kept["assignment"].isin(table["assignment"])]
            table = pd.concat([kept, table.astype(str)], ignore_index=True)
        order = {name: k for k, name in enumerate(ASSIGNMENTS)}
        table = table.sort_values("assignment", key=lambda names: names.map(lambda n: order.get(n, len(order))))
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        table.to_csv(partial, index=False)
        partial.replace(path)
