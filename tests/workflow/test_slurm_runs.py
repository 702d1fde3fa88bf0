"""The workflow through a real SLURM (issue 35; marked slow, CI runs it after the suite, see .ci/run): a single-node
cluster from Debian's packages (:mod:`.slurm_cluster`: this machine's CPUs, a GPU it does not have, no accounting)
runs ``snakemake --profile workflow/profiles/slurm`` exactly as a user types it, with nothing but the study's own
``--config`` (smoke scale, mnist5k and shapes, seed 0). Every job goes through sbatch.

While the first invocation runs, one job (02 on shapes) is killed with ``scancel``: Snakemake must report that job
as failed, naming its SLURM log, and end non-zero. A second invocation reruns it and what waits for it, ends with
the cross-data-set summary, and prints nothing that looks like an error but the SLURM plugin's own lines about
guessing an account (plugin 2.8 cannot guess one; see workflow/README.md). Every per-seed metric equals the
sequential runner's (the ``sequential_runs`` fixture, shared with test_real_runs.py), timings aside.

Outside CI the tests skip, with the reason, where the packages are missing, this is not root or the machine has a
SLURM configuration of its own; in CI they fail."""
import os
import re
import subprocess
import time

import pytest

from xai_helpers.running import job_graph as JG

from . import slurm_cluster
from .conftest import DATASETS, ROOT, SNAKEMAKE, assert_equal_per_seed_metrics

SEED = 0
KILLED = ("cnn_attribution", "shapes")  # the job scancel kills: (rule, data set)
#: The only lines of a successful run that may look like an error: snakemake-executor-plugin-slurm 2.8 guesses an
#: account with a broken sacct call when none is given, and says so in these three lines before going on without one.
ACCOUNT_GUESS = re.compile(r"^(No SLURM account given, trying to guess\.|No account was given, not able to get a SLURM "
                           r"account via sacct: sacct: invalid option -- '1'|Unable to guess SLURM account\. Trying to "
                           r"proceed without\.)$")
LOOKS_WRONG = re.compile(r"error|warning|invalid|fail|traceback|exception", re.I)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = slurm_cluster.missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: the SLURM test may not skip in CI (.ci/run installs slurm-wlm and munge)")
        pytest.skip(reason)
    with slurm_cluster.cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def _snakemake(workdir, out, cache, datasets=DATASETS) -> list[str]:
    return [*SNAKEMAKE, "--directory", str(workdir), "--profile", "workflow/profiles/slurm", "--config",
            f"datasets=[{','.join(datasets)}]", f"seeds=[{SEED}]", "profile=smoke", f"out={out}", f"cache={cache}"]


def _jobs(env) -> list[tuple[str, str, str, str]]:
    """Every job the cluster has seen (finished ones included, MinJobAge=3600): (id, state, Snakemake's comment,
    which names the rule and its wildcards, CPUs)."""
    listed = subprocess.run(["squeue", "--states=all", "--noheader", "--format=%i|%T|%C|%k"], env=env,
                            capture_output=True, text=True, check=True).stdout
    return [(job, state, note, cpus) for job, state, cpus, note in
            (line.split("|", 3) for line in listed.splitlines() if line.strip())]


def _kill_when_running(first: subprocess.Popen, env, rule: str, dataset: str, timeout: float = 1800) -> str:
    """Wait until the job of ``rule`` on ``dataset`` runs, then scancel it; returns its SLURM id."""
    comment = f"rule_{rule}_wildcards_{dataset}_{SEED}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and first.poll() is None:
        running = [job for job, state, note, _ in _jobs(env) if state == "RUNNING" and note == comment]
        if running:
            subprocess.run(["scancel", running[0]], env=env, check=True)
            return running[0]
        time.sleep(0.5)
    first.kill()
    pytest.fail(f"the job {comment} never ran (Snakemake exit {first.poll()}): {first.communicate()[0][-5000:]}")


