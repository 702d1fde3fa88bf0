"""The interactive notebooks in a real browser: JupyterLab started by ``run_all.sh --lab`` on a free port, driven
by Playwright in Debian's Chromium. 07's explorers answer clicks and slider moves (the image changes and the
kernel's state follows), and 06's rating form writes one row per answer to disk.

The notebooks run at the smoke profile in the test session's cache (conftest.py at the repository root), copied
into a temporary folder as they are (``interactive = None``: the lab clears ``XAI_HEADLESS``, so the forms show
without an edit, as a reader opening 07 and pressing Run All would see them). Without Chromium these tests skip with the reason, except
under CI, where they fail (tests/conftest.py: ``chromium_path``)."""
import csv
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from lab_server import ROOT, running_lab

#: A whole notebook at smoke, training what the cache lacks on 2 busy cores.
RUN_TIMEOUT_MS = int(os.environ.get("XAI_BROWSER_TIMEOUT_MS", 600_000))


def _copy(name: str, folder, as_name: str | None = None, **parameters) -> None:
    """notebooks/<name> into ``folder`` (as ``as_name``) with parameters set in its parameters cell (what a user
    would type)."""
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for key, value in parameters.items():
        cell.source, n = re.subn(rf"^{key}: (.*?) = .*?(  #.*)?$", rf"{key}: \1 = {value!r}\2", cell.source, flags=re.M)
        assert n == 1, f"{name} declares no parameter {key}"
    nbformat.write(nb, folder / (as_name or name))


@pytest.fixture(scope="module")
def lab(chromium_path, tmp_path_factory):  # no browser, no server: the skip (or CI's failure) comes first
    folder = tmp_path_factory.mktemp("notebooks")
    ratings = tmp_path_factory.mktemp("ratings")
    _copy("07_explorer.ipynb", folder)  # as it is: the forms show in a JupyterLab without an edit
    _copy("06_evaluation.ipynb", folder, rater="browser-test", ratings_dir=str(ratings))
    # A practitioner's model (issue 33): a torchvision ResNet-18, trained here at smoke as 01 would train it.
    _copy("07_explorer.ipynb", folder, "07_explorer_resnet18.ipynb", model_source="torchvision",
          model_name="resnet18")
    with running_lab(notebook_dir=folder) as (url, base, token, lines):
        yield base, token, ratings, lines


