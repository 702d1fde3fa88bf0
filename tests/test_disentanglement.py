"""Disentanglement metrics on observational pools (xai_helpers.disentanglement): perfect, random, entangled codes."""
import math

import numpy as np
import pytest

from xai_helpers import disentanglement as dis

N = 2000
HEADLINE = ["mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness", "factorvae",
            "betavae"]


def _factors(n=N, seed=0):
    """(n, 5) independent factors: a class 0/1/2 (stored as floats, as a regressor read-out) and four U(0, 1)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.integers(0, 3, n).astype(float), rng.uniform(size=(n, 4))])


def _perfect_codes(factors, seed=1):
    """Each code is one factor up to its own positive scale and shift (equal-width bins are unchanged)."""
    rng = np.random.default_rng(seed)
    k = factors.shape[1]
    return factors * rng.uniform(0.5, 2.0, k) + rng.uniform(-1.0, 1.0, k)


def _entangled_codes(factors):
    """Perfect codes, except that codes 1 and 2 are f1 + f2 and f1 − f2: two codes each driving two factors."""
    codes = _perfect_codes(factors)
    codes[:, 1], codes[:, 2] = factors[:, 1] + factors[:, 2], factors[:, 1] - factors[:, 2]
    return codes


@pytest.fixture(scope="module")
def factors():
    return _factors()


@pytest.fixture(scope="module")
def perfect(factors):
    return dis.disentanglement_scores(_perfect_codes(factors), factors)


@pytest.fixture(scope="module")
def entangled(factors):
    return dis.disentanglement_scores(_entangled_codes(factors), factors)


def test_perfect_codes_score_high(perfect):
    assert all(perfect[name] >= 0.9 for name in HEADLINE), perfect
    assert all(isinstance(value, float) for value in perfect.values())
    assert set(perfect) == set(HEADLINE) | {"factorvae_raw", "betavae_raw"}


def test_scores_do_not_depend_on_the_order_of_codes(factors, perfect):
    permuted = dis.disentanglement_scores(_perfect_codes(factors)[:, [3, 0, 4, 1, 2]], factors)
    assert all(permuted[name] >= 0.9 for name in HEADLINE), permuted
    assert permuted["mig"] == pytest.approx(perfect["mig"])  # MIG involves no randomness at all


def test_random_codes_score_near_zero(factors):
    codes = np.random.default_rng(7).normal(size=(N, 10))
    scores = dis.disentanglement_scores(codes, factors)
    assert all(scores[name] <= 0.1 for name in HEADLINE), scores
    # Raw FactorVAE / BetaVAE accuracies sit near chance, 1/K = 0.2, which is why the headline is rescaled.
    assert scores["factorvae_raw"] == pytest.approx(0.2, abs=0.08)
    assert scores["betavae_raw"] == pytest.approx(0.2, abs=0.08)


def test_entangled_codes_score_lower(perfect, entangled):
    assert entangled["mig"] < perfect["mig"] - 0.2, (entangled, perfect)
    assert entangled["dci_disentanglement"] < perfect["dci_disentanglement"] - 0.1, (entangled, perfect)
    assert entangled["dci_informativeness"] >= 0.9  # the information is all there, only mixed


def test_same_seed_same_results_different_seed_different_draws():
    factors = _factors(400, seed=3)
    codes = _perfect_codes(factors) + np.random.default_rng(4).normal(scale=0.3, size=factors.shape)
    for metric in (dis.sap, dis.dci, dis.factorvae_score, dis.betavae_score):
        assert metric(codes, factors, seed=5) == metric(codes, factors, seed=5), metric.__name__
    assert dis.disentanglement_scores(codes, factors, seed=5) == dis.disentanglement_scores(codes, factors, seed=5)
    assert dis.factorvae_score(codes, factors, seed=5) != dis.factorvae_score(codes, factors, seed=6)


def test_discretize_keeps_categories_and_bins_continuous_columns():
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.choice([-1.0, 0.5, 7.0], 500), rng.normal(size=500)])
    binned = dis.discretize(values, num_bins=20)
    assert binned.dtype.kind == "i" and binned.shape == values.shape
    np.testing.assert_array_equal(binned[:, 0], np.searchsorted([-1.0, 0.5, 7.0], values[:, 0]))
    assert binned[:, 1].min() == 0 and binned[:, 1].max() == 19
    assert len(np.unique(binned[:, 1])) > 3
    assert np.all(np.diff(binned[np.argsort(values[:, 1]), 1]) >= 0)  # bins follow the order of the values


def test_information_of_a_class_label():
    labels = np.repeat([0, 1, 2], 100)[:, None]
    assert dis.entropies(labels) == pytest.approx([math.log(3)])
    information = dis.mutual_info_matrix(np.column_stack([labels[:, 0], np.zeros(300, int)]), labels)
    assert information.shape == (2, 1)
    assert information[:, 0] == pytest.approx([math.log(3), 0.0])


def test_dci_from_importance_extremes():
    assert dis.dci_from_importance(np.eye(3)) == pytest.approx((1.0, 1.0))
    assert dis.dci_from_importance(np.ones((3, 3))) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert dis.dci_from_importance(np.zeros((3, 3))) == (0.0, 0.0)
    # An unused code (all-zero row) weighs nothing: the rest is still perfectly disentangled.
    assert dis.dci_from_importance(np.vstack([np.eye(2), [0.0, 0.0]])) == pytest.approx((1.0, 1.0))


def test_constant_factor_is_skipped():
    factors = _factors(600)
    factors[:, 4] = 0.25
    codes = _perfect_codes(factors)
    result = dis.mig(codes, factors)
    assert math.isnan(result["per_factor"][4]) and result["mig"] >= 0.8  # N = 600: MI of unrelated codes is biased up
    assert dis.factorvae_score(codes, factors)["factors_used"] == [0, 1, 2, 3]
    assert math.isnan(dis.sap(codes, factors)["per_factor"][4])
    with pytest.raises(ValueError, match=r"constant factor columns \[1, 2, 3, 4\]"):
        dis.mig(codes, np.column_stack([factors[:, 0], np.ones((600, 4))]))


def test_sap_categorical_flags():
    factors = _factors(600)
    codes = _perfect_codes(factors)
    auto = dis.sap(codes, factors)
    assert auto == dis.sap(codes, factors, categorical=[True, False, False, False, False])
    assert np.asarray(auto["score_matrix"]).shape == (5, 5)
    with pytest.raises(ValueError, match=r"one flag per factor \(K=5\), got 2"):
        dis.sap(codes, factors, categorical=[True, False])


def test_invalid_inputs_are_named():
    factors = _factors(100)
    codes = _perfect_codes(factors)
    with pytest.raises(ValueError, match=r"codes shape \(99, 5\) and factors shape \(100, 5\)"):
        dis.mig(codes[:99], factors)
    bad = factors.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"factors contain non-finite values .*nan at row 3, column 1"):
        dis.dci(codes, bad)
    with pytest.raises(ValueError, match="num_bins must be an integer >= 2, got 1"):
        dis.discretize(factors, num_bins=1)
    with pytest.raises(ValueError, match="num_bins must be an integer >= 2, got 1"):
        dis.factorvae_score(codes, factors, num_bins=1)
    with pytest.raises(ValueError, match="need at least 10 samples, got N=5"):
        dis.betavae_score(codes[:5], factors[:5])
    with pytest.raises(ValueError, match="need at least 2 code dimensions, got D=1"):
        dis.sap(codes[:, :1], factors)
    with pytest.raises(ValueError, match=r"2-d array .* got shape \(100,\)"):
        dis.mig(codes[:, 0], factors)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2, got 1"):
        dis.betavae_score(codes, factors, batch_size=1)
    with pytest.raises(ValueError, match=r"train_fraction must be in \(0, 1\), got 1.5"):
        dis.dci(codes, factors, train_fraction=1.5)
