"""The runner on the real notebooks at smoke scale, twice: metrics written, cache reused, metrics identical;
the study-level notebook 06 and the report built from that smoke run."""
import json
import math

from xai_helpers import runner


def _study(tmp_path, *only):
    lines = []
    rc = runner.main(["--profile", "smoke", "--only", *(only or ("01",)), "--out", str(tmp_path / "out"),
                      "--cache-dir", str(tmp_path / "cache")], log=lines.append)
    run = (tmp_path / "out" / "latest").resolve()
    return rc, "\n".join(lines), run


def test_smoke_study_twice(tmp_path):
    rc, out, run = _study(tmp_path, "01", "06")
    assert rc == 0, out
    metrics = json.loads((run / "metrics" / "01_cnn_training.json").read_text())
    for key in ("dataset", "n_train", "n_test", "test_accuracy", "attention_test_accuracy", "per_class_accuracy",
                "train_seconds", "checkpoint"):
        assert key in metrics, key
    assert metrics["dataset"] == "mnist5k" and metrics["n_train"] == 800 and metrics["n_test"] == 300
    assert 0 <= metrics["test_accuracy"] <= 1 and 0 <= metrics["attention_test_accuracy"] <= 1
    assert set(metrics["per_class_accuracy"]) == {str(i) for i in range(10)}
    assert math.isclose(sum(metrics["per_class_accuracy"].values()) / 10, metrics["test_accuracy"], abs_tol=1e-6)
    assert set(metrics["checkpoint"]) == {"plain", "attention"}
    for key in metrics["checkpoint"].values():
        assert (tmp_path / "cache" / key / "model.pt").exists()
    assert "[train plain] epoch" in (run / "logs" / "01_cnn_training.log").read_text()
    assert len(list((run / "figures").glob("01_cnn_training_*.png"))) >= 7
    assert (run / "html" / "01_cnn_training.html").exists()

    rc2, out2, run2 = _study(tmp_path)
    assert rc2 == 0 and run2 != run
    log = (run2 / "logs" / "01_cnn_training.log").read_text()
    assert "[train" not in log and log.count("[cache] loaded") == 2
    assert json.loads((run2 / "metrics" / "01_cnn_training.json").read_text()) == metrics

    # The first run also ran 06 and built the report from what the run holds (only 01 among the seed notebooks).
    evaluation = json.loads((run / "metrics" / "06_evaluation.json").read_text())
    for key in ("classification", "augmentation", "fidelity", "explanations", "human", "cost", "checks"):
        assert key in evaluation, key
    assert evaluation["fidelity"] is None and evaluation["human"]["n_answers"] == 0  # 04 did not run; no raters
    page = (run / "report.html").read_text()
    assert "plain CNN" in page and "attention CNN" in page  # the classification table from 01's metrics
    assert f"{metrics['test_accuracy']:.4g}" in page
    assert "data:image/png;base64," in page and 'href="html/01_cnn_training.html"' in page
    assert "http://" not in page and "https://" not in page
    assert "Report: " in out
    assert "plain CNN" in (run / "summary.md").read_text()