@pytest.fixture(scope="module")
def browser(lab, chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _open_and_run_all(browser, lab, notebook: str):
    base, token, _, _ = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # A workspace of its own per notebook, so that no tab of an earlier page is restored. (Not ``?reset``: JupyterLab
    # then reloads the page once it has reset, and a click made before that reload is lost.)
    page.goto(f"{base}/lab/workspaces/{notebook.removesuffix('.ipynb')}/tree/{notebook}?token={token}")
    # The study's kernel is started and idle (the status bar says so) before anything runs: a run-all clicked while
    # the kernel is still starting can be lost.
    page.get_by_text("XAI study (.venv) | Idle").wait_for(timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
    return page


#: The notebook on show (JupyterLab keeps other tabs in the DOM, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _wait_idle(page):
    """Every code cell on the page has run (its prompt shows a number, not ``[ ]`` or ``[*]``) and the kernel has
    stayed idle for a second; or a cell failed (run-all stops there). JupyterLab renders only the cells near the
    view, so "every cell" is every rendered one, and the kernel's idleness covers the rest."""
    state = """() => {
        // JupyterLab renders a cell's error as stderr text (a traceback), not as its own MIME type
        const failed = [...document.querySelectorAll("PANEL [data-mime-type='application/vnd.jupyter.stderr'], "
            + "PANEL [data-mime-type='application/vnd.jupyter.error']")].some(e => /Traceback|Error/.test(e.textContent));
        const prompts = [...document.querySelectorAll('PANEL .jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
        const done = prompts.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t));
        const idle = document.querySelector("PANEL .jp-Notebook-ExecutionIndicator[data-status='idle']")
            || document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
        return failed ? "failed" : (done && idle ? "done" : "");
    }""".replace("PANEL", PANEL)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        for _ in range(2):  # twice, a second apart: idle between two queued cells is not the end
            page.wait_for_function(state, timeout=RUN_TIMEOUT_MS)
            if page.evaluate(state) == "failed":
                return
            page.wait_for_timeout(1000)
        page.wait_for_function(state, timeout=RUN_TIMEOUT_MS)
    except PlaywrightTimeout:  # say what the page showed: prompts, kernel state, and a screenshot to look at
        shot = Path(os.environ.get("XAI_RUN_DIR", ".")) / "browser-timeout.png"
        page.screenshot(path=str(shot), full_page=True)
        prompts = page.evaluate(f"() => [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')]"
                                ".map(p => p.textContent).join(' ')")
        dialogs = page.locator(".jp-Dialog").all_inner_texts()
        raise AssertionError(f"the notebook did not finish within {RUN_TIMEOUT_MS / 1000:.0f} s: prompts {prompts}; "
                             f"dialogs {dialogs}; screenshot {shot}") from None


def _errors(page) -> list[str]:
    """Tracebacks and error text anywhere in the notebook's outputs (stderr included: an error in a widget's
    worker would only be printed there)."""
    texts = page.locator(f"{PANEL} [data-mime-type='application/vnd.jupyter.error'], "
                         f"{PANEL} [data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    return [t for t in texts if re.search(r"Error|Traceback|Exception", t)]


def _export(page, app: str, exports) -> dict:
    """Click the form's export button and read the JSON the kernel wrote: the kernel's own record of the form's
    controls and view (so the browser and the kernel are checked to agree)."""
    before = set(exports.glob(f"{app}-*.json")) if exports.exists() else set()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from xai_helpers.explorer.app_widgets import EXPORT_WAIT_SECONDS

    page.locator(f".xai-{app}-export").click()
    status = f"{PANEL} .xai-{app}-status"
    try:  # longer than the kernel's own wait for an answer still being computed (EXPORT_WAIT_SECONDS)
        page.wait_for_function("([s]) => document.querySelector(s).textContent.startsWith('exported')",
                               arg=[status], timeout=(EXPORT_WAIT_SECONDS + 60) * 1000)
    except PlaywrightTimeout:
        shot = Path(os.environ.get("XAI_RUN_DIR", ".")) / f"browser-export-{app}.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"no 'exported' status line: it says {page.locator(status).inner_text()!r}; "
                             f"screenshot {shot}") from None
    new = sorted(set(exports.glob(f"{app}-*.json")) - before)
    assert len(new) == 1, new
    return json.loads(new[0].read_text())


def _rating_state(page, lab, what: str) -> str:
    """What the page, the ratings file and the server showed when the rating form stopped answering, with a
    screenshot."""
    _, _, ratings, lines = lab
    shot = Path(os.environ.get("XAI_RUN_DIR", ".")) / "browser-rating-timeout.png"
    page.screenshot(path=str(shot), full_page=True)
    statuses = page.locator(".xai-rating-rating-status").all_inner_texts()
    buttons = page.locator(".xai-rating-rating").all_inner_texts()
    saved = [p.read_text()[-3000:] for p in sorted(ratings.glob("*.csv"))]
    return (f"{what}: status elements {statuses}; answer buttons {buttons}; ratings files {saved}; "
            f"errors on the page {_errors(page)}; screenshot {shot}; the server's last lines:\n" + "".join(lines[-40:]))


def _src(page, selector: str) -> str:
    return page.locator(selector).get_attribute("src") or ""


def _changes(page, selector: str, before: str) -> None:
    page.wait_for_function("([sel, before]) => (document.querySelector(sel) || {}).src !== before",
                           arg=[selector, before], timeout=120_000)


#: The explorers' forms, by their root classes (xai_helpers/explorer/app_widgets.py).
FORMS = (".xai-attribution", ".xai-latent", ".xai-training", ".xai-concepts")
#: What counts as a control a reader can move: ipywidgets' own classes for its inputs.
CONTROLS = (".widget-slider, .widget-dropdown, .widget-select-multiple, .jupyter-button, .widget-toggle-buttons, "
            ".widget-text")


def _controls(page) -> int:
    """The controls in the notebook on show."""
    return page.locator(", ".join(f"{PANEL} {c.strip()}" for c in CONTROLS.split(","))).count()


def _cut_off(page) -> list[str]:
    """Controls of the explorers' forms whose right edge lies beyond their output area's (cut off, or reached only by
    scrolling sideways), each form measured once scrolled into view (JupyterLab lays out only cells near the view)."""
    found = []
    for form in FORMS:
        page.locator(f"{PANEL} {form}").first.scroll_into_view_if_needed()
        measured, beyond = page.evaluate("""([form, controls]) => {
            const root = document.querySelector(`PANEL ${form}`);
            const limit = root.closest('.jp-OutputArea-output').getBoundingClientRect().right + 1;
            const shown = [...root.querySelectorAll(controls)]
                .filter(w => w.getBoundingClientRect().width > 0);
            return [shown.length, shown.filter(w => w.getBoundingClientRect().right > limit)
                .map(w => `${form} ${w.className.split(' ').filter(c => c.startsWith('xai-')).join(' ') || w.className}`
                          + ` ends at ${Math.round(w.getBoundingClientRect().right)} px, the output at ${Math.round(limit)}`)];
        }""".replace("PANEL", PANEL), [form, CONTROLS])
        assert measured >= 3, f"{form}: only {measured} controls laid out to measure"  # not a vacuous pass
        found += beyond
    return found


def test_explorer_runs_and_answers_a_method_choice_and_a_latent_slider(lab, browser):
    page = _open_and_run_all(browser, lab, "07_explorer.ipynb")
    _wait_idle(page)
    assert not _errors(page), _errors(page)
    # The forms fit the notebook as a reader sees it: 1,500 px wide with the file browser open (issue 33).
    page.set_viewport_size({"width": 1500, "height": 1000})
    if not page.locator("#filebrowser").is_visible():
        page.locator(".jp-SideBar.jp-mod-left [data-id='filebrowser']").click()
    page.locator("#filebrowser").wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(500)  # the notebook's relayout
    assert not _cut_off(page), _cut_off(page)
    page.set_viewport_size({"width": 1400, "height": 1000})
    assert page.locator("img.xai-attribution-figure[src^='blob:']").count() == 1
    assert page.locator("img.xai-latent-figure[src^='blob:']").count() == 1
    controls = _controls(page)
    assert controls >= 10, controls

    # Select two methods in the attribution form: a new figure, and the kernel's form holds those methods.
    figure = "img.xai-attribution-figure"
    before = _src(page, figure)
    page.locator(".xai-attribution-methods select").select_option(label=["Saliency", "Occlusion"])
    _changes(page, figure, before)
    # Move the first SeFa slider by typing into its readout (what a user does for an exact value).
    figure = "img.xai-latent-figure"
    before = _src(page, figure)
    readout = page.locator(".xai-latent-sefa_alpha .widget-readout")
    readout.scroll_into_view_if_needed()
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    _changes(page, figure, before)
    exports = Path(os.environ["XAI_RUN_DIR"]) / "exports"
    shown = _export(page, "attribution", exports)
    assert shown["controls"]["methods"] == ["saliency", "occlusion"] and set(shown["methods"]) == {"saliency",
                                                                                                   "occlusion"}
    moved = _export(page, "latent", exports)
    assert moved["controls"]["sefa_alpha"] == 2.0 and list(moved["moves"].values()) == [2.0]
    page.close()


def test_explorer_explains_a_supplied_resnet_and_switches_to_its_shortcut_copy(lab, browser):
    """Issue 33's bar for a practitioner's model: 07 with ``model_source torchvision`` runs every cell in the lab,
    offers the user's model and 02's shortcut-trained copy of it, and switching between them redraws the map."""
    page = _open_and_run_all(browser, lab, "07_explorer_resnet18.ipynb")
    _wait_idle(page)
    assert not _errors(page), _errors(page)
    controls = _controls(page)
    assert controls >= 10, controls
    switch = page.locator(f"{PANEL} .xai-attribution-model select")
    labels = switch.evaluate("s => [...s.options].map(o => o.textContent.replace(/\\u00a0/g, ' '))")
    assert labels == ["your resnet18", "shortcut resnet18"], labels  # ipywidgets writes non-breaking spaces
    figure = f"{PANEL} img.xai-attribution-figure"
    before = _src(page, figure)
    switch.scroll_into_view_if_needed()
    switch.select_option(label="shortcut resnet18")
    _changes(page, figure, before)
    shown = _export(page, "attribution", Path(os.environ["XAI_RUN_DIR"]) / "exports")
    assert shown["model"] == "shortcut" and shown["controls"]["model"] == "shortcut"
    assert shown["model_checkpoint"].startswith("classifier-") and set(shown["methods"]) == set(shown["controls"]["methods"])
    page.close()


def test_rating_form_writes_one_row_per_answer(lab, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _, _, ratings, _ = lab
    page = _open_and_run_all(browser, lab, "06_evaluation.ipynb")
    _wait_idle(page)
    assert not _errors(page), _errors(page)
    status = page.locator(".xai-rating-rating-status")
    # Bring the form into view before the first answer, as a rater would see it (and as the explorer test does with
    # its slider): JupyterLab's windowed notebook renders cells as they scroll in, and a click made while scrolling
    # to the form got lost three times under load (the form stayed at item 1, nothing was saved, no error anywhere).
    # Unconfirmed: the failure was never reproduced on purpose.
    status.scroll_into_view_if_needed()
    page.locator(".xai-rating-rating").last.scroll_into_view_if_needed()
    for answer, k in (("4", 2), ("2", 3), ("5", 4)):
        page.locator(".xai-rating-rating", has_text=answer).first.click()
        try:
            page.wait_for_function("([k]) => document.querySelector('.xai-rating-rating-status').textContent"
                                   ".startsWith(`item ${k} of`)", arg=[k], timeout=120_000)
        except PlaywrightTimeout:  # seen twice under the suite's load, never alone: say all there is to see
            raise AssertionError(_rating_state(page, lab, f"answer {answer} did not move the form to item {k}")) \
                from None
    assert status.inner_text().startswith("item 4 of")
    with open(ratings / "browser-test.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["rater"], r["task"], r["rating"]) for r in rows] == [("browser-test", "rating", "4"),
                                                                    ("browser-test", "rating", "2"),
                                                                    ("browser-test", "rating", "5")]
    page.close()


@pytest.mark.parametrize("ci, outcome", [("", "2 skipped"), ("1", "2 errors")])
def test_without_chromium_the_browser_tests_skip_with_the_reason_except_under_ci(ci, outcome):
    """Run this file's browser tests in a child pytest with no browser: a visible skip, or under CI a failure (so a
    CI machine without Chromium cannot pass by skipping). No server is started for it."""
    import subprocess
    import sys

    env = dict(os.environ, XAI_CHROMIUM="/nonexistent/chromium", CI=ci)
    done = subprocess.run([sys.executable, "-m", "pytest", "-rsE", "-p", "no:cacheprovider", "-o", "addopts=",
                           f"{__file__}::test_explorer_runs_and_answers_a_method_choice_and_a_latent_slider",
                           f"{__file__}::test_rating_form_writes_one_row_per_answer"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in done.stdout, done.stdout[-2000:]
    assert "no Chromium at /nonexistent/chromium" in done.stdout
    assert ("may not skip in CI" in done.stdout) == bool(ci)
    assert "Jupyter Server" not in done.stdout + done.stderr
