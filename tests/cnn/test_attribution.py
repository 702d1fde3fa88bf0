"""Attribution methods and explanation metrics on tiny models with known answers."""
import copy
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xai_helpers.cnn import explanation_metrics as em
from xai_helpers.cnn.complexity import sparseness
from xai_helpers.cnn.localisation import relevance_mass_accuracy
from xai_helpers.cnn.attenuation import attenuated, attenuation_effect, taylor_channel_scores, taylor_prediction
from xai_helpers.cnn.attribution_study import sanity_summary
from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam

from xai_helpers.cnn.attribution import (METHODS, PIXELS_PER_PASS, explain, grid_feature_mask, heatmap, images_per_pass,
                                         last_conv_activation, register)
from xai_helpers.cnn.models import AttentionCNN, PlainCNN
from xai_helpers.data.planting import checkerboard, plant, random_boxes, shortcut_dataset
from xai_helpers.cnn.train import train_classifier
from xai_helpers.data.datasets import ImageDataset

FAST = {"integrated_gradients": {"n_steps": 8}, "smoothgrad": {"nt_samples": 4}, "gradient_shap": {"n_samples": 4},
        "lime": {"n_samples": 16}, "kernel_shap": {"n_samples": 16}}


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return PlainCNN(width=4, hidden=8, image_size=8).eval()


@pytest.mark.parametrize("method", [m for m in METHODS if METHODS[m].needs is None])
def test_every_method_returns_the_input_shape(tiny, method):
    x = torch.rand(3, 1, 8, 8)
    attr = explain(tiny, x, torch.tensor([0, 1, 2]), method, **FAST.get(method, {}))
    assert attr.shape == x.shape and torch.isfinite(attr).all()


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "grad_cam", "deeplift"])
def test_methods_also_explain_the_attention_cnn_and_rgb_inputs(method):
    torch.manual_seed(0)
    model = AttentionCNN(in_channels=3, image_size=8, width=4, hidden=8).eval()
    x = torch.rand(2, 3, 8, 8)
    assert explain(model, x, 1, method, **FAST.get(method, {})).shape == x.shape


def test_lrp_refuses_a_layer_it_has_no_rule_for_with_a_clear_error():
    model = AttentionCNN(image_size=8, width=4, hidden=8).eval()
    with pytest.raises(ValueError, match="LRP cannot explain AttentionCNN"):
        explain(model, torch.rand(1, 1, 8, 8), 0, "lrp")


@pytest.mark.parametrize("method", ["gradient_shap", "smoothgrad"])
def test_sampling_methods_repeat_whatever_the_caller_drew_and_leave_the_global_generators_alone(method):
    torch.manual_seed(0)
    # Smooth and with biases: its gradient changes along GradientSHAP's path, so the path coefficients matter
    # (on a bias-free ReLU net they would not: the gradient is constant along the ray from a black baseline).
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 1, 2])
    options = FAST[method]
    np.random.seed(1)
    torch.manual_seed(1)
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    first = explain(model, x, targets, method, **options)
    # The call neither consumed nor reseeded the caller's streams.
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]
    assert torch.equal(torch.get_rng_state(), torch_state)
    for np_seed, torch_seed in ((99, 1), (1, 99)):  # numpy: GradientSHAP's path; torch: noise and baselines
        np.random.seed(np_seed)
        torch.manual_seed(torch_seed)
        assert torch.equal(explain(model, x, targets, method, **options), first), (np_seed, torch_seed)
    assert torch.equal(explain(model, x, targets, method, seed=5, **options),
                       explain(model, x, targets, method, seed=5, **options))
    assert not torch.equal(explain(model, x, targets, method, seed=5, **options), first)
    # Each batch has its own stream: the same image in batch 0 and in batch 1 gets different noise.
    twice = explain(model, torch.cat([x[:1], x[:1]]), targets[:1].repeat(2), method, batch_size=1, **options)
    assert not torch.equal(twice[0], twice[1])


