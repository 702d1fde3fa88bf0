"""What the human ratings say: mean rating per method, a ranking from the forced choices, agreement between
raters, and how the ratings relate to the automatic explanation metrics.

Input is :func:`xai_helpers.evaluation.human_ratings.load_ratings`' table. With no ratings every function returns an
empty result and :func:`human_summary` says so in words: nothing is ever filled in or simulated.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .rating_stats import bootstrap_mean_ci, bradley_terry_ci, krippendorff_alpha, rank_correlation

NO_RATINGS = ("No human ratings were found in this run's ratings folder, so there is no human interpretability "
              "table. Raters add theirs with the rating tool; ratings are never simulated.")


def method_ratings(ratings: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per method: number of ratings, raters, mean 1–5 rating and its bootstrap interval, best first."""
    r = ratings[ratings["task"] == "rating"].dropna(subset=["rating"])
    rows = []
    for method, g in r.groupby("method"):
        ci = bootstrap_mean_ci(g["rating"].to_numpy(float), seed=seed)
        rows.append({"method": method, "n_ratings": len(g), "n_raters": g["rater"].nunique(), "mean_rating": ci["mean"],
                     "ci_low": ci["low"], "ci_high": ci["high"]})
    cols = ["method", "n_ratings", "n_raters", "mean_rating", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=cols).set_index("method").sort_values("mean_rating", ascending=False)


def choice_ranking(ratings: pd.DataFrame, seed: int = 0, n_boot: int = 1000) -> pd.DataFrame:
    """Bradley–Terry strengths of the methods from the forced choices (winner = the chosen map)."""
    c = ratings[ratings["task"] == "choice"]
    pairs = [(row.choice, row.other_method if row.choice == row.method else row.method) for row in c.itertuples()]
    if not pairs:
        return pd.DataFrame()
    return bradley_terry_ci(pairs, n_boot=n_boot, seed=seed)


def rater_agreement(ratings: pd.DataFrame) -> float:
    """Krippendorff's alpha (ordinal) of the 1–5 ratings over raters × items; NaN with fewer than two raters
    sharing an item."""
    r = ratings[ratings["task"] == "rating"].dropna(subset=["rating"])
    matrix = r.pivot_table(index="rater", columns="item", values="rating", aggfunc="last")
    if matrix.shape[0] < 2 or (matrix.notna().sum(axis=0) >= 2).sum() == 0:
        return float("nan")
    return krippendorff_alpha(matrix.to_numpy(float), level="ordinal")


def ratings_vs_metrics(per_method: pd.DataFrame, metric_means: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation, over methods, between the mean human rating and each automatic metric."""
    common = per_method.index.intersection(metric_means.index)
    rows = {}
    for col in metric_means.columns:
        if col == "n_seeds" or len(common) < 3:
            continue
        rows[col] = rank_correlation(per_method.loc[common, "mean_rating"].to_numpy(float),
                                     metric_means.loc[common, col].to_numpy(float))
    return pd.DataFrame(rows).T


def human_summary(ratings: pd.DataFrame, metric_means: pd.DataFrame | None = None, seed: int = 0) -> dict:
    """Everything above in one dict; ``{"status": NO_RATINGS, "n_raters": 0}`` when there are no ratings."""
    if ratings.empty:
        return {"status": NO_RATINGS, "n_raters": 0, "n_answers": 0}
    per_method = method_ratings(ratings, seed)
    out = {"status": f"{ratings['rater'].nunique()} rater(s), {len(ratings)} answers",
           "n_raters": int(ratings["rater"].nunique()), "n_answers": int(len(ratings)),
           "per_method": per_method, "choice_ranking": choice_ranking(ratings, seed),
           "krippendorff_alpha_ordinal": rater_agreement(ratings)}
    if metric_means is not None:
        out["ratings_vs_metrics"] = ratings_vs_metrics(per_method, metric_means)
    return out
