"""Issue 30: the same explanations from fewer passes. Integrated Gradients' steps are chosen by its completeness (the
gap is captum's convergence delta; the fewest steps within the tolerance are chosen; a tolerance no count meets
returns the most, with its gap), and maps already computed are reused."""
import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from torch import nn

from xai_helpers.cnn.attribution_study import IG_COMPLETENESS_TOLERANCE, integrated_gradients_steps


def _relu_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 3)).eval()


def test_the_gap_is_captums_convergence_delta_relative_to_the_explained_logit_change():
    net, x, y = _relu_net(), torch.rand(5, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1])
    _, gaps = integrated_gradients_steps(net, x, y, most=32, tolerance=0.0)  # tries every count
    assert sorted(gaps) == [8, 16, 32]
    for n, gap in gaps.items():
        _, delta = IntegratedGradients(net).attribute(x, baselines=torch.zeros_like(x), target=y, n_steps=n,
                                                      return_convergence_delta=True)
        with torch.no_grad():
            moved = net(x)[torch.arange(5), y] - net(torch.zeros_like(x))[torch.arange(5), y]
        assert gap == pytest.approx(float(delta.abs().sum() / moved.abs().sum()), rel=1e-4, abs=1e-7)


def test_the_fewest_steps_within_the_tolerance_are_chosen():
    net, x, y = _relu_net(), torch.rand(5, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1])
    _, every = integrated_gradients_steps(net, x, y, most=64, tolerance=0.0)
    tolerance = sorted(every.values())[1]  # met by some counts, not by all
    steps, gaps = integrated_gradients_steps(net, x, y, most=64, tolerance=tolerance)
    assert gaps[steps] <= tolerance and all(g > tolerance for n, g in gaps.items() if n < steps)
    assert steps == min(n for n, g in every.items() if g <= tolerance)


def test_a_linear_model_is_complete_at_the_fewest_steps_and_an_unmet_tolerance_returns_the_most():
    torch.manual_seed(0)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    x, y = torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 0])
    steps, gaps = integrated_gradients_steps(linear, x, y, most=32)
    assert steps == 8 and gaps[8] < 1e-5 < IG_COMPLETENESS_TOLERANCE
    steps, gaps = integrated_gradients_steps(_relu_net(), torch.rand(3, 1, 8, 8), y, most=32, tolerance=-1.0)
    assert steps == 32 and list(gaps) == [8, 16, 32] and gaps[32] > 0
    with pytest.raises(ValueError, match="most = 0"):
        integrated_gradients_steps(linear, x, y, most=0)


def test_heats_for_reuses_the_maps_of_explained_images_and_explains_only_the_others():
    from xai_helpers.cnn.attribution import explain, heatmap
    from xai_helpers.cnn.attribution_study import heats_for

    net, images = _relu_net(), torch.rand(6, 1, 8, 8)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    scored = {"saliency": torch.full((3, 8, 8), -1.0)}  # of images 0, 2, 4: a value no explanation gives
    shown = heats_for(net, images, targets, [2, 1, 4], ["saliency"], {}, explained=[0, 2, 4], heats=scored)
    assert torch.equal(shown["saliency"][0], scored["saliency"][1])
    assert torch.equal(shown["saliency"][2], scored["saliency"][2])
    assert torch.equal(shown["saliency"][1], heatmap(explain(net, images[[1]], targets[[1]], "saliency"))[0])
    alone = heats_for(net, images, targets, [2, 1], ["saliency"], {})
    assert torch.allclose(alone["saliency"], heatmap(explain(net, images[[2, 1]], targets[[2, 1]], "saliency")))


def _wide_net():
    """A small network on 224 px RGB images: large enough that the forward budget cuts passes."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(64, 3)).eval()


def test_deletion_curves_cut_into_passes_by_the_forward_budget_equal_one_pass():
    from xai_helpers.cnn import explanation_metrics as em
    from xai_helpers.cnn.attribution import FORWARD_PIXELS_PER_PASS, images_per_pass

    net, x, y = _wide_net(), torch.rand(5, 3, 224, 224), torch.tensor([0, 1, 2, 0, 1])
    heat = torch.rand(5, 224, 224)
    assert images_per_pass(x.shape, 1024, FORWARD_PIXELS_PER_PASS) == 4  # cut into passes of 4, not one of 290
    cut = em.deletion_insertion_curves(net, x, y, heat, "zero", steps=7)
    whole = em.deletion_insertion_curves(net, x, y, heat, "zero", steps=7, batch_size=1024)
    for a, b in zip(cut, whole):
        assert a.shape == (5, 8) and np.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("method", ["occlusion", "lime", "kernel_shap"])
def test_superpixel_methods_do_not_depend_on_how_their_passes_are_cut(method, monkeypatch):
    from xai_helpers.cnn import attribution

    torch.manual_seed(0)
    blocks = torch.nn.functional.interpolate(torch.rand(2, 3, 8, 8), size=224, mode="nearest")  # regions for SLIC
    net, x, y = _wide_net(), blocks, torch.tensor([0, 2])
    options = {"superpixels": 16} | ({} if method == "occlusion" else {"n_samples": 24})
    budgeted = attribution.explain(net, x, y, method, seed=1, **options)
    monkeypatch.setattr(attribution, "FORWARD_PIXELS_PER_PASS", 2 ** 30)  # every perturbation in one pass
    whole = attribution.explain(net, x, y, method, seed=1, **options)
    assert torch.allclose(budgeted, whole, atol=1e-5)
