"""Write requirements/lock.txt: one lock for every platform and Python the study supports (uv's universal resolution).

    .venv/bin/python tools/update_lock.py            # keep every pin the lock has, add what a platform needs
    .venv/bin/python tools/update_lock.py --upgrade  # resolve afresh from pyproject.toml's lower bounds

The lock pins each package exactly, with an environment marker where a package is only needed on some platforms or
Pythons (the CUDA wheels that PyPI's Linux torch needs, pywinpty on Windows, appnope on macOS, aiohttp for
papermill on 3.12). run_all.sh installs it with ``uv pip sync`` (pip would with ``--no-deps``), which evaluates the
markers for the machine it runs on.
``check`` (and tests/test_lock.py) asks uv whether the lock installs, from wheels only, on every target in
:data:`PLATFORMS` × ``python_versions.admitted()``, without installing anything.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # a script beside its sibling
from python_versions import admitted, requires_python  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"

#: uv's name of each platform the lock is checked for: (uv --python-platform, what the README calls it).
PLATFORMS = {
    "x86_64-unknown-linux-gnu": "Linux x86-64",
    "aarch64-unknown-linux-gnu": "Linux aarch64",
    "aarch64-apple-darwin": "macOS arm64 (14 or newer)",
    "x86_64-pc-windows-msvc": "Windows amd64",
}
#: torch 2.14's macOS wheels are built for macOS 14 (macosx_14_0_arm64); uv assumes 13 unless told.
MACOS_TARGET = "14.0"
#: Pure-Python packages that PyPI has only as a source distribution (installing one builds a wheel in seconds).
SDIST_ONLY = ("connection-pool",)
#: Left out on purpose (see HEADER).
LEFT_OUT = ("rfc3987-syntax", "lark")

HEADER = """\
# Exact versions of the study's environment, for Python {python} on Linux (x86-64, aarch64), macOS (arm64, 14
# or newer) and Windows (amd64): one universal lock (uv pip compile --universal), with an environment marker on each pin
# that only some platforms or Pythons need. On Linux, PyPI's torch is the CUDA 13 build (it also runs on CPU) and
# brings the nvidia-* wheels; on macOS and Windows PyPI's torch is a CPU build.
# Regenerate with: .venv/bin/python tools/update_lock.py [--upgrade] (it keeps pyproject.toml's bounds; update
# environment.yml to match: tests/test_environment_files.py checks all three agree; tests/test_lock.py checks that
# the lock installs on every platform and Python above).
# run_all.sh installs exactly it (uv pip sync: no resolution, and what it does not name is removed). Left out on purpose:
# rfc3987-syntax (and its lark), which jupyter-events asks for through jsonschema[format-nongpl]: when present,
# jsonschema imports it on its own import and it builds three Earley parsers there, 1.2 s in every process that imports
# nbformat (each papermill run, each otter kernel: ~100 per test session). It only checks the iri formats of JSON
# schemas, which nothing here uses (python-jsonschema/jsonschema#1428).
"""


def uv() -> str:
    """uv from this interpreter's environment (the lock pins it)."""
    path = Path(sys.executable).with_name("uv.exe" if os.name == "nt" else "uv")
    if not path.is_file():
        raise FileNotFoundError(f"uv is not installed beside {sys.executable} (it is in requirements/lock.txt)")
    return str(path)


def check(lock: Path, python: str, platform: str) -> tuple[bool, str]:
    """Whether ``lock`` installs from wheels (and :data:`SDIST_ONLY`) for ``python`` on ``platform``: uv's dry run
    of ``install --no-deps``, as run_all.sh installs it. Returns (ok, uv's last lines). Reads the package index."""
    if platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r} is not allowed: expected one of {', '.join(PLATFORMS)}")
    with tempfile.TemporaryDirectory() as target:
        command = [uv(), "pip", "install", "--dry-run", "--no-deps", "--only-binary", ":all:",
                   *[arg for name in SDIST_ONLY for arg in ("--no-binary", name)],
                   "--python-platform", platform, "--python-version", python, "--target", target, "-r", str(lock)]
        done = subprocess.run(command, capture_output=True, text=True,
                              env=dict(os.environ, MACOSX_DEPLOYMENT_TARGET=MACOS_TARGET))
    return done.returncode == 0, "\n".join((done.stdout + done.stderr).strip().splitlines()[-6:])


def compile_lock(upgrade: bool) -> str:
    """The lock's body from uv's universal resolution of pyproject.toml with every extra."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch, "lock.txt")
        command = [uv(), "pip", "compile", str(ROOT / "pyproject.toml"), "--all-extras", "--universal",
                   "--python-version", admitted()[0], "--no-annotate", "--no-header", "-o", str(out),
                   *[arg for name in LEFT_OUT for arg in ("--no-emit-package", name)]]
        if not upgrade:  # the current pins as constraints: nothing moves that need not
            pins = Path(scratch, "pins.txt")
            pins.write_text("\n".join(line for line in LOCK.read_text().splitlines() if not line.startswith("#")))
            command += ["-c", str(pins)]
        subprocess.run(command, check=True)
        return out.read_text()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="resolve afresh instead of keeping the current pins")
    parser.add_argument("--check", action="store_true", help="only check that the lock installs on every target")
    args = parser.parse_args(argv)
    if not args.check:
        body = compile_lock(args.upgrade)
        LOCK.write_text(HEADER.format(python=requires_python()) + body)
        print(f"wrote {LOCK.relative_to(ROOT)}")
    failed = 0
    for python in admitted():
        for platform, name in PLATFORMS.items():
            ok, tail = check(LOCK, python, platform)
            failed += not ok
            print(f"Python {python} on {name}: {'installs' if ok else 'FAILS'}" + ("" if ok else f"\n{tail}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
