"""Evaluation tables from hand-made metrics files: known means, intervals and paired differences."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from xai_helpers.evaluation import checks as EC
from xai_helpers.evaluation import tables as ET


def _write(folder, notebook, metrics):
    (folder / "metrics").mkdir(parents=True, exist_ok=True)
    (folder / "metrics" / f"{notebook}.json").write_text(json.dumps(metrics))


def _classifier_metrics(seed, plain_acc, attention_acc):
    model = lambda acc: {"test_accuracy": acc, "macro_f1": acc - 0.01, "ece": 0.02}  # noqa: E731
    return {"seed": seed, "models": {"plain": model(plain_acc), "attention": model(attention_acc)}}


def test_classification_table_over_three_seeds(tmp_path):
    plain, attention = [0.90, 0.92, 0.94], [0.93, 0.94, 0.97]
    for s, (p, a) in enumerate(zip(plain, attention)):
        _write(tmp_path / f"seed-{s}", "01_cnn_training", _classifier_metrics(s, p, a))
    table = ET.classification_table(tmp_path)
    row = table.loc[("accuracy", "plain CNN")]
    half = stats.t.ppf(0.975, 2) * np.std(plain, ddof=1) / math.sqrt(3)
    assert row["mean"] == pytest.approx(0.92) and row["n_seeds"] == 3
    assert row["ci_low"] == pytest.approx(0.92 - half) and row["ci_high"] == pytest.approx(0.92 + half)
    diff = table.loc[("accuracy", "attention − plain")]
    assert diff["mean"] == pytest.approx(np.mean(np.subtract(attention, plain)))
    assert diff["p_paired_t"] == pytest.approx(stats.ttest_rel(attention, plain).pvalue)
    assert table.loc[("calibration error (ECE)", "plain CNN")]["mean"] == pytest.approx(0.02)
    assert "0.92 [" in ET.format_interval(table).loc[("accuracy", "plain CNN")]


def test_intervals_are_clipped_to_the_metrics_range(tmp_path):
    # Three noisy seeds: the t-interval of accuracy reaches past 1 and that of ECE below 0.
    for s, acc in enumerate([0.55, 0.70, 0.99]):
        _write(tmp_path / f"seed-{s}", "01_cnn_training", _classifier_metrics(s, acc, 0.5))
    table = ET.classification_table(tmp_path)
    accuracy = table.loc[("accuracy", "plain CNN")]
    half = stats.t.ppf(0.975, 2) * np.std([0.55, 0.70, 0.99], ddof=1) / math.sqrt(3)
    assert accuracy["mean"] + half > 1  # the unclipped interval would be impossible …
    assert accuracy["ci_high"] == 1.0 and accuracy["ci_low"] == pytest.approx(accuracy["mean"] - half)  # … clipped
    assert table["ci_low"].min() >= -1 and table["ci_high"].max() <= 1
    for s, kid in enumerate([0.001, -0.002]):
        row = {"fid": 1.0 + 40 * s, "kid_mean": kid, "inception_score": 1.0 + s, "precision": 0.1, "recall": 0.9 * s,
               "density": 1.0, "coverage": 0.5,
               "classes_covered": 1 + 9 * s}
        _write(tmp_path / f"seed-{s}", "04_gan_dynamics", {**row, "seed": s, "real_vs_real": row, "collapsed": row})
    fidelity = ET.fidelity_table(tmp_path).loc["GAN"]
    assert fidelity.loc["FID", "ci_low"] == 0 and fidelity.loc["IS", "ci_low"] == 1
    assert fidelity.loc["recall", "ci_low"] == 0 and fidelity.loc["recall", "ci_high"] == 1
    assert fidelity.loc["KID", "ci_low"] < -0.002  # KID's unbiased estimate may be negative: not clipped


def test_a_single_seed_run_has_no_interval_and_no_difference_row(tmp_path):
    _write(tmp_path, "01_cnn_training", _classifier_metrics(7, 0.9, 0.91))
    assert ET.seed_folders(tmp_path) == {7: tmp_path}
    table = ET.classification_table(tmp_path)
    assert np.isnan(table.loc[("accuracy", "plain CNN")]["ci_low"])
    assert ("accuracy", "attention − plain") not in table.index
    assert ET.format_interval(table).loc[("accuracy", "plain CNN")] == "0.9"


def test_fidelity_table_keeps_the_calibration_rows(tmp_path):
    for s, fid in enumerate([5.0, 7.0]):
        row = {"fid": fid, "kid_mean": 0.1, "inception_score": 6.0, "precision": 0.5, "recall": 0.8,
               "density": 0.9 + s, "coverage": 0.7, "classes_covered": 10}
        _write(tmp_path / f"seed-{s}", "04_gan_dynamics", {**row, "seed": s, "real_vs_real": {**row, "fid": 0.3},
                                                          "collapsed": {**row, "fid": 130.0, "classes_covered": 1,
                                                                        "coverage": 0.1}})
    table = ET.fidelity_table(tmp_path)
    assert table.loc[("GAN", "density")]["mean"] == pytest.approx(1.4)
    assert table.loc[("GAN", "density")]["ci_high"] > 1  # density is not a share: not clipped at 1
    assert table.loc[("one-class generator (collapsed)", "coverage")]["mean"] == pytest.approx(0.1)
    assert table.loc[("GAN", "FID")]["mean"] == pytest.approx(6.0)
    assert table.loc[("real vs real (floor)", "FID")]["mean"] == pytest.approx(0.3)
    assert table.loc[("one-class generator (collapsed)", "classes covered")]["mean"] == 1


def test_missing_runs_are_reported_by_name(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ET.seed_folders(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no metrics"):
        ET.seed_folders(tmp_path)
    _write(tmp_path, "01_cnn_training", _classifier_metrics(0, 0.9, 0.9))
    with pytest.raises(FileNotFoundError, match="04_gan_dynamics"):
        ET.fidelity_table(tmp_path)


def test_explanation_table_averages_seeds_and_ranks_by_direction(tmp_path):
    methods = [{"saliency": {"deletion_auc": {"zero": 0.5}, "insertion_auc": {"zero": 0.4}, "pointing_game": 0.2,
                             "family": "gradient", "sanity_pass": True},
                "grad_cam": {"deletion_auc": {"zero": 0.3}, "insertion_auc": {"zero": 0.6}, "pointing_game": 0.8}},
               {"saliency": {"deletion_auc": {"zero": 0.7}, "insertion_auc": {"zero": 0.4}, "pointing_game": 0.4},
                "grad_cam": {"deletion_auc": {"zero": 0.3}, "insertion_auc": {"zero": 0.2}, "pointing_game": 0.6}}]
    for s, m in enumerate(methods):
        _write(tmp_path / f"seed-{s}", "02_cnn_attribution", {"seed": s, "methods": m})
    means, ranks = ET.explanation_table(tmp_path)
    assert means.loc["saliency", "deletion_auc.zero"] == pytest.approx(0.6)
    assert means.loc["grad_cam", "insertion_auc.zero"] == pytest.approx(0.4)
    assert "family" not in means and "sanity_pass" not in means and means.loc["saliency", "n_seeds"] == 2
    # lower deletion AUC is better, higher pointing game is better: grad_cam wins both; insertion ties
    assert ranks.loc["grad_cam", "deletion_auc.zero"] == 1 and ranks.loc["saliency", "pointing_game"] == 2
    assert ranks.loc["grad_cam", "insertion_auc.zero"] == ranks.loc["saliency", "insertion_auc.zero"] == 1
    assert list(ranks.index) == ["grad_cam", "saliency"]


def test_cost_table_reads_the_runners_wall_times(tmp_path):
    env = {"device": "cpu", "profile": "smoke", "cpu": "x", "runner_torch_threads": 2, "gpu": None,
           "wall_seconds": {"01_cnn_training@0": 10.0, "01_cnn_training@1": 12.0, "02_cnn_attribution@0": None}}
    (tmp_path / "environment.json").write_text(json.dumps(env))
    table = ET.cost_table(tmp_path)
    assert table["notebook"].tolist() == ["01_cnn_training", "01_cnn_training", "02_cnn_attribution", "whole study"]
    assert table.iloc[-1]["seconds"] == 22.0 and set(table["device"]) == {"cpu"}
    # during a run, status.json is current: the notebook still running has no time yet
    status = {"notebooks": [{"notebook": "01_cnn_training", "seed": 0, "seconds": 9.0, "peak_memory_mb": 900.0},
                            {"notebook": "02_cnn_attribution", "seed": 0, "seconds": 3.0, "peak_memory_mb": 1200.0},
                            {"notebook": "06_evaluation", "seed": 0, "seconds": None}]}
    (tmp_path / "status.json").write_text(json.dumps(status))
    table = ET.cost_table(tmp_path)
    assert table["notebook"].tolist() == ["01_cnn_training", "02_cnn_attribution", "whole study"]
    assert table.iloc[-1]["seconds"] == 12.0 and table["peak_memory_mb"].tolist() == [900.0, 1200.0, 1200.0]
    with pytest.raises(FileNotFoundError, match="environment.json"):
        ET.cost_table(tmp_path / "missing")


def test_tcav_table_counts_shares_and_planted_scores_over_seeds(tmp_path):
    for s, (n_sig, planted) in enumerate([(9, 0.8), (3, 1.0)]):
        _write(tmp_path / f"seed-{s}", "03_tcav", {
            "seed": s, "n_significant": n_sig, "n_tests": 60, "random_controls_significant": s,
            "n_cavs_flagged": 4, "planted_tcav_score": {"0": 0.5, "1": planted},
            "planted_significant": {"0": False if s == 0 else None, "1": s == 0}})  # seed 1: rate 0 not tested
    table = ET.tcav_table(tmp_path)
    assert table.loc["share of tests significant (Holm)", "mean"] == pytest.approx(0.1)  # (9 + 3) / 2 / 60
    assert table.loc["random controls significant", "mean"] == pytest.approx(0.5)
    assert table.loc["planted pattern at 100%: TCAV score", "mean"] == pytest.approx(0.9)
    assert table.loc["planted pattern at 100%: " + ET.PLANTED_FOUND, "mean"] == pytest.approx(0.5)  # 1 of 2 seeds
    assert table.loc["planted pattern at 0%: " + ET.PLANTED_FOUND, "mean"] == 0
    assert table.loc["planted pattern at 0%: " + ET.PLANTED_FOUND, "n_seeds"] == 1  # an untested seed is no "not significant"
    assert table["ci_low"].min() >= 0 and table.loc["planted pattern at 100%: TCAV score", "ci_high"] <= 1
    assert (table.drop("planted pattern at 0%: " + ET.PLANTED_FOUND)["n_seeds"] == 2).all()


def test_latent_table_summarises_checks_directions_and_dissection(tmp_path):
    for s in range(2):
        _write(tmp_path / f"seed-{s}", "05_gan_latent", {
            "seed": s, "sensitivity_autograd_vs_fd_rel_err": 1e-10, "latent_ig_completeness_err": 0.002 * (s + 1),
            "jtj_effective_dimension": 7.0 + s,
            "direction_families": {"SeFa": {"strength": 0.4, "selectivity": 0.5 + s / 10}},
            "dissection": {"stroke": {"ablation_effect_top": 0.5, "ablation_effect_random": 0.02}}})
    table = ET.latent_table(tmp_path)
    assert table.loc["latent IG completeness error", "mean"] == pytest.approx(0.003)
    assert table.loc["latent IG completeness error", "ci_low"] == 0  # clipped: an error is never negative
    assert table.loc["E[JᵀJ] effective dimension", "mean"] == pytest.approx(7.5)
    assert table.loc["directions SeFa: selectivity", "mean"] == pytest.approx(0.55)
    assert table.loc["dissection 'stroke': ablation effect, top units", "mean"] == pytest.approx(0.5)
    _write(tmp_path / "other", "03_tcav", {"seed": 0})
    with pytest.raises(FileNotFoundError, match="05_gan_latent"):  # a run without 05 names what is missing
        ET.latent_table(tmp_path / "other")


def test_sanity_ranks_use_per_image_absolute_spearman_and_put_mostly_degenerate_maps_last(tmp_path):
    """Issue 29, item 5: Grad-CAM (|ρ| 0.107, 1 of 8 maps constant in one seed) ranked below Guided Backprop
    (ρ 0.539, the textbook failure) because any constant map put a method last, and |mean ρ| let opposite signs
    cancel. Now the per-image |ρ| is ranked, and only mostly constant maps go last."""
    def method(abs_rho, ssim, share=0.0, signed=0.0):
        return {"randomization_abs_spearman": abs_rho, "randomization_spearman": signed, "randomization_ssim": ssim,
                "randomization_degenerate_share": share, "smooth_mprt": None if abs_rho is None else abs_rho / 2}
    seeds = [{"grad_cam": method(0.107, 0.2, share=1 / 8, signed=0.11), "guided_backprop": method(0.539, 0.5, signed=0.54),
              "flips": method(0.24, 0.3, signed=0.0), "blank": method(None, 0.0, share=1.0)},
             {"grad_cam": method(0.107, 0.2), "guided_backprop": method(0.539, 0.5, signed=0.54),
              "flips": method(0.24, 0.3, signed=0.0), "blank": method(0.0, 0.0, share=0.75)}]
    for s, m in enumerate(seeds):
        _write(tmp_path / f"seed-{s}", "02_cnn_attribution", {"seed": s, "methods": m})
    means, ranks = ET.explanation_table(tmp_path)
    assert ranks["randomization_abs_spearman"].to_dict() == {"grad_cam": 1, "flips": 2, "guided_backprop": 3, "blank": 4}
    assert "randomization_spearman" not in ranks  # the signed mean is shown, not ranked
    assert means.loc["flips", "randomization_spearman"] == 0.0 and means.loc["grad_cam", "randomization_degenerate_share"] == 1 / 16
    # mostly constant maps (all in one seed, 3 in 4 in the other): last on SSIM too, although an SSIM of 0 looks best
    assert ranks.loc["blank", "randomization_ssim"] == 4 and ranks.loc["grad_cam", "randomization_ssim"] == 1
    assert ranks.index[-1] == "blank"
    # smooth MPRT compares with the same random model: the blank method is last there too, not unranked (issue 36)
    assert ranks["smooth_mprt"].to_dict() == {"grad_cam": 1, "flips": 2, "guided_backprop": 3, "blank": 4}


def _sanity_row(folder, methods):
    _write(folder, "02_cnn_attribution", {"seed": 0, "methods": methods})
    checks = EC.study_checks(folder)
    row = checks[checks["check"].str.startswith("model-randomisation")].iloc[0]
    return row["passed"], row["measured"]


def test_sanity_check_needs_saliency_to_pass_and_guided_backprop_to_fail(tmp_path):
    """Issue 29, item 5: "passed by some method" passed on a never-trained CNN (Saliency ρ −0.017). The check
    now asks for Adebayo et al.'s result, and fails when the test cannot tell the two methods apart."""
    def method(rho, ok, share=0.0):
        return {"randomization_abs_spearman": rho, "randomization_degenerate_share": share, "sanity_pass": ok}
    passed, measured = _sanity_row(tmp_path / "a", {"saliency": method(0.05, True), "guided_backprop": method(0.54, False)})
    assert passed is True and measured == ("saliency |ρ| 0.050 (passes), guided_backprop |ρ| 0.540 (fails); "
                                           "1 of 2 methods pass")
    assert _sanity_row(tmp_path / "b", {"saliency": method(0.05, True), "guided_backprop": method(0.1, True)})[0] is False
    assert _sanity_row(tmp_path / "c", {"saliency": method(0.6, False), "guided_backprop": method(0.6, False)})[0] is False
    passed, measured = _sanity_row(tmp_path / "d", {"saliency": method(0.05, True),
                                                    "guided_backprop": {"skipped": "no hooks"}})
    assert passed is None and measured == "not run: guided_backprop did not explain this model"


