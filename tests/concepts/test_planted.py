"""The planted-concept tests of 03 as their own confirmatory family, and the verdicts the study's checks read."""
import numpy as np
import pandas as pd
import pytest

from xai_helpers.concepts import (EXPLORATORY_FAMILY, PLANTED_FAMILY, absent_verdict, correct, correct_within,
                                  families, present_verdict)


def _results(planted_p, exploratory_p):
    """03's results table: the planted concept for class 3 at rates 0, 0.5, 1 × 3 layers, then exploratory tests."""
    rows = [{"concept": "planted_pattern", "class_index": 3, "rate": rate, "layer": layer, "p_value": p}
            for (rate, layer), p in zip([(r, l) for r in (0.0, 0.5, 1.0) for l in ("a", "b", "c")], planted_p)]
    rows += [{"concept": f"c{i % 7}", "class_index": i % 10, "rate": 0.0, "layer": "a", "p_value": p}
             for i, p in enumerate(exploratory_p)]
    rows.append({"concept": "planted_pattern", "class_index": 5, "rate": 0.0, "layer": "a", "p_value": 0.3})
    return pd.DataFrame(rows)


def test_families_put_only_the_target_class_planted_tests_at_the_rates_run_in_the_planted_family():
    results = _results([0.5] * 9, [0.5] * 4)
    labels = families(results, "planted_pattern", 3, [0.0, 0.5, 1.0])
    assert labels.tolist() == [PLANTED_FAMILY] * 9 + [EXPLORATORY_FAMILY] * 5  # class 5's planted row: exploratory
    labels = families(results, "planted_pattern", 3, [0.5, 1.0])  # rate 0 not in the experiment: exploratory
    assert labels.tolist() == [EXPLORATORY_FAMILY] * 3 + [PLANTED_FAMILY] * 6 + [EXPLORATORY_FAMILY] * 5


def test_a_planted_effect_pooled_with_exploratory_tests_is_lost_and_found_in_its_own_family():
    """Issue 29, item 2: raw p 0.00035 at rate 1, Holm over every test of 03 (here 209) gives 0.073, not
    significant; within the 9 planted tests it is 0.00315."""
    planted_p = [0.6, 0.7, 0.8, 0.4, 0.5, 0.3, 0.00035, 0.002, 0.004]
    exploratory = np.random.default_rng(0).uniform(0.0005, 1, 199)
    results = _results(planted_p, exploratory)
    pooled = correct(results)
    assert not pooled.loc[6, "significant"] and pooled.loc[6, "p_value_corrected"] == pytest.approx(209 * 0.00035)
    within = correct_within(results, families(results, "planted_pattern", 3, [0.0, 0.5, 1.0]))
    assert within.loc[6, "significant"] and within.loc[6, "p_value_corrected"] == pytest.approx(9 * 0.00035)
    assert within.loc[6, "family"] == PLANTED_FAMILY and list(within.index) == list(results.index)
    # the exploratory family is corrected over its own 200 tests, as if the planted ones were not there
    expected = correct(results.iloc[9:])
    assert np.allclose(within.iloc[9:]["p_value_corrected"].astype(float), expected["p_value_corrected"].astype(float))
    with pytest.raises(ValueError, match="label every row"):
        correct_within(results, pd.Series([PLANTED_FAMILY] * 3))


def _layer(score, significant, tested=True, null=0.5):
    return {"tcav_score": score, "null_score": null, "p_value_corrected": 0.01 if tested else None,
            "significant": significant, "tested": tested}


def test_verdicts_are_not_run_without_a_test_and_read_every_layer():
    untested = {"a": _layer(0.5, False, tested=False), "b": _layer(0.6, False, tested=False)}
    assert present_verdict(untested)[0] is None and absent_verdict(untested)[0] is None
    assert present_verdict({"a": _layer(0.5, False), "b": _layer(0.99, True)}) == (
        True, "TCAV 0.990 vs null 0.500 at b, Holm p 0.01; found at 1 of 2 tested layers (2 probed)")
    assert present_verdict({"a": _layer(0.05, True)})[0] is False  # significant, but pushing away from the class
    assert absent_verdict({"a": _layer(0.95, True)})[0] is False  # found where the model never saw the pattern
    # significant *below* the null: the pasted pattern lowers the class, as an occluder would; no false positive
    # of "used as evidence for the class", and the verdict says so (seen at quick, seed 1: TCAV 0.191 vs 0.598)
    ok, measured = absent_verdict({"a": _layer(0.05, True)})
    assert ok is True and "(significant, below the null)" in measured
    assert absent_verdict({"a": _layer(0.5, False), "b": _layer(0.5, False, tested=False)})[0] is True
