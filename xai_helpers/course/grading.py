"""Grade a folder of submissions offline: ``otter run`` (no Docker, no network) on each notebook, into a scores
table. ``otter grade`` is not used: it needs Docker and the network.

The grading runs each submission top to bottom in this environment's Python kernel, with every test (public
and hidden) of the assignment's ``autograder.zip``; manually graded (written) questions are not scored here.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .build import DIST_DIR, autograder_zip, master_path


def _messages(result) -> dict[str, list[str]]:
    """Per question, the messages of its failed test cases (what a student reads back)."""
    out = {}
    for question, res in result.to_dict().items():
        failed = [tc["message"] for tc in res.get("test_case_results", []) if not tc.get("passed")]
        if failed:
            out[question] = failed
    return out


def grade_folder(name: str, submissions: str | Path, *, dist: Path = DIST_DIR,
                 out: str | Path | None = None, strict: bool = False) -> pd.DataFrame:
    """Grade every ``*.ipynb`` in ``submissions`` against assignment ``name``'s autograder (built into
    ``dist``). Returns one row per submission (score per question, total, possible, percent) and writes it to
    ``out`` (default ``<submissions>/scores.csv``), with each submission's failed-test messages in
    ``<submissions>/feedback/<submission>.json``; all of it once every submission is graded, none of it if grading
    stops.

    ``strict``: a cell that raises stops the grading with a :class:`RuntimeError` naming the submission and the
    cell (otter's debug mode), instead of costing the marks of the questions that need it. For checking a course's
    own notebooks (the untouched student version must run top to bottom), not for grading a class."""
    master_path(name)  # refuses an unknown assignment by name
    zip_path = autograder_zip(name, dist)
    if not zip_path.is_file():
        raise FileNotFoundError(f"no autograder for {name} at {zip_path}: build it first (./run_all.sh --course)")
    folder = Path(submissions)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise FileNotFoundError(f"no submissions (*.ipynb) in {folder}")
    rows, messages = [], {}
    for path in tqdm(notebooks, desc=f"grading {name}", unit="submission"):
        result = _grade(path, zip_path, strict)
        scores = {q: res["score"] for q, res in result.to_dict().items()}
        rows.append({"submission": path.name, **scores, "total": result.total, "possible": result.possible,
                     "percent": round(100 * result.total / result.possible, 1) if result.possible else 0.0})
        messages[path.stem] = _messages(result)
    feedback = folder / "feedback"
    feedback.mkdir(exist_ok=True)
    for stem, failed in messages.items():
        (feedback / f"{stem}.json").write_text(json.dumps(failed, indent=1, ensure_ascii=False))
    table = pd.DataFrame(rows)
    out = Path(out) if out else folder / "scores.csv"
    table.to_csv(out, index=False)
    return table


def _grade(path: Path, zip_path: Path, strict: bool):
    from nbclient.exceptions import CellExecutionError
    from otter.api import grade_submission  # imported here: the rest of the package works without otter

    from .otter_kernels import immediate_shutdown

    try:
        with immediate_shutdown():
            return grade_submission(str(path), str(zip_path), quiet=True, debug=strict)
    except CellExecutionError as error:  # raised only in debug mode: otherwise the error costs marks
        raise RuntimeError(f"{path.name}: a cell raised while grading strictly:\n{error}") from error