def test_a_supplied_model_gets_its_own_rows_and_its_skipped_methods_are_no_results(tmp_path):
    """Issue 18: 01 evaluated one supplied model (no attention CNN, so no difference row); 02 left LRP out with the
    reason. The old tables raised KeyError on the first and counted the second as a method with no metrics."""
    for s, acc in enumerate([0.8, 0.9]):
        model = {"test_accuracy": acc, "macro_f1": acc, "ece": 0.05}
        _write(tmp_path / f"seed-{s}", "01_cnn_training", {"seed": s, "models": {"resnet18 (trained here)": model}})
        _write(tmp_path / f"seed-{s}", "02_cnn_attribution", {"seed": s, "methods": {
            "saliency": {"deletion_auc": {"zero": 0.5}, "pointing_game": 0.9, "pointing_game_clean_model": 0.1,
                         "sanity_pass": True},
            "lrp": {"skipped": "relevance not conserved"}}})
    table = ET.classification_table(tmp_path)
    assert list(table.index.get_level_values("model").unique()) == ["resnet18 (trained here)"]
    assert table.loc[("accuracy", "resnet18 (trained here)")]["mean"] == pytest.approx(0.85)
    means, ranks = ET.explanation_table(tmp_path)
    assert list(means.index) == ["saliency"] and list(ranks.index) == ["saliency"]
    checks = EC.study_checks(tmp_path)
    sanity = checks[checks["check"].str.startswith("model-randomisation")]
    assert sanity["passed"].isna().all() and set(sanity["measured"]) == {"not run: guided_backprop did not explain this model"}


