"""pyproject.toml, environment.yml and requirements/lock.txt name the same dependencies at agreeing versions."""
import re
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
    version = re.search(r"\d+\.\d+", python).group()
    assert f">={version}" in project["requires-python"]
