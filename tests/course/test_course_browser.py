"""Students' sessions, in a real browser: a built student version served by ``./run_all.sh --lab --notebook-dir
<its folder>`` and run top to bottom in Chromium (Playwright), as a student would after typing their id. Assignment 1
must run without an error, print its public tests' results and say which figures wait for which answer; assignment
7's rating form must save each answer to ``ratings/<id>.csv``; the capstone must audit the model of the id typed."""
import contextlib
import csv
import re
import shutil
import time

import nbformat

from lab_server import running_lab
from test_browser import PANEL, _errors, _wait_idle


@contextlib.contextmanager
def _student_session(built, name, tmp_path, chromium_path, **typed):
    """The student version of ``name`` in JupyterLab, ``typed`` set in its set-up cell (``RATER="s001"``), run
    top to bottom; yields the page (every cell run, no error) and the notebook's folder."""
    from playwright.sync_api import sync_playwright

    folder = tmp_path / name
    shutil.copytree(built(name) / "student" / name, folder)
    notebook = folder / f"{name}.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("SEED ="))
    for variable, value in typed.items():
        cell.source, n = re.subn(rf'^{variable} = ""', f"{variable} = {value!r}", cell.source, flags=re.M)
        assert n == 1, f"{name} has no {variable} = \"\" to type into"
    nbformat.write(nb, notebook)
    with running_lab(notebook_dir=folder) as (url, base, token, lines), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/workspaces/course/tree/{notebook.name}?token={token}")
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
            _wait_idle(page)
            assert not _errors(page), _errors(page)
            yield page, folder
        finally:
            browser.close()


def test_student_version_runs_in_jupyterlab(built, chromium_path, tmp_path):
    with _student_session(built, "01_gradients", tmp_path, chromium_path) as (page, _):
        text = page.locator(PANEL).inner_text()
        assert "q1 results" in text  # grader.check ran in the kernel
        assert "Not drawn yet" in text  # figures name the question they wait for


def test_a_student_rates_the_maps_of_assignment_7_and_each_answer_is_saved(built, chromium_path, tmp_path):
    """RATER typed, the form shows instead of its static view; three answers, three rows in ratings/s001.csv,
    with the student's id, in the order shown."""
    with _student_session(built, "07_counterfactuals", tmp_path, chromium_path, RATER="s001") as (page, folder):
        status = page.locator(".xai-rating-rating-status")
        status.scroll_into_view_if_needed()
        page.locator(".xai-rating-rating").last.scroll_into_view_if_needed()
        assert status.inner_text().startswith("item 1 of 48")
        for answer, k in (("4", 2), ("1", 3), ("5", 4)):
            page.locator(".xai-rating-rating", has_text=answer).first.click()
            page.wait_for_function("([k]) => document.querySelector('.xai-rating-rating-status').textContent"
                                   ".startsWith(`item ${k} of`)", arg=[k], timeout=120_000)
        with open(folder / "ratings" / "s001.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [(r["rater"], r["rating"]) for r in rows] == [("s001", "4"), ("s001", "1"), ("s001", "5")]


def test_the_capstone_audits_the_model_of_the_id_the_student_typed(built, chromium_path, tmp_path):
    with _student_session(built, "08_capstone", tmp_path, chromium_path, STUDENT_ID="s001") as (page, folder):
        assert "q2 results" in page.locator(PANEL).inner_text()  # its public test ran on the (unanswered) work
        # JupyterLab renders only the cells in view: the first cell's output is read from the notebook as saved.
        page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Save Notebook", exact=True).click()
        deadline, printed = time.monotonic() + 60, ""
        while "the model of" not in printed and time.monotonic() < deadline:
            time.sleep(1)
            saved = nbformat.read(folder / "08_capstone.ipynb", as_version=4)
            printed = "".join(out.get("text", "") for c in saved.cells if c.cell_type == "code" for out in c.outputs)
        assert "the model of 's001': accuracy" in printed and "set STUDENT_ID" not in printed
