"""A method card's measured half: model evaluations per map, what the method needs, and how much its maps move
with its key setting doubled."""
import numpy as np
import torch
from torch import nn

from xai_helpers.cnn import heatmap, explain
from xai_helpers.cnn.method_needs import hyperparameter_sensitivity, passes_per_image, requirements


def test_evaluations_per_image_follow_the_runs_settings_or_the_methods_defaults():
    options = {"integrated_gradients": {"n_steps": 16}, "lime": {"n_samples": 300}}
    assert passes_per_image("integrated_gradients", options, (1, 28, 28)) == 16
    assert passes_per_image("smoothgrad", options, (1, 28, 28)) == 25  # SmoothGrad's own default
    assert passes_per_image("lime", options, (1, 28, 28)) == 300
    assert passes_per_image("occlusion", options, (1, 28, 28)) == 13 * 13  # 4-pixel window, stride 2
    assert passes_per_image("occlusion", {"occlusion": {"superpixels": 50}}, (3, 224, 224)) == 50
    assert passes_per_image("saliency", options, (1, 28, 28)) == 1


def test_requirements_in_words():
    assert requirements("saliency") == "gradients"
    assert requirements("deeplift") == "gradients, hooks on its modules"
    assert requirements("occlusion") == "forward passes only"


def test_the_key_setting_doubled_and_the_maps_compared():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 16 * 16, 3)).eval()
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2])
    options = {"integrated_gradients": {"n_steps": 4}}
    methods = ["integrated_gradients", "occlusion", "saliency"]
    heats = {m: heatmap(explain(model, x, y, m, **options.get(m, {}))) for m in methods}
    found = hyperparameter_sensitivity(model, x, y, methods, options, heats)
    assert set(found) == {"integrated_gradients", "occlusion"}  # saliency has no key setting
    assert found["integrated_gradients"]["value"] == 4 and found["integrated_gradients"]["alternative"] == 8
    assert found["occlusion"]["parameter"] == "window" and found["occlusion"]["alternative"] == 8
    assert 0.9 < found["integrated_gradients"]["rank_correlation"] <= 1  # 4 or 8 steps: nearly the same maps
    assert found["occlusion"]["rank_correlation"] < found["integrated_gradients"]["rank_correlation"]
    skipped = hyperparameter_sensitivity(model, x, y, ["occlusion"], {"occlusion": {"superpixels": 8}}, heats)
    assert skipped == {"occlusion": {"parameter": "window",
                                     "skipped": "occlusion removes superpixels at this image size"}}
    assert np.isfinite(found["occlusion"]["rank_correlation"])