def test_explain_restores_every_modules_training_mode_and_explains_in_eval_mode():
    torch.manual_seed(0)
    model = PlainCNN(width=4, hidden=8, image_size=8)
    x, targets = torch.rand(4, 1, 8, 8), torch.arange(4)
    with torch.no_grad():  # running statistics away from their defaults, so train and eval mode differ
        model.train()(torch.rand(16, 1, 8, 8) * 3)
    reference = explain(model.eval(), x, targets, "saliency")
    model.train()
    model.features[1].eval()  # a frozen batch norm inside a model in training
    modes = {name: m.training for name, m in model.named_modules()}
    attr = explain(model, x, targets, "saliency")
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert torch.equal(attr, reference)  # batch norm used its running statistics, dropout was off
    model.eval()
    explain(model, x, targets, "saliency")
    assert not any(m.training for m in model.modules())


def _cam_cnn():
    torch.manual_seed(3)
    return PlainCNN(width=4, hidden=8, image_size=16).eval(), torch.rand(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])


def _close(a, b, rel=1e-5):
    """Equal up to ``rel`` of the larger map's scale (an untrained net's maps are ~1e-6 in absolute terms)."""
    return bool((a - b).abs().max() <= rel * max(a.abs().max(), b.abs().max()))


def test_grad_cam_applies_the_relu_on_the_coarse_map_as_selvaraju_and_captum_do():
    model, x, targets = _cam_cnn()
    layer = last_conv_activation(model)
    coarse = LayerGradCam(model, layer).attribute(x, target=targets, relu_attributions=True)
    expected = LayerAttribution.interpolate(coarse, (16, 16), "bilinear")
    assert _close(explain(model, x, targets, "grad_cam"), expected)
    # The case separates the two orders: the signed coarse maps mix signs, so upsampling first and clipping
    # afterwards zeroes pixels that the paper's map gives a positive value.
    signed = LayerGradCam(model, layer).attribute(x, target=targets)
    assert (signed > 0).any() and (signed < 0).any()
    wrong_order = LayerAttribution.interpolate(signed, (16, 16), "bilinear").clamp_min(0)
    assert not _close(wrong_order, expected, rel=0.05)


def test_guided_grad_cam_upsamples_bilinearly_as_in_the_paper():
    model, x, targets = _cam_cnn()
    layer = last_conv_activation(model)
    expected = GuidedGradCam(model, layer).attribute(x, target=targets, interpolate_mode="bilinear")
    assert _close(explain(model, x, targets, "guided_grad_cam"), expected)
    nearest = GuidedGradCam(model, layer).attribute(x, target=targets)  # captum's default
    assert not _close(nearest, expected, rel=0.05)


def test_integrated_gradients_is_complete(tiny):
    x = torch.rand(4, 1, 8, 8)
    targets = torch.tensor([0, 3, 5, 9])
    attr = explain(tiny, x, targets, "integrated_gradients", n_steps=300)
    with torch.no_grad():
        gap = tiny(x)[torch.arange(4), targets] - tiny(torch.zeros_like(x))[torch.arange(4), targets]
    assert torch.allclose(attr.sum((1, 2, 3)), gap, atol=1e-3 * max(1.0, gap.abs().max().item()))


def test_bad_calls_are_refused(tiny):
    with pytest.raises(ValueError, match="registered: saliency"):
        explain(tiny, torch.rand(1, 1, 8, 8), 0, "shap")
    with pytest.raises(ValueError, match="targets for"):
        explain(tiny, torch.rand(2, 1, 8, 8), torch.tensor([0, 1, 2]), "saliency")
    with pytest.raises(ValueError, match="already registered"):
        register("saliency", "x", "y", "gradient")(lambda m, x, t: x)
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ValueError, match=f"batch_size must be a positive int or None, got {bad!r}"):
            explain(tiny, torch.rand(2, 1, 8, 8), 0, "saliency", batch_size=bad)


