"""What the human ratings say: mean rating per method (intervals over rater and image clusters), a ranking from
the forced choices, agreement between raters, and how the ratings relate to the automatic metrics of the rated
maps, item by item (:mod:`.rating_inference` for why and how).

Input is :func:`xai_helpers.evaluation.human_ratings.load_ratings`' table. With no ratings every function returns an
empty result and :func:`human_summary` says so in words: nothing is ever filled in or simulated.
"""
from __future__ import annotations

import pandas as pd

from ..concepts import holm  # Holm–Bonferroni, as 03 uses it
from .rating_inference import cluster_bootstrap_mean_ci, within_image_spearman
from .statistics import bradley_terry_ci, krippendorff_alpha

NO_RATINGS = ("No human ratings were found in this run's ratings folder, so there is no human interpretability "
              "table. Raters add theirs with the rating tool; ratings are never simulated.")


def method_ratings(ratings: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per method: number of ratings, raters and images, mean 1–5 rating and its bootstrap interval over rater
    and image clusters (:func:`~xai_helpers.evaluation.rating_inference.cluster_bootstrap_mean_ci`), best first."""
    r = ratings[ratings["task"] == "rating"].dropna(subset=["rating"])
    rows = []
    for method, g in r.groupby("method"):
        ci = cluster_bootstrap_mean_ci(g["rating"].to_numpy(float), g["rater"], g["test_index"], seed=seed)
        rows.append({"method": method, "n_ratings": len(g), "n_raters": ci["n_raters"], "n_images": ci["n_images"],
                     "mean_rating": ci["mean"], "ci_low": ci["low"], "ci_high": ci["high"]})
    cols = ["method", "n_ratings", "n_raters", "n_images", "mean_rating", "ci_low", "ci_high"]
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


def ratings_vs_item_metrics(ratings: pd.DataFrame, metrics: pd.DataFrame, alpha: float = 0.05,
                            seed: int = 0) -> pd.DataFrame:
    """Per automatic metric of the rated maps (``metrics``: :func:`~xai_helpers.evaluation.rated_maps.item_metrics`),
    Spearman's ρ over (image, method) items between the item's mean rating and the metric, with the within-image
    permutation p-value (:func:`~xai_helpers.evaluation.rating_inference.within_image_spearman`) and Holm's
    correction over the metrics (one family: a reader scans all of them)."""
    r = ratings[ratings["task"] == "rating"].dropna(subset=["rating"])
    mean = r.groupby(["test_index", "method"])["rating"].mean().rename("mean_rating").reset_index()
    items = mean.merge(metrics, on=["test_index", "method"], how="inner")
    columns = [c for c in metrics.columns if c not in ("test_index", "method")]
    rows = {c: within_image_spearman(items["mean_rating"], items[c], items["test_index"], seed=seed) for c in columns}
    table = pd.DataFrame(rows, index=["spearman", "p", "n", "n_images"]).T
    if table.empty:
        return table
    adjusted, significant = holm(table["p"].to_numpy(float), alpha)
    return table.assign(p_holm=adjusted, significant=significant)


def human_summary(ratings: pd.DataFrame, item_metrics: pd.DataFrame | None = None, seed: int = 0) -> dict:
    """Everything above in one dict; ``{"status": NO_RATINGS, "n_raters": 0}`` when there are no ratings."""
    if ratings.empty:
        return {"status": NO_RATINGS, "n_raters": 0, "n_answers": 0}
    per_method = method_ratings(ratings, seed)
    out = {"status": f"{ratings['rater'].nunique()} rater(s), {len(ratings)} answers",
           "n_raters": int(ratings["rater"].nunique()), "n_answers": int(len(ratings)),
           "per_method": per_method, "choice_ranking": choice_ranking(ratings, seed),
           "krippendorff_alpha_ordinal": rater_agreement(ratings)}
    if item_metrics is not None:
        out["ratings_vs_metrics"] = ratings_vs_item_metrics(ratings, item_metrics, seed=seed)
    return out
