"""Disentanglement metrics on observational pools (xai_helpers.latent.disentanglement): perfect, random, entangled codes."""
import math

import numpy as np
import pytest

from xai_helpers.latent import disentanglement as dis

N = 2000
HEADLINE = ["mig", "sap", "dci_disentanglement", "dci_completeness", "dci_informativeness", "factorvae",
            "betavae"]
#: dislib's DCI with dislib's 100 estimators costs ~20 s per call at N = 2000; these tests do not score it.
FAST = {"dislib_estimators": 5}


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
    return dis.disentanglement_scores(_perfect_codes(factors), factors, **FAST)


@pytest.fixture(scope="module")
def entangled(factors):
    return dis.disentanglement_scores(_entangled_codes(factors), factors, **FAST)


def test_perfect_codes_score_high(perfect):
    assert all(perfect[name] >= 0.9 for name in HEADLINE), perfect
    assert all(isinstance(value, float) for value in perfect.values())
    assert set(perfect) == (set(HEADLINE) | set(dis.DCI_DISLIB) | {"mig_equal_width", "factorvae_raw", "betavae_raw",
                                                                    "factorvae_num_factors", "betavae_num_factors"})
    assert perfect["factorvae_num_factors"] == perfect["betavae_num_factors"] == 5


def test_scores_do_not_depend_on_the_order_of_codes(factors, perfect):
    permuted = dis.disentanglement_scores(_perfect_codes(factors)[:, [3, 0, 4, 1, 2]], factors, **FAST)
    assert all(permuted[name] >= 0.9 for name in HEADLINE), permuted
    assert permuted["mig"] == pytest.approx(perfect["mig"])  # MIG involves no randomness at all


def test_random_codes_score_near_zero(factors):
    codes = np.random.default_rng(7).normal(size=(N, 10))
    scores = dis.disentanglement_scores(codes, factors, **FAST)
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
    for metric in (dis.sap, dis.dci, dis.factorvae_score, dis.betavae_score):  # (dci_dislib: its own test)
        assert metric(codes, factors, seed=5) == metric(codes, factors, seed=5), metric.__name__
    assert (dis.disentanglement_scores(codes, factors, seed=5, **FAST)
            == dis.disentanglement_scores(codes, factors, seed=5, **FAST))
    assert dis.factorvae_score(codes, factors, seed=5) != dis.factorvae_score(codes, factors, seed=6)


def test_mean_over_seeds_corrects_the_mean_raw_accuracy_so_random_codes_average_to_zero():
    factors = _factors(1000)
    per_seed = []
    for seed in range(8):
        codes = np.random.default_rng(100 + seed).normal(size=(1000, 10))
        fv, bv = dis.factorvae_score(codes, factors, seed=seed), dis.betavae_score(codes, factors, seed=seed)
        per_seed.append({"mig": float(seed), "factorvae": fv["factorvae"], "factorvae_raw": fv["factorvae_raw"],
                         "factorvae_num_factors": float(len(fv["factors_used"])), "betavae": bv["betavae"],
                         "betavae_raw": bv["betavae_raw"], "betavae_num_factors": float(len(bv["factors_used"]))})
    mean = dis.mean_over_seeds(per_seed)
    for score in ("factorvae", "betavae"):
        clipped_mean = np.mean([s[score] for s in per_seed])  # what averaging the per-seed headlines gives
        raw_mean = np.mean([s[f"{score}_raw"] for s in per_seed])
        assert mean[score] == pytest.approx(dis.chance_corrected(raw_mean, 5))
        assert clipped_mean > 0.004 and abs(mean[score]) <= 0.01 and mean[score] < clipped_mean, (score, mean)
        assert mean[f"{score}_raw"] == pytest.approx(raw_mean)
    assert mean["mig"] == pytest.approx(3.5) and mean["num_seeds"] == 8  # other metrics: plain means
    assert dis.chance_corrected(0.1, 5) == pytest.approx(-0.125)  # not clipped
    with pytest.raises(ValueError, match="factorvae_num_factors"):
        dis.mean_over_seeds([{"factorvae": 0.0, "factorvae_raw": 0.2}])
    with pytest.raises(ValueError, match="seed 1 has keys"):
        dis.mean_over_seeds([per_seed[0], {"mig": 0.0}])


