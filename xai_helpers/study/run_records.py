"""A run folder's status and provenance, whether one runner process wrote it or many workflow jobs did.

A run of ``run_all.sh`` keeps ``status.json`` (every notebook's record) and ``environment.json`` at its root. A
workflow (``workflow/Snakefile``) runs each notebook and seed as its own job in the runner's job mode, and jobs
that share a folder cannot share those two files: each keeps ``logs/<notebook>.status.json`` and
``logs/<notebook>.environment.json`` in its folder (the data set's folder for 06, ``seed-N/`` for the others).
These functions read either layout back as one run, for the cost table and the report.

The cost table is built here, not by a notebook alone, because it describes the run that is being reported: 06
shows it as it stood when 06 ran, and the report rebuilds it from the finished run (a notebook whose results were
reused from an earlier run took seconds here, and the table says which run computed them, and in how long).
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from .run_layout import log_file, seed_folders


def _folders(root: Path) -> list[Path]:
    """The seed folders of a run in seed order, then the run's own folder (where study-level notebooks run)."""
    return [*seed_folders(root).values(), root]


def _job_files(root: Path, suffix: str) -> list[Path]:
    patterns = [log_file(folder, "*", f"{suffix}.json") for folder in _folders(root)]
    return [f for pattern in patterns for f in sorted(pattern.parent.glob(pattern.name))]


def job_records(run_root: str | Path) -> list[dict]:
    """Every notebook record of a run (notebook, seed, status, seconds …): from ``status.json``, else from the
    workflow jobs' ``logs/*.status.json`` (seed folders in seed order, then the study-level jobs)."""
    root = Path(run_root)
    if (root / "status.json").exists():
        return json.loads((root / "status.json").read_text())["notebooks"]
    return [record for f in _job_files(root, "status") for record in json.loads(f.read_text())["notebooks"]]


def runner_identity() -> dict:
    """This process as a run records it (``environment.json``'s ``runner``): its host, process id and start time (a
    process id alone may be reused)."""
    import psutil

    return {"host": socket.gethostname(), "pid": os.getpid(), "started": round(psutil.Process().create_time(), 2)}


def runner_gone(runner: dict | None) -> bool:
    """Whether the process a run recorded as its runner has ended, so that a run still marked ``running`` was
    killed (SIGKILL, a crash, a machine's restart) rather than running. Known only on the run's own host: False
    elsewhere, and for a run that recorded no runner."""
    import psutil

    if not runner or runner.get("host") != socket.gethostname():
        return False
    try:
        return round(psutil.Process(runner["pid"]).create_time(), 2) != runner.get("started")
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, TypeError):
        return True


def _state(env: dict) -> str:
    """A recorded state, with a run left ``running`` by a runner that is gone called ``interrupted``."""
    state = env.get("state", "running")
    return "interrupted" if state == "running" and runner_gone(env.get("runner")) else state


def run_environment(run_root: str | Path) -> dict:
    """The run's provenance: ``environment.json``, else the workflow jobs' merged. The machine, versions and
    profile are the first job's (a study-level job's when there is one); ``seeds`` and ``notebooks`` the union,
    the start the earliest, the end the latest, the state ``complete`` only if every job's is; ``jobs`` counts
    them. A state still ``running`` whose runner has ended reads ``interrupted`` (:func:`runner_gone`). An empty dict
    when the folder holds neither."""
    root = Path(run_root)
    if (root / "environment.json").exists():
        env = json.loads((root / "environment.json").read_text())
        return env if _state(env) == env.get("state", "running") else {**env, "state": _state(env)}
    envs = [json.loads(f.read_text()) for f in _job_files(root, "environment")]
    if not envs:
        return {}
    merged = dict(envs[-1])  # the study-level job's (the run's own folder comes last) or the last seed's
    merged["run_id"] = root.name
    merged["jobs"] = len(envs)
    merged["seeds"] = sorted({s for e in envs for s in e.get("seeds") or []})
    merged["notebooks"] = sorted({n for e in envs for n in e.get("notebooks") or []})
    starts = [e["start_utc"] for e in envs if e.get("start_utc")]
    ends = [e.get("end_utc") for e in envs]
    merged["start_utc"] = min(starts) if starts else None
    merged["end_utc"] = max(ends) if ends and all(ends) else None
    states = {_state(e) for e in envs}
    merged["state"] = next((s for s in ("failed", "interrupted", "incomplete", "running") if s in states), "complete")
    merged["wall_seconds"] = {k: v for e in envs for k, v in (e.get("wall_seconds") or {}).items()}
    for key in ("profile", "device", "git_sha", "runner_torch_threads"):
        values = {json.dumps(e.get(key)) for e in envs}
        if len(values) > 1:  # jobs that disagree (a rerun at another version or profile): say so, never pick one
            merged[key] = "mixed: " + ", ".join(sorted(str(json.loads(v)) for v in values))
    return merged


def cost_table(run_root: str | Path):
    """Wall time of every finished notebook (per seed, and the total) with its slowest cell, its peak memory (the
    total row: the largest), the run that computed it when it was reused (and how long that took there), and the run's device, profile, CPU and threads. Times
    come from the runner's ``status.json`` (or a workflow's per-job status files), which is current while the run
    goes on (a study-level notebook reads it before the run ends); the machine from ``environment.json`` (or the
    jobs')."""
    import pandas as pd

    from .cell_timings import describe_cell

    root = Path(run_root)
    env = run_environment(root)
    if not env:
        raise FileNotFoundError(f"{root / 'environment.json'} does not exist (nor any workflow job's "
                                f"logs/*.environment.json): cost is read from the runner's run folder")
    records = [r for r in job_records(root) if r.get("seconds") is not None]
    if records:
        rows = [{"notebook": r["notebook"], "seed": str(r.get("seed")), "seconds": r["seconds"],
                 "slowest_cell": describe_cell(r["slowest_cells"][0]) if r.get("slowest_cells") else None,
                 "reused_from": r.get("reused_from"), "computed_seconds": r.get("computed_seconds", r["seconds"]),
                 "peak_memory_mb": r.get("peak_memory_mb")}
                for r in records]
    else:
        rows = [{"notebook": k.rpartition("@")[0], "seed": k.rpartition("@")[2], "seconds": v, "computed_seconds": v}
                for k, v in env.get("wall_seconds", {}).items()]
    columns = ["notebook", "seed", "seconds", "slowest_cell", "reused_from", "computed_seconds", "peak_memory_mb"]
    table = pd.DataFrame(rows, columns=columns)
    total = {"notebook": "whole study", "seed": "all", "seconds": table["seconds"].sum(min_count=1),
             "computed_seconds": table["computed_seconds"].sum(min_count=1),
             "peak_memory_mb": table["peak_memory_mb"].max()}  # what one job must be given
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    if table["reused_from"].isna().all():  # nothing reused: the two time columns would repeat each other
        table = table.drop(columns=["reused_from", "computed_seconds"])
    for key in ("device", "profile", "cpu", "runner_torch_threads", "gpu"):
        table[key] = env.get(key)
    return table
