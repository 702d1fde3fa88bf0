"""02's feature attenuation as one function (issue 32, item 3): on a network whose logit is linear in the layer's
activations the first-order prediction is exact, so measured and predicted effects agree to rounding; a tanh after
the layer breaks that (the comparison can fail; a ReLU would not, being positively homogeneous)."""
import numpy as np
import pytest
import torch
from torch import nn

from xai_helpers.cnn.attribution_study import attenuation_study


def _net(after_layer: nn.Module) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    layer = nn.Conv2d(1, 6, 3, padding=1)
    return nn.Sequential(layer, after_layer, nn.Flatten(), nn.Linear(6 * 8 * 8, 3)).eval(), layer


def test_a_linear_readout_is_predicted_exactly_by_first_order():
    model, layer = _net(nn.Identity())
    x, y = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1)), torch.tensor([0, 1, 2, 0, 1])
    study = attenuation_study(model, layer, x, y, max_channels=6, top_set=3)
    assert study.total_channels == 6 and sorted(study.channels.tolist()) == list(range(6))
    np.testing.assert_allclose(study.measured, study.predicted, atol=1e-4)
    np.testing.assert_allclose(study.set_measured, study.set_predicted, atol=1e-4)
    assert study.per_image_correlation == pytest.approx(1.0, abs=1e-4)
    assert study.pooled_correlation == pytest.approx(1.0, abs=1e-4) and study.set_correlation == pytest.approx(1.0, abs=1e-4)
    assert study.measured[:, -1] == pytest.approx(0.0)  # alpha = 1 changes nothing
    assert set(study.curves_measured) == {k for k in study.curves_predicted} and "top-3 set" in study.curves_measured


def test_a_curved_nonlinearity_after_the_layer_makes_first_order_inexact_and_channels_can_be_limited():
    model, layer = _net(nn.Tanh())
    x, y = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(1)) - 0.5, torch.tensor([0, 1, 2, 0, 1])
    study = attenuation_study(model, layer, x, y, max_channels=3)
    assert study.total_channels == 6 and len(study.channels) == 3
    assert not np.allclose(study.measured, study.predicted, atol=1e-4)
