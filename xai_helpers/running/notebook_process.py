"""One notebook executed in a papermill child process: started with the kernel's thread count, its output logged
(and the study's progress lines echoed), stopped with its whole process group when the runner is interrupted, its
status, first failing cell, HTML copy and cell times recorded."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .peak_memory import PeakMemory
from ..study import log_file, slowest_cells, timed_cells, write_json_atomic

#: Environment variables that set a kernel's thread count (``--threads``).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: Log lines echoed to the console while a notebook runs (the full log goes to logs/<notebook>.log).
_ECHO = re.compile(r"^\[(train|cache|gan|tcav|progress)")


def failing_cell(executed: Path) -> str:
    """'cell N: Error: message' for the first cell with an error output in an executed notebook."""
    try:
        nb = json.loads(executed.read_text())
    except (OSError, ValueError):
        return "no executed notebook was written (the kernel may not have started)"
    code_index = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" not in tags:
            code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = "".join(cell.get("source", "")).strip().splitlines()[:1]
                return (f"code cell {code_index} ({first[0][:60] if first else ''!r}): "
                        f"{out.get('ename')}: {str(out.get('evalue'))[:1500]}")
    return "no cell recorded an error (timeout or the kernel died)"


def export_html(executed: Path, html: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    html.write_text(body)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """Ask Linux to send SIGTERM to papermill when the runner dies, so no orphan competes for the cores."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def run_notebook(nb: Path, run_root: Path, params: dict, timeout: float | None, log, record: dict,
                 threads: int | None = None) -> dict:
    """Execute one notebook with papermill in a child process, filling in its status ``record``."""
    executed = run_root / "executed" / nb.name
    log_path = log_file(run_root, nb.stem)
    param_file = log_file(run_root, nb.stem, "parameters.yaml")
    param_file.write_text(yaml.safe_dump(params, sort_keys=True))
    # run as a script, not with -m: importing the package would import torch, 2 s per notebook; -P keeps its folder
    # (whose config.py, cache.py, ... would shadow other modules) off sys.path
    cmd = [sys.executable, "-P", str(Path(__file__).with_name("notebook_job.py")), str(nb), str(executed),
           str(param_file), "--cwd", str(nb.parent)]
    if timeout:
        cmd += ["--execution-timeout", str(int(timeout))]
    env = dict(os.environ, XAI_HEADLESS="1", PYTHONUNBUFFERED="1")
    for var in ("XAI_PROFILE", "MPLBACKEND"):  # explicit profile wins; Agg would drop inline figures
        env.pop(var, None)
    if threads:  # torch (intra- and inter-op), OpenMP and BLAS read these when the kernel starts
        env.update({var: str(threads) for var in THREAD_VARIABLES})
    t0 = time.perf_counter()
    record.update(status="running", seconds=None, parameters=params)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    memory = PeakMemory(proc.pid)  # what a cluster job's memory request must cover
    try:
        with open(log_path, "w") as fh:
            for line in proc.stdout:
                fh.write(line)
                fh.flush()
                if _ECHO.match(line):
                    log(f"    {line.rstrip()}")
        rc = proc.wait()
    except BaseException:
        # Interrupted: stop papermill's process group; papermill shuts its kernel down on SIGTERM, and the
        # kernel also exits when its parent is gone.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        record.update(status="interrupted", seconds=time.perf_counter() - t0)
        raise
    finally:
        record["seconds"] = time.perf_counter() - t0
        record["peak_memory_mb"] = memory.stop()
    record["returncode"] = rc
    if rc == 0:
        text = executed.read_text() if executed.exists() else ""
        record["status"] = "ok" if '"output_type": "error"' not in text else "failed"
    else:
        record["status"] = "failed"
    if record["status"] == "failed":
        record["error"] = failing_cell(executed)
        if rc == 138:
            record["error"] += " (the kernel died)"
    if executed.exists():
        try:
            export_html(executed, run_root / "html" / f"{nb.stem}.html")
        except Exception as err:  # an export problem must not hide the notebook's own status
            record["html_error"] = f"{type(err).__name__}: {err}"
        record_cell_timings(executed, log_file(run_root, nb.stem, "cells.json"), record)
    return record


def record_cell_timings(executed: Path, cells_file: Path, record: dict) -> None:
    """Every cell's wall time into ``logs/<notebook>.cells.json``, the slowest into the notebook's record."""
    try:
        rows = timed_cells(executed)
    except (OSError, ValueError) as err:  # a notebook that wrote no readable copy has no cell times
        record["cells_error"] = f"{type(err).__name__}: {err}"
        return
    write_json_atomic(cells_file, rows)
    record["slowest_cells"] = slowest_cells(rows)