def test_images_per_pass_keeps_the_study_sizes_and_shrinks_for_large_images():
    assert PIXELS_PER_PASS == 2 ** 19
    assert [images_per_pass((3, s, s), 64) for s in (28, 32, 64)] == [64, 64, 64]  # unchanged at the study's sizes
    assert [images_per_pass((3, s, s), 512) for s in (28, 32, 64, 224)] == [512, 512, 128, 8]
    assert images_per_pass((1, 3, 224, 224), 64) == 8 and images_per_pass((3, 224, 224), 4) == 4
    assert images_per_pass((3, 1024, 1024), 64) == 1  # larger than the budget: still one at a time


class _PassSizes(nn.Module):
    """A linear classifier on any image size that records how many images each forward pass carries."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(12, 3)
        self.sizes = []

    def forward(self, x):
        self.sizes.append(len(x))
        return self.fc(self.pool(x).flatten(1))


def test_explain_batches_large_images_by_the_pixel_budget():
    model = _PassSizes()
    side = 256  # 8 images of 256 × 256 fill the budget
    x, targets = torch.rand(20, 3, side, side), torch.zeros(20, dtype=torch.long)
    explain(model, x[:1], targets[:1], "saliency")  # (the first call also runs the model once to look for batch norms)
    model.sizes.clear()
    explain(model, x, targets, "saliency")
    assert model.sizes == [8, 8, 4]  # was one pass of 20 with a fixed batch of 64
    model.sizes.clear()
    explain(model, x[:3], targets[:3], "integrated_gradients", n_steps=16)  # 48 path points
    assert model.sizes and max(model.sizes) <= 8 and sum(model.sizes) == 48  # captum used to take 512 at once
    model.sizes.clear()
    explain(model, x, targets, "saliency", batch_size=20)  # an explicit batch size is kept
    assert model.sizes == [20]
    small = torch.rand(70, 3, 32, 32)
    model.sizes.clear()
    explain(model, small, torch.zeros(70, dtype=torch.long), "saliency")
    assert model.sizes == [64, 6]


def test_registering_a_method_is_one_entry(tiny):
    @register("test_constant", "Constant", "none", "gradient")
    def _constant(model, x, target):
        return torch.ones_like(x)

    try:
        assert torch.equal(explain(tiny, torch.rand(2, 1, 8, 8), 0, "test_constant"), torch.ones(2, 1, 8, 8))
    finally:
        del METHODS["test_constant"]


def test_grid_mask_and_last_conv_layer(tiny):
    mask = grid_feature_mask((1, 1, 8, 8), 4)
    assert mask.unique().tolist() == [0, 1, 2, 3] and (mask == 3).sum() == 16
    assert isinstance(last_conv_activation(tiny), nn.ReLU)
    assert last_conv_activation(tiny) is tiny.features[12]


def _patch_task(n=192, size=12, patch=3):
    """Class 1: a checkerboard patch at a random position on noise; class 0: noise only."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=g) * 0.3
    y = torch.arange(n) % 2
    boxes = random_boxes(n, size, patch, g)
    x[y == 1] = plant(x[y == 1], boxes[y == 1], checkerboard(patch))
    return x, y, boxes


def test_a_gradient_method_finds_a_planted_patch(tmp_path):
    x, y, boxes = _patch_task()
    data = ImageDataset("patch-task", x[:128], y[:128], x[128:], y[128:], ("plain", "patch"))
    model = train_classifier("plain", data, epochs=6, batch_size=16, lr=1e-2, seed=0, device="cpu", augment=False,
                             cache_dir=str(tmp_path), progress="none", model_kwargs={"width": 8, "hidden": 16},
                             ).model
    test = torch.nonzero(y[128:] == 1).flatten() + 128
    for method in ("saliency", "integrated_gradients"):  # (Grad-CAM at 6x6 is too coarse for a 12x12 image)
        heat = heatmap(explain(model, x[test], 1, method))
        assert em.pointing_game(heat, boxes[test]).mean() >= 0.8, method


