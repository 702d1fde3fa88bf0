"""workflow/Snakefile planned, linted and refused: the job graph's size for data sets × seeds, the SLURM profile's
plan on CPUs and with GPUs on request, and bad configurations stopped before any job runs (dry runs: seconds)."""
import shlex

import pytest

from pathlib import Path

import yaml

from image_files import write_png, write_undecodable_png
from xai_helpers.running import job_graph as JG
from xai_helpers.running import workflow as W

from .conftest import ROOT, job_counts, snakemake

PER_SEED_RULES = tuple(job.rule for job in JG.PER_SEED)


def _config(tmp_path, **over):
    config = {"datasets": "[mnist5k,shapes]", "seeds": "[0,1,2]", "profile": "smoke", "out": str(tmp_path / "out"),
              "cache": str(tmp_path / "cache")}
    config.update(over)
    return config


def test_a_dry_run_plans_five_jobs_per_dataset_and_seed_one_06_per_dataset_and_one_summary(tmp_path):
    done = snakemake(tmp_path, "-n", "-p", "--cores", "2", config=_config(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    counts = job_counts(done.stdout)
    assert {rule: counts[rule] for rule in PER_SEED_RULES} == dict.fromkeys(PER_SEED_RULES, 2 * 3)
    assert counts["evaluation"] == 2 and counts["summary"] == 1 and counts["all"] == 1
    assert counts["total"] == 2 * 3 * len(JG.PER_SEED) + 2 + 1 + 1  # the last 1: the target rule 'all' (runs nothing)
    assert set(counts) - {"summary", "all", "total"} == {job.rule for job in JG.JOBS}  # a rule per job, no other
    # each job is the runner in job mode on its notebook, seed and folder, with the thread count
    assert f"--run-dir {tmp_path}/out/shapes/seed-2 --only 05_gan_latent --profile smoke --dataset shapes " \
           f"--seed 2" in done.stdout
    assert f"--run-dir {tmp_path}/out/mnist5k --only 06_evaluation" in done.stdout and "--threads 1" in done.stdout
    assert not (tmp_path / "out").exists(), "a dry run must not create results"


def test_params_reach_only_the_notebooks_that_declare_them(tmp_path):
    done = snakemake(tmp_path, "-n", "-p", "--cores", "2", config=_config(tmp_path, seeds="[0]", params="{epochs: 3, gan_iterations: 20}"))
    assert done.returncode == 0, done.stderr + done.stdout
    commands = [line for line in done.stdout.splitlines() if "xai_helpers.running.runner" in line]
    for line in commands:
        assert ("-p gan_iterations 20" in line) == any(nb in line for nb in ("04_gan_dynamics", "05_gan_latent",
                                                                            "06_evaluation")), line
    assert all("-p epochs 3" in line for line in commands)  # every notebook 01-06 takes the classifier's settings


def _blocks(output: str) -> dict[str, str]:
    """A dry run's job blocks by rule (the first of each rule)."""
    blocks = {}
    for block in output.split("\n\n"):
        heads = [line for line in block.splitlines() if line.startswith(("rule ", "localrule "))]
        rule = heads[0].split()[-1].rstrip(":") if heads else None
        blocks.setdefault(rule, block)
    return blocks


def test_the_slurm_profile_plans_every_job_on_cpus_with_the_workflows_threads(tmp_path):
    """Issue 35: the profile once asked a GPU for five rules (refused by sbatch on a cluster without GPUs) and set
    8 threads per job over the workflow's ``threads`` (so a cluster run trained other models than a local one)."""
    # --cores: a dry run caps each job's threads at it (1 when not given); a real submission does not
    done = snakemake(tmp_path, "-n", "-p", "--cores", "2", "--profile", "workflow/profiles/slurm", "--default-resources",
                     "slurm_account=acct", config=_config(tmp_path, threads=2, mem_mb=3000))
    assert done.returncode == 0, done.stderr + done.stdout
    assert job_counts(done.stdout)["total"] == 34
    blocks = _blocks(done.stdout)
    for rule in (*PER_SEED_RULES, "evaluation", "summary"):
        # an account from the command line adds to the rules' own memory and minutes rather than replacing them
        assert "mem_mb=3000" in blocks[rule] and "runtime=120" in blocks[rule], blocks[rule]
        assert "slurm_account=acct" in blocks[rule], blocks[rule]
        assert "gpu=" not in blocks[rule] and "slurm_partition" not in blocks[rule], blocks[rule]
    for rule in (*PER_SEED_RULES, "evaluation"):
        assert "--threads 2" in blocks[rule] and "--device" not in blocks[rule], blocks[rule]


def test_gpus_on_request_go_to_the_model_jobs_only(tmp_path):
    done = snakemake(tmp_path, "-n", "-p", "--profile", "workflow/profiles/slurm",
                     config=_config(tmp_path, gpus=2, gpu_partition="gpu"))
    assert done.returncode == 0, done.stderr + done.stdout
    blocks = _blocks(done.stdout)
    for rule in (*PER_SEED_RULES, "evaluation"):
        model_job = rule != "evaluation"
        assert ("gpu=2, slurm_partition=gpu" in blocks[rule]) == model_job, blocks[rule]
        assert ("--device cuda" in blocks[rule]) == model_job, blocks[rule]  # the GPU is used, or the job says why not


def test_lint_is_clean(tmp_path):
    done = snakemake(tmp_path, "--lint")
    assert done.returncode == 0 and "Congratulations, your workflow is in a good condition!" in done.stdout + done.stderr


@pytest.mark.parametrize("over,message", [
    ({"datasets": ["mnist6k"]}, "datasets = ['mnist6k'] is not allowed: expected a non-empty list of distinct names"),
    ({"seeds": ["0", "x"]}, "seeds = ['0', 'x'] is not allowed"),
    ({"threads": 0}, "threads = 0 is not allowed: expected a positive integer"),
    ({"profile": "fast"}, "profile = 'fast' is not allowed: expected one of smoke"),
    ({"params": {"epocs": 3}}, "no selected notebook declares a parameter 'epocs'; did you mean epochs?"),
    ({"params": {"n_explain": -5}}, "n_explain = -5 is not allowed"),
    ({"params": ["epochs"]}, "params = ['epochs'] is not allowed: expected a mapping"),
    ({"mem_mb": "4G"}, "mem_mb = '4G' is not allowed: expected an integer of at least 100 (memory per job in MB)"),
    ({"runtime": 0}, "runtime = 0 is not allowed: expected a positive integer (minutes per job)"),
    ({"gpus": -1}, "gpus = -1 is not allowed: expected a non-negative integer"),
    ({"gpus": "one"}, "gpus = 'one' is not allowed: expected a non-negative integer"),
    ({"gpu_partition": "gpu"}, "gpu_partition = 'gpu' is not allowed: expected a SLURM partition name, given together "
                               "with gpus > 0"),
    ({"gpus": 1, "params": {"device": "cpu"}}, "gpus = 1 is not allowed: expected 0 when params.device is cpu"),
])
def test_a_bad_configuration_is_refused_naming_key_value_and_what_is_allowed(over, message):
    config = {"datasets": ["mnist5k"], "seeds": [0], "profile": "smoke", "threads": 1, "mem_mb": 4000, "runtime": 120, "gpus": 0,
              "gpu_partition": "", "out": "o", "cache": "c", "params": {}}
    with pytest.raises(W.WorkflowConfigError) as refused:
        W.check_config(dict(config, **over))
    assert message in str(refused.value)


def test_snakemake_stops_on_a_bad_configuration_before_any_job_runs(tmp_path):
    done = snakemake(tmp_path, "-n", "--cores", "2", config=_config(tmp_path, params="{n_explain: -5}"))
    assert done.returncode != 0 and "n_explain = -5 is not allowed" in done.stderr + done.stdout
    assert "Job stats" not in done.stdout and not (tmp_path / "out").exists()


def test_check_config_normalises_what_snakemake_passes():
    config = W.check_config({"datasets": "shapes", "seeds": ["0", "2"], "profile": "smoke", "threads": "2",
                             "mem_mb": "4000", "runtime": "60", "gpus": "0", "gpu_partition": "", "out": "results/x", "cache": "/tmp/c", "params": None})
    assert config["datasets"] == ["shapes"] and config["seeds"] == [0, 2] and config["threads"] == 2
    assert config["out"] == str(W.REPO_ROOT / "results" / "x") and config["params"] == {}
    with pytest.raises(W.WorkflowConfigError, match="unknown key.*colour"):
        W.check_config(dict(config, colour="red"))
    with pytest.raises(W.WorkflowConfigError, match="missing key.*cache"):
        W.check_config({k: v for k, v in config.items() if k != "cache"})
    with pytest.raises(W.WorkflowConfigError, match=r"seeds = \[0, 0\]"):
        W.check_config(dict(config, seeds=[0, 0]))


def _two_classes(root, image=write_png):
    """An imagefolder layout, three images in each of two class folders (what the preflight check asks)."""
    for name in ("a", "b"):
        for k in range(3):
            image(root / name / f"{k}.png")
    return root


def test_data_dir_and_device_become_the_runners_options(tmp_path):
    mine = _two_classes(tmp_path / "mine")
    config = W.check_config({"datasets": ["imagefolder"], "seeds": [0], "profile": "smoke", "threads": 1, "mem_mb": 4000, "runtime": 120, "gpus": 0,
                             "gpu_partition": "", "out": "o", "cache": "c",
                             "params": {"data_dir": str(mine), "device": "cpu"}})
    command = W.runner_command("01_cnn_training", "imagefolder", 0, "o/imagefolder/seed-0", config, 1)
    assert f"--data-dir {mine}" in command and "--device cpu" in command
    assert "-p data_dir" not in command and "-p device" not in command
    with pytest.raises(W.WorkflowConfigError, match="params.device = 'gpu' is not allowed: expected one of auto"):
        W.check_config(dict(config, params={"device": "gpu"}))


def test_an_imagefolder_without_its_images_is_refused_before_any_job(tmp_path):
    """Issue 29 (low): imagefolder without data_dir (so the repository's data/, which holds no class folders) was
    accepted and failed only inside 01's job."""
    config = {"datasets": ["imagefolder"], "seeds": [0], "profile": "smoke", "threads": 1, "mem_mb": 4000, "runtime": 120, "gpus": 0,
              "gpu_partition": "", "out": "o", "cache": "c", "params": {}}
    with pytest.raises(W.WorkflowConfigError, match="imagefolder data_dir .*data holds 0 class folder"):
        W.check_config(config)
    (tmp_path / "empty").mkdir()
    with pytest.raises(W.WorkflowConfigError, match="holds 0 class folder"):
        W.check_config(dict(config, params={"data_dir": str(tmp_path / "empty")}))


def test_a_failing_job_names_its_notebook_and_cell(tmp_path):
    """An imagefolder data set whose images open but cannot be decoded (intact checksums, broken pixel data: what
    the preflight check cannot see without decoding): 01's job fails in the cell that loads it, and Snakemake's
    output shows the runner's line naming notebook and cell, and the notebook's log."""
    _two_classes(tmp_path / "no-images", write_undecodable_png)
    target = f"{tmp_path}/out/imagefolder/seed-0/metrics/01_cnn_training.json"
    done = snakemake(tmp_path, "--profile", "workflow/profiles/local", target, config=_config(
        tmp_path, datasets="[imagefolder]", seeds="[0]", params=f"{{data_dir: {tmp_path / 'no-images'}}}"))
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "✗ 01_cnn_training FAILED after" in output and "in code cell" in output, output[-3000:]
    assert "Error in rule cnn_training" in output and f"{tmp_path}/out/imagefolder/seed-0/logs/01_cnn_training.log" in output


def test_the_slurm_profile_leaves_threads_and_gpus_to_the_workflow():
    """The profile is YAML and cannot import the graph: it names no rule, and sets no threads, memory or GPUs that
    would override workflow/config.yaml behind its back (default resources given on the command line, an account,
    would replace the profile's, memory and minutes included)."""
    profile = yaml.safe_load((Path(__file__).resolve().parents[2] / "workflow/profiles/slurm/config.yaml").read_text())
    assert not {"set-threads", "set-resources", "default-resources"} & set(profile), profile
    assert profile["slurm-status-command"] == "squeue"  # sacct answers nothing on a cluster without accounting


@pytest.mark.parametrize("doc", ["README.md", "workflow/README.md"])
def test_every_workflow_command_in_the_docs_plans(doc, tmp_path):
    """The documented Snakemake commands (CPU cluster, GPU partition, no accounting, local) run as dry runs: the
    configuration they give is accepted and planned. What a real SLURM does with the last of workflow/README.md's is
    test_slurm_runs.py's test."""
    from test_readme_commands import commands

    typed = [shlex.split(c) for c in commands((ROOT / doc).read_text()) if c.startswith(".venv/bin/snakemake")]
    assert len(typed) >= 3, typed
    for words in typed:
        done = snakemake(tmp_path, "-n", "--cores", "8", *words[1:])
        assert done.returncode == 0 and "Job stats" in done.stdout, (words, done.stderr[-3000:])
