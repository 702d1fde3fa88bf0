"""06's measure reliability: 02's per-seed judgements averaged, stability over seeds added, and the mean rank of the
methods taken over the readable measures only."""
import json

import pytest

from xai_helpers.evaluation import measure_reliability as MR, tables as ET
from xai_helpers.reporting.report_findings import reliability_finding


def _judgement(passes, reason=""):
    return {"nr_input": 0.9 if passes else 0.1, "nr_weights": 0.9, "ar": 0.5, "passes": passes, "reason": reason}


def _write(folder, seed, scores, judgements):
    (folder / "metrics").mkdir(parents=True)
    methods = {m: {"deletion_auc": {"zero": d}, "infidelity": i} for m, (d, i) in scores.items()}
    (folder / "metrics" / "02_cnn_attribution.json").write_text(json.dumps(
        {"seed": seed, "methods": methods, "measure_reliability": judgements}))


def test_readable_needs_every_seed_to_pass_and_a_ranking_that_survives_a_change_of_seed(tmp_path):
    judged = {"deletion_auc.zero": _judgement(True), "infidelity": _judgement(True),
              "max_sensitivity": _judgement(False, "not judged: too costly")}
    # deletion ranks a < b < c < d in both seeds; infidelity's ranking is reversed between the seeds
    _write(tmp_path / "seed-0", 0, {"a": (0.1, 1.0), "b": (0.2, 2.0), "c": (0.3, 3.0), "d": (0.4, 4.0)}, judged)
    _write(tmp_path / "seed-1", 1, {"a": (0.15, 4.0), "b": (0.25, 3.0), "c": (0.35, 2.0), "d": (0.45, 1.0)}, judged)
    table = MR.measure_reliability_table(tmp_path)
    assert table.loc["deletion_auc.zero", "readable"] and table.loc["deletion_auc.zero", "seed_stability"] == 1.0
    assert not table.loc["infidelity", "readable"] and table.loc["infidelity", "seed_stability"] == -1.0
    assert not table.loc["max_sensitivity", "readable"]
    assert table.loc["max_sensitivity", "note"] == "not judged: too costly"
    assert MR.readable_measures(table) == ["deletion_auc.zero"]
    means, ranks = ET.explanation_table(tmp_path, MR.readable_measures(table))
    assert ranks["mean rank"].to_dict() == ranks["deletion_auc.zero"].to_dict()  # infidelity ranked, not averaged
    assert ranks["infidelity"].notna().all()
    _, every = ET.explanation_table(tmp_path)
    assert every["mean rank"].to_dict() == pytest.approx(((every["deletion_auc.zero"] + every["infidelity"]) / 2)
                                                         .to_dict())
    text = reliability_finding(table.reset_index()).text
    assert text == ("Measures you can read on this model: 1 of the 2 judged (deletion_auc.zero); the methods' mean "
                    "rank uses only these. Not readable here: infidelity.")


def test_one_seed_says_the_stability_was_not_judged_and_a_failed_seed_is_not_readable(tmp_path):
    _write(tmp_path / "seed-0", 0, {"a": (0.1, 1.0), "b": (0.2, 2.0), "c": (0.3, 3.0)},
           {"deletion_auc.zero": _judgement(True), "infidelity": _judgement(False)})
    table = MR.measure_reliability_table(tmp_path / "seed-0")
    assert table.loc["deletion_auc.zero", "readable"] and not table.loc["infidelity", "readable"]
    assert table.loc["deletion_auc.zero", "note"] == "one seed: stability over seeds not judged"
    assert "With one seed, whether a measure ranks the methods alike" in reliability_finding(table.reset_index()).text
    (tmp_path / "old" / "metrics").mkdir(parents=True)
    (tmp_path / "old" / "metrics" / "02_cnn_attribution.json").write_text(json.dumps({"seed": 0, "methods": {}}))
    with pytest.raises(FileNotFoundError, match="no measure reliability"):
        MR.measure_reliability_table(tmp_path / "old")


def test_the_explanation_finding_counts_the_measures_its_mean_rank_used(tmp_path):
    from xai_helpers.reporting.report_findings import explanation_finding
    judged = {"deletion_auc.zero": _judgement(True), "infidelity": _judgement(False)}
    _write(tmp_path / "seed-0", 0, {"a": (0.1, 1.0), "b": (0.2, 2.0), "c": (0.3, 3.0)}, judged)
    table = MR.measure_reliability_table(tmp_path)
    _, ranks = ET.explanation_table(tmp_path, MR.readable_measures(table))
    text = explanation_finding(ranks.reset_index(), table.reset_index()).text
    assert "a has the best mean rank (1 over 1 readable measure, 1 = best)" in text
    assert "over 2 metrics" in explanation_finding(ranks.reset_index()).text  # a run without the judgement
