"""The lock installs on every platform and Python the study claims, and run_all.sh takes exactly the Pythons that
pyproject.toml admits.

The lock's check asks the package index (uv's dry run of ``install --no-deps``, wheels only): without the index it
skips with the reason, except under CI (``CI`` set), where it fails, as the browser tests do without Chromium."""
from __future__ import annotations

import glob
import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


python_versions, update_lock = _tool("python_versions"), _tool("update_lock")


@pytest.fixture(scope="module")
def package_index():
    try:
        socket.create_connection(("pypi.org", 443), timeout=10).close()
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"the package index is out of reach ({error}): the lock's check may not skip in CI")
        pytest.skip(f"the package index is out of reach ({error})")


@pytest.mark.parametrize("platform", update_lock.PLATFORMS)
@pytest.mark.parametrize("python", python_versions.admitted())
def test_the_lock_installs_from_wheels(package_index, python, platform):
    ok, tail = update_lock.check(update_lock.LOCK, python, platform)
    assert ok, f"Python {python} on {update_lock.PLATFORMS[platform]}:\n{tail}"


def test_the_check_fails_for_a_pin_without_a_wheel_for_the_platform(package_index, tmp_path):
    """triton has Linux wheels only: unmarked, it cannot install on Windows (the lock marks it ``sys_platform ==
    'linux'``)."""
    lock = tmp_path / "lock.txt"
    lock.write_text("triton==3.8.0\n")
    assert update_lock.check(lock, "3.12", "x86_64-unknown-linux-gnu")[0]
    ok, tail = update_lock.check(lock, "3.12", "x86_64-pc-windows-msvc")
    assert not ok and "triton" in tail


def test_the_lock_covers_each_minor_version_pyproject_admits():
    assert python_versions.admitted() == ["3.11.5", "3.12", "3.13"], "a pin (soupsieve) needs 3.11.5"


def _find_python(python: str | None, cwd: Path = ROOT, path: str | None = None) -> subprocess.CompletedProcess:
    """run_all.sh's own ``find_python`` (its text, cut out of the script), with ``PYTHON`` set (or unset: None)
    and ``PATH`` given (or this process's)."""
    script = (ROOT / "run_all.sh").read_text()
    functions = script[script.index("python_ok() {"):script.index("# The environment is stale")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"} | ({"PYTHON": python} if python else {})
    env["PATH"] = path or env["PATH"]
    return subprocess.run(["bash", "-c", functions + "\nfind_python"], cwd=cwd, capture_output=True, text=True, env=env)


@pytest.mark.parametrize("minor", [".".join(v.split(".")[:2]) for v in python_versions.admitted()])
def test_run_all_takes_each_python_pyproject_admits(minor):
    path = sys.executable if sys.version.startswith(minor + ".") else python_versions.found_here().get(minor)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"no Python {minor} on this machine: CI must run run_all.sh's check with each")
        pytest.skip(f"no Python {minor} on this machine")
    done = _find_python(path)
    assert done.returncode == 0 and done.stdout.strip() == path, done.stderr


def test_run_all_refuses_a_named_python_outside_the_range_instead_of_taking_another(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.99"\n')
    done = _find_python(sys.executable, cwd=tmp_path)  # a Python that runs, but is not admitted
    version = sys.version.split()[0]
    assert done.returncode == 1 and done.stdout == ""
    assert f"PYTHON={sys.executable} is Python {version}; Python >=3.99 is required" in done.stderr
    older = glob.glob(os.path.expanduser("~/.pyenv/versions/3.10.*/bin/python3.10"))
    if older:  # no tomllib: refused as well, by name
        older = older[0]
        done = _find_python(older)
        assert done.returncode == 1 and "Python 3.10" in done.stderr and ">=3.11.5,<3.14" in done.stderr
    done = _find_python(str(tmp_path / "no-such-python"))
    assert done.returncode == 1 and "not a Python that runs here" in done.stderr


def test_run_all_keeps_the_python_of_an_existing_venv(tmp_path):
    """Set up once with PYTHON=python3.12, .venv stays on 3.12 in later runs that name no Python (it is not recreated
    with python3)."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    done = _find_python(None, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == ".venv/bin/python", done.stderr


def test_run_all_finds_an_admitted_versioned_python_when_python3_is_not_one(tmp_path):
    """With no .venv and python3/python outside the range, run_all.sh looks for python3.N itself (the range read
    from pyproject.toml, not a list of its own): here, only the running interpreter's own version is admitted."""
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / "pyproject.toml").write_text(f'[project]\nrequires-python = ">={minor},<3.{sys.version_info[1] + 1}"\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3", "python"):  # on PATH first, and not a Python that runs
        (bin_dir / name).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / name).chmod(0o755)
    (bin_dir / f"python{minor}").symlink_to(sys.executable)
    done = _find_python(None, cwd=tmp_path, path=f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode == 0 and done.stdout.strip() == f"python{minor}", done.stderr


def test_run_all_refuses_a_native_windows_shell_before_installing_anything(tmp_path):
    """Git Bash and MSYS2 report MINGW64_NT-...: run_all.sh says to use WSL 2 and stops with 2, before it looks for a
    Python (PYTHON names none that exists, so a run_all.sh without the check fails later, with 1 and another error)."""
    (tmp_path / "run_all.sh").write_text((ROOT / "run_all.sh").read_text())
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uname").write_text("#!/bin/sh\necho MINGW64_NT-10.0-19045\n")
    (bin_dir / "uname").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHON=str(tmp_path / "no-python"))
    done = subprocess.run(["bash", str(tmp_path / "run_all.sh"), "--help"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "MINGW64_NT-10.0-19045 is native Windows, which is not supported: run the study in WSL 2" in done.stderr
    assert not (tmp_path / ".venv").exists()
