"""Fixtures shared by the tests that need a real browser (the server they drive is in ``lab_server.py``)."""
import os
import shutil
from pathlib import Path

import pytest
from lab_server import CHROMIUM


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

    from xai_helpers.study import runner

    out = tmp_path_factory.mktemp("smoke-study") / "out"
    lines = []
    rc = runner.main(["--profile", "smoke", "--out", str(out), "--cache-dir", os.environ["XAI_CACHE_DIR"]],
                     log=lines.append)
    run = next((out / "runs").iterdir())  # the one run of this fixture, finished or not
    return SimpleNamespace(rc=rc, log="\n".join(lines), run=run, out=out, cache=Path(os.environ["XAI_CACHE_DIR"]))
