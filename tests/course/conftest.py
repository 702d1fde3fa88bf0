"""The course, built once per test session into one folder that every pytest-xdist worker shares: each assignment is
built (``otter assign``) by the first test that needs it, under a file lock; its tests are one scheduling unit
(tests/conftest.py: scheduling_unit), so that different assignments build and grade side by side on different workers."""
import os
from pathlib import Path

import pytest
from filelock import FileLock

from xai_helpers.course.build import autograder_zip, build_course


@pytest.fixture(scope="session")
def built():
    """``built(name)``: the shared course folder, with assignment ``name`` built into it (by this call or an
    earlier one, on any worker)."""
    dist = Path(os.environ["XAI_TEST_SESSION_DIR"]) / "course-dist"
    dist.mkdir(parents=True, exist_ok=True)

    def build(name: str) -> Path:
        with FileLock(dist / f".{name}.lock"):
            if not autograder_zip(name, dist).is_file():
                table = build_course([name], dist)
                assert list(table["assignment"]) == [name]
        return dist
    return build
