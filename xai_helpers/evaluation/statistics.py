r"""Statistics behind the evaluation tables and the human interpretability ratings.

Intervals over seeds
    ``mean_ci``: Student-t interval of the mean of n values x_1..x_n (one per seed)::

        mean +- t_{(1+c)/2, n-1} * s / sqrt(n),     s = sqrt( sum (x_i - mean)^2 / (n - 1) )

    with c the confidence level. (Mean ratings take a bootstrap over rater and image clusters instead:
    :mod:`.rating_inference`.)

Paired comparisons (method A vs. method B on the same seeds / images)
    ``paired_difference``: d_i = a_i - b_i; t = mean(d) / (sd(d) / sqrt(n)) with n - 1 degrees of freedom
    (scipy.stats.ttest_rel), the t-interval ``mean(d) +- t_{(1+c)/2, n-1} * sd(d) / sqrt(n)``, and the
    Wilcoxon signed-rank p-value (scipy.stats.wilcoxon) as the distribution-free check.

Inter-rater agreement
    ``krippendorff_alpha``, following Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability".
    Units (columns) with fewer than 2 ratings are dropped; m_u is the number of ratings of unit u. The
    coincidence matrix counts every ordered pair of ratings within a unit, each unit weighted by 1/(m_u - 1)::

        o_ck = sum_u  #{ordered pairs (c, k) of ratings in u, from different raters} / (m_u - 1)
        n_c  = sum_k o_ck,      n = sum_c n_c  (the number of pairable values)

        alpha = 1 - D_o / D_e = 1 - (n - 1) * sum_{c,k} o_ck delta2_ck / sum_{c,k} n_c n_k delta2_ck

    with the squared difference function delta2 of the level of measurement:

        nominal   delta2_ck = 0 if c == k else 1
        ordinal   delta2_ck = ( sum_{g=c..k} n_g - (n_c + n_k) / 2 )^2     (g runs over the sorted values)
        interval  delta2_ck = (c - k)^2
        ratio     delta2_ck = ( (c - k) / (c + k) )^2                       (values must be >= 0)

    alpha = 1 is perfect agreement, 0 is agreement at chance level. When every pairable value is the same,
    D_e = 0 and alpha is undefined: NaN is returned (there is no variation to agree on).

Paired-comparison ratings ("which explanation is more useful?")
    ``bradley_terry``: P(i beats j) = g_i / (g_i + g_j). Strengths g are fitted by Hunter's (2004) MM
    algorithm, "MM algorithms for generalized Bradley-Terry models"::

        g_i  <-  W_i / sum_{j != i} N_ij / (g_i + g_j)

    (W_i: wins of i, N_ij: comparisons of i and j), rescaled after every step so that the geometric mean of
    g is 1 (log strengths sum to 0). A prior of ``prior`` pseudo-wins (default 0.5) is added in both
    directions of *every* pair of items before fitting, as if each pair had played one extra, drawn game.
    It shrinks strengths a little toward each other and keeps the estimate finite and unique: without it an
    item that never wins gets strength 0 and one that never loses gets infinity (Ford's condition fails).
    With two items and w wins of A over B in w + l games the fit is exactly
    g_A / g_B = (w + prior) / (l + prior); ``prior=0`` gives the plain MLE w / l.
    ``bradley_terry_ci``: percentile bootstrap of the log strengths, resampling whole comparisons with
    replacement.

Why own code here: Krippendorff's alpha and the Bradley-Terry fit are in none of scipy, scikit-learn or
pandas; each is a few lines of numpy given the formulas above, so a new dependency is not worth it. Everything
else calls scipy. All randomness comes from a ``seed`` argument.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.sparse.csgraph import connected_components

LEVELS = ("nominal", "ordinal", "interval", "ratio")


# --------------------------------------------------------------------------------------------------- helpers
def _check_confidence(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(confidence)


def _finite_1d(values, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{name} must be finite, got {x[bad[0]]!r} at position {bad[0]}")
    return x


def _t_half_width(sd: float, n: int, confidence: float) -> float:
    return float(stats.t.ppf((1 + confidence) / 2, df=n - 1) * sd / math.sqrt(n))


# ------------------------------------------------------------------------------------------- seeds intervals
def mean_ci(values, confidence: float = 0.95) -> dict:
    """Mean of ``values`` (one per seed) with its Student-t interval: ``mean +- t_{(1+c)/2, n-1} s / sqrt(n)``.

    Returns ``dict(mean, low, high, n, std)`` with ``std`` the sample standard deviation (ddof=1). With a single
    value there is no spread to estimate: ``low``, ``high`` and ``std`` are NaN (not an error, so a table with
    one seed still renders). Raises ValueError on empty or non-finite input.
    """
    confidence = _check_confidence(confidence)
    x = _finite_1d(values)
    n, mean = len(x), float(x.mean())
    if n == 1:
        return dict(mean=mean, low=math.nan, high=math.nan, n=1, std=math.nan)
    sd = float(x.std(ddof=1))
    h = _t_half_width(sd, n, confidence)
    return dict(mean=mean, low=mean - h, high=mean + h, n=n, std=sd)


def paired_difference(a, b, confidence: float = 0.95) -> dict:
    """Paired comparison of ``a`` and ``b`` (same seeds / items in the same order), d = a - b.

    Returns ``dict(mean_diff, low, high, t, p, n, wilcoxon_p)``: the mean difference with its t-interval, the
    paired t-test (``scipy.stats.ttest_rel``, two-sided) and the Wilcoxon signed-rank p-value (NaN when every
    difference is 0). When all differences are equal (sd = 0) the interval collapses to the difference and
    t = +-inf, p = 0 for a non-zero difference, t = NaN, p = 1 for zero (same convention as
    ``significance.paired_t_test``). Needs at least 2 pairs.
    """
    confidence = _check_confidence(confidence)
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must have one length, got {len(x)} and {len(y)}")
    n = len(x)
    if n < 2:
        raise ValueError(f"a paired comparison needs at least 2 pairs (seeds), got {n}")
    d = x - y
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, abs(mean)):  # equal differences up to rounding
        t, p, h = (math.nan, 1.0, 0.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0, 0.0)
    else:
        with warnings.catch_warnings():  # near-constant differences: scipy warns of precision loss
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            res = stats.ttest_rel(x, y)
        t, p, h = float(res.statistic), float(res.pvalue), _t_half_width(sd, n, confidence)
    if np.all(d == 0):
        w = math.nan
    else:
        with warnings.catch_warnings():  # zeros dropped / normal approximation notices
            warnings.filterwarnings("ignore", category=UserWarning)
            w = float(stats.wilcoxon(x, y).pvalue)
    return dict(mean_diff=mean, low=mean - h, high=mean + h, t=t, p=p, n=n, wilcoxon_p=w)


# ------------------------------------------------------------------------------------------ Krippendorff
def krippendorff_alpha(data, level: str = "interval") -> float:
    """Krippendorff's alpha of a raters x units array (NaN = missing rating) at ``level`` of measurement
    ("nominal", "ordinal", "interval", "ratio"); see the module docstring for the formulas.

    Units with fewer than 2 ratings are dropped. Raises ValueError for an unknown level, an array that is not
    2-d, infinite values, negative values at the ratio level, or fewer than 2 pairable values (no unit rated
    twice). Returns NaN when the expected disagreement is 0 (all pairable values equal).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    x = np.asarray(data, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"data must be a 2-d raters x units array, got shape {x.shape}")
    if np.isinf(x).any():
        raise ValueError("data must be finite or NaN (missing); got an infinite value")
    x = x[:, (~np.isnan(x)).sum(axis=0) >= 2]  # pairable units only
    if x.shape[1] == 0:
        raise ValueError("fewer than 2 pairable values: no unit was rated by at least 2 raters")
    values = np.unique(x[~np.isnan(x)])  # sorted
    if level == "ratio" and values[0] < 0:
        raise ValueError(f"ratio-level values must be >= 0, got {values[0]!r}")
    # counts[u, v]: how often unit u got value v
    counts = (x[:, :, None] == values[None, None, :]).sum(axis=0).astype(float)
    m = counts.sum(axis=1)
    weighted = counts / (m - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))  # o_ck
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    delta2 = _delta2(values, n_c, level)
    expected = float(n_c @ delta2 @ n_c)
    if expected == 0:
        return math.nan
    return float(1 - (n - 1) * float((coincidence * delta2).sum()) / expected)


