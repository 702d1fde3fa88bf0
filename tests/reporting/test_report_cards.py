"""The method cards: written from the run's numbers (06's explanation tables, 02's records per seed), one per method
in the order of the mean rank, with the checks each method passed."""
import json

from xai_helpers.evaluation import tables as ET
from xai_helpers.reporting.report_cards import cards_html, method_cards


def _method(pointing, clean, passes, deletion):
    return {"pointing_game": pointing, "pointing_game_clean_model": clean, "sanity_pass": passes,
            "deletion_auc": {"zero": deletion}, "images_per_second": 50.0, "random_logit": 0.4}


def test_cards_say_what_each_method_needs_costs_scores_and_passed(tmp_path):
    metrics = {"seed": 0,
               "methods": {"saliency": _method(1.0, 0.05, True, 0.2), "guided_backprop": _method(1.0, 0.1, False, 0.3),
                           "occlusion": _method(0.5, 0.05, True, 0.1)},
               "method_needs": {"saliency": {"needs": "gradients", "passes_per_image": 1},
                                "occlusion": {"needs": "forward passes only", "passes_per_image": 169}},
               "hyperparameter_sensitivity": {"occlusion": {"parameter": "window", "value": 4, "alternative": 8,
                                                            "rank_correlation": 0.42}}}
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "02_cnn_attribution.json").write_text(json.dumps(metrics))
    means, ranks = ET.explanation_table(tmp_path)
    cards = method_cards(tmp_path, {"explanation_metrics": means.reset_index(),
                                    "explanation_ranks": ranks.reset_index()})
    titles = [title for title, _ in cards]
    assert titles == [{"saliency": "Saliency", "occlusion": "Occlusion", "guided_backprop": "Guided Backprop"}[m]
                      for m in ranks.index]
    card = dict(dict(cards)["Occlusion"])
    assert card["needs"] == "forward passes only" and card["model evaluations per image"] == "169"
    assert card["seconds per image"] == "0.02"
    assert card["key setting"] == "window 4 → 8: the maps keep Spearman ρ 0.42 (1: the setting does not matter here)"
    assert "deletion AUC 0.1 (rank 1 of 3)" in card["faithfulness"]
    assert card["checks"].startswith("misses the planted patch")
    assert "passes the model-randomisation test" in card["checks"]
    gbp = dict(dict(cards)["Guided Backprop"])
    assert gbp["checks"] == ("finds the planted patch (pointing game ≥ 0.9 on the shortcut model, ≤ 0.3 on the clean "
                             "one); fails the model-randomisation test")
    assert gbp["needs"] == "" and gbp["human rating"] == "not rated" and gbp["key setting"] == "no key setting tried"
    assert cards_html(cards).count('<div class="card">') == 3
    assert method_cards(tmp_path, {}) == []  # 06 did not run: no cards


def test_the_report_shows_one_card_per_method(tmp_path):
    from xai_helpers.reporting.report import build_report
    from xai_helpers.study import save_table

    metrics = {"seed": 0, "methods": {"saliency": _method(1.0, 0.05, True, 0.2),
                                      "occlusion": _method(0.5, 0.05, True, 0.1)}}
    for sub in ("metrics", "tables", "figures", "html"):
        (tmp_path / sub).mkdir()
    (tmp_path / "metrics" / "02_cnn_attribution.json").write_text(json.dumps(metrics))
    (tmp_path / "environment.json").write_text(json.dumps({"profile": "smoke", "seeds": [0], "device": "cpu"}))
    means, ranks = ET.explanation_table(tmp_path)
    save_table(means.rename_axis("method"), tmp_path, "06_evaluation_explanation_metrics")
    save_table(ranks.rename_axis("method"), tmp_path, "06_evaluation_explanation_ranks")
    page = build_report(tmp_path).read_text()
    assert page.count('<div class="card">') == 2 and '<a href="#cards">Method cards</a>' in page
    (tmp_path / "tables" / "06_evaluation_explanation_metrics.csv").unlink()
    assert '<div class="card">' not in build_report(tmp_path).read_text()
