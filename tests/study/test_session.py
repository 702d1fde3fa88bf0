"""The first step of every notebook and how long work reports progress."""
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
