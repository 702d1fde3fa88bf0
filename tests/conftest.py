"""Fixtures shared across test modules: a real browser (the server it drives is in ``lab_server.py``) and the smoke
study; and how pytest-xdist's workers share the work (``-n 2 --dist loadscope`` in pyproject.toml)."""
import os
import shutil
from pathlib import Path

import pytest
from lab_server import CHROMIUM


#: The test modules that read the smoke study (a session fixture, so built once per pytest-xdist worker that needs
#: it): they form one scheduling unit, so the study runs once per session. Collection fails if another module uses it.
SMOKE_STUDY_MODULES = ("tests/test_end_to_end.py", "tests/test_notebook_outputs.py")
#: Course modules whose tests need one assignment's build without naming it as their parameter.
COURSE_MODULES = {"tests/course/test_course_browser.py": "01_gradients"}


def scheduling_unit(nodeid: str) -> str:
    """What one pytest-xdist worker runs together: the smoke study's tests; each course assignment's tests (its build,
    shared by all workers, is made by the first that needs it: tests/course/conftest.py); otherwise a module (its
    module-scoped fixtures are built once)."""
    module = nodeid.split("::")[0]
    if module in SMOKE_STUDY_MODULES:
        return "smoke-study"
    if module in COURSE_MODULES:
        return f"course-{COURSE_MODULES[module]}"
    assignment = nodeid.rsplit("[", 1)[-1].rstrip("]") if nodeid.endswith("]") else ""
    if module.startswith("tests/course/") and assignment[:2].isdigit():
        return f"course-{assignment}"
    return module


def pytest_collection_modifyitems(config, items):
    outside = [item.nodeid for item in items if "smoke_study" in getattr(item, "fixturenames", ())
               and item.nodeid.split("::")[0] not in SMOKE_STUDY_MODULES]
    if outside:
        raise pytest.UsageError(f"{outside[0]} reads the smoke study but its module is not in SMOKE_STUDY_MODULES "
                                "(tests/conftest.py): pytest-xdist would run the study a second time")


def pytest_xdist_make_scheduler(config, log):
    """Scheduling by :func:`scheduling_unit` (``--dist loadscope`` in pyproject.toml), longest units first: the smoke
    study, then the course's assignments, then the modules in collection order. (``--dist loadgroup`` with
    ``xdist_group`` marks would say the same, but pytest-xdist 3.8.0 ignores the marks under pytest 9.2:
    pytest-dev/pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class StudyScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return scheduling_unit(nodeid)

        def _assign_work_unit(self, node):
            first = min(self.workqueue, key=lambda unit: (unit != "smoke-study", not unit.startswith("course-")))
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return StudyScheduling(config, log)


@pytest.fixture(scope="session")
def chromium_path():
    """Debian's chromium, or a skip with the reason; under CI (``CI`` set) a missing browser fails instead."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set XAI_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: browser tests may not skip in CI")
        pytest.skip(reason)
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in requirements/lock.txt)")
    return CHROMIUM


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory):
    """The whole study (every notebook) at the smoke profile, once per test session, through the runner into the
    session's model cache (conftest.py at the repository root): the end-to-end, report and notebook-output tests
    read this one run, and the explorer and browser tests find its models in the cache. Returns its return code,
    the runner's console output and the run folder."""
    from types import SimpleNamespace

    from xai_helpers.running import runner

    out = tmp_path_factory.mktemp("smoke-study") / "out"
    lines = []
    rc = runner.main(["--profile", "smoke", "--out", str(out), "--cache-dir", os.environ["XAI_CACHE_DIR"]],
                     log=lines.append)
    run = next((out / "runs").iterdir())  # the one run of this fixture, finished or not
    return SimpleNamespace(rc=rc, log="\n".join(lines), run=run, out=out, cache=Path(os.environ["XAI_CACHE_DIR"]))
