"""Significance tests and family-wise error control, for results tables with a ``p_value`` column."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats


def paired_t_test(a, b) -> tuple[float, float | None]:
    """Two-sided paired t-test of ``a`` against ``b`` and the effect size d_z = mean(a − b) / sd(a − b).

    Where every difference is the same, scipy returns NaN; then p is 1 for a difference of 0 and 0 otherwise
    (the two samples are perfectly separated), and d_z is 0 or undefined (None).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a paired test needs two 1-d samples of one length, got shapes {a.shape} and {b.shape}")
    if len(a) < 2:
        raise ValueError(f"a t-test needs at least 2 pairs, got {len(a)}")
    d = a - b
    sd = d.std(ddof=1)
    if sd <= 1e-12 * max(1.0, abs(d.mean())):  # equal differences up to rounding: t is infinite or undefined
        return (1.0, 0.0) if d.mean() == 0 else (0.0, None)
    with warnings.catch_warnings():  # near-constant differences: scipy warns of precision loss, the p-value stands
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        p = float(stats.ttest_rel(a, b).pvalue)
    return p, float(d.mean() / sd)


def holm(p_values, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm–Bonferroni step-down adjusted p-values and rejections (NaN entries are not tests: NaN, False).

    Written here because scipy offers only false-discovery-rate control (``false_discovery_control``), and a
    claim that a concept matters needs the family-wise error rate: one false "significant" is one too many.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    p = np.asarray(p_values, float)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m:
        order = valid[np.argsort(p[valid], kind="stable")]
        steps = np.minimum(1.0, (m - np.arange(m)) * p[order])
        adjusted[order] = np.maximum.accumulate(steps)
    return adjusted, np.nan_to_num(adjusted, nan=1.0) <= alpha


def correct(results: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """``results`` with ``p_value_corrected`` (Holm over every row with a p-value) and ``significant``."""
    out = results.copy()
    p = pd.to_numeric(out["p_value"], errors="coerce").to_numpy(float)
    adjusted, out["significant"] = holm(p, alpha)
    out["p_value_corrected"] = pd.Series(adjusted, index=out.index).astype(object).where(~np.isnan(p), None)
    return out


def correct_within(results: pd.DataFrame, family: pd.Series, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`correct` applied to each family of tests on its own (``family``: a label per row of ``results``),
    with the label kept as column ``family``. Confirmatory tests, whose hypothesis was fixed in advance, are one
    family; pooling them with many exploratory tests would spend their power on hypotheses nobody stated."""
    if len(family) != len(results) or not family.index.equals(results.index):
        raise ValueError("family must label every row of results, on the same index")
    if results.empty:
        return correct(results, alpha).assign(family=family)
    parts = [correct(results[family == name], alpha).assign(family=name) for name in family.unique()]
    return pd.concat(parts).loc[results.index]
