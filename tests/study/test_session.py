"""The first step of every notebook and how long work reports progress."""
import os
import random

import numpy as np
import pytest
import torch

from xai_helpers.study import progress_mode, start_notebook
from xai_helpers.study.run_layout import RUN_SUBDIRS


def test_start_notebook_seeds_every_generator_and_prepares_the_folders(tmp_path):
    draws = []
    for _ in range(2):
        dev, run_path, cache_path = start_notebook(7, "cpu", str(tmp_path / "run"), str(tmp_path / "cache"))
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]  # numpy's global generator too: captum draws from it
    start_notebook(8, "cpu", str(tmp_path / "run"), str(tmp_path / "cache"))
    assert np.random.rand() != draws[0][1]
    assert dev == torch.device("cpu") and cache_path.is_dir()
    assert all((run_path / sub).is_dir() for sub in RUN_SUBDIRS)


def test_progress_is_a_bar_when_watched_and_log_lines_when_headless(monkeypatch):
    monkeypatch.delenv("XAI_HEADLESS", raising=False)
    assert progress_mode("auto") == "bar"
    monkeypatch.setenv("XAI_HEADLESS", "1")
    assert progress_mode("auto") == "log" and progress_mode("none") == "none"
    with pytest.raises(ValueError, match="auto, bar, log or none, got 'quiet'"):
        progress_mode("quiet")


def _values(notebook, tmp_path, **over):
    """A notebook's parameters as its parameters cell sets them (the registry's defaults), with ``over`` applied."""
    from xai_helpers.study.parameter_registry import PARAMETERS

    values = {p.name: p.default for p in PARAMETERS if notebook in p.notebooks}
    values.update(profile="smoke", device="cpu", run_dir=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"))
    values.update(over)
    return values


def test_start_session_applies_the_knobs_a_notebook_declares_and_starts_the_session(tmp_path):
    from xai_helpers.study import resolve_config, start_session

    config, spec, dev, run_path, _ = start_session("03_tcav", _values("03_tcav", tmp_path, set_size=9, epochs=2))
    smoke = resolve_config("smoke")
    assert config["tcav_set_size"] == 9 and config["epochs"] == 2  # 03's set_size overrides the tcav_set_size knob
    assert config["tcav_random_sets"] == smoke["tcav_random_sets"]  # None in the cell: the profile's value
    assert spec is not None and not spec.supplied and dev == torch.device("cpu") and run_path.is_dir()
    config, spec, *_ = start_session("04_gan_dynamics", _values("04_gan_dynamics", tmp_path))
    assert not spec.supplied and config["gan_iterations"] == smoke["gan_iterations"]  # 04 judges with the study's CNN


@pytest.mark.parametrize("over, message", [({"sanity_threshold": 2.0}, "sanity_threshold = 2.0 is not allowed"),
                                           ({"n_explain": 0}, "n_explain = 0 is not allowed"),
                                           ({"model_source": "zoo"}, "model_source = 'zoo'")])
def test_start_session_refuses_a_bad_value_before_the_session_starts(tmp_path, over, message):
    from xai_helpers.study import start_session
    from xai_helpers.study.parameters import ParameterError

    with pytest.raises((ParameterError, ValueError), match=message):
        start_session("02_cnn_attribution", _values("02_cnn_attribution", tmp_path, **over))
    assert not (tmp_path / "run").exists(), "refused before the run folder is made"


def test_start_session_names_a_parameter_that_is_not_set(tmp_path):
    from xai_helpers.study import start_session

    values = _values("01_cnn_training", tmp_path)
    del values["n_probe"]
    with pytest.raises(ValueError, match="parameters n_probe are not set"):
        start_session("01_cnn_training", values)


def test_a_model_parameter_the_notebook_does_not_declare_keeps_its_default(tmp_path):
    """06 declares no tcav_layers: a value of that name left in its namespace must not reach the model spec."""
    from xai_helpers.study import start_session

    values = _values("06_evaluation", tmp_path, tcav_layers="no_such_layer")
    _, spec, *_ = start_session("06_evaluation", values)
    assert not spec.tcav_layers


def test_a_notebook_that_needs_hooks_refuses_a_torchscript_model_before_the_session_starts(tmp_path):
    """03 reads activations through hooks, which a TorchScript model does not take: refused, naming the file."""
    import warnings

    from torch import nn
    from xai_helpers.study import start_session

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
        torch.jit.save(torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(4, 2))), tmp_path / "net.pt")
    values = _values("03_tcav", tmp_path, model_source="file", model_file=str(tmp_path / "net.pt"))
    with pytest.raises(ValueError, match=r"takes no hooks: supply the model of model_file = '.*net\.pt' as a torch.export program"):
        start_session("03_tcav", values, needs_hooks=True)
    assert not (tmp_path / "run").exists(), "refused before the run folder is made"
    _, spec, *_ = start_session("03_tcav", values)  # a notebook that only calls the model takes it
    assert spec.is_torchscript


def test_forms_show_where_someone_watches_unless_the_parameter_says_otherwise(monkeypatch):
    """Issue 33: 07 opened in JupyterLab showed static pictures until the parameters cell was edited."""
    from xai_helpers.study import forms_wanted

    monkeypatch.delenv("XAI_HEADLESS", raising=False)  # a JupyterLab from run_all.sh --lab
    assert forms_wanted(None) and not forms_wanted(False)
    monkeypatch.setenv("XAI_HEADLESS", "1")  # the runner, the workflow, the tests
    assert not forms_wanted(None) and forms_wanted(True)
    with pytest.raises(ValueError, match="interactive = 'yes' is not allowed"):
        forms_wanted("yes")


def test_the_lab_launcher_clears_the_headless_flag_for_its_kernels(monkeypatch, tmp_path):
    from xai_helpers.running import jupyter_lab

    monkeypatch.setenv("XAI_HEADLESS", "1")
    seen = {}
    monkeypatch.setattr(jupyter_lab, "register_kernel", lambda: tmp_path)
    monkeypatch.setattr(jupyter_lab, "write_settings_overrides", lambda: None)
    monkeypatch.setattr(jupyter_lab.os, "execv", lambda path, cmd: seen.update(headless=os.environ.get("XAI_HEADLESS")))
    jupyter_lab.main(["--no-browser", "--notebook-dir", str(tmp_path)])
    assert seen == {"headless": None}
