"""Helpers of the workflow tests: Snakemake run from the study's environment on workflow/Snakefile, its working
directory (where it keeps .snakemake/) a temporary folder, so that tests leave nothing in the checkout."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "workflow" / "Snakefile")]


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
_TIMING = __import__("re").compile(r"(^|_)seconds($|_)|per_second")


def without_timings(metrics):
    """The same metrics without the keys that measure time, for comparing two runs of the same work."""
    if isinstance(metrics, dict):
        return {k: without_timings(v) for k, v in metrics.items() if not _TIMING.search(k)}
    if isinstance(metrics, list):
        return [without_timings(v) for v in metrics]
    return metrics
