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
