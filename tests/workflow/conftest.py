"""Helpers of the workflow tests: Snakemake run from the study's environment on workflow/Snakefile, its working
directory (where it keeps .snakemake/) a temporary folder, so that tests leave nothing in the checkout."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xai_helpers.running import job_graph as JG
from xai_helpers.running import runner

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "workflow" / "Snakefile")]
#: What the end-to-end workflow runs compare with the sequential runner (smoke scale, one thread per job).
DATASETS = ("mnist5k", "shapes")
SEEDS = (0, 1)
PER_SEED = tuple(job.notebook for job in JG.PER_SEED)


def snakemake(workdir: Path, *args: str, config: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``snakemake ARGS --config k=v ...`` with ``workdir`` as its working directory."""
    cmd = [*SNAKEMAKE, "--directory", str(workdir), *args]
    if config:
        cmd += ["--config", *(f"{k}={v}" for k, v in config.items())]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: ``{rule: count}`` plus ``total``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats:"))
    counts = {}
    for line in lines[start + 3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


#: Metrics that measure time (wall seconds, images per second): they differ between any two runs.
_TIMING = re.compile(r"(^|_)seconds($|_)|per_second")


def without_timings(metrics):
    """The same metrics without the keys that measure time, for comparing two runs of the same work."""
    if isinstance(metrics, dict):
        return {k: without_timings(v) for k, v in metrics.items() if not _TIMING.search(k)}
    if isinstance(metrics, list):
        return [without_timings(v) for v in metrics]
    return metrics


@pytest.fixture(scope="session")
def sequential_runs():
    """The sequential runner on each data set of :data:`DATASETS` for :data:`SEEDS` at smoke scale (its own process,
    one thread, one shared cache of their own), the two side by side; made once per test session for every workflow
    run compared with it, whichever pytest-xdist worker asks first (the session folder is every worker's; the other
    waits on the lock and reads it). Returns ``{data set: run folder}`` and the sum of the two runs' wall times."""
    from filelock import FileLock

    tmp_path = Path(os.environ["XAI_TEST_SESSION_DIR"]) / "sequential-runs"
    tmp_path.mkdir(parents=True, exist_ok=True)
    with FileLock(tmp_path / ".lock"):
        done = tmp_path / "seconds.json"
        if not done.exists():
            done.write_text(json.dumps(_run_sequentially(tmp_path)))
    return {d: (tmp_path / d / "latest").resolve() for d in DATASETS}, json.loads(done.read_text())


def _run_sequentially(tmp_path: Path) -> float:
    """Both data sets' sequential runs into ``tmp_path``; the sum of their wall times."""
    cache = tmp_path / "sequential-cache"
    jobs = {}
    for d in DATASETS:
        log = tmp_path / f"sequential-{d}.log"
        cmd = [sys.executable, "-m", runner.__name__, "--profile", "smoke", "--dataset", d,
               "--seeds", ",".join(map(str, SEEDS)), "--threads", "1", "--only", *PER_SEED, "06_evaluation",
               "--out", str(tmp_path / d), "--cache-dir", str(cache)]
        with log.open("w") as out:  # the child keeps its own handle
            jobs[d] = (subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT), time.perf_counter(), log)
    seconds, deadline = {}, time.perf_counter() + 3600
    while len(seconds) < len(jobs):  # each run's own wall time: when it ends, whichever ends first
        for d, (job, started, _) in jobs.items():
            if d not in seconds and job.poll() is not None:
                seconds[d] = time.perf_counter() - started
        if time.perf_counter() > deadline:
            for job, _, _ in jobs.values():
                job.kill()
            pytest.fail(f"the sequential runs did not end within an hour; logs: {[str(j[2]) for j in jobs.values()]}")
        time.sleep(0.5)
    for d, (job, _, log) in jobs.items():
        assert job.returncode == 0, (d, log.read_text()[-5000:])
    return sum(seconds.values())


def assert_equal_per_seed_metrics(out: Path, runs: dict, seeds=SEEDS) -> None:
    """Every per-seed metric of the workflow's results in ``out`` equals the sequential runner's, timings aside."""
    for d, run in runs.items():
        for seed in seeds:
            for notebook in PER_SEED:
                mine = json.loads((out / d / f"seed-{seed}" / "metrics" / f"{notebook}.json").read_text())
                theirs = json.loads((run / f"seed-{seed}" / "metrics" / f"{notebook}.json").read_text())
                assert without_timings(mine) == without_timings(theirs), (d, seed, notebook)
