"""Aggregating human ratings: per-method means, the choice ranking, agreement, and the no-ratings case."""
import numpy as np
import pandas as pd
import pytest

from xai_helpers.evaluation import human_ratings as HR
from xai_helpers.evaluation.rating_summary import NO_RATINGS, human_summary, method_ratings, rater_agreement

from test_human_ratings import items

METHODS = ("saliency", "integrated_gradients", "grad_cam")


def _answers(tmp_path, raters, rating_of):
    for rater in raters:
        for item in HR.rater_order(items(4), rater):
            HR.save_answer(tmp_path, rater, item, "rating", rating=rating_of(rater, item))
        for item in HR.rater_order(items(4, "choice"), rater, task="choice"):
            # everyone prefers grad_cam > integrated_gradients > saliency
            pref = min((item["method"], item["other_method"]), key=METHODS[::-1].index)
            HR.save_answer(tmp_path, rater, item, "choice", choice=pref)
    return HR.load_ratings(tmp_path)


def test_summary_of_consistent_raters(tmp_path):
    score = {"saliency": 2, "integrated_gradients": 3, "grad_cam": 5}
    ratings = _answers(tmp_path, ["ann", "bob", "cy"], lambda r, it: score[it["method"]])
    # per (image, method) item: one metric that orders the maps of every image as the raters do, one that does not
    metrics = pd.DataFrame([{"test_index": t, "method": m, "agrees": score[m] + 0.1 * t, "noise": (7 * t + len(m)) % 5}
                            for t in range(10, 14) for m in METHODS])
    out = human_summary(ratings, metrics)
    per = out["per_method"]
    assert list(per.index) == ["grad_cam", "integrated_gradients", "saliency"]
    assert per.loc["grad_cam", "mean_rating"] == 5 and per.loc["saliency", "n_raters"] == 3
    assert per.loc["saliency", "n_images"] == 4
    assert out["krippendorff_alpha_ordinal"] == pytest.approx(1.0)
    assert list(out["choice_ranking"].index) == ["grad_cam", "integrated_gradients", "saliency"]
    versus = out["ratings_vs_metrics"]
    assert versus.loc["agrees", "n"] == 12 and versus.loc["agrees", "spearman"] > 0.9  # over items, not 3 methods
    # 4 images × 3! orders within each: p reaches 1 / 6⁴ where 3 methods could never go below 1/3
    assert versus.loc["agrees", "p"] < 0.01 and versus.loc["agrees", "p_holm"] == pytest.approx(2 * versus.loc["agrees", "p"])
    assert bool(versus.loc["agrees", "significant"]) and not versus.loc["noise", "significant"]


def test_disagreeing_raters_have_low_alpha(tmp_path):
    rng = np.random.default_rng(0)
    ratings = _answers(tmp_path, ["ann", "bob"], lambda r, it: int(rng.integers(1, 6)))
    assert rater_agreement(ratings) < 0.3


def test_no_ratings_are_said_in_words_and_never_filled_in(tmp_path):
    out = human_summary(HR.load_ratings(tmp_path))
    assert out == {"status": NO_RATINGS, "n_raters": 0, "n_answers": 0}
    assert method_ratings(HR.load_ratings(tmp_path)).empty
