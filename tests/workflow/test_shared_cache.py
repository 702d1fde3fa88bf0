"""Two study runs started at the same moment that need the same model, not yet cached, train it once: the cache's
build lock makes the second wait and load the first one's entry (notebook 01 at smoke scale, two runner jobs)."""
import json
import subprocess
import sys

from .conftest import ROOT, without_timings


def test_two_simultaneous_runs_needing_the_same_uncached_model_train_it_once(tmp_path):
    cache = tmp_path / "cache"
    runs = [tmp_path / f"run-{i}" for i in (0, 1)]
    procs = [subprocess.Popen([sys.executable, "-m", "xai_helpers.running.runner", "--run-dir", str(run), "--only", "01",
                               "--profile", "smoke", "--seed", "0", "--cache-dir", str(cache), "--threads", "1",
                               "-p", "epochs", "4"],  # a build of ~10 s: far longer than the two kernels' start-up skew
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for run in runs]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    logs = [(run / "logs" / "01_cnn_training.log").read_text() for run in runs]
    for model in ("plain", "attention"):  # each classifier trained in exactly one of the two runs
        assert sum(log.count(f"[train {model}] epoch 1/") for log in logs) == 1, model
    # the runs did overlap (else "trained once" would hold without any lock): one waited for the other's build
    assert any("[cache] waiting for classifier-" in log for log in logs), "neither run waited for the other"
    metrics = [json.loads((run / "metrics" / "01_cnn_training.json").read_text()) for run in runs]
    assert without_timings(metrics[0]) == without_timings(metrics[1])
    assert len([p for p in cache.iterdir() if p.name.startswith("classifier-")]) == 2