def test_dislib_dci_scores_factor_codes_high_random_codes_low_and_differs_from_ours_on_mixed_codes():
    factors = _factors(600)
    options = {"n_estimators": 10}  # dislib's 100 move these numbers by <= 0.04 here and take 10 times as long
    perfect = dis.dci_dislib(factors.copy(), factors, **options)
    assert perfect["dci_dislib_disentanglement"] >= 0.9 and perfect["dci_dislib_completeness"] >= 0.9, perfect
    assert perfect["dci_dislib_informativeness"] >= 0.9
    random = dis.dci_dislib(np.random.default_rng(7).normal(size=(600, 10)), factors, **options)
    assert random["dci_dislib_disentanglement"] <= 0.15 and random["dci_dislib_completeness"] <= 0.15, random
    # Informativeness is raw accuracy: chance is not 0 (the class factor's majority share is ~1/3).
    assert 0.05 < random["dci_dislib_informativeness"] < 0.2
    # Mixed codes: the classifier on discretised factors credits them differently from the regressor.
    mixed = _entangled_codes(factors)
    ours, dislib = dis.dci(mixed, factors), dis.dci_dislib(mixed, factors, **options)
    assert ours["dci_disentanglement"] - dislib["dci_dislib_disentanglement"] > 0.05, (ours, dislib)
    assert ours["dci_informativeness"] - dislib["dci_dislib_informativeness"] > 0.1
    assert dislib == dis.dci_dislib(mixed, factors, **options)  # seeded, although dislib's own is not
    scores = dis.disentanglement_scores(mixed, factors, dislib_estimators=10)
    assert all(scores[key] == dislib[key] for key in dis.DCI_DISLIB)


def test_discretize_keeps_categories_and_bins_continuous_columns():
    rng = np.random.default_rng(0)
    values = np.column_stack([rng.choice([-1.0, 0.5, 7.0], 500), rng.normal(size=500)])
    binned = dis.discretize(values, num_bins=20)
    assert binned.dtype.kind == "i" and binned.shape == values.shape
    np.testing.assert_array_equal(binned[:, 0], np.searchsorted([-1.0, 0.5, 7.0], values[:, 0]))
    assert binned[:, 1].min() == 0 and binned[:, 1].max() == 19
    assert len(np.unique(binned[:, 1])) > 3
    assert np.all(np.diff(binned[np.argsort(values[:, 1]), 1]) >= 0)  # bins follow the order of the values


def test_quantile_mig_scores_one_disentanglement_alike_under_uniform_and_gaussian_codes():
    """Issue 29, item 3: the same perfect disentanglement (each code an increasing function of one factor) with
    U(-1, 1) codes, as InfoGAN-CR draws, and N(0, 1) codes, as the DCGAN draws. Equal-width bins (dislib's, the
    old MIG) score them 0.98 and 0.68; quantile bins depend on the order of the values only and score them alike."""
    from scipy.stats import norm

    factors = np.random.default_rng(3).uniform(size=(3000, 5))
    uniform, gaussian = 2 * factors - 1, norm.ppf(factors)
    old = [dis.mig(codes, factors, binning="equal_width")["mig"] for codes in (uniform, gaussian)]
    assert old[0] > 0.95 and old[1] < 0.75  # the bias the comparison of 05 suffered
    new = [dis.mig(codes, factors)["mig"] for codes in (uniform, gaussian)]
    assert new[0] == pytest.approx(new[1], abs=1e-12) and new[0] > 0.95
    scores = dis.disentanglement_scores(gaussian, factors, **FAST)
    assert scores["mig"] == pytest.approx(new[1]) and scores["mig_equal_width"] == pytest.approx(old[1])


def test_quantile_bins_hold_equal_counts_and_follow_the_order():
    values = np.random.default_rng(0).standard_normal((1000, 1))
    binned = dis.discretize(values, num_bins=20, binning="quantile")[:, 0]
    assert np.bincount(binned).tolist() == [50] * 20
    assert np.all(np.diff(binned[np.argsort(values[:, 0])]) >= 0)
    ties = np.repeat(np.arange(40.0), 5)[:, None]  # 40 values, 5 each: a tie never straddles two bins
    tied = dis.discretize(ties, num_bins=20, binning="quantile")[:, 0]
    assert all(len(np.unique(tied[ties[:, 0] == v])) == 1 for v in range(40))
    with pytest.raises(ValueError, match="binning must be one of equal_width, quantile, got 'log'"):
        dis.discretize(values, binning="log")


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
