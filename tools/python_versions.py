"""The Python versions the study admits (pyproject.toml's requires-python) and the interpreters of them on this machine.

    .venv/bin/python tools/python_versions.py [--except 3.11]   # one interpreter per admitted version found here

.ci/run runs the suite once more with each Python found here besides .venv's; tests/test_lock.py runs run_all.sh's
version check with each.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def requires_python() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]


def admitted() -> list[str]:
    """Every minor version ``requires-python`` admits (``>=3.11.5,<3.14``: 3.11, 3.12, 3.13), each as the lowest
    version it admits: a lower bound with a patch level (3.11.5) is kept, since a pin may need it."""
    spec = requires_python()
    low = re.search(r">=\s*3\.(\d+)(\.\d+)?", spec)
    high = re.search(r"<\s*3\.(\d+)", spec)
    if not (low and high):
        raise ValueError(f"requires-python {spec!r} is not of the form '>=3.A[.B],<3.C'")
    first, last = int(low.group(1)), int(high.group(1))
    return [f"3.{minor}" + ((low.group(2) or "") if minor == first else "") for minor in range(first, last)]


def found_here() -> dict[str, str]:
    """One interpreter that runs per admitted minor version ({"3.12": path}): on PATH, else among pyenv's versions
    (whose shims on PATH run only the versions pyenv has activated)."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = {}
    for version in admitted():
        minor = ".".join(version.split(".")[:2])
        paths = [shutil.which(f"python{minor}")] + sorted(glob.glob(f"{pyenv_root}/versions/{minor}.*/bin/python{minor}"))
        for path in filter(None, paths):
            if subprocess.run([path, "-c", "pass"], capture_output=True).returncode == 0:
                found[minor] = path
                break
    return found


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--except", dest="skip", action="append", default=[], metavar="3.X",
                        help="leave this minor version out (repeatable)")
    args = parser.parse_args()
    for minor, path in found_here().items():
        if minor not in args.skip:
            print(path)