def _attribution_metrics(games: dict, **extra):
    """02's metrics with ``{method: (pointing game on the shortcut model, on the clean model)}``."""
    methods = {k: {"pointing_game": s, "pointing_game_clean_model": c, "sanity_pass": True}
               for k, (s, c) in games.items()}
    return {"seed": 0, "methods": methods, "pointing_game_chance": 0.045, **extra}


def _patch_check(folder, metrics):
    _write(folder, "02_cnn_attribution", metrics)
    checks = EC.study_checks(folder)
    row = checks[checks["check"].str.startswith("planted patch found")]
    assert len(row) == 1
    return row.iloc[0]["passed"], row.iloc[0]["measured"]


def test_patch_check_needs_the_shortcut_model_to_beat_the_clean_control(tmp_path):
    # A clean model pointing at the patch 80 % of the time: the method finds bright texture, not the shortcut.
    passed, measured = _patch_check(tmp_path / "a", _attribution_metrics(
        {"saliency": (1.0, 0.8), "lime": (0.5, 0.2)}, shortcut_rate=0.98))
    assert passed is False
    assert "saliency" in measured and "1.000" in measured and "0.800" in measured
    passed, measured = _patch_check(tmp_path / "b", _attribution_metrics(
        {"saliency": (1.0, 0.8), "grad_cam": (0.95, 0.1), "lime": (0.2, 0.15)}, shortcut_rate=0.98))
    assert passed is True
    assert measured.startswith("grad_cam: shortcut model 0.950, clean model 0.100") and "1 of 3" in measured
    assert _patch_check(tmp_path / "c", _attribution_metrics(  # the thresholds themselves pass
        {"saliency": (EC.POINTING_SHORTCUT_MIN, EC.POINTING_CLEAN_MAX)}, shortcut_rate=0.9))[0] is True
    assert _patch_check(tmp_path / "d", _attribution_metrics({"saliency": (0.89, 0.0)}, shortcut_rate=0.99))[0] is False


