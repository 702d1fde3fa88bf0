"""A quantity's direction and range are defined once (evaluation/quantities.py, issue 32 item 2): the evaluation's
ranking and interval clipping and the report's headers all read that entry, so a change there reaches each."""
import json
from dataclasses import replace

import pytest

from xai_helpers.evaluation import quantities as Q
from xai_helpers.evaluation import tables as ET
from xai_helpers.reporting import report_tables as RT


def _write(folder, notebook, metrics):
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    (folder / "metrics" / f"{notebook}.json").write_text(json.dumps(metrics))


def test_a_direction_changed_in_one_place_reaches_the_ranking_and_the_report_header(tmp_path, monkeypatch):
    _write(tmp_path, "02_cnn_attribution", {"seed": 0, "methods": {"saliency": {"infidelity": 0.1},
                                                                   "grad_cam": {"infidelity": 0.9}}})
    _, ranks = ET.explanation_table(tmp_path)
    assert ranks.loc["saliency", "infidelity"] == 1 and RT.header("infidelity").endswith("↓")
    monkeypatch.setitem(Q.QUANTITIES, "infidelity", replace(Q.QUANTITIES["infidelity"], better=Q.UP))
    _, ranks = ET.explanation_table(tmp_path)
    assert ranks.loc["grad_cam", "infidelity"] == 1 and RT.header("infidelity").endswith("↑")


def test_a_range_changed_in_one_place_reaches_the_interval_clipping(tmp_path, monkeypatch):
    for seed, acc in enumerate((0.99, 0.999, 0.80)):  # a wide t-interval that would reach past 1
        _write(tmp_path / f"seed-{seed}", "01_cnn_training",
               {"seed": seed, "models": {name: {"test_accuracy": acc, "macro_f1": acc, "ece": 0.1}
                                         for name in ("plain", "attention")}})
    high = ET.classification_table(tmp_path).loc[("accuracy", "plain CNN"), "ci_high"]
    assert high == 1.0
    monkeypatch.setitem(Q.QUANTITIES, "accuracy", replace(Q.QUANTITIES["accuracy"], high=0.95))
    assert ET.classification_table(tmp_path).loc[("accuracy", "plain CNN"), "ci_high"] == pytest.approx(0.95)


def test_every_graded_explanation_metric_has_a_direction():
    assert all(Q.quantity(name).better in (Q.UP, Q.DOWN) for name in Q.EXPLANATION_GRADED)
    assert Q.quantity("no_such_metric").better == 0 and Q.quantity("no_such_metric").label == "no such metric"
