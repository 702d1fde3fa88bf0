"""The runner on the real notebooks at smoke scale: the whole study once (the session's ``smoke_study``, which the
notebook-output, explorer and browser tests share): metrics written, one classifier for the whole study; 01 again
with ``--rerun``: cache reused, metrics identical; a third time: its results reused; the study-level notebook 06
and the report built from that smoke run, and that report in Chromium. (That a ``-p`` setting such as ``epochs``
reaches every notebook declaring it is the runner's, tested in tests/running/test_runner.py.)"""
import json
import math

from xai_helpers.running import runner
from xai_helpers.study import resolve_config

#: The notebooks that use 01's classifier and write metrics.
NOTEBOOKS = ("01", "02", "03", "04", "05", "06")


def _study(out, cache, *options):
    """01 alone, into the smoke study's results folder and cache: (return code, console output, run folder)."""
    lines = []
    rc = runner.main(["--profile", "smoke", "--only", "01", "--out", str(out), "--cache-dir", str(cache), *options],
                     log=lines.append)
    return rc, "\n".join(lines), (out / "latest").resolve()


def test_smoke_study_twice(smoke_study):
    rc, out, run, cache = smoke_study.rc, smoke_study.log, smoke_study.run, smoke_study.cache
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
    meta = json.loads((cache / metrics["checkpoint"]["plain"] / "meta.json").read_text())
    epochs = resolve_config("smoke")["epochs"]
    assert meta["config"]["epochs"] == epochs and len(meta["history"]) == epochs
    for key in metrics["checkpoint"].values():
        assert (cache / key / "model.pt").exists()

    # One classifier per study (issue 14): every notebook explains, probes and measures with 01's model.
    checkpoints = {path.stem: json.loads(path.read_text()).get("classifier_checkpoint")
                   for path in sorted((run / "metrics").glob("0*.json")) if path.stem[:2] in NOTEBOOKS}
    assert len(checkpoints) == len(NOTEBOOKS)
    assert set(checkpoints.values()) == {metrics["checkpoint"]["plain"]}, checkpoints
    assert json.loads((run / "metrics" / "02_cnn_attribution.json").read_text())["attention_checkpoint"] \
        == metrics["checkpoint"]["attention"]
    gans = {nb: json.loads((run / "metrics" / f"{nb}.json").read_text())["gan_checkpoint"]
            for nb in ("04_gan_dynamics", "05_gan_latent", "06_evaluation")}
    assert len(set(gans.values())) == 1 and (cache / gans["04_gan_dynamics"]).is_dir(), gans
    # trained here, or by an earlier test of the session into the same cache (the explorer tests need it too)
    first_log = (run / "logs" / "01_cnn_training.log").read_text()
    assert "[train plain] epoch" in first_log or "[cache] loaded plain classifier" in first_log
    assert len(list((run / "figures").glob("01_cnn_training_*.png"))) >= 7
    assert (run / "html" / "01_cnn_training.html").exists()

    # Run again (--rerun: the notebook itself, not its stored results): the models come from the cache, and the
    # metrics are the same numbers, which is what makes reusing a notebook's results sound.
    rc2, out2, run2 = _study(smoke_study.out, cache, "--rerun")
    assert rc2 == 0 and run2 != run and "▶ 01_cnn_training" in out2
    log = (run2 / "logs" / "01_cnn_training.log").read_text()
    assert "[train" not in log and log.count("[cache] loaded") == 2
    assert json.loads((run2 / "metrics" / "01_cnn_training.json").read_text()) == metrics
    # Without --rerun, nothing 01 depends on changed: its results are reused from the last run that computed them.
    rc3, out3, run3 = _study(smoke_study.out, cache)
    assert rc3 == 0 and f"reused from run {run2.name}" in out3 and "▶ 01_cnn_training" not in out3, out3
    assert json.loads((run3 / "metrics" / "01_cnn_training.json").read_text()) == metrics

    # The first run also ran 06 and built the report from what the run holds.
    evaluation = json.loads((run / "metrics" / "06_evaluation.json").read_text())
    for key in ("classification", "augmentation", "fidelity", "explanations", "human", "cost", "checks"):
        assert key in evaluation, key
    assert evaluation["fidelity"] and evaluation["human"]["n_answers"] == 0  # from 04's metrics; no raters
    human = evaluation["human"]
    assert human["item_images_requested"] == len(human["item_test_indices"]) and human["item_shortfall"] is None
    page = (run / "report.html").read_text()
    assert "plain CNN" in page and "attention CNN" in page  # the classification table from 01's metrics
    assert f"{metrics['test_accuracy']:.4g}" in page
    assert "data:image/png;base64," in page and 'href="html/01_cnn_training.html"' in page
    assert "http://" not in page and "https://" not in page
    assert "Report: " in out
    assert "plain CNN" in (run / "summary.md").read_text()
    assert "Summary of findings" in page and "against ground truth" in page


def test_report_of_the_smoke_run_fits_the_page_in_chromium(smoke_study, chromium_path):
    """The real report (all six notebooks' tables and figures) at 1,280 px: no sideways page scroll, no table
    whose first column is pandas' row number."""
    from report_page import report_layout

    assert smoke_study.rc == 0, smoke_study.log
    layout = report_layout(smoke_study.run / "report.html", chromium_path)
    assert layout["scroll_width"] <= layout["inner_width"] == 1280, layout
    assert layout["index_tables"] == 0, layout
