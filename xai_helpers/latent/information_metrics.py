r"""Disentanglement metrics that read information or predictability (see :mod:`.disentanglement` for the pool,
the discretisation and why the implementation is ours): MIG, SAP and DCI, and the input checks, discretisation
and chance correction that the vote-based metrics (:mod:`.intervention_metrics`) share.

* **MIG** (Chen et al. 2018). With codes and factors discretised (quantile bins by default, see :func:`mig`),
  I(z_i; v_k) the mutual information and H(v_k) the entropy::

      MIG = mean_k ( I(z_(1); v_k) - I(z_(2); v_k) ) / H(v_k)

  where z_(1), z_(2) are the codes with the largest and second-largest information about v_k.
* **SAP** (Kumar et al. 2018). A score matrix S (D, K): for a continuous factor j, S_ij is the R² of a 1-D
  linear fit of v_j on z_i, cov(z_i, v_j)² / (var z_i · var v_j) (0 when a variance is 0); for a categorical
  factor, the test accuracy of a 1-D linear classifier of v_j on z_i (``LinearSVC(C=0.01,
  class_weight="balanced")``, as dislib) trained on an 80 % split. ``SAP = mean_j (top1_i S_ij − top2_i S_ij)``.
  Unlike dislib we score the classifier by *chance-corrected balanced accuracy*, (bacc − 1/C) / (1 − 1/C)
  clipped at 0 for C classes: raw accuracy of an uninformative code is ≈ 1/C (or the majority share), which
  would make the categorical columns of S non-zero for random codes; corrected, 0 is chance, like R² = 0.
* **DCI** (Eastwood & Williams 2018). Per factor j, gradient-boosted trees predict v_j from all codes; the
  importance matrix R (D, K) holds |feature_importances_|. With P_ij = R_ij / Σ_k R_ik (code i's importance
  spread over factors) and H_K the entropy in base K::

      disentanglement = Σ_i ρ_i (1 − H_K(P_i·)),  ρ_i = Σ_j R_ij / Σ R
      completeness    = Σ_j ρ_j (1 − H_D(P̃_·j)), P̃_ij = R_ij / Σ_i R_ij,  ρ_j = Σ_i R_ij / Σ R
      informativeness = mean_j clip(test R² of the predictor of v_j, 0, 1)

  dislib uses ``GradientBoostingClassifier`` on discrete ground-truth factors and reports accuracy as
  informativeness; our factors are continuous read-outs, so we use ``GradientBoostingRegressor`` on the
  standardised factor, and the test R² is the analogue of accuracy (0 means no better than predicting the
  mean, i.e. chance; negative R² is clipped to 0). The completeness weights ρ_j are dislib's; since every
  column of feature importances sums to 1, they are equal weights in practice. Codes or factors whose
  importances are all zero get weight 0.

  The two predictors credit codes differently (codes that mix two factors score 0.83 with regression trees and
  0.67 with dislib's classifiers in our tests), so published tables are only comparable with dislib's recipe, which
  :func:`dci_dislib` reports as well (``dci_dislib_*``): a default ``GradientBoostingClassifier`` per
  discretised factor (:func:`discretize`, as for MIG), its importances, and its mean test *accuracy* as
  informativeness (raw, as dislib reports it: chance is the majority share, not 0).

A factor that is constant over the pool carries no information and has no entropy to normalise by: every
metric skips it (NaN in per-factor outputs; K counts the usable factors) and at least two non-constant
factors are needed. All randomness comes from the ``seed`` argument, so results are deterministic.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.metrics import balanced_accuracy_score, mutual_info_score, r2_score
from sklearn.svm import LinearSVC

MIN_SAMPLES = 10  # a train/test split and pairs that share a value need a few samples at least
CATEGORICAL_MAX_VALUES = 10  # SAP: a factor of integers with at most this many values is a class label


# --- validation -------------------------------------------------------------------------------------------

def _check_matrix(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (samples, columns), got shape {array.shape}")
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        row, col = bad[0]
        raise ValueError(f"{name} contain non-finite values ({len(bad)} in all; first {float(array[row, col])} "
                         f"at row {row}, column {col})")
    return array


def _check_pool(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    """codes (N, D) and factors (N, K) as float arrays, or a ValueError naming what is wrong."""
    codes, factors = _check_matrix(codes, "codes"), _check_matrix(factors, "factors")
    if len(codes) != len(factors):
        raise ValueError(f"codes and factors must have one row per sample, got codes shape {codes.shape} "
                         f"and factors shape {factors.shape}")
    if len(codes) < MIN_SAMPLES:
        raise ValueError(f"need at least {MIN_SAMPLES} samples, got N={len(codes)}")
    if codes.shape[1] < 2:  # every metric compares codes: top-two gaps, argmin over dims
        raise ValueError(f"need at least 2 code dimensions, got D={codes.shape[1]}")
    _usable_factors(factors)  # raises if fewer than two factors vary
    return codes, factors


def _check_num_bins(num_bins) -> int:
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 2:
        raise ValueError(f"num_bins must be an integer >= 2, got {num_bins!r}")
    return int(num_bins)


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _usable_factors(factors: np.ndarray) -> np.ndarray:
    """Indices of the factors that vary over the pool; a constant factor has nothing to disentangle."""
    varies = np.ptp(factors, axis=0) > 0
    if varies.sum() < 2:
        constant = np.flatnonzero(~varies).tolist()
        raise ValueError(f"need at least 2 factors that vary over the pool, got K={factors.shape[1]} with "
                         f"constant factor columns {constant}")
    return np.flatnonzero(varies)


def _scatter(values, usable: np.ndarray, num_factors: int) -> list[float]:
    """Per-usable-factor values as a list over all factors, NaN for the skipped (constant) ones."""
    out = np.full(num_factors, np.nan)
    out[usable] = values
    return [float(v) for v in out]


def chance_corrected(accuracy: float, num_classes: int) -> float:
    """(acc − 1/C) / (1 − 1/C), not clipped: 0 is guessing, 1 is perfect, below 0 worse than guessing.

    Unclipped so that it can follow an average of raw accuracies (see :func:`.disentanglement.mean_over_seeds`)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    chance = 1.0 / num_classes
    return float((accuracy - chance) / (1.0 - chance))