def test_deletion_auc_of_a_perfect_attribution_beats_random():
    torch.manual_seed(0)
    w = torch.zeros(2, 64)
    w[0, :8] = 0.4  # class 0 evidence lives in the first row only (logit ≈ 3.2: not saturated)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        model[1].weight.copy_(w)
        model[1].bias.zero_()
    x = torch.rand(16, 1, 8, 8) * 0.2
    x[:, :, 0] = 1.0  # a bright first row on a dark image, so that blurring also removes evidence
    y = torch.zeros(16, dtype=torch.long)
    perfect = (x[:, 0] * w[0].view(8, 8))
    rand = em.random_heatmap(perfect.shape, torch.Generator().manual_seed(0))
    for kind in ("zero", "blur"):
        d_perfect, i_perfect = em.deletion_insertion_curves(model, x, y, perfect, kind, steps=16)
        d_random, i_random = em.deletion_insertion_curves(model, x, y, rand, kind, steps=16)
        assert em.curve_auc(d_perfect) < em.curve_auc(d_random)
        assert em.curve_auc(i_perfect) > em.curve_auc(i_random)
    # The curves start at the unmodified image (deletion) and at the substrate (insertion).
    assert np.allclose(d_perfect[:, 0], torch.softmax(model(x), 1)[:, 0].detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("n, batch_size, passes", [(1, 1024, 1), (5, 1024, 1), (5, 20, 5), (7, 3, 3 * 2 * 9)])
def test_deletion_curves_share_forward_passes_and_equal_one_pass_per_step(tiny, n, batch_size, passes):
    """The steps' perturbed images go through the model together (at most ``batch_size`` per pass) and give the
    same probabilities as one pass per step and curve. Old code: 2 × (steps + 1) passes for any n."""
    x, heat = torch.rand(n, 1, 8, 8), torch.rand(n, 8, 8)
    y = torch.arange(n) % 10
    calls = []
    hook = tiny.register_forward_hook(lambda module, inputs, output: calls.append(len(inputs[0])))
    try:
        deletion, insertion = em.deletion_insertion_curves(tiny, x, y, heat, "noise", steps=8, batch_size=batch_size,
                                                           generator=torch.Generator().manual_seed(3))
    finally:
        hook.remove()
    assert len(calls) == passes and max(calls) <= max(batch_size, n) and sum(calls) == 2 * 9 * n
    # Reference: one pass per step and curve, the perturbations built by hand.
    fill = em.substrate(x, "noise", torch.Generator().manual_seed(3))
    order = em.pixel_order(heat)
    with torch.no_grad():
        for k, count in enumerate(torch.linspace(0, 64, 9).round().long()):
            removed = torch.zeros(n, 64, dtype=torch.bool)
            removed[torch.arange(n)[:, None], order[:, :count]] = True
            removed = removed.view(n, 1, 8, 8)
            for curve, img in ((deletion, torch.where(removed, fill, x)), (insertion, torch.where(removed, x, fill))):
                expected = torch.softmax(tiny(img), 1)[torch.arange(n), y].numpy()
                assert np.allclose(curve[:, k], expected, atol=1e-6)


def test_curve_auc_of_known_curves():
    assert em.curve_auc(np.ones((2, 5))) == pytest.approx(1.0)
    assert em.curve_auc(np.linspace(0, 1, 11)[None]) == pytest.approx(0.5)


def test_attenuation_identity_at_one_and_ablation_at_zero(tiny):
    x = torch.rand(5, 1, 8, 8)
    y = torch.arange(5)
    layer = last_conv_activation(tiny)
    effect = attenuation_effect(tiny, layer, x, y, [0, 2], [1.0, 0.0])
    assert np.allclose(effect[0], 0.0, atol=1e-6)
    # Ablation by hand: zero the channels with a hook.
    handle = layer.register_forward_hook(lambda m, i, o: o * torch.tensor([0.0, 1, 0, 1, 1, 1, 1, 1]).view(1, -1, 1, 1))
    with torch.no_grad():
        ablated = tiny(x)[torch.arange(5), y]
    handle.remove()
    with torch.no_grad():
        base = tiny(x)[torch.arange(5), y]
    assert np.allclose(effect[1], (base - ablated).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="alpha"):
        with attenuated(layer, [0], 1.5):
            pass


def test_attenuation_effect_is_zero_at_alpha_one_without_a_pass_and_matches_a_hooked_pass_elsewhere():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3)).eval()
    x, y = torch.rand(3, 1, 6, 6), torch.tensor([0, 1, 2])
    calls = []
    handle = model[0].register_forward_hook(lambda *_: calls.append(1))
    effect = attenuation_effect(model, model[1], x, y, [1, 2], [0.0, 0.5, 1.0])
    handle.remove()
    assert len(calls) == 3  # the unattenuated pass, then alpha 0 and 0.5 (alpha 1 changes nothing)
    assert np.array_equal(effect[2], np.zeros(3))
    scale = torch.tensor([1.0, 0.5, 0.5, 1.0]).view(1, -1, 1, 1)
    with torch.no_grad():
        half = model[2:](model[:2](x) * scale)[torch.arange(3), y]
        expected = model(x)[torch.arange(3), y] - half
    assert np.allclose(effect[1], expected.numpy(), atol=1e-6)


