"""The course built once per test session (``otter assign`` on every master), shared by the course tests."""
import pytest

from xai_helpers.course.build import available, build_course


@pytest.fixture(scope="session")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("course-dist")
    table = build_course(available(), out)
    assert list(table["assignment"]) == available()
    return out
