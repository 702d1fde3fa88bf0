"""Inference that respects rater and image clusters (issue 29, item 7), checked against scipy where they coincide."""
import numpy as np
import pytest
from scipy import stats

from xai_helpers.evaluation.rating_inference import cluster_bootstrap_mean_ci, within_image_spearman


def test_one_rater_and_one_rating_per_image_is_the_ordinary_bootstrap():
    x = np.random.default_rng(0).normal(3, 1, 60)
    ours = cluster_bootstrap_mean_ci(x, ["ann"] * 60, range(60), n_resamples=20000, seed=1)
    ref = stats.bootstrap((x,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(2))
    assert ours["mean"] == pytest.approx(x.mean())
    assert ours["low"] == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert ours["high"] == pytest.approx(ref.confidence_interval.high, abs=0.03)
    assert cluster_bootstrap_mean_ci(x, ["ann"] * 60, range(60), seed=1) == cluster_bootstrap_mean_ci(
        x, ["ann"] * 60, range(60), seed=1)


def test_clustered_ratings_get_the_wider_interval_they_deserve():
    """3 raters × 20 images where each image's maps are all easy or all hard: 60 ratings carry about 20 images'
    worth of information, and a bootstrap of 60 independent ratings is too narrow."""
    rng = np.random.default_rng(3)
    image_effect = rng.normal(0, 1, 20)
    raters, images = np.repeat(["a", "b", "c"], 20), np.tile(np.arange(20), 3)
    x = 3 + image_effect[images] + rng.normal(0, 0.1, 60)
    clustered = cluster_bootstrap_mean_ci(x, raters, images, seed=0)
    naive = stats.bootstrap((x,), np.mean, method="percentile", rng=np.random.default_rng(0)).confidence_interval
    assert clustered["high"] - clustered["low"] > 1.4 * (naive.high - naive.low)
    assert clustered["n_raters"] == 3 and clustered["n_images"] == 20
    one = cluster_bootstrap_mean_ci([4.0], ["a"], [1])
    assert np.isnan(one["low"]) and cluster_bootstrap_mean_ci([4.0, 4.0], ["a", "b"], [1, 1])["low"] == 4.0
    with pytest.raises(ValueError, match="one rater and one image each"):
        cluster_bootstrap_mean_ci([1.0, 2.0], ["a"], [1, 2])


def test_within_one_image_the_permutation_test_is_scipys():
    rng = np.random.default_rng(4)
    r, m = rng.integers(1, 6, 7).astype(float), rng.normal(size=7)
    ours = within_image_spearman(r, m, [0] * 7, n_resamples=20000, seed=5)
    # one sample permuted against the fixed other: the 7! = 5040 pairings, exactly
    ref = stats.permutation_test((r,), lambda a: stats.spearmanr(a, m).statistic, permutation_type="pairings",
                                 n_resamples=np.inf, vectorized=False)
    assert ours["spearman"] == pytest.approx(stats.spearmanr(r, m).statistic)
    assert ours["p"] == pytest.approx(ref.pvalue, abs=0.015)


def test_an_image_confound_is_no_evidence_and_a_within_image_association_is():
    """Ratings and the metric both follow how easy each image is, and within an image the metric says nothing:
    Spearman over items with scipy's p calls that significant; the within-image test does not."""
    rng = np.random.default_rng(6)
    images = np.repeat(np.arange(30), 3)
    easy = rng.normal(0, 1, 30)[images]
    ratings = np.round(3 + 1.5 * easy + rng.normal(0, 0.3, 90))
    metric = easy + rng.normal(0, 0.3, 90)
    assert stats.spearmanr(ratings, metric).pvalue < 1e-6
    confounded = within_image_spearman(ratings, metric, images, seed=0)
    assert confounded["spearman"] > 0.5 and confounded["p"] > 0.05
    within = within_image_spearman(ratings, ratings + rng.normal(0, 0.01, 90), images, seed=0)
    assert within["p"] < 0.001
    assert np.isnan(within_image_spearman(ratings, metric, np.arange(90))["p"])  # nothing to permute
