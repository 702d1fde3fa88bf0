"""The shapes factor regressor (targets respect each shape's symmetry, training works, cached) and the
semantic read-out helpers."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xai_helpers.data.datasets import load_dataset, render_shapes
from xai_helpers.latent import factor_regressor as FR
from xai_helpers.latent.semantic_readouts import median_split, readout_scale
from xai_helpers.study.run_io import finite_or_none


def test_targets_are_invariant_under_each_shapes_symmetry_and_phase_is_read_back():
    base = torch.tensor([[s, 0.8, 0.3, 0.4, 0.6] for s in range(3)])
    for s, order in enumerate(FR.SYMMETRY_ORDER):
        turned = base[s:s + 1].clone()
        turned[0, 2] += 2 * math.pi / order  # one symmetry step: the same image
        img_a, img_b = render_shapes(base[s:s + 1].numpy()), render_shapes(turned.numpy())
        assert np.abs(img_a - img_b).max() < 0.05
        torch.testing.assert_close(FR.targets(turned)[1], FR.targets(base[s:s + 1])[1], atol=1e-5, rtol=0)
        half = base[s:s + 1].clone()
        half[0, 2] += math.pi / order  # half a step: a different image and the opposite phase
        assert not torch.allclose(FR.targets(half)[1][:, 1:3], FR.targets(base[s:s + 1])[1][:, 1:3], atol=0.1)
    frame = FR.true_readouts(base)
    np.testing.assert_allclose(frame["orientation"], (np.array(FR.SYMMETRY_ORDER) * 0.3) / (2 * math.pi), atol=1e-6)
    np.testing.assert_allclose(frame["scale"], 0.8, atol=1e-6)
    assert list(frame.columns) == list(FR.READOUT_FACTORS)


def test_readout_errors_are_perfect_on_truth_and_circular():
    truth = pd.DataFrame({"shape": [0.0, 1.0, 2.0], "scale": [0.5, 0.75, 1.0], "orientation": [0.01, 0.5, 0.99],
                          "pos_x": [0.1, 0.5, 0.9], "pos_y": [0.2, 0.4, 0.8]})
    errors = FR.readout_errors(truth, truth)
    assert errors["shape_accuracy"] == 1 and errors["scale_r2"] == 1 and errors["orientation_phase_error"] == 0
    wrapped = truth.assign(orientation=[0.99, 0.5, 0.01])  # 0.01 and 0.99 are 0.02 turns apart, not 0.98
    assert FR.readout_errors(wrapped, truth)["orientation_phase_error"] == pytest.approx(0.04 / 3)


def test_factor_regressor_learns_position_and_shape_and_is_cached(tmp_path):
    data = load_dataset("shapes", train_limit=2000, test_limit=300)
    model, meta = FR.train_factor_regressor(data, epochs=5, width=8, device="cpu", cache_dir=str(tmp_path),
                                            progress="none")
    assert meta["test"]["pos_x_r2"] > 0.5 and meta["test"]["pos_y_r2"] > 0.5
    assert meta["test"]["shape_accuracy"] > 0.6  # chance is 1/3
    again, meta2 = FR.train_factor_regressor(data, epochs=5, width=8, device="cpu", cache_dir=str(tmp_path),
                                             progress="none")
    assert meta2["from_cache"] and not meta["from_cache"]
    x = data.test_x[:16]
    pd.testing.assert_frame_equal(FR.read_factors(model, x), FR.read_factors(again, x))
    with pytest.raises(ValueError, match="32, 32"):
        FR.read_factors(model, torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="shapes data set"):
        FR.train_factor_regressor(load_dataset("mnist5k", train_limit=100, test_limit=50), epochs=1,
                                  cache_dir=str(tmp_path))


def _conv_block_leaky(c_in, c_out):
    """Another network with the same parameters: stale cached weights would load into it without an error."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]


def test_the_cache_key_covers_the_model_code_the_regressor_is_built_from(tmp_path, monkeypatch):
    data = load_dataset("shapes", train_limit=128, test_limit=32)
    options = dict(epochs=1, width=2, device="cpu", cache_dir=str(tmp_path), progress="none")
    _, before = FR.train_factor_regressor(data, **options)
    # conv_block lives in models.py, outside this module; a changed block is a different network.
    monkeypatch.setattr(FR, "conv_block", _conv_block_leaky)
    model, after = FR.train_factor_regressor(data, **options)
    assert isinstance(model.features[2], nn.LeakyReLU)  # the regressor was built from the changed block ...
    assert after["key"] != before["key"] and not after["from_cache"]  # ... so it is not the cached one


def test_readout_scale_and_median_split():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan], "b": [5.0, 5.0, 5.0, 5.0]})
    scale = readout_scale(frame)
    assert scale["a"] == pytest.approx(1.0) and scale["b"] == 1.0  # a constant read-out is not divided by 0
    np.testing.assert_array_equal(median_split(frame, "a"), [False, False, True, False])
    with pytest.raises(ValueError, match="no finite values"):
        median_split(pd.DataFrame({"c": [np.nan, np.nan]}), "c")


def test_finite_or_none_replaces_only_non_finite_values():
    obj = {"a": float("nan"), "b": [1.0, float("inf"), 2], "c": np.array([0.5, np.nan]), "d": "x"}
    assert finite_or_none(obj) == {"a": None, "b": [1.0, None, 2], "c": [0.5, None], "d": "x"}