def _chance_corrected(accuracy: float, num_classes: int) -> float:
    """:func:`chance_corrected` clipped to [0, 1], for one seed's headline number."""
    return float(np.clip(chance_corrected(accuracy, num_classes), 0.0, 1.0))


def _train_test_split(num_samples: int, train_fraction: float, rng: np.random.Generator):
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    order = rng.permutation(num_samples)
    num_train = int(round(train_fraction * num_samples))
    if not 0 < num_train < num_samples:
        raise ValueError(f"train_fraction={train_fraction!r} leaves an empty split of N={num_samples} samples")
    return order[:num_train], order[num_train:]


# --- discretisation and information -----------------------------------------------------------------------

BINNINGS = ("equal_width", "quantile")


def discretize(values: np.ndarray, num_bins: int = 20, binning: str = "equal_width") -> np.ndarray:
    """Each column of ``values`` (N, C) as integer categories 0, 1, … (an int array of the same shape).

    A column with more than ``num_bins`` distinct values is cut into ``num_bins`` bins:

    * ``"equal_width"`` (disentanglement_lib's ``_histogram_discretize``): equal-width bins over the column's
      range, ``np.digitize`` with the ``np.histogram`` edges without the last, so the maximum falls in the last bin;
    * ``"quantile"``: bins of equal counts, by rank (tied values share a bin). The bins then depend only on the
      order of the values, so any increasing transform of a column (a Gaussian code mapped through Φ to a uniform
      one) gives the same categories. Equal-width bins do not: a Gaussian's tails leave most of its 20 bins
      nearly empty, so the same perfect disentanglement scores MIG 0.683 with N(0, 1) codes and 0.978 with
      U(−1, 1) ones (3,000 samples, 5 codes), and a comparison of GANs with different priors favours one.

    A column with at most ``num_bins`` distinct values, e.g. a categorical factor, keeps its values as
    categories, in sorted order: equal-width bins would split or merge classes arbitrarily (3 classes in 20 bins
    land in bins 0, 9 and 19; two close class codes could share a bin), and the entropy of a class label must be
    that of the classes.
    """
    num_bins = _check_num_bins(num_bins)
    if binning not in BINNINGS:
        raise ValueError(f"binning must be one of {', '.join(BINNINGS)}, got {binning!r}")
    values = _check_matrix(values, "values")
    out = np.empty(values.shape, dtype=np.int64)
    for c, column in enumerate(values.T):
        distinct = np.unique(column)
        if len(distinct) <= num_bins:
            out[:, c] = np.searchsorted(distinct, column)
        elif binning == "quantile":
            ranks = np.searchsorted(np.sort(column), column, side="left")  # 0-based, ties take the lowest rank
            out[:, c] = ranks * num_bins // len(column)
        else:
            edges = np.histogram(column, bins=num_bins)[1]
            out[:, c] = np.digitize(column, edges[:-1]) - 1
    return out


def _check_discrete(values, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be a 2-d integer array (see discretize), got dtype {array.dtype} "
                         f"and shape {array.shape}")
    return array


