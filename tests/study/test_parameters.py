"""Allowed values of parameters (xai_helpers.study.parameters): what is refused, and that the message says what is allowed."""
import pytest

from xai_helpers.data.datasets import image_side
from xai_helpers.study.config import resolve_config
from xai_helpers.study.parameters import (ALLOWED, Allowed, ParameterError, check_fits_image, check_value,
                                    check_values)


@pytest.mark.parametrize("name,value,allowed", [
    ("n_explain", -5, "an integer ≥ 1"), ("n_explain", 0, "an integer ≥ 1"), ("n_explain", 2.5, "an integer"),
    ("lr", 0.0, "a number > 0"), ("lr", float("nan"), "> 0"), ("weight_decay", -1e-4, "≥ 0"),
    ("alpha", 1.0, "a number in (0, 1)"), ("sanity_threshold", 1.5, "[0, 1]"), ("low_data_fraction", 0.0, "(0, 1]"),
    ("planting_rates", [0.0, 1.5], "each in [0, 1]"), ("planting_rates", [], "non-empty"),
    ("channels", 2, "one of 1, 3"), ("n_random_sets", 2, "≥ 3"), ("augment", 1, "true or false"),
    ("seed", -1, "≥ 0"), ("sanity_threshold", None, "[0, 1]"), ("epochs", True, "an integer"),
])
def test_values_outside_the_range_are_refused_naming_value_and_range(name, value, allowed):
    with pytest.raises(ParameterError) as err:
        check_value(name, value)
    assert f"{name} = {value!r}" in str(err.value) and allowed in str(err.value)


@pytest.mark.parametrize("name,value", [("n_explain", 1), ("n_explain", None), ("lr", 1e-3), ("alpha", 0.05),
                                        ("low_data_fraction", 1.0), ("planting_rates", [0, 0.5, 1.0]),
                                        ("channels", 3), ("augment", False), ("n_controls", 0), ("seed", 0)])
def test_values_inside_the_range_pass(name, value):
    check_value(name, value)


def test_unlisted_names_are_not_judged_here():
    check_value("dataset", "anything")  # strings are checked by the notebook against its choices


def test_every_profile_value_is_allowed():
    from xai_helpers.study.config import PROFILES

    for profile, knobs in PROFILES.items():
        numeric = [k for k, v in knobs.items() if isinstance(v, (int, float)) or v is None]
        assert set(numeric) <= set(ALLOWED), (profile, set(numeric) - set(ALLOWED))
        check_values(knobs)


def test_resolve_config_refuses_a_bad_override_before_anything_runs():
    with pytest.raises(ParameterError, match=r"n_explain = -5 .*an integer ≥ 1"):
        resolve_config("smoke", n_explain=-5)
    with pytest.raises(ParameterError, match=r"info_codes = 6 .*shapes_z_dim = 5"):
        resolve_config("smoke", info_codes=6)
    assert resolve_config("smoke", info_codes=5, n_explain=1)["n_explain"] == 1


def test_pixel_sizes_must_fit_the_image():
    check_fits_image({"patch_size": 28}, image_side("mnist5k", 32))
    with pytest.raises(ParameterError, match=r"patch_size = 29 .*28×28 .*\[1, 28\]"):
        check_fits_image({"patch_size": 29}, image_side("mnist5k", 32))
    with pytest.raises(ParameterError, match=r"pattern_size = 20 .*16×16"):
        check_fits_image({"pattern_size": 20}, image_side("imagefolder", 16))
    with pytest.raises(ValueError, match="unknown dataset"):
        image_side("mnist6k", 32)


def test_describe_reads_as_a_range():
    assert Allowed("float", 0, 1, open_low=True, none=False).describe() == "a number in (0, 1]"
    assert Allowed("int", 1).describe() == "an integer ≥ 1 (or None: the profile's value)"