def test_taylor_prediction_is_exact_when_the_logit_is_linear_in_the_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 3)).eval()
    x, y = torch.rand(6, 1, 6, 6), torch.tensor([0, 1, 2, 0, 1, 2])
    layer = model[1]
    scores = taylor_channel_scores(model, layer, x, y)
    alphas = [0.0, 0.3, 1.0]
    measured = attenuation_effect(model, layer, x, y, [1, 3], alphas)
    assert np.allclose(measured, taylor_prediction(scores, [1, 3], alphas), atol=1e-5)


def test_sanity_similarity_is_one_for_the_unrandomised_model_and_falls_for_saliency(tiny):
    x = torch.rand(4, 1, 8, 8) * 0.8 + 0.2
    y = torch.arange(4)
    records = em.cascading_randomization(tiny, x, y, "saliency", seed=0)
    assert records[0]["spearman"] == pytest.approx(1.0) and records[0]["ssim"] == pytest.approx(1.0)
    assert [r["layer"] for r in records[1:]] == [name for name, _ in reversed(em.parameter_layers(tiny))]
    assert records[-1]["spearman"] < 0.9
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    em.cascading_randomization(tiny, x, y, "saliency", seed=0)
    assert all(torch.equal(before[k], v) for k, v in tiny.state_dict().items()), "the model passed in was changed"


def test_a_residual_block_is_one_step_of_the_cascade_and_the_fully_randomised_model_is_the_same():
    """ResNet-18: 10 steps (stem, 8 basic blocks, head) instead of 22 layers; the layers are re-drawn in the same
    order as layer by layer, so the last step's map equals that of the model randomised layer by layer."""
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=3).eval()
    steps = em.randomisation_steps(net)
    assert [name for name, _ in steps] == ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0",
                                           "layer3.1", "layer4.0", "layer4.1", "fc"]
    assert sum(len(groups) for _, groups in steps) == len(em.parameter_layers(net)) == 21
    assert [len(groups) for _, groups in steps][3] == 3  # layer2.0: two convolutions and the downsampling one
    x, y = torch.rand(2, 3, 32, 32), torch.tensor([0, 2])
    records = em.cascading_randomization(net, x, y, "saliency", seed=3)
    assert [r["layer"] for r in records[1:]] == [name for name, _ in reversed(steps)]
    layer_by_layer = copy.deepcopy(net)
    generator = torch.Generator().manual_seed(3)
    for _, modules in reversed(em.parameter_layers(layer_by_layer)):
        em.reinitialise(modules, generator)
    reference, randomised = (em.heatmap(explain(m, x, y, "saliency")) for m in (net, layer_by_layer))
    expected = em.foreground_spearman(reference, randomised, x.amax(1) > 0.1)
    assert records[-1]["spearman"] == pytest.approx(float(np.nan_to_num(expected, nan=0.0).mean()), abs=1e-12)