@pytest.mark.slow
def test_gpus_on_request_reach_slurm_in_the_gpu_partition_and_a_job_without_cuda_says_so(tmp_path, cluster):
    """README's GPU command on the test cluster, whose node declares one GPU (a stand-in device file: SLURM hands it
    out, torch sees no CUDA). 01's job goes to the GPU partition asking for one GPU, and its notebook must not fall
    back to the CPU: the runner refuses --device cuda, naming the reason, and the job fails."""
    import torch

    command = [*_snakemake(tmp_path, tmp_path / "workflow", tmp_path / "cache", datasets=("mnist5k",)), "gpus=1",
               f"gpu_partition={slurm_cluster.GPU_PARTITION}", "--until", "cnn_training"]
    before = {job for job, *_ in _jobs(cluster)}
    done = subprocess.run(command, cwd=ROOT, env=cluster, capture_output=True, text=True, timeout=1800)
    output = done.stdout + done.stderr
    (job,) = [job for job, *_ in _jobs(cluster) if job not in before]
    shown = subprocess.run(["scontrol", "show", "job", job], env=cluster, capture_output=True, text=True).stdout.split()
    assert f"Partition={slurm_cluster.GPU_PARTITION}" in shown and "TresPerJob=gres:gpu:1" in shown, shown
    assert "--device cuda" in output
    if torch.cuda.is_available():  # a machine with a GPU: the job uses it
        assert done.returncode == 0, output[-5000:]
        return
    log = re.search(r"(\S+/slurm_logs/rule_cnn_training/mnist5k_0/\d+\.log)", output)
    assert done.returncode != 0 and log, output[-5000:]
    assert "--device cuda: torch sees no CUDA GPU on this machine" in open(log.group(1)).read()


@pytest.mark.slow
def test_the_slurm_profile_runs_the_workflow_through_sbatch_reruns_a_cancelled_job_and_equals_the_local_runner(
        tmp_path, cluster, sequential_runs):
    out, cache = tmp_path / "workflow", tmp_path / "cache"
    command = _snakemake(tmp_path, out, cache)
    first = subprocess.Popen(command, cwd=ROOT, env=cluster, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    killed = _kill_when_running(first, cluster, *KILLED)
    output = first.communicate(timeout=1800)[0]
    assert first.returncode != 0, output[-5000:]
    report = output[output.index("Error in rule cnn_attribution:"):]
    log = re.search(r"(\S+/slurm_logs/rule_cnn_attribution/shapes_0/\d+\.log)", report)
    assert f"SLURM-job '{killed}' failed, SLURM status is: 'CANCELLED'" in report and log, output[-5000:]
    assert os.path.exists(log.group(1)), report  # the SLURM log of the killed job, kept since it failed

    second = subprocess.run(command, cwd=ROOT, env=cluster, capture_output=True, text=True,
                            timeout=3600)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-5000:]
    assert "rule cnn_attribution:" in output and "wildcards: dataset=shapes, seed=0" in output  # the rerun
    suspicious = [line for line in output.splitlines() if LOOKS_WRONG.search(line) and not ACCOUNT_GUESS.match(line)]
    assert not suspicious, suspicious
    assert (out / "summary" / "report.html").exists()

    jobs = _jobs(cluster)
    completed = {note for _, state, note, _ in jobs if state == "COMPLETED"}
    expected = {f"rule_{job.rule}_wildcards_{d}_{SEED}" for job in JG.PER_SEED for d in DATASETS}
    expected |= {f"rule_{job.rule}_wildcards_{d}" for job in JG.PER_DATASET for d in DATASETS} | {"rule_summary"}
    assert expected <= completed, (sorted(expected - completed), jobs)  # every job went through sbatch
    assert (killed, "CANCELLED", f"rule_{KILLED[0]}_wildcards_{KILLED[1]}_{SEED}", "1") in jobs
    assert {cpus for *_, cpus in jobs} == {"1"}, jobs  # the workflow's threads (1), as in the local run

    runs, _ = sequential_runs
    assert_equal_per_seed_metrics(out, runs, seeds=(SEED,))