def test_patch_check_fails_when_the_shortcut_was_not_learned(tmp_path):
    passed, measured = _patch_check(tmp_path / "a", _attribution_metrics({"grad_cam": (1.0, 0.0)}, shortcut_rate=0.5))
    assert passed is False and measured == "ground truth not learned: shortcut rate 0.500 < 0.9"
    # runs made before 02 recorded the shortcut rate: the pointing games decide alone
    passed, measured = _patch_check(tmp_path / "b", _attribution_metrics({"grad_cam": (1.0, 0.0)}))
    assert passed is True and "shortcut rate" not in measured
    # without the clean-model control the check cannot be made: not run, with the reason
    old = _attribution_metrics({"grad_cam": (1.0, 0.0)})
    for v in old["methods"].values():
        del v["pointing_game_clean_model"]
    passed, measured = _patch_check(tmp_path / "c", old)
    assert passed is None and "pointing_game_clean_model" in measured


def _layer(score, significant, tested=True, null=0.5, p=0.01):
    return {"tcav_score": score, "null_score": null, "p_value": p, "p_value_corrected": p if tested else None,
            "significant": significant, "tested": tested}


def _tcav_metrics(layers_by_rate: dict, **extra):
    """03's metrics with ``{rate: {layer: _layer(...)}}`` (the headline layer is the first)."""
    planted = {rate: {**next(iter(layers.values())), "layers": layers} for rate, layers in layers_by_rate.items()}
    return {"seed": 0, "planted": planted,
            "planted_tcav_score": {rate: v["tcav_score"] for rate, v in planted.items()},
            "planted_significant": {rate: v["significant"] for rate, v in planted.items()},
            "random_controls_significant": 0, **extra}


