"""A run folder read back as one run, whether the runner wrote status.json and environment.json or workflow jobs
wrote one pair of files each (xai_helpers.study.run_records); the cost table and the report read it this way."""
import json

import pytest

from xai_helpers.evaluation import tables as ET
from xai_helpers.study.run_records import job_records, run_environment


def _job(folder, notebook, seed, seconds, state="complete", **env):
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    (folder / "logs" / f"{notebook}.status.json").write_text(json.dumps(
        {"state": state, "notebooks": [{"notebook": notebook, "seed": seed, "status": "ok", "seconds": seconds}]}))
    (folder / "logs" / f"{notebook}.environment.json").write_text(json.dumps(
        {"seeds": [seed], "notebooks": [notebook], "state": state, "profile": "smoke", "device": "cpu",
         "git_sha": "abc", "runner_torch_threads": 1, "start_utc": f"2026-11-30T10:{seed:02d}:00+00:00",
         "end_utc": f"2026-11-30T11:{seed:02d}:00+00:00", **env}))


@pytest.fixture
def workflow_folder(tmp_path):
    """A data set's folder as workflow/Snakefile leaves it: jobs of seeds 10 and 2 (numeric order: 2 first), then 06."""
    for seed in (10, 2):
        _job(tmp_path / f"seed-{seed}", "01_cnn_training", seed, 10.0 + seed)
        _job(tmp_path / f"seed-{seed}", "02_cnn_attribution", seed, 20.0)
    _job(tmp_path, "06_evaluation", 2, None, state="running")
    return tmp_path


def test_workflow_jobs_read_back_as_one_run(workflow_folder):
    records = job_records(workflow_folder)
    assert [(r["notebook"], r["seed"]) for r in records] == [
        ("01_cnn_training", 2), ("02_cnn_attribution", 2), ("01_cnn_training", 10), ("02_cnn_attribution", 10),
        ("06_evaluation", 2)]
    env = run_environment(workflow_folder)
    assert env["seeds"] == [2, 10] and env["jobs"] == 5 and env["state"] == "running"
    assert env["notebooks"] == ["01_cnn_training", "02_cnn_attribution", "06_evaluation"]
    assert env["start_utc"] == "2026-11-30T10:02:00+00:00" and env["profile"] == "smoke"
    cost = ET.cost_table(workflow_folder)
    assert cost.iloc[-1]["seconds"] == 12.0 + 20 + 20.0 + 20 and len(cost) == 5  # 06 still running: no time yet


def test_jobs_that_disagree_are_reported_as_mixed_not_one_picked(workflow_folder):
    _job(workflow_folder / "seed-2", "03_tcav", 2, 5.0, profile="quick")
    assert run_environment(workflow_folder)["profile"] == "mixed: quick, smoke"


def test_a_runner_folder_is_read_from_its_own_files(workflow_folder):
    (workflow_folder / "environment.json").write_text(json.dumps({"seeds": [0], "profile": "paper"}))
    (workflow_folder / "status.json").write_text(json.dumps({"notebooks": [{"notebook": "x", "seconds": 1.0}]}))
    assert run_environment(workflow_folder) == {"seeds": [0], "profile": "paper"}
    assert job_records(workflow_folder) == [{"notebook": "x", "seconds": 1.0}]


def test_an_empty_folder_has_no_environment(tmp_path):
    assert run_environment(tmp_path) == {} and job_records(tmp_path) == []