def test_a_plain_cnn_is_randomised_layer_by_layer(tiny):
    steps = em.randomisation_steps(tiny)
    assert [(name, groups) for name, groups in steps] == [(name, [modules]) for name, modules in em.parameter_layers(tiny)]


def test_pointing_game_mass_and_sparseness_on_constructed_maps():
    heat = torch.zeros(2, 10, 10)
    heat[0, 2, 3] = 1.0  # inside the box of image 0
    heat[1, 9, 9] = 1.0  # far outside the box of image 1
    boxes = torch.tensor([[1, 2, 3, 3], [0, 0, 3, 3]])
    assert em.pointing_game(heat, boxes).tolist() == [1.0, 0.0]
    assert relevance_mass_accuracy(heat, boxes).tolist() == [1.0, 0.0]
    assert sparseness(torch.ones(1, 10, 10))[0] == pytest.approx(0.0)
    assert sparseness(heat)[0] == pytest.approx(0.99)


def test_rank_agreement_of_identical_and_reversed_maps():
    a = torch.rand(3, 8, 8)
    rho, overlap = em.rank_agreement(a, a)
    assert np.allclose(rho, 1) and np.allclose(overlap, 1)
    rho, overlap = em.rank_agreement(a, -a)
    assert np.allclose(rho, -1) and np.allclose(overlap, 0)


def test_shortcut_dataset_plants_and_relabels():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(40, 1, 12, 12)
    y = torch.arange(40) % 4
    data = ImageDataset("toy", x, y, x[:8], y[:8], ("a", "b", "c", "d"))
    sd = shortcut_dataset(data, 2, patch=3, fraction=0.5)
    patched = sd.train_x.flatten(1).sum(1) > 0
    assert (sd.train_y[patched] == 2).all() and patched[y == 2].all()
    assert patched.sum() == 10 + 15 and sd.info["shortcut"]["relabelled"] == 15
    assert torch.equal(sd.test_x, data.test_x)
    with pytest.raises(ValueError, match="target_class"):
        shortcut_dataset(data, 7)


def _linear_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).eval()
    return model


def test_infidelity_is_zero_for_the_exact_attribution_of_a_linear_model_and_not_for_noise():
    model = _linear_model()
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    exact = model[1].weight[y].detach().view(6, 1, 8, 8)  # f(x) - f(x - I) = w_c · I exactly
    assert em.infidelity_score(model, x, y, exact) < 1e-10
    noise = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    assert em.infidelity_score(model, x, y, noise) > 1e-4
    # Seeded: the same perturbations every time.
    assert em.infidelity_score(model, x, y, noise, seed=3) == em.infidelity_score(model, x, y, noise, seed=3)


def test_max_sensitivity_is_zero_for_an_input_independent_explanation_and_positive_for_saliency(tiny):
    x, y = torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 2])
    model = _linear_model()
    assert em.max_sensitivity(model, x, y, "saliency") == pytest.approx(0.0, abs=1e-6)  # gradient of a linear model
    assert em.max_sensitivity(tiny, x, y, "input_x_gradient") > 0


