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
os.environ.setdefault("XAI_RUN_DIR", os.path.join(_session_tmp, "run"))
os.environ.setdefault("XAI_CACHE_DIR", os.path.join(_session_tmp, "cache"))
os.environ["XAI_HEADLESS"] = "1"
os.environ.pop("MPLBACKEND", None)
