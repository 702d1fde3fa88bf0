import pytest

from xai_helpers.study.config import PROFILES, profile_name, resolve_config


def test_profiles_share_the_same_knobs():
    keys = {name: set(p) for name, p in PROFILES.items()}
    assert set(PROFILES) == {"smoke", "quick", "paper", "course"}
    assert keys["smoke"] == keys["quick"] == keys["paper"] == keys["course"]


def test_explicit_values_override_the_profile_and_none_does_not():
    cfg = resolve_config("quick", epochs=3, lr=None)
    assert cfg["epochs"] == 3
    assert cfg["lr"] == PROFILES["quick"]["lr"]
    assert cfg["profile"] == "quick"


def test_unknown_override_is_refused_by_name():
    with pytest.raises(ValueError, match="epoch"):
        resolve_config("quick", epoch=3)


def test_unknown_profile_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="smoke, quick, paper, course"):
        resolve_config("fast")


def test_xai_profile_replaces_the_default_but_not_an_explicit_profile(monkeypatch):
    monkeypatch.setenv("XAI_PROFILE", "paper")
    assert profile_name("default") == "paper"
    assert profile_name("") == "paper"
    assert profile_name("smoke") == "smoke"
    monkeypatch.delenv("XAI_PROFILE")
    assert profile_name("default") == "quick"


def test_profiles_grow_in_scale():
    assert PROFILES["smoke"]["epochs"] < PROFILES["quick"]["epochs"] < PROFILES["paper"]["epochs"]
    assert PROFILES["smoke"]["train_limit"] < PROFILES["quick"]["train_limit"]