def mutual_info_matrix(codes_d: np.ndarray, factors_d: np.ndarray) -> np.ndarray:
    """I(z_i; v_j) in nats for discretised codes (N, D) and factors (N, K): a (D, K) array."""
    codes_d, factors_d = _check_discrete(codes_d, "codes_d"), _check_discrete(factors_d, "factors_d")
    if len(codes_d) != len(factors_d):
        raise ValueError(f"codes_d and factors_d must have one row per sample, got shapes {codes_d.shape} "
                         f"and {factors_d.shape}")
    return np.array([[mutual_info_score(z, v) for v in factors_d.T] for z in codes_d.T]).reshape(
        codes_d.shape[1], factors_d.shape[1])


def entropies(factors_d: np.ndarray) -> np.ndarray:
    """H(v_j) in nats of each discretised factor column (N, K): a (K,) array (H(v) = I(v; v))."""
    factors_d = _check_discrete(factors_d, "factors_d")
    return np.array([mutual_info_score(v, v) for v in factors_d.T])


# --- MIG --------------------------------------------------------------------------------------------------

def mig(codes: np.ndarray, factors: np.ndarray, *, num_bins: int = 20, binning: str = "quantile") -> dict:
    """Mutual information gap: mean over factors of (I_top1 − I_top2) / H(v_k); see the module docstring.

    Codes and continuous factors are cut into ``num_bins`` quantile bins by default (:func:`discretize`), which
    differs from disentanglement_lib's equal-width bins (``binning="equal_width"`` gives those, the numbers of
    published tables): with quantile bins MIG depends only on the order of each code's values, so GANs whose
    latent priors differ (U(−1, 1) codes against N(0, 1) latents) are compared on equal terms."""
    codes, factors = _check_pool(codes, factors)
    num_bins = _check_num_bins(num_bins)
    usable = _usable_factors(factors)
    factors_d = discretize(factors[:, usable], num_bins, binning)
    information = mutual_info_matrix(discretize(codes, num_bins, binning), factors_d)
    top_two = np.sort(information, axis=0)[::-1][:2]
    per_factor = (top_two[0] - top_two[1]) / entropies(factors_d)
    return {"mig": float(per_factor.mean()), "per_factor": _scatter(per_factor, usable, factors.shape[1])}


# --- SAP --------------------------------------------------------------------------------------------------

def _looks_categorical(column: np.ndarray) -> bool:
    return bool(np.all(column == np.round(column)) and len(np.unique(column)) <= CATEGORICAL_MAX_VALUES)


def _linear_r2(code: np.ndarray, factor: np.ndarray) -> float:
    """R² of the 1-D least-squares fit of factor on code: cov² / (var var), 0 for a constant code."""
    cov = np.cov(code, factor, ddof=1)
    if cov[0, 0] <= 1e-12 or cov[1, 1] <= 0:
        return 0.0
    return float(cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1]))


def _classifier_score(code_train, label_train, code_test, label_test) -> float:
    """Chance-corrected balanced test accuracy of a 1-D linear SVM (dislib's settings), clipped at 0."""
    if len(np.unique(label_train)) < 2:  # nothing to learn from a single class
        return 0.0
    classifier = LinearSVC(C=0.01, class_weight="balanced").fit(code_train[:, None], label_train)
    predicted = classifier.predict(code_test[:, None])
    return max(0.0, float(balanced_accuracy_score(label_test, predicted, adjusted=True)))


def sap(codes: np.ndarray, factors: np.ndarray, *, categorical: Sequence[bool] | None = None,
        seed: int = 0) -> dict:
    """Separated attribute predictability: mean over factors of the top-two gap of the score matrix."""
    codes, factors = _check_pool(codes, factors)
    num_factors = factors.shape[1]
    if categorical is None:
        categorical = [_looks_categorical(column) for column in factors.T]
    elif len(categorical) != num_factors:
        raise ValueError(f"categorical needs one flag per factor (K={num_factors}), got {len(categorical)}: "
                         f"{list(categorical)!r}")
    usable = _usable_factors(factors)
    train, test = _train_test_split(len(codes), 0.8, np.random.default_rng(seed))
    scores = np.full((codes.shape[1], num_factors), np.nan)
    for j in usable:
        for i in range(codes.shape[1]):
            if categorical[j]:
                scores[i, j] = _classifier_score(codes[train, i], factors[train, j], codes[test, i],
                                                 factors[test, j])
            else:  # dislib fits continuous factors on the training split too
                scores[i, j] = _linear_r2(codes[train, i], factors[train, j])
    top_two = np.sort(scores[:, usable], axis=0)[::-1][:2]
    per_factor = top_two[0] - top_two[1]
    return {"sap": float(per_factor.mean()), "per_factor": _scatter(per_factor, usable, num_factors),
            "score_matrix": scores.tolist()}


