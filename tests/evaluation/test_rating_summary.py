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
    metrics = pd.DataFrame({"pointing_game": {"saliency": 0.1, "integrated_gradients": 0.3, "grad_cam": 0.9},
                            "n_seeds": 1})
    out = human_summary(ratings, metrics)
    per = out["per_method"]
    assert list(per.index) == ["grad_cam", "integrated_gradients", "saliency"]
    assert per.loc["grad_cam", "mean_rating"] == 5 and per.loc["saliency", "n_raters"] == 3
    assert out["krippendorff_alpha_ordinal"] == pytest.approx(1.0)
    assert list(out["choice_ranking"].index) == ["grad_cam", "integrated_gradients", "saliency"]
    assert out["ratings_vs_metrics"].loc["pointing_game", "spearman"] == pytest.approx(1.0)


def test_disagreeing_raters_have_low_alpha(tmp_path):
    rng = np.random.default_rng(0)
    ratings = _answers(tmp_path, ["ann", "bob"], lambda r, it: int(rng.integers(1, 6)))
    assert rater_agreement(ratings) < 0.3


def test_no_ratings_are_said_in_words_and_never_filled_in(tmp_path):
    out = human_summary(HR.load_ratings(tmp_path))
    assert out == {"status": NO_RATINGS, "n_raters": 0, "n_answers": 0}
    assert method_ratings(HR.load_ratings(tmp_path)).empty