def _tcav_checks(folder, layers_by_rate: dict, **extra):
    _write(folder, "03_tcav", _tcav_metrics(layers_by_rate, **extra))
    checks = EC.study_checks(folder)
    checks = checks[checks["notebook"] == "03_tcav"].set_index("check")
    return checks["passed"].to_dict(), checks["measured"].to_dict()


PRESENT, ABSENT = ("planted concept (100 %) significant and above the null",
                   "absent concept (0 %) not significant above the null")


def test_study_checks_report_failures_and_missing_notebooks(tmp_path):
    _write(tmp_path, "03_tcav", _tcav_metrics({"0": {"fc": _layer(0.9, True)}, "1": {"fc": _layer(1.0, True)}}))
    checks = EC.study_checks(tmp_path)
    got = dict(zip(checks["check"], checks["passed"]))
    assert got[PRESENT] is True
    assert got[ABSENT] is False  # a significant absent concept is a failure
    missing = checks[checks["check"] == "(not run in this run)"]["notebook"].tolist()
    assert missing == ["02_cnn_attribution", "04_gan_dynamics", "05_gan_latent"]


def test_tcav_checks_of_rates_not_run_are_not_run(tmp_path):
    passed, measured = _tcav_checks(tmp_path / "a", {"0": {"fc": _layer(0.5, False)}, "0.5": {"fc": _layer(0.9, True)}})
    assert passed[PRESENT] is None
    assert "not run" in measured[PRESENT] and "0, 0.5" in measured[PRESENT]
    assert passed[ABSENT] is True
    passed, measured = _tcav_checks(tmp_path / "b", {"0.5": {"fc": _layer(0.9, True)}, "1.0": {"fc": _layer(1.0, True)}})
    assert passed[PRESENT] is True  # "1.0" is rate 1 as much as "1"
    assert passed[ABSENT] is None and "not run" in measured[ABSENT]


