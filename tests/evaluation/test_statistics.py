"""Rating and evaluation statistics: intervals, paired tests, Krippendorff's alpha, Bradley-Terry, Spearman."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from xai_helpers.evaluation import statistics as R

nan = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
])


def _simulated_pairs(log_strengths, per_pair, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    k = len(log_strengths)
    for i in range(k):
        for j in range(i + 1, k):
            p_i = 1 / (1 + math.exp(log_strengths[j] - log_strengths[i]))
            for _ in range(per_pair):
                pairs.append((f"m{i}", f"m{j}") if rng.random() < p_i else (f"m{j}", f"m{i}"))
    return pairs


# ----------------------------------------------------------------------------------------------- mean_ci
def test_mean_ci_is_the_hand_computed_t_interval():
    out = R.mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)  # t_{0.975, 4} * sd / sqrt(n), sd^2 = 2.5
    assert out["mean"] == 3 and out["n"] == 5
    assert out["std"] == pytest.approx(math.sqrt(2.5))
    assert out["low"] == pytest.approx(3 - half) and out["high"] == pytest.approx(3 + half)
    narrower = R.mean_ci([1, 2, 3, 4, 5], confidence=0.5)
    assert 3 - half < narrower["low"] < 3 < narrower["high"] < 3 + half


def test_mean_ci_single_value_has_nan_bounds():
    out = R.mean_ci([0.7])
    assert out["mean"] == 0.7 and out["n"] == 1
    assert math.isnan(out["low"]) and math.isnan(out["high"]) and math.isnan(out["std"])


@pytest.mark.parametrize("values, confidence, match", [
    ([], 0.95, "empty"), ([1.0, nan], 0.95, "finite"), ([[1.0, 2.0]], 0.95, "1-d"), ([1.0, 2.0], 1.0, "confidence"),
])
def test_mean_ci_rejects_bad_input(values, confidence, match):
    with pytest.raises(ValueError, match=match):
        R.mean_ci(values, confidence)


# ------------------------------------------------------------------------------------- paired_difference
def test_paired_difference_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, 8)
    b = a - 0.3 + rng.normal(0.0, 0.5, 8)
    out = R.paired_difference(a, b)
    ref = stats.ttest_rel(a, b)
    d = a - b
    half = stats.t.ppf(0.975, 7) * d.std(ddof=1) / math.sqrt(8)
    assert out["t"] == pytest.approx(ref.statistic) and out["p"] == pytest.approx(ref.pvalue)
    assert out["mean_diff"] == pytest.approx(d.mean()) and out["n"] == 8
    assert out["low"] == pytest.approx(d.mean() - half) and out["high"] == pytest.approx(d.mean() + half)
    assert out["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a, b).pvalue)


def test_paired_difference_constant_shift():
    rng = np.random.default_rng(2)
    b = rng.normal(0.0, 1.0, 6)
    exact = R.paired_difference(b + 2.0, b)
    assert exact["p"] == pytest.approx(0.0, abs=1e-12) and exact["t"] == math.inf
    assert exact["low"] == pytest.approx(2.0) and exact["high"] == pytest.approx(2.0)
    assert exact["wilcoxon_p"] == pytest.approx(2 / 2 ** 6)  # exact two-sided, all six differences positive
    noisy = R.paired_difference(b + 2.0 + rng.normal(0.0, 1e-3, 6), b)
    assert noisy["p"] < 1e-10 and noisy["low"] < 2.0 < noisy["high"] and noisy["high"] - noisy["low"] < 0.01
    same = R.paired_difference(b, b)
    assert same["p"] == 1.0 and same["mean_diff"] == 0 and math.isnan(same["wilcoxon_p"])


def test_paired_difference_validation():
    with pytest.raises(ValueError, match="at least 2 pairs"):
        R.paired_difference([1.0], [2.0])
    with pytest.raises(ValueError, match="one length"):
        R.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        R.paired_difference([1.0, nan], [1.0, 2.0])


# ------------------------------------------------------------------------------------ krippendorff_alpha
@pytest.mark.parametrize("level, published", [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_alpha_reproduces_the_2011_example(level, published):
    assert round(R.krippendorff_alpha(KRIPPENDORFF_2011, level), 3) == published


def test_krippendorff_alpha_ignores_units_rated_once_and_perfect_agreement_is_one():
    with_singletons = np.hstack([KRIPPENDORFF_2011, [[9.0], [nan], [nan], [nan]]])
    assert R.krippendorff_alpha(with_singletons, "interval") == R.krippendorff_alpha(KRIPPENDORFF_2011, "interval")
    perfect = np.array([[1, 2, 3, nan], [1, 2, 3, 4], [1, nan, 3, 4.0]])
    for level in R.LEVELS:
        assert R.krippendorff_alpha(perfect, level) == pytest.approx(1.0)
    assert math.isnan(R.krippendorff_alpha(np.full((3, 4), 2.0)))  # no variation: D_e = 0
    assert R.krippendorff_alpha(np.array([[1, 2, 1, 2], [2, 1, 2, 1.0]]), "nominal") < 0  # systematic disagreement


@pytest.mark.parametrize("data, level, match", [
    (KRIPPENDORFF_2011, "cardinal", "level"),
    (np.array([[1.0, nan], [nan, 2.0]]), "interval", "pairable"),
    (np.array([1.0, 2.0]), "interval", "2-d"),
    (np.array([[1.0, np.inf], [1.0, 2.0]]), "interval", "infinite"),
    (np.array([[-1.0, 2.0], [-1.0, 2.0]]), "ratio", ">= 0"),
])
def test_krippendorff_alpha_validation(data, level, match):
    with pytest.raises(ValueError, match=match):
        R.krippendorff_alpha(data, level)


# ----------------------------------------------------------------------------------------- bradley_terry
def test_bradley_terry_two_items_closed_form():
    pairs = [("A", "B")] * 3 + [("B", "A")]
    mle = R.bradley_terry(pairs, prior=0)
    assert list(mle.index) == ["A", "B"] and list(mle["rank"]) == [1, 2]
    assert mle.loc["A", "strength"] / mle.loc["B", "strength"] == pytest.approx(3.0)
    assert mle["log_strength"].sum() == pytest.approx(0.0, abs=1e-12)  # geometric mean 1
    assert list(mle["wins"]) == [3, 1] and list(mle["comparisons"]) == [4, 4]
    shrunk = R.bradley_terry(pairs)  # default prior 0.5: (3 + 0.5) / (1 + 0.5)
    assert shrunk.loc["A", "strength"] / shrunk.loc["B", "strength"] == pytest.approx(3.5 / 1.5)
    assert list(shrunk["wins"]) == [3, 1]  # the prior is not reported as wins


def test_bradley_terry_matrix_and_pairs_agree_and_never_winner_is_finite():
    pairs = [("x", "y"), ("x", "y"), ("y", "z"), ("x", "z"), ("x", "z"), ("y", "z")]
    from_pairs = R.bradley_terry(pairs)
    matrix = np.array([[0, 2, 2], [0, 0, 2], [0, 0, 0]])
    from_array = R.bradley_terry(matrix, items=["x", "y", "z"])
    from_frame = R.bradley_terry(pd.DataFrame(matrix, index=list("xyz"), columns=list("xyz")))
    pd.testing.assert_frame_equal(from_pairs, from_array)
    pd.testing.assert_frame_equal(from_pairs, from_frame)
    assert list(from_pairs.index) == ["x", "y", "z"]
    assert np.isfinite(from_pairs["log_strength"]).all() and from_pairs.loc["z", "strength"] > 0
    with pytest.raises(ValueError, match="prior > 0"):
        R.bradley_terry(pairs, prior=0)  # z never wins, x never loses: no MLE


def test_bradley_terry_recovers_planted_strengths():
    planted = [-1.5, -0.5, 0.0, 0.7, 1.3]
    fit = R.bradley_terry(_simulated_pairs(planted, per_pair=80, seed=0))
    assert list(fit.index) == ["m4", "m3", "m2", "m1", "m0"] and list(fit["rank"]) == [1, 2, 3, 4, 5]
    est = fit.loc[[f"m{i}" for i in range(5)], "log_strength"].to_numpy()
    truth = np.array(planted) - np.mean(planted)
    assert np.abs(est - truth).max() < 0.3


def test_bradley_terry_validation():
    with pytest.raises(ValueError, match="itself"):
        R.bradley_terry([("a", "a")])
    with pytest.raises(ValueError, match="not in items"):
        R.bradley_terry([("a", "b")], items=["a", "c"])
    with pytest.raises(ValueError, match="square"):
        R.bradley_terry(np.ones((2, 3)))
    with pytest.raises(ValueError, match="diagonal"):
        R.bradley_terry(np.ones((2, 2)))
    with pytest.raises(ValueError, match="no comparisons"):
        R.bradley_terry([], items=["a", "b"])
    with pytest.raises(ValueError, match="prior"):
        R.bradley_terry([("a", "b")], prior=-1)


def test_bradley_terry_ci_covers_the_fit_and_is_seeded():
    planted = [-1.0, 0.0, 1.0]
    pairs = _simulated_pairs(planted, per_pair=40, seed=1)
    ci = R.bradley_terry_ci(pairs, n_boot=200, seed=5)
    assert list(ci.index) == ["m2", "m1", "m0"]
    assert (ci["log_strength_low"] < ci["log_strength"]).all() and (ci["log_strength"] < ci["log_strength_high"]).all()
    assert ci["log_strength_high"]["m1"] < ci["log_strength_low"]["m2"]  # 40 games a pair separate these
    pd.testing.assert_frame_equal(ci, R.bradley_terry_ci(pairs, n_boot=200, seed=5))
    assert not ci.equals(R.bradley_terry_ci(pairs, n_boot=200, seed=6))
    wider = R.bradley_terry_ci(pairs, n_boot=200, seed=5, confidence=0.99)
    width = ci["log_strength_high"] - ci["log_strength_low"]
    assert (wider["log_strength_high"] - wider["log_strength_low"] >= width).all()