def _delta2(values: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        s = c + k
        return np.divide((c - k) ** 2, s ** 2, out=np.zeros((len(values),) * 2), where=s != 0)
    # ordinal: sum of n_g from g = c to g = k, minus half of the end points
    cum = np.cumsum(n_c)
    r = np.arange(len(values))
    i, j = np.minimum.outer(r, r), np.maximum.outer(r, r)
    between = cum[j] - cum[i] + n_c[i]
    return (between - (n_c[i] + n_c[j]) / 2) ** 2


# ------------------------------------------------------------------------------------------ Bradley-Terry
def _win_matrix(wins, items: Sequence[Hashable] | None) -> tuple[list, np.ndarray]:
    """(labels, W) with W[i, j] = times item i beat item j.

    A numpy array or a DataFrame is a square win-count matrix; anything else is an iterable of
    (winner, loser) pairs.
    """
    if isinstance(wins, (np.ndarray, pd.DataFrame)):
        if isinstance(wins, pd.DataFrame):
            if list(wins.index) != list(wins.columns):
                raise ValueError("a win-count DataFrame must have the same labels, in the same order, "
                                 "as index and columns")
            labels = list(wins.index) if items is None else list(items)
            missing = [it for it in labels if it not in wins.index]
            if missing or len(labels) != len(wins.index):
                raise ValueError(f"items must be the DataFrame's labels in some order, got {list(items)!r}")
            w = wins.loc[labels, labels].to_numpy(dtype=float)
        else:
            w = np.asarray(wins, dtype=float)
            if w.ndim != 2 or w.shape[0] != w.shape[1]:
                raise ValueError(f"a win-count matrix must be square, got shape {w.shape}")
            labels = list(range(len(w))) if items is None else list(items)
            if len(labels) != len(w):
                raise ValueError(f"{len(labels)} items for a {len(w)} x {len(w)} win matrix")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("win counts must be finite and >= 0")
        if np.diag(w).any():
            raise ValueError("the diagonal of the win matrix (items beating themselves) must be 0")
    else:
        pairs = [tuple(p) for p in wins]
        if any(len(p) != 2 for p in pairs):
            raise ValueError("each comparison must be a (winner, loser) pair")
        selfs = [p for p in pairs if p[0] == p[1]]
        if selfs:
            raise ValueError(f"an item cannot be compared with itself, got {selfs[0]!r}")
        if items is None:
            labels = list(dict.fromkeys(x for p in pairs for x in p))
        else:
            labels = list(items)
            known = set(labels)
            unknown = [x for p in pairs for x in p if x not in known]
            if unknown:
                raise ValueError(f"comparison names item {unknown[0]!r}, which is not in items")
        index = {label: i for i, label in enumerate(labels)}
        w = np.zeros((len(labels), len(labels)))
        if pairs:
            np.add.at(w, ([index[p[0]] for p in pairs], [index[p[1]] for p in pairs]), 1)
    if len(set(labels)) != len(labels):
        raise ValueError("items must be distinct")
    if len(labels) < 2:
        raise ValueError(f"Bradley-Terry needs at least 2 items, got {len(labels)}")
    if w.sum() == 0:
        raise ValueError("no comparisons given")
    return labels, w


def _fit_log_strength(w: np.ndarray, prior: float, n_iter: int, tol: float) -> np.ndarray:
    """Hunter's MM iteration on win matrix ``w`` plus ``prior`` in every off-diagonal cell; log strengths
    with sum 0 (geometric mean 1)."""
    k = len(w)
    w = w + prior * (1 - np.eye(k))
    n = w + w.T
    total_wins = w.sum(axis=1)
    if prior == 0:
        n_comp, _ = connected_components(w > 0, directed=True, connection="strong")
        if n_comp > 1:
            raise ValueError("without a prior the maximum-likelihood strengths do not exist: some group of "
                             "items never beats the rest (e.g. an item with no wins or no losses); use prior > 0")
    g = np.ones(k)
    for _ in range(n_iter):
        new = total_wins / (n / (g[:, None] + g[None, :])).sum(axis=1)
        new /= np.exp(np.log(new).mean())
        done = np.max(np.abs(np.log(new) - np.log(g))) < tol
        g = new
        if done:
            break
    else:
        warnings.warn(f"Bradley-Terry MM did not converge to tol={tol} in {n_iter} iterations", RuntimeWarning,
                      stacklevel=3)
    return np.log(g)


def _table(labels: list, w: np.ndarray, log_g: np.ndarray) -> pd.DataFrame:
    wins, comparisons = w.sum(axis=1), (w + w.T).sum(axis=1)
    if np.all(w == np.round(w)):
        wins, comparisons = wins.astype(int), comparisons.astype(int)
    out = pd.DataFrame({"strength": np.exp(log_g), "log_strength": log_g, "wins": wins,
                        "comparisons": comparisons},
                       index=pd.Index(labels, name="item", tupleize_cols=False))
    out["rank"] = out["log_strength"].rank(ascending=False, method="min").astype(int)
    return out.sort_values("rank", kind="stable")


def bradley_terry(wins, items: Sequence[Hashable] | None = None, n_iter: int = 1000, tol: float = 1e-10,
                  prior: float = 0.5) -> pd.DataFrame:
    """Bradley-Terry strengths, P(i beats j) = g_i / (g_i + g_j), by Hunter's (2004) MM algorithm.

    ``wins`` is an iterable of (winner, loser) pairs with any hashable labels, or a square numpy array / DataFrame
    of win counts (W[i, j] = times i beat j). ``items`` fixes the items and their order (and may add items
    without comparisons, which the prior puts near the middle). ``prior`` pseudo-wins are added in both
    directions of every pair (see the module docstring; with two items g_A / g_B = (w + prior) / (l + prior)).
    ``prior=0`` is the plain MLE and raises ValueError when it does not exist. The iteration stops when no log
    strength moves by ``tol`` (RuntimeWarning after ``n_iter`` steps).

    Returns a DataFrame indexed by item with ``strength`` (geometric mean 1), ``log_strength`` (sum 0), the
    observed ``wins`` and ``comparisons`` (prior not counted) and ``rank`` (1 = strongest), sorted by rank.
    """
    if not (math.isfinite(prior) and prior >= 0):
        raise ValueError(f"prior must be finite and >= 0, got {prior!r}")
    if int(n_iter) < 1:
        raise ValueError(f"n_iter must be positive, got {n_iter!r}")
    labels, w = _win_matrix(wins, items)
    return _table(labels, w, _fit_log_strength(w, float(prior), int(n_iter), float(tol)))


def bradley_terry_ci(pairs: Iterable[tuple[Hashable, Hashable]], n_boot: int = 1000, seed: int = 0,
                     confidence: float = 0.95, items: Sequence[Hashable] | None = None, prior: float = 0.5,
                     n_iter: int = 1000, tol: float = 1e-10) -> pd.DataFrame:
    """:func:`bradley_terry` on ``pairs`` plus a percentile-bootstrap interval of each log strength.

    Each of ``n_boot`` resamples draws len(pairs) comparisons with replacement
    (``numpy.random.default_rng(seed)``) and refits; ``log_strength_low`` / ``log_strength_high`` are the
    (1 - c)/2 and (1 + c)/2 quantiles of the refitted log strengths (``strength_low`` / ``strength_high`` their
    exponentials). Written by hand because a resample is a refit of a whole vector, not a statistic of one
    sample. Keep ``prior > 0`` here: a resample can lose every win of some item.
    """
    confidence = _check_confidence(confidence)
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot!r}")
    if isinstance(pairs, (np.ndarray, pd.DataFrame)):
        raise ValueError("bradley_terry_ci resamples single comparisons: pass (winner, loser) pairs, not a matrix")
    pairs = [tuple(p) for p in pairs]
    fit = bradley_terry(pairs, items=items, n_iter=n_iter, tol=tol, prior=prior)
    labels, _ = _win_matrix(pairs, items)
    index = {label: i for i, label in enumerate(labels)}
    winners = np.array([index[p[0]] for p in pairs])
    losers = np.array([index[p[1]] for p in pairs])
    rng = np.random.default_rng(seed)
    k, m = len(labels), len(pairs)
    boot = np.empty((int(n_boot), k))
    for b in range(int(n_boot)):
        pick = rng.integers(0, m, size=m)
        w = np.zeros((k, k))
        np.add.at(w, (winners[pick], losers[pick]), 1)
        boot[b] = _fit_log_strength(w, float(prior), int(n_iter), float(tol))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(boot, [alpha, 1 - alpha], axis=0)
    order = [index[label] for label in fit.index]
    fit["log_strength_low"], fit["log_strength_high"] = low[order], high[order]
    fit["strength_low"], fit["strength_high"] = np.exp(low[order]), np.exp(high[order])
    return fit
