"""Test-session environment, shared by the unit tests and nbval's notebook runs.

The committed notebooks run at the smoke profile, write into a temporary run folder and use a temporary model
cache, so the tests never touch results/ and never need the network.
"""
import atexit
import os
import shutil
import tempfile

_session_tmp = tempfile.mkdtemp(prefix="xai-tests-")
atexit.register(shutil.rmtree, _session_tmp, ignore_errors=True)  # ~40 MB of runs and cached models per session
os.environ["XAI_PROFILE"] = "smoke"
# pytest-xdist's workers inherit this process's environment, so the controller's folders are every worker's: one
# model cache, one smoke study and one built course per test session (tests/conftest.py, tests/course/conftest.py).
os.environ.setdefault("XAI_TEST_SESSION_DIR", _session_tmp)
os.environ.setdefault("XAI_RUN_DIR", os.path.join(_session_tmp, "run"))
os.environ.setdefault("XAI_CACHE_DIR", os.path.join(_session_tmp, "cache"))
os.environ["XAI_HEADLESS"] = "1"
# A pytest-xdist worker, and every kernel and process it starts, gets its share of the cores (the runner's
# THREAD_VARIABLES for the processes it starts, torch.set_num_threads for itself): two workers whose torch each ran
# two OpenMP threads on 2 cores built the course 4-5x slower than one process after the other.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    import torch

    from xai_helpers.running.notebook_process import THREAD_VARIABLES

    _share = max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _variable in THREAD_VARIABLES:
        os.environ.setdefault(_variable, str(_share))
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
os.environ.pop("MPLBACKEND", None)
