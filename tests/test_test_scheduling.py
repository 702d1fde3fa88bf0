"""How the suite is shared between pytest-xdist workers (tests/conftest.py): the units, and the guard that keeps the
smoke study to one run per session."""
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

_spec = importlib.util.spec_from_file_location("tests_conftest", Path(__file__).with_name("conftest.py"))
suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite)


def test_the_smoke_study_and_each_assignment_are_one_unit_and_other_tests_go_by_module():
    unit = suite.scheduling_unit
    assert unit("tests/test_end_to_end.py::test_smoke_study_twice") == "smoke-study"
    assert unit("tests/test_notebook_outputs.py::test_x[01_cnn_training]") == "smoke-study"
    assert unit("tests/course/test_course.py::test_grading_the_untouched_student_version_and_prepared_wrong_answers[03_concepts]") == "course-03_concepts"
    assert unit("tests/course/test_course.py::test_grading_the_untouched_student_version_and_prepared_wrong_answers[03_concepts]") == "course-03_concepts"
    assert unit("tests/course/test_course_browser.py::test_student_version_runs_in_jupyterlab") == "course-01_gradients"
    assert unit("tests/course/test_course.py::test_every_assignment_is_written") == "tests/course/test_course.py"
    assert unit("tests/cnn/test_attribution.py::test_a[vgg11-224]") == "tests/cnn/test_attribution.py"


def test_a_test_outside_the_smoke_study_modules_that_reads_the_study_stops_collection():
    inside = SimpleNamespace(nodeid="tests/test_end_to_end.py::test_a", fixturenames=["smoke_study"])
    outside = SimpleNamespace(nodeid="tests/reporting/test_report.py::test_b", fixturenames=["tmp_path", "smoke_study"])
    suite.pytest_collection_modifyitems(None, [inside])
    with pytest.raises(pytest.UsageError, match="tests/reporting/test_report.py::test_b reads the smoke study"):
        suite.pytest_collection_modifyitems(None, [inside, outside])


def test_a_worker_and_the_processes_it_starts_use_its_share_of_the_cores():
    """Two workers whose torch each ran two OpenMP threads on 2 cores built the course 4-5x slower (conftest.py)."""
    import os
    import subprocess
    import sys

    import torch

    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        pytest.skip("not run by a pytest-xdist worker (-n 0)")
    share = max(1, len(os.sched_getaffinity(0)) // int(workers))
    child = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert (torch.get_num_threads(), int(child)) == (share, share)
