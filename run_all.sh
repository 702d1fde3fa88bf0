#!/usr/bin/env bash
# The study's two commands (see README.md):
#   ./run_all.sh [options]        set up .venv if missing or stale, then run every notebook (python -m xai_helpers.study.runner)
#   ./run_all.sh --test [args]    same set-up, then the whole test suite (pytest: unit tests + nbval + end-to-end)
#   ./run_all.sh --lab [--port N] [--no-browser]
#                                 same set-up, then JupyterLab on notebooks/ with the kernel "XAI study (.venv)"
#   ./run_all.sh --course [--only NAME ...] [--fresh-cache]
#                                 same set-up, then otter assign on course/*/ into course/dist/{student,autograder}/
#   ./run_all.sh --course grade NAME FOLDER
#                                 grade a folder of submissions offline into FOLDER/scores.csv
# ./run_all.sh --help lists the runner's options.
set -euo pipefail
cd "$(dirname "$0")"

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "run_all.sh: error: Python 3.11 is required (the lock file pins wheels for it); set PYTHON=/path/to/python3.11" >&2
    return 1
}

# The environment is stale when the lock file, pyproject.toml or the Python version changed since set-up.
wanted_stamp() {  # (Python, not sha256sum, so that it also works where coreutils differ, e.g. macOS)
    "$1" -c 'import hashlib, sys; h = hashlib.sha256(open("requirements/lock.txt", "rb").read() + open("pyproject.toml", "rb").read()); h.update(sys.version.encode()); print(h.hexdigest())'
}

# Packages that the lock does not name (kept from an older lock, or installed by hand) are removed: .venv is the lock.
remove_unlocked() {
    local extra
    extra=$(.venv/bin/python -c 'import importlib.metadata as md, re
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
locked = {norm(line.split("==")[0]) for line in open("requirements/lock.txt") if "==" in line and not line.startswith("#")}
installed = {norm(d.metadata["Name"]) for d in md.distributions()}
print(" ".join(sorted(installed - locked - {"pip", "xai-helpers"})))')
    if [ -n "$extra" ]; then
        echo "[setup] removing packages the lock does not name: $extra"
        .venv/bin/python -m pip uninstall --disable-pip-version-check -y $extra
    fi
}

setup_venv() {
    local py stamp
    py=$(find_python)
    stamp=$(wanted_stamp "$py")
    if [ -x .venv/bin/python ] && [ "$(cat .venv/.xai-stamp 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    if [ -x .venv/bin/python ] && ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        echo "[setup] .venv has another Python version: recreating it" >&2
        rm -rf .venv
    fi
    echo "[setup] installing the locked environment into .venv (first run: a few minutes) ..." >&2
    [ -x .venv/bin/python ] || "$py" -m venv .venv
    rm -f .venv/.xai-stamp  # an interrupted install stays stale and is redone next time
    # --no-deps: the lock pins every package, and leaves one out on purpose (see its header)
    if ! { .venv/bin/python -m pip install --disable-pip-version-check --no-deps -r requirements/lock.txt &&
           .venv/bin/python -m pip install --disable-pip-version-check --no-deps -e . &&
           remove_unlocked; } >.venv/setup.log 2>&1; then
        tail -n 30 .venv/setup.log >&2
        echo "run_all.sh: error: installing the environment failed; full log in .venv/setup.log" >&2
        return 1
    fi
    echo "$stamp" > .venv/.xai-stamp
    echo "[setup] .venv ready" >&2
}

setup_venv
if [ "${1:-}" = "--test" ]; then
    shift
    exec .venv/bin/python -m pytest "$@"
fi
if [ "${1:-}" = "--lab" ]; then
    shift
    exec .venv/bin/python -m xai_helpers.study.lab "$@"
fi
if [ "${1:-}" = "--course" ]; then
    shift
    exec .venv/bin/python -m xai_helpers.course "$@"
fi
exec .venv/bin/python -m xai_helpers.study.runner "$@"
