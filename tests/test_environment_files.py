"""pyproject.toml, environment.yml and requirements/lock.txt name the same dependencies at agreeing versions."""
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _lock():
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            spec = list(req.specifier)
            assert len(spec) == 1 and spec[0].operator == "==", f"lock entry {line!r} is not an exact pin"
            pins[canonicalize_name(req.name)] = spec[0].version
    return pins


def _pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in reqs}, project


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return conda, pip


def test_environment_yml_and_pyproject_name_the_same_dependencies():
    deps, _ = _pyproject()
    _, pip = _environment()
    named = {canonicalize_name(Requirement(p).name): Requirement(p) for p in pip if not p.startswith("-")}
    assert set(named) == set(deps)


def test_every_pin_agrees_with_the_lock_and_satisfies_pyproject():
    lock = _lock()
    deps, _ = _pyproject()
    _, pip = _environment()
    for name, req in deps.items():
        assert name in lock, f"{name} is missing from requirements/lock.txt"
        assert req.specifier.contains(lock[name], prereleases=True), f"lock pins {name}=={lock[name]}, pyproject {req}"
    for line in pip:
        if not line.startswith("-"):
            req = Requirement(line)
            assert str(req.specifier) == f"=={lock[canonicalize_name(req.name)]}", f"environment.yml {line} vs lock"


def test_environment_yml_installs_the_lock_file_and_the_package_with_the_same_python():
    conda, pip = _environment()
    _, project = _pyproject()
    assert "-r requirements/lock.txt" in pip and "-e ." in pip
    python = next(d for d in conda if d.startswith("python"))
    assert python == f"python{project['requires-python']}", (python, project["requires-python"])


def test_the_installed_environment_is_complete_without_resolving_dependencies():
    """run_all.sh installs the lock with --no-deps: every requirement of every installed package must then be
    installed too (pip check), and nothing the lock does not name (run_all.sh removes it)."""
    done = subprocess.run([sys.executable, "-m", "pip", "check", "--disable-pip-version-check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lock = _lock()
    installed = {canonicalize_name(d.metadata["Name"]) for d in importlib.metadata.distributions()}
    assert installed - set(lock) <= {"pip", "xai-helpers"}, sorted(installed - set(lock))


def test_importing_nbformat_builds_no_iri_grammar():
    """The lock leaves rfc3987-syntax out (its header says why): with it, ``import nbformat`` (every papermill run,
    every kernel that imports otter) imported jsonschema's iri format checker, 1.2 s of Earley parser building."""
    assert "rfc3987-syntax" not in _lock() and "lark" not in _lock()
    done = subprocess.run([sys.executable, "-c", "import sys, nbformat, jsonschema; "
                           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rfc3987_syntax', 'lark')))"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
