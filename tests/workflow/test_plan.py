"""workflow/Snakefile planned, linted and refused: the job graph's size for data sets × seeds, the SLURM profile's
plan with GPU requests, and bad configurations stopped before any job runs (dry runs: seconds)."""
import pytest

from pathlib import Path

import yaml

from image_files import write_png, write_undecodable_png
from xai_helpers.running import job_graph as JG
from xai_helpers.running import workflow as W

from .conftest import job_counts, snakemake

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


def test_the_slurm_profile_plans_with_a_gpu_for_each_model_job(tmp_path):
    done = snakemake(tmp_path, "-n", "--profile", "workflow/profiles/slurm", config=_config(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    assert job_counts(done.stdout)["total"] == 34
    blocks = done.stdout.split("\n\n")
    for rule in (*PER_SEED_RULES, "evaluation"):
        block = next(b for b in blocks if f"rule {rule}:" in b or f"localrule {rule}:" in b)
        assert ("gpu=1" in block) == (rule != "evaluation"), block


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
])
def test_a_bad_configuration_is_refused_naming_key_value_and_what_is_allowed(over, message):
    config = {"datasets": ["mnist5k"], "seeds": [0], "profile": "smoke", "threads": 1, "out": "o", "cache": "c",
              "params": {}}
    with pytest.raises(W.WorkflowConfigError) as refused:
        W.check_config(dict(config, **over))
    assert message in str(refused.value)


def test_snakemake_stops_on_a_bad_configuration_before_any_job_runs(tmp_path):
    done = snakemake(tmp_path, "-n", "--cores", "2", config=_config(tmp_path, params="{n_explain: -5}"))
    assert done.returncode != 0 and "n_explain = -5 is not allowed" in done.stderr + done.stdout
    assert "Job stats" not in done.stdout and not (tmp_path / "out").exists()


def test_check_config_normalises_what_snakemake_passes():
    config = W.check_config({"datasets": "shapes", "seeds": ["0", "2"], "profile": "smoke", "threads": "2",
                             "out": "results/x", "cache": "/tmp/c", "params": None})
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
    config = W.check_config({"datasets": ["imagefolder"], "seeds": [0], "profile": "smoke", "threads": 1,
                             "out": "o", "cache": "c", "params": {"data_dir": str(mine), "device": "cpu"}})
    command = W.runner_command("01_cnn_training", "imagefolder", 0, "o/imagefolder/seed-0", config, 1)
    assert f"--data-dir {mine}" in command and "--device cpu" in command
    assert "-p data_dir" not in command and "-p device" not in command
    with pytest.raises(W.WorkflowConfigError, match="params.device = 'gpu' is not allowed: expected one of auto"):
        W.check_config(dict(config, params={"device": "gpu"}))


def test_an_imagefolder_without_its_images_is_refused_before_any_job(tmp_path):
    """Issue 29 (low): imagefolder without data_dir (so the repository's data/, which holds no class folders) was
    accepted and failed only inside 01's job."""
    config = {"datasets": ["imagefolder"], "seeds": [0], "profile": "smoke", "threads": 1, "out": "o", "cache": "c",
              "params": {}}
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


def test_the_slurm_profile_names_only_rules_of_the_job_graph():
    """The profile is YAML and cannot import the graph: a renamed or removed job must not leave it asking
    resources for a rule that no longer exists."""
    profile = yaml.safe_load((Path(__file__).resolve().parents[2] / "workflow/profiles/slurm/config.yaml").read_text())
    named = set(profile.get("set-resources", {})) | set(profile.get("set-threads", {}))
    assert named and named <= {job.rule for job in JG.JOBS} | {"summary"}
