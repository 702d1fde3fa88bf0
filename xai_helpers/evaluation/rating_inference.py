"""Inference on human ratings that respects how they were collected: every rater rates every image's maps, so
ratings are clustered by rater and by image, and the maps of one image are compared with each other.

* :func:`cluster_bootstrap_mean_ci`: a two-way cluster bootstrap of a mean rating. Each resample draws raters
  *and* images with replacement and weights each rating by how often its rater and its image were drawn
  (Davison & Hinkley 1997, §3.8; Cameron, Gelbach & Miller 2011 for the two-way case). Treating 3 raters × 24
  images as 72 independent ratings narrows the interval to what 72 raters would give: a rater who is lenient on
  every map, or an image whose every map is easy, moves all of its ratings at once.
* :func:`within_image_spearman`: Spearman's ρ between ratings and an automatic metric over (image, method)
  items, with a permutation p-value whose permutations shuffle the metric *within* each image. The null is
  "within an image, the metric says nothing about which map is rated higher"; an image whose maps are all rated
  low and happen to score low on the metric cannot make the correlation significant.

Written here because scipy's ``bootstrap`` and ``permutation_test`` resample independent observations (or
pairings over all of them) and have no clusters or strata. With one rater and one rating per image the cluster
bootstrap is the ordinary percentile bootstrap of the mean, and with one image the permutation test is the one
scipy's ``permutation_test(..., permutation_type="pairings")`` makes for Spearman's ρ (tests compare both with
scipy's).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats


def cluster_bootstrap_mean_ci(values, raters, images, confidence: float = 0.95, n_resamples: int = 2000,
                              seed: int = 0) -> dict:
    """Mean of ``values`` with a percentile interval from a bootstrap over rater and image clusters (see the
    module docstring). Returns ``dict(mean, low, high, n, n_raters, n_images)``; the bounds are NaN when there is
    only one rater and one image (nothing to resample), and equal the mean for constant ratings."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    x = np.asarray(values, float)
    rater_codes, rater_ids = pd.factorize(pd.Series(list(raters)))
    image_codes, image_ids = pd.factorize(pd.Series(list(images)))
    if not (len(x) == len(rater_codes) == len(image_codes)) or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f"need finite values with one rater and one image each, got {len(x)} values, "
                         f"{len(rater_codes)} raters and {len(image_codes)} images")
    out = dict(mean=float(x.mean()), low=math.nan, high=math.nan, n=len(x), n_raters=len(rater_ids),
               n_images=len(image_ids))
    if len(rater_ids) * len(image_ids) == 1:
        return out
    if np.ptp(x) == 0:
        return {**out, "low": out["mean"], "high": out["mean"]}
    rng = np.random.default_rng(seed)
    rater_counts = rng.multinomial(len(rater_ids), np.full(len(rater_ids), 1 / len(rater_ids)), n_resamples)
    image_counts = rng.multinomial(len(image_ids), np.full(len(image_ids), 1 / len(image_ids)), n_resamples)
    weights = rater_counts[:, rater_codes] * image_counts[:, image_codes]  # (resamples, ratings)
    total = weights.sum(1)
    means = (weights @ x)[total > 0] / total[total > 0]  # a resample that drew no rated pair is left out
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return {**out, "low": float(low), "high": float(high)}


def _standardised_ranks(v: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(v)
    return (ranks - ranks.mean()) / ranks.std()


def within_image_spearman(ratings, metric, images, n_resamples: int = 9999, seed: int = 0) -> dict:
    """Spearman's ρ of ``ratings`` and ``metric`` over items, and the two-sided permutation p-value with the
    metric permuted within each image (``images``: the image of each item). ``p`` is NaN where no permutation
    changes anything (every image holds one item) or a variable is constant; the smallest attainable p is
    1 / (n_resamples + 1). Returns ``dict(spearman, p, n, n_images)``."""
    r, m = np.asarray(ratings, float), np.asarray(metric, float)
    codes = pd.factorize(pd.Series(list(images)))[0]
    keep = np.isfinite(r) & np.isfinite(m)
    r, m, codes = r[keep], m[keep], codes[keep]
    out = dict(spearman=math.nan, p=math.nan, n=int(len(r)), n_images=int(len(np.unique(codes))))
    if len(r) < 3 or np.ptp(r) == 0 or np.ptp(m) == 0:
        return out
    zr, zm = _standardised_ranks(r), _standardised_ranks(m)  # Spearman's ρ = Pearson's r of the ranks
    observed = float(np.mean(zr * zm))
    out["spearman"] = observed
    groups = [g for g in (np.flatnonzero(codes == c) for c in np.unique(codes)) if len(g) > 1]
    if not groups:
        return out
    rng = np.random.default_rng(seed)
    index = np.tile(np.arange(len(zm)), (n_resamples, 1))
    for g in groups:  # each resample's order of the metric, shuffled inside every image
        index[:, g] = g[rng.permuted(np.tile(np.arange(len(g)), (n_resamples, 1)), axis=1)]
    null = (zm[index] * zr).mean(1)
    hits = int((np.abs(null) >= abs(observed) - 1e-12).sum())
    out["p"] = (hits + 1) / (n_resamples + 1)  # the observed pairing counts as one permutation
    return out
