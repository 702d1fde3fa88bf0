"""The workflow run for real on one machine (marked slow: about 10 minutes on 2 cores, so not part of the default
suite; CI runs it after the suite, see .ci/run): mnist5k and shapes, seeds 0 and 1, smoke scale, ``--cores 2`` with
1 thread per job. It must finish with the cross-data-set summary, and every per-seed metric must equal the sequential
runner's (``run_all.sh --threads 1`` per data set, the ``sequential_runs`` fixture, made once per session and shared
with test_slurm_runs.py) on the same work, timings aside. The runs have separate caches, so each trains its own
models: equal metrics mean equal training too.

Both wall times are printed (``-s``): the workflow's, and the sequential runner's as the sum of the two data sets'
runs (what one runner would take for both, the way the issue's bar, workflow ≤ 0.8 × sequential, was measured)."""
import time

import pytest

from .conftest import DATASETS, SEEDS, assert_equal_per_seed_metrics, job_counts, snakemake


@pytest.mark.slow
def test_a_local_workflow_run_equals_the_sequential_runner_and_ends_with_the_summary(tmp_path, sequential_runs):
    out = tmp_path / "workflow"
    started = time.perf_counter()
    done = snakemake(tmp_path, "--profile", "workflow/profiles/local", "--cores", "2", timeout=3600, config={
        "datasets": f"[{','.join(DATASETS)}]", "seeds": f"[{','.join(map(str, SEEDS))}]", "profile": "smoke",
        "threads": 1, "out": str(out), "cache": str(tmp_path / "workflow-cache")})
    workflow_seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-5000:] + done.stdout[-5000:]
    assert job_counts(done.stderr + done.stdout)["total"] == len(DATASETS) * len(SEEDS) * 5 + len(DATASETS) + 1 + 1
    page = (out / "summary" / "report.html").read_text()
    assert "data sets compared" in page and all(f'href="../{d}/report.html"' in page for d in DATASETS)
    assert "Kendall" in page and "data:image/png;base64," in page
    for d in DATASETS:
        assert (out / d / "report.html").exists() and (out / d / "summary.md").exists()
        cost = (out / d / "tables" / "06_evaluation_cost.csv").read_text()
        assert cost.count("01_cnn_training") == len(SEEDS), cost  # 06 found every seed's job records

    runs, sequential_seconds = sequential_runs
    # Reported, never asserted (a timed assertion fails on a busy machine): the bar is workflow ≤ 0.8 × sequential.
    print(f"\nworkflow (--cores 2, 1 thread per job): {workflow_seconds:.0f} s; sequential runner (1 thread, both data "
          f"sets): {sequential_seconds:.0f} s; ratio {workflow_seconds / sequential_seconds:.2f}")
    assert_equal_per_seed_metrics(out, runs)