def test_tcav_checks_made_on_no_tested_layer_are_not_run(tmp_path):
    """Issue 29, item 1: the quick run's rate 0 had ``tested: False`` at the headline layer (classifier.0), and the
    old check read ``significant`` (False) as "not significant": a pass without a test. It also ignored the layer
    where a test was made. Every CAV flagged at every layer: not run, at both rates."""
    untested = {"classifier.0": _layer(0.503, False, tested=False), "features.12": _layer(0.5, False, tested=False)}
    passed, measured = _tcav_checks(tmp_path / "a", {"0": untested, "1": untested})
    assert passed[ABSENT] is None and passed[PRESENT] is None
    assert measured[ABSENT].startswith("not run: CAVs flagged at every layer (2 probed)")
    assert measured[PRESENT].startswith("not run: CAVs flagged at every layer")
    # the headline layer untested, another layer tested and not significant: the check reads that layer
    mixed = {"classifier.0": _layer(0.503, False, tested=False), "features.12": _layer(0.48, False, p=1.0)}
    passed, measured = _tcav_checks(tmp_path / "b", {"0": mixed, "1": {"classifier.0": _layer(1.0, True)}})
    assert passed[ABSENT] is True and "1 tested layers (2 probed)" in measured[ABSENT]
    assert "features.12" in measured[ABSENT]
    # … and a false positive at a layer other than the headline one fails
    false_positive = {"classifier.0": _layer(0.503, False, tested=False), "features.12": _layer(0.9, True)}
    passed, measured = _tcav_checks(tmp_path / "c", {"0": false_positive, "1": {"classifier.0": _layer(1.0, True)}})
    assert passed[ABSENT] is False and "features.12" in measured[ABSENT]


def test_tcav_planted_check_reads_every_layer_and_needs_the_score_above_the_null(tmp_path):
    # found at the second layer only: a pass naming that layer
    layers = {"fc": _layer(0.6, False, p=0.2), "conv": _layer(1.0, True, p=0.003)}
    passed, measured = _tcav_checks(tmp_path / "a", {"1": layers})
    assert passed[PRESENT] is True and measured[PRESENT].startswith("TCAV 1.000 vs null 0.500 at conv, Holm p 0.003")
    # significant in the two-sided test, but *below* the null: the pattern pushes away from the class
    passed, measured = _tcav_checks(tmp_path / "b", {"1": {"fc": _layer(0.1, True, null=0.5)}})
    assert passed[PRESENT] is False and "found at 0 of 1 tested layers" in measured[PRESENT]


def test_tcav_check_fails_when_the_planted_pattern_was_not_learned(tmp_path):
    rates = {"0": {"fc": _layer(0.5, False, p=0.8)}, "1": {"fc": _layer(0.95, True)}}
    passed, measured = _tcav_checks(tmp_path / "a", rates, planted_pattern_learned=False, planted_pattern_effect=0.02)
    assert passed[PRESENT] is False
    assert measured[PRESENT].startswith("ground truth not learned") and "0.020" in measured[PRESENT]
    passed, measured = _tcav_checks(tmp_path / "b", rates, planted_pattern_learned=True, planted_pattern_effect=0.97)
    assert passed[PRESENT] is True
    assert measured[PRESENT] == ("TCAV 0.950 vs null 0.500 at fc, Holm p 0.01; found at 1 of 1 tested layers "
                                 "(1 probed); pattern effect 0.970")
    missed = {"0": rates["0"], "1": {"fc": _layer(0.95, False, p=0.2)}}
    passed, _ = _tcav_checks(tmp_path / "c", missed, planted_pattern_learned=True)
    assert passed[PRESENT] is False  # learned, yet TCAV missed it


