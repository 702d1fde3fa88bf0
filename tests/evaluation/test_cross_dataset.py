"""The cross-data-set comparison (xai_helpers.evaluation.cross_dataset): Kendall's W against Spearman's ρ and
hand-computed cases, and the tables built from data set folders in the workflow's layout."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, spearmanr

from xai_helpers.evaluation import cross_dataset as CD


def test_kendalls_w_of_two_data_sets_is_spearmans_rho_rescaled():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.permutation(7) + 1.0, rng.permutation(7) + 1.0
        ranks = pd.DataFrame({"a": a, "b": b})
        assert math.isclose(CD.kendalls_w(ranks), (spearmanr(a, b).statistic + 1) / 2, abs_tol=1e-12)


def test_kendalls_w_extremes_ties_and_missing_values():
    same = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.5, 2.5, 3.5, 9], "z": [10.0, 20, 30, 40]})
    assert CD.kendalls_w(same) == pytest.approx(1.0)  # only the order counts
    assert CD.kendalls_w(pd.DataFrame({"x": [1.0, 2, 3], "y": [3.0, 2, 1]})) == pytest.approx(0.0)
    # ties, by hand: ranks x = (1, 2.5, 2.5), y = (1, 2, 3); sums (2, 4.5, 5.5), mean 4, S = 4 + 0.25 + 2.25 = 6.5;
    # T = 2³ − 2 = 6 (x's one pair); W = 12 · 6.5 / (2² · (27 − 3) − 2 · 6) = 78 / 84
    assert CD.kendalls_w(pd.DataFrame({"x": [1.0, 2, 2], "y": [1.0, 2, 3]})) == pytest.approx(78 / 84)
    with_gap = pd.DataFrame({"x": [1.0, 2, 3, np.nan], "y": [1.0, 2, 3, 1]})
    assert CD.kendalls_w(with_gap) == pytest.approx(1.0)  # a method one data set did not run is left out
    assert math.isnan(CD.kendalls_w(pd.DataFrame({"x": [1.0, 2]})))


def test_concordance_test_is_friedmans_and_says_the_chance_level():
    """Issue 29, item 6: W was labelled "0 = no agreement", but independent rankings give E[W] = 1/m (two data
    sets: 0.5). Friedman's χ² = m (n − 1) W from scipy, with its p-value, tests W against that chance level."""
    rng = np.random.default_rng(1)
    ranks = pd.DataFrame({d: rng.permutation(6) + 1.0 for d in "abcd"})
    test = CD.concordance_test(ranks)
    assert test["chance"] == 0.25 and test["chi2"] == pytest.approx(4 * 5 * test["w"])  # scipy's χ² is m (n − 1) W
    assert test["p_value"] == pytest.approx(chi2.sf(test["chi2"], 5))
    # the chance level is what independent rankings average to
    draws = [CD.kendalls_w(pd.DataFrame({d: rng.permutation(6) + 1.0 for d in "ab"})) for _ in range(2000)]
    assert np.mean(draws) == pytest.approx(0.5, abs=0.02)
    agree = CD.concordance_test(pd.DataFrame({d: np.arange(6.0) for d in "abcd"}))
    assert agree["w"] == pytest.approx(1.0) and agree["p_value"] < 0.01
    table = CD.rank_agreement(ranks)
    assert table.loc["all data sets", "chance"] == 0.25 and table.loc["all data sets (Friedman)", "p_value"] == test["p_value"]
    assert table.loc["all pairs", "value"] == pytest.approx(np.mean([table.loc[f"{a} vs {b}", "value"]
                                                                     for a, b in ["ab", "ac", "ad", "bc", "bd", "cd"]]))


def _dataset(root, name, accuracies, ranks_by_seed):
    """A data set folder with 01's and 02's metrics per seed and 06's metrics file, as the workflow leaves it."""
    for seed, (accuracy, scores) in enumerate(zip(accuracies, ranks_by_seed)):
        metrics = root / name / f"seed-{seed}" / "metrics"
        metrics.mkdir(parents=True)
        models = {arch: {"test_accuracy": accuracy - d, "macro_f1": accuracy - d, "ece": 0.1}
                  for arch, d in (("plain", 0.0), ("attention", 0.05))}
        (metrics / "01_cnn_training.json").write_text(json.dumps({"seed": seed, "models": models}))
        methods = {m: {"deletion_auc": {"zero": s}, "insertion_auc": {"zero": 1 - s}} for m, s in scores.items()}
        (metrics / "02_cnn_attribution.json").write_text(json.dumps({"seed": seed, "methods": methods}))
    (root / name / "metrics").mkdir()
    (root / name / "metrics" / "06_evaluation.json").write_text("{}")


def test_tables_compare_the_data_sets_from_their_own_metrics(tmp_path):
    _dataset(tmp_path, "easy", [0.9, 0.92], [{"saliency": 0.1, "grad_cam": 0.2, "lime": 0.3}] * 2)
    _dataset(tmp_path, "hard", [0.5, 0.6], [{"saliency": 0.3, "grad_cam": 0.2, "lime": 0.1}] * 2)
    folders = CD.dataset_folders(tmp_path, ["easy", "hard"])
    classification = CD.classification_by_dataset(folders)
    assert classification.loc[("easy", "plain CNN"), "accuracy"] == pytest.approx(0.91)
    assert classification.loc[("hard", "attention CNN"), "accuracy"] == pytest.approx(0.5)
    assert classification.loc[("hard", "plain CNN"), "accuracy_low"] < 0.55 < classification.loc[("hard", "plain CNN"), "accuracy_high"]
    ranks = CD.method_ranks_by_dataset(folders)
    assert ranks["easy"].idxmin() == "saliency" and ranks["hard"].idxmin() == "lime"  # lower deletion AUC wins
    agreement = CD.rank_agreement(ranks)
    assert agreement.loc["easy vs hard", "value"] == pytest.approx(-1.0)  # reversed orders
    assert agreement.loc["all data sets", "value"] == pytest.approx(0.0)


def test_a_data_set_that_06_has_not_evaluated_is_refused_by_name(tmp_path):
    _dataset(tmp_path, "easy", [0.9], [{"saliency": 0.1}])
    with pytest.raises(FileNotFoundError, match="data set 'missing'.*06_evaluation.json does not exist"):
        CD.dataset_folders(tmp_path, ["easy", "missing"])


def test_the_summary_sentence_gives_w_with_its_chance_level_and_test():
    from xai_helpers.reporting.cross_dataset_report import _findings

    ranks = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, 2, 4, 3]}, index=["s", "g", "l", "k"])
    tables = {"classification": pd.DataFrame({"accuracy": [0.9]}, index=pd.MultiIndex.from_tuples(
        [("a", "plain CNN")], names=["dataset", "model"])), "method_ranks": ranks,
        "rank_agreement": CD.rank_agreement(ranks)}
    sentence = _findings(tables, CD.kendalls_w(ranks))[-1]
    assert sentence.startswith("Agreement of the method rankings across data sets: Kendall's W = 0.9 over 4 methods "
                               "(chance level 0.5, Friedman's test p = ")
