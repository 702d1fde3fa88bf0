import random

import numpy as np
import pytest
import torch

from xai_helpers.study.reproducibility import provenance, resolve_device, seed_everything


def _draw():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_one_seed_controls_random_numpy_and_torch():
    seed_everything(5)
    first = _draw()
    seed_everything(5)
    assert _draw() == first
    seed_everything(6)
    assert _draw() != first


def test_deterministic_algorithms_are_switched_on_in_warn_only_mode():
    torch.use_deterministic_algorithms(False)
    try:
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(True, warn_only=True)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_is_refused(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        resolve_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_an_error_not_a_silent_cpu_run():
    with pytest.raises(RuntimeError, match="no CUDA"):
        resolve_device("cuda")


def test_provenance_records_what_a_rerun_needs():
    info = provenance("cpu", seeds=[3], profile="smoke")
    for key in ("git_sha", "packages", "device", "cpu", "torch_threads", "seeds", "time_utc", "python"):
        assert key in info
    assert info["seeds"] == [3] and info["profile"] == "smoke"
    assert info["packages"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
