"""A student's first session, in a real browser: the built student version of assignment 1 served by
``./run_all.sh --lab --notebook-dir <its folder>`` and run top to bottom in Chromium (Playwright). It must run
without an error, print its public tests' results, and say which figures wait for which answer."""
import shutil

from lab_server import running_lab
from test_browser import PANEL, _errors, _wait_idle


def test_student_version_runs_in_jupyterlab(built, chromium_path, tmp_path):
    from playwright.sync_api import sync_playwright

    dist = built("01_gradients")
    folder = tmp_path / "01_gradients"
    shutil.copytree(dist / "student" / "01_gradients", folder)
    with running_lab(notebook_dir=folder) as (url, base, token, lines), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/workspaces/course/tree/01_gradients.ipynb?token={token}")
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
            page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
            _wait_idle(page)
            assert not _errors(page)
            text = page.locator(PANEL).inner_text()
            assert "q1 results" in text  # grader.check ran in the kernel
            assert "Not drawn yet" in text  # figures name the question they wait for
        finally:
            browser.close()
