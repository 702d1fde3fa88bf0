#!/usr/bin/env bash
# The study's two commands (see README.md):
#   ./run_all.sh [options]        set up .venv if missing or stale, then run every notebook (python -m xai_helpers.running.runner)
#   ./run_all.sh --test [args]    same set-up, then the whole test suite (pytest: unit tests + nbval + end-to-end)
#   ./run_all.sh --lab [--port N] [--no-browser]
#                                 same set-up, then JupyterLab on notebooks/ with the kernel "XAI study (.venv)"
#   ./run_all.sh --course [--only NAME ...] [--fresh-cache]
#                                 same set-up, then otter assign on course/*/ into course/dist/{student,autograder}/
#   ./run_all.sh --course grade NAME FOLDER
#                                 grade a folder of submissions offline into FOLDER/scores.csv
#   ./run_all.sh --clean-cache [--remove] [--cache-dir DIR]
#                                 list (and remove) cache entries that no configuration of this checkout produces
# ./run_all.sh --help lists the runner's options.
set -euo pipefail
# relative paths the user types are taken from here, not from the repository (study/run_io.py: user_path)
export XAI_INVOKED_FROM="${XAI_INVOKED_FROM:-$PWD}"
cd "$(dirname "$0")"
# Native Windows shells (Git Bash, MSYS2, Cygwin) are refused before anything is installed: the runner needs POSIX
# process groups, signals and symlinks (xai_helpers/running/runner.py says which); WSL 2 is Linux and works.
case "$(uname -s)" in
    MINGW*|MSYS*|CYGWIN*)
        echo "run_all.sh: error: $(uname -s) is native Windows, which is not supported: run the study in WSL 2" \
             "(Linux), where ./run_all.sh works as on Linux (README, 'Set up')" >&2
        exit 2 ;;
esac

# Whether "$1" runs and is a Python that pyproject.toml's requires-python admits (read there: the one place for it;
# a Python older than 3.11 has no tomllib, and fails this too).
python_ok() {
    "$1" -c 'import operator, sys, tomllib
spec = tomllib.load(open("pyproject.toml", "rb"))["project"]["requires-python"]
ops = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
def admits(clause):
    op = next(o for o in ops if clause.startswith(o))
    want = tuple(int(part) for part in clause[len(op):].strip().split("."))
    return ops[op](sys.version_info[:len(want)], want)
sys.exit(not all(admits(clause.strip()) for clause in spec.split(",")))' 2>/dev/null
}

find_python() {
    local spec candidate
    spec=$(sed -n 's/^requires-python = "\(.*\)"$/\1/p' pyproject.toml)
    if [ -n "${PYTHON:-}" ]; then  # named by the user: that one, or an error (never another Python instead)
        if command -v "$PYTHON" >/dev/null 2>&1 && python_ok "$PYTHON"; then
            echo "$PYTHON"; return 0
        fi
        echo "run_all.sh: error: PYTHON=$PYTHON is $("$PYTHON" -c 'import sys; print("Python", sys.version.split()[0])' \
            2>/dev/null || echo "not a Python that runs here"); Python $spec is required" >&2
        return 1
    fi
    # .venv's own Python first: set up with PYTHON=python3.12 once, .venv stays on 3.12 without naming it again.
    # Then python3, python and python3.N from the newest down: python_ok keeps those the range admits (the range
    # itself lives in pyproject.toml only).
    for candidate in .venv/bin/python python3 python $(seq -f 'python3.%g' 20 -1 8); do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            echo "$candidate"; return 0
        fi
    done
    echo "run_all.sh: error: Python $spec is required and none was found (tried .venv/bin/python, python3, python" \
         "and python3.20 down to python3.8); set PYTHON=/path/to/python" >&2
    return 1
}

# The environment is stale when the lock file, pyproject.toml or the Python version changed since set-up.
wanted_stamp() {  # (Python, not sha256sum, so that it also works where coreutils differ, e.g. macOS)
    "$1" -c 'import hashlib, sys; h = hashlib.sha256(open("requirements/lock.txt", "rb").read() + open("pyproject.toml", "rb").read()); h.update(sys.version.encode()); print(h.hexdigest())'
}

setup_venv() {
    local py stamp
    py=$(find_python)
    stamp=$(wanted_stamp "$py")
    if [ -x .venv/bin/python ] && [ "$(cat .venv/.xai-stamp 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    if [ -x .venv/bin/python ] && [ "$(.venv/bin/python -c 'import sys; print(sys.version)' 2>/dev/null)" != \
                                     "$("$py" -c 'import sys; print(sys.version)')" ]; then
        echo "[setup] .venv has another Python version than $py: recreating it" >&2
        rm -rf .venv
    fi
    echo "[setup] installing the locked environment into .venv (first run: about a minute) ..." >&2
    [ -x .venv/bin/python ] || "$py" -m venv .venv
    rm -f .venv/.xai-stamp  # an interrupted install stays stale and is redone next time
    # pip installs uv (its version pinned in the lock), and uv installs exactly the lock: every package it names for
    # this platform and Python (its markers), in parallel, from uv's cache when there; whatever the lock does not name
    # is removed (uv pip sync). Compiled to bytecode as pip does: where PYTHONDONTWRITEBYTECODE is set, each process
    # would compile what it imports again (importing xai_helpers.course: 3.4 s became 8.6 s). uv does not read pip's
    # configuration: an index set for pip in the environment is passed on to it (one set in uv's own variables wins).
    export UV_INDEX_URL="${UV_INDEX_URL:-${PIP_INDEX_URL:-}}" UV_EXTRA_INDEX_URL="${UV_EXTRA_INDEX_URL:-${PIP_EXTRA_INDEX_URL:-}}"
    [ -n "$UV_INDEX_URL" ] || unset UV_INDEX_URL
    [ -n "$UV_EXTRA_INDEX_URL" ] || unset UV_EXTRA_INDEX_URL
    if ! { .venv/bin/python -m pip install --disable-pip-version-check --no-deps "$(grep -m1 '^uv==' requirements/lock.txt)" &&
           .venv/bin/uv pip sync --python .venv/bin/python --compile-bytecode requirements/lock.txt &&
           .venv/bin/uv pip install --python .venv/bin/python --no-deps -e .; } >.venv/setup.log 2>&1; then
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
    exec .venv/bin/python -m xai_helpers.running.jupyter_lab "$@"
fi
if [ "${1:-}" = "--clean-cache" ]; then
    shift
    exec .venv/bin/python -m xai_helpers.running.cache_clean "$@"
fi
if [ "${1:-}" = "--course" ]; then
    shift
    exec .venv/bin/python -m xai_helpers.course "$@"
fi
exec .venv/bin/python -m xai_helpers.running.runner "$@"