def test_foreground_spearman_and_ssim_on_constructed_maps():
    a = torch.arange(16.0).view(1, 4, 4)
    fg = torch.zeros(1, 4, 4, dtype=torch.bool)
    fg[0, :2] = True
    assert em.foreground_spearman(a, a * 2 + 1, fg)[0] == pytest.approx(1.0)
    assert em.foreground_spearman(a, -a, fg)[0] == pytest.approx(-1.0)
    assert np.isnan(em.foreground_spearman(a, torch.zeros_like(a), fg)[0])  # a constant map has no ranking
    b = torch.rand(1, 16, 16)
    assert em.map_ssim(b, b)[0] == pytest.approx(1.0)
    assert em.map_ssim(b, torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(5)))[0] < 0.5


def test_pointing_game_counts_the_share_of_tied_maxima_inside_and_chance_level():
    heat = torch.zeros(1, 8, 8)
    heat[0, 4:8, 4:8] = 1.0  # a block-shaped map: 16 tied maxima, 4 of them inside the box
    box = torch.tensor([[6, 6, 2, 2]])
    assert em.pointing_game(heat, box, tolerance=0)[0] == pytest.approx(4 / 16)  # not 1: any tie used to count
    assert em.pointing_chance(box, 8, 8, tolerance=0) == pytest.approx(4 / 64)


def test_ties_are_broken_in_one_random_order_not_raster_order():
    heat = torch.zeros(2, 4, 4)
    heat[:, 0, 0] = 1.0
    order = em.pixel_order(heat, tie_seed=0)
    assert (order[:, 0] == 0).all()
    assert torch.equal(order[0], order[1])  # the same tie order for every map
    assert not torch.equal(order[0, 1:], torch.arange(1, 16))


@pytest.mark.parametrize("baseline", ["black", "blur", "noise", 0.25])
def test_integrated_gradients_is_complete_from_each_named_baseline(baseline):
    """Σ IG = f(x) − f(x′) for the baseline x′ the name stands for: the blurred image, seeded noise, a constant."""
    torch.manual_seed(1)
    model = PlainCNN(width=4, hidden=8, image_size=16).double().eval()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    attr = explain(model, x, 1, "integrated_gradients", n_steps=256, baseline=baseline, seed=5)
    if baseline == "noise":  # explain seeds torch's global generator with batch_seed(seed, 0) before the method runs
        from xai_helpers.cnn.attribution import batch_seed
        torch.manual_seed(batch_seed(5, 0))
    reference = {"black": torch.zeros_like(x), "blur": em.substrate(x, "blur"),
                 "noise": torch.rand(x.shape).to(x) if baseline == "noise" else None,
                 0.25: torch.full_like(x, 0.25)}[baseline]
    with torch.no_grad():
        gap = model(x)[:, 1] - model(reference)[:, 1]
    np.testing.assert_allclose(attr.sum((1, 2, 3)).numpy(), gap.numpy(), rtol=2e-2, atol=1e-7)
    assert gap.abs().min() > 1e-5  # a gap to explain (else completeness would hold trivially)
    again = explain(model, x, 1, "integrated_gradients", n_steps=256, baseline=baseline, seed=5)
    assert torch.equal(attr, again)


def test_integrated_gradients_refuses_an_unknown_baseline_naming_the_allowed_ones():
    with pytest.raises(ValueError, match="black, blur, noise"):
        explain(PlainCNN(width=4, hidden=8, image_size=8).eval(), torch.rand(1, 1, 8, 8), 0, "integrated_gradients",
                baseline="grey")


def test_sanity_records_take_per_image_absolute_spearman_over_maps_that_are_not_constant(tiny, monkeypatch):
    """Issue 29, item 5: a mean of signed ρ lets +0.66 and −0.36 cancel (|mean| 0.15); a constant map (NaN)
    has no ranking and is left out of |ρ|, counted in the degenerate share."""
    rho = np.array([0.66, -0.36, np.nan, 0.3])
    monkeypatch.setattr(em, "foreground_spearman", lambda a, b, f: rho)
    record = em.cascading_randomization(tiny, torch.rand(4, 1, 8, 8), torch.arange(4), "saliency")[-1]
    assert record["abs_spearman"] == pytest.approx((0.66 + 0.36 + 0.3) / 3)
    assert record["spearman"] == pytest.approx((0.66 - 0.36 + 0.3) / 4)  # the signed mean, a constant map as 0
    assert record["degenerate"] == 1 and record["degenerate_share"] == 0.25