# --- DCI --------------------------------------------------------------------------------------------------

def _one_minus_entropy(weights: np.ndarray, base: int) -> np.ndarray:
    """1 − H_base(p) for each row of non-negative ``weights`` normalised to p; 0 for an all-zero row."""
    totals = weights.sum(axis=1, keepdims=True)
    p = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    entropy = -plogp.sum(axis=1) / np.log(base)
    return np.where(totals[:, 0] > 0, 1.0 - entropy, 0.0)


def dci_from_importance(importance: np.ndarray) -> tuple[float, float]:
    """(disentanglement, completeness) of an importance matrix R (D, K), weighted by importance shares."""
    importance = np.abs(np.asarray(importance, dtype=np.float64))
    total = importance.sum()
    if total == 0:  # nothing predicts anything: no structure to credit
        return 0.0, 0.0
    num_codes, num_factors = importance.shape
    disentanglement = _one_minus_entropy(importance, num_factors) @ (importance.sum(axis=1) / total)
    completeness = _one_minus_entropy(importance.T, num_codes) @ (importance.sum(axis=0) / total)
    return float(disentanglement), float(completeness)


def dci(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0, train_fraction: float = 0.8) -> dict:
    """Disentanglement, completeness, informativeness with gradient-boosted regression trees per factor."""
    codes, factors = _check_pool(codes, factors)
    usable = _usable_factors(factors)
    train, test = _train_test_split(len(codes), train_fraction, np.random.default_rng(seed))
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    informativeness = []
    for j in usable:
        # Standardised with training statistics: the trees do not care, but the loss scale is then comparable.
        target = factors[:, j]
        scale = target[train].std()
        target = (target - target[train].mean()) / (scale if scale > 0 else 1.0)
        model = GradientBoostingRegressor(random_state=seed).fit(codes[train], target[train])
        importance[:, j] = np.abs(model.feature_importances_)
        informativeness.append(float(np.clip(r2_score(target[test], model.predict(codes[test])), 0.0, 1.0)))
    disentanglement, completeness = dci_from_importance(importance[:, usable])
    return {"dci_disentanglement": disentanglement, "dci_completeness": completeness,
            "dci_informativeness": float(np.mean(informativeness)), "importance_matrix": importance.tolist(),
            "informativeness_per_factor": _scatter(informativeness, usable, factors.shape[1])}


DCI_DISLIB = ("dci_dislib_disentanglement", "dci_dislib_completeness", "dci_dislib_informativeness")


def dci_dislib(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0, train_fraction: float = 0.8,
               num_bins: int = 20, n_estimators: int = 100) -> dict:
    """DCI as disentanglement_lib computes it: a default ``GradientBoostingClassifier`` per discretised factor,
    its importances, and its mean test accuracy as informativeness. ``random_state=seed`` (dislib leaves it
    unset) makes it deterministic; the train/test split is the one :func:`dci` draws for the same seed.

    ``n_estimators=100`` is dislib's (scikit-learn's default). It is slow: a 20-bin factor costs 20 trees per
    stage, and five factors take 10–50 s at N = 2000 on two CPU cores; fewer estimators are for tests and smoke
    runs, and their numbers are not dislib's."""
    codes, factors = _check_pool(codes, factors)
    usable = _usable_factors(factors)
    factors_d = discretize(factors[:, usable], _check_num_bins(num_bins))
    train, test = _train_test_split(len(codes), train_fraction, np.random.default_rng(seed))
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    accuracy = []
    for column, j in zip(factors_d.T, usable):
        if len(np.unique(column[train])) < 2:  # one class in the training split: nothing to learn, no importance
            accuracy.append(float(np.mean(column[test] == column[train][0])))
            continue
        model = GradientBoostingClassifier(n_estimators=_check_count(n_estimators, "n_estimators", 1),
                                           random_state=seed).fit(codes[train], column[train])
        importance[:, j] = np.abs(model.feature_importances_)
        accuracy.append(float(np.mean(model.predict(codes[test]) == column[test])))
    disentanglement, completeness = dci_from_importance(importance[:, usable])
    return {"dci_dislib_disentanglement": disentanglement, "dci_dislib_completeness": completeness,
            "dci_dislib_informativeness": float(np.mean(accuracy)), "importance_matrix": importance.tolist(),
            "informativeness_per_factor": _scatter(accuracy, usable, factors.shape[1])}