def test_disentanglement_table_averages_raw_accuracies_before_the_chance_correction(tmp_path):
    """Two seeds of random codes: FactorVAE raw accuracy 0.30 and 0.20 with 4 factors (chance 0.25). Clipped per
    seed and then averaged they would give (0.067 + 0) / 2 = 0.033; the table corrects the mean, 0.25 → 0."""
    def scores(raw, mig):
        return {"mig": mig, "factorvae": max(0.0, (raw - 0.25) / 0.75), "factorvae_raw": raw,
                "factorvae_num_factors": 4.0, "betavae": 0.0, "betavae_raw": 0.25, "betavae_num_factors": 4.0}

    for s, (raw, mig) in enumerate([(0.30, 0.1), (0.20, 0.3)]):
        _write(tmp_path / f"seed-{s}", "05_gan_latent",
               {"seed": s, "disentanglement": {"random": scores(raw, mig), "dcgan": scores(0.85, mig + 0.2)}})
    table = ET.disentanglement_table(tmp_path)
    assert list(table.index) == ["random", "dcgan"]
    assert table.loc["random", "factorvae"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["random", "mig"] == pytest.approx(0.2)
    assert table.loc["dcgan", "factorvae"] == pytest.approx(0.8)
    assert table.loc["dcgan", "num_seeds"] == 2


def _latent_metrics(seed, scores: dict):
    """05's metrics with ``{model: (MIG, DCI disentanglement)}``; the other checks pass."""
    return {"seed": seed, "sensitivity_autograd_vs_fd_rel_err": 1e-9, "dissection": {},
            "disentanglement": {model: {"mig": mig, "dci_disentanglement": dci} for model, (mig, dci) in scores.items()}}


def _disentanglement_row(folder):
    checks = EC.study_checks(folder)
    row = checks[checks["check"].str.contains("beats the DCGAN")]
    assert len(row) == 1 and pd.isna(row.iloc[0]["seed"])  # one claim over the run's seeds
    return row.iloc[0]["passed"], row.iloc[0]["measured"]


def test_disentanglement_check_compares_with_the_dcgan_over_seeds(tmp_path):
    """Issue 29, item 3: the quick run's seed 0 (DCGAN MIG 0.049 / DCI 0.111, InfoGAN-CR 0.012 / 0.053) passed the
    old check, which only asked for more than random codes. Against the DCGAN it fails, giving every mean."""
    _write(tmp_path / "a", "05_gan_latent", _latent_metrics(0, {
        "DCGAN": (0.049, 0.111), "InfoGAN-CR": (0.012, 0.053), "random codes": (0.002, 0.01)}))
    passed, measured = _disentanglement_row(tmp_path / "a")
    assert passed is False
    assert measured == ("MIG InfoGAN-CR 0.012 vs DCGAN 0.049 vs random 0.002; DCI InfoGAN-CR 0.053 vs DCGAN 0.111 "
                        "vs random 0.010 (over 1 seed)")
    # over two seeds the means decide: InfoGAN-CR loses seed 1 on MIG but wins on the mean
    for s, (info, dcgan) in enumerate([((0.30, 0.40), (0.05, 0.10)), ((0.04, 0.20), (0.06, 0.10))]):
        _write(tmp_path / "b" / f"seed-{s}", "05_gan_latent", _latent_metrics(s, {
            "DCGAN": dcgan, "InfoGAN-CR": info, "random codes": (0.0, 0.01)}))
    passed, measured = _disentanglement_row(tmp_path / "b")
    assert passed is True and measured.startswith("MIG InfoGAN-CR 0.170 vs DCGAN 0.055") and "2 seeds" in measured
    # beating the DCGAN is not enough: the floor of random codes stays
    _write(tmp_path / "c", "05_gan_latent", _latent_metrics(0, {
        "DCGAN": (0.0, 0.0), "InfoGAN-CR": (0.01, 0.02), "random codes": (0.02, 0.03)}))
    assert _disentanglement_row(tmp_path / "c")[0] is False


def test_ground_truth_columns_do_not_rank_where_the_patch_was_not_learned(tmp_path):
    """Issue 29 (low): the mean rank counted pointing games on a patch the shortcut model never learned."""
    def seed(s, rate, pointing):
        methods = {k: {"pointing_game": p, "relevance_mass_accuracy": p, "deletion_auc": {"zero": d}}
                   for k, (p, d) in {"saliency": (pointing[0], 0.2), "grad_cam": (pointing[1], 0.3)}.items()}
        _write(tmp_path / f"seed-{s}", "02_cnn_attribution", {"seed": s, "methods": methods, "shortcut_rate": rate})
    seed(0, 0.99, (0.9, 0.5))
    seed(1, 0.40, (0.1, 1.0))  # not learned: grad_cam's 1.0 is chance, not merit
    means, ranks = ET.explanation_table(tmp_path)
    assert means.loc["grad_cam", "pointing_game"] == 0.5 and means.loc["saliency", "pointing_game"] == 0.9
    assert ranks.loc["saliency", "pointing_game"] == 1 and list(ranks.index) == ["saliency", "grad_cam"]
    _write(tmp_path / "seed-0", "02_cnn_attribution", {"seed": 0, "shortcut_rate": 0.5, "methods": {
        "saliency": {"pointing_game": 0.9, "deletion_auc": {"zero": 0.3}},
        "grad_cam": {"pointing_game": 0.5, "deletion_auc": {"zero": 0.1}}}})
    _, ranks = ET.explanation_table(tmp_path)  # learned in no seed: the column ranks nothing
    assert ranks["pointing_game"].isna().all() and list(ranks.index) == ["grad_cam", "saliency"]


def test_max_sensitivity_of_input_independent_maps_is_not_ranked(tmp_path):
    """Issue 29 (low): Deconvolution's maps hardly depend on the input, so its max-sensitivity was 0.000 and
    ranked first; a constant explanation is perfectly insensitive (Yeh et al. 2019), which is no merit."""
    _write(tmp_path, "02_cnn_attribution", {"seed": 0, "methods": {
        "deconvolution": {"max_sensitivity": 0.0, "cross_image_similarity": 0.99, "infidelity": 0.5},
        "saliency": {"max_sensitivity": 0.2, "cross_image_similarity": 0.3, "infidelity": 0.1},
        "grad_cam": {"max_sensitivity": 0.1, "cross_image_similarity": 0.6, "infidelity": 0.2}}})
    means, ranks = ET.explanation_table(tmp_path)
    assert np.isnan(ranks.loc["deconvolution", "max_sensitivity"]) and means.loc["deconvolution", "max_sensitivity"] == 0
    assert ranks.loc["grad_cam", "max_sensitivity"] == 1 and ranks.loc["saliency", "max_sensitivity"] == 2
    assert ranks.loc["deconvolution", "mean rank"] == 3  # its infidelity alone


def _memorisation(gan_z, gan_share, copycat_flagged):
    result = {"near_copy_share": gan_share, "data_copying_z": gan_z, "median_distance_ratio": 1.5, "flagged": False}
    copycat = {"near_copy_share": 0.04, "data_copying_z": -7.9, "median_distance_ratio": 0.9, "flagged": copycat_flagged}
    return {"memorisation": {"gan": result, "copycat": copycat}}


def test_memorisation_table_over_seeds_and_old_runs_named(tmp_path):
    for s, (z, share, caught) in enumerate([(28.0, 0.0, True), (20.0, 0.01, False)]):
        _write(tmp_path / f"seed-{s}", "04_gan_dynamics", {"seed": s, **_memorisation(z, share, caught)})
    table = ET.memorisation_table(tmp_path)
    assert table.loc[("GAN", "Z_U"), "mean"] == pytest.approx(24.0) and table.loc[("GAN", "Z_U"), "n_seeds"] == 2
    assert table.loc[("copycat (planted copier)", "flagged (share of seeds)"), "mean"] == 0.5
    assert table.loc[("GAN", "near-copy share"), "ci_low"] == 0  # a share's interval is clipped at 0
    assert table.loc[("copycat (planted copier)", "Z_U"), "ci_high"] == pytest.approx(-7.9)
    _write(tmp_path / "seed-2", "04_gan_dynamics", {"seed": 2, "fid": 5.0})
    with pytest.raises(FileNotFoundError, match=r"seeds \[2\] have no memorisation results"):
        ET.memorisation_table(tmp_path)