def test_sanity_pass_reads_the_same_figure_the_ranking_does():
    sanity = pd.DataFrame([
        {"method": "saliency", "step": 3, "spearman": 0.0, "abs_spearman": 0.1, "ssim": 0.1, "degenerate": 1,
         "degenerate_share": 0.125},  # one constant map of 8: still a pass
        {"method": "grad_cam", "step": 3, "spearman": 0.1, "abs_spearman": 0.24, "ssim": 0.2, "degenerate": 5,
         "degenerate_share": 0.625},  # mostly constant: no pass
        {"method": "guided_backprop", "step": 3, "spearman": -0.54, "abs_spearman": 0.54, "ssim": 0.5,
         "degenerate": 0, "degenerate_share": 0.0},  # strongly negative: the structure is kept, inverted
        {"method": "blank", "step": 3, "spearman": 0.0, "abs_spearman": np.nan, "ssim": 0.0, "degenerate": 8,
         "degenerate_share": 1.0},
        {"method": "saliency", "step": 0, "spearman": 1.0, "abs_spearman": 1.0, "ssim": 1.0, "degenerate": 0,
         "degenerate_share": 0.0}]).assign(complexity_change=[0.2, 0.0, -0.1, np.nan, 0.0])
    summary = sanity_summary(sanity, threshold=0.3)
    assert summary.loc["saliency", "efficient_mprt"] == 0.2  # Efficient MPRT: the last step's entropy change
    assert summary["passes"].to_dict() == {"saliency": True, "grad_cam": False, "guided_backprop": False, "blank": False}
    assert summary.loc["saliency", "abs_spearman_after_full_randomisation"] == 0.1
    assert summary.loc["grad_cam", "degenerate_share"] == 0.625


def test_max_sensitivity_perturbs_from_its_seed_not_the_global_stream(tiny):
    """Issue 29 (low): captum's sensitivity_max drew its perturbations from torch's global generator, so each
    method of 02 was scored under other noise (a 5-7 % spread). Now the seed decides, and the caller's stream is
    left as it was."""
    x, y = torch.rand(3, 1, 8, 8), torch.tensor([0, 1, 2])
    torch.manual_seed(1)
    first = em.max_sensitivity(tiny, x, y, "input_x_gradient", seed=4)
    after = torch.rand(1)
    torch.manual_seed(2)
    assert em.max_sensitivity(tiny, x, y, "input_x_gradient", seed=4) == first
    torch.manual_seed(1)
    em.max_sensitivity(tiny, x, y, "input_x_gradient", seed=4)
    assert torch.equal(torch.rand(1), after)  # the global stream is untouched
    assert em.max_sensitivity(tiny, x, y, "input_x_gradient", seed=5) != first


def test_cross_image_similarity_tells_input_independent_maps_from_input_dependent_ones():
    g = torch.Generator().manual_seed(0)
    template = torch.rand(2, 8, 8, generator=g)
    targets = torch.tensor([0, 0, 0, 1, 1, 1])
    same = template[targets] * torch.rand(6, 1, 1, generator=g)  # one map per class, only its scale varies
    assert em.cross_image_similarity(same, targets) == pytest.approx(1.0)
    assert abs(em.cross_image_similarity(torch.rand(6, 8, 8, generator=g), targets)) < 0.3
    assert np.isnan(em.cross_image_similarity(torch.rand(2, 8, 8), torch.tensor([0, 1])))  # no pair of one class
