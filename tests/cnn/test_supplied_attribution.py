"""Attribution on supplied classifiers and large images: superpixels, methods that cannot explain a model, LRP's
conservation check, a wide layer's attenuation, variants fine-tuned from a supplied model."""
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from xai_helpers.cnn import conv_activation_layers, explain, method_options
from xai_helpers.cnn.attenuation import attenuation_channels
from xai_helpers.cnn.attribution_study import applicable_methods
from xai_helpers.cnn.captum_ready import ImageClassifier
from xai_helpers.cnn.feature_level import channel_objective
from xai_helpers.cnn.model_sources import attach_layers, variant_settings
from xai_helpers.cnn.models import PlainCNN, torchvision_classifier
from xai_helpers.cnn.superpixels import SUPERPIXEL_MIN_SIDE, grid_segments, slic_masks
from xai_helpers.cnn.train import train_classifier
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.study.model_parameters import model_spec


def _two_tone(n=2, side=64):
    """Images whose left half is red and right half blue, with noise: an edge SLIC must not cross."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, side, side, generator=g) * 0.05
    x[:, 0, :, : side // 2] += 0.9
    x[:, 2, :, side // 2:] += 0.9
    return x.clamp(0, 1)


def test_slic_superpixels_follow_edges_are_numbered_from_zero_and_repeat():
    x = _two_tone()
    masks = slic_masks(x, 32)
    assert masks.shape == x.shape and masks.dtype == torch.long and torch.equal(masks, slic_masks(x, 32))
    for m in masks[:, 0]:
        labels = torch.unique(m)
        assert torch.equal(labels, torch.arange(len(labels))) and 16 <= len(labels) <= 48
        # No superpixel crosses the red-blue edge (between columns 31 and 32) by more than the one column that
        # SLIC's Gaussian pre-smoothing blurs.
        left, right = set(m[:, :31].unique().tolist()), set(m[:, 33:].unique().tolist())
        assert not left & right
    gray = slic_masks(x[:, :1], 16)
    assert gray.shape == (2, 1, 64, 64)
    with pytest.raises(ValueError, match="n_segments = 1 is not allowed"):
        slic_masks(x, 1)


def test_noisy_or_plain_images_keep_their_superpixels_and_kernel_shap_runs_on_them():
    """Regression: SLIC rescales each image to [0, 1], so a plain image with faint noise came back as one region and
    KernelSHAP's sampling weights were 0/0 (CI, a supplied ResNet-18's smooth MPRT on a blank-class image)."""
    g = torch.Generator().manual_seed(0)
    plain = 0.5 + 0.001 * torch.randn(2, 3, 64, 64, generator=g)
    assert all(int(m.max()) + 1 >= 32 for m in slic_masks(plain, 64)[:, 0])
    noisy = _two_tone(2) + 0.1 * torch.randn(2, 3, 64, 64, generator=g)  # smooth MPRT's noise: 10 % of the range
    clean_counts = [int(m.max()) + 1 for m in slic_masks(_two_tone(2), 32)[:, 0]]
    noisy_counts = [int(m.max()) + 1 for m in slic_masks(noisy, 32)[:, 0]]
    assert all(n >= c // 2 for n, c in zip(noisy_counts, clean_counts))
    attr = explain(RedLeftScore(), plain[:1], 0, "kernel_shap", superpixels=64, n_samples=40)
    assert torch.isfinite(attr).all()


def test_an_image_slic_cannot_split_gets_the_regular_grid(monkeypatch):
    import skimage.segmentation

    monkeypatch.setattr(skimage.segmentation, "slic", lambda image, **kw: np.zeros(image.shape[:2], int))
    masks = slic_masks(_two_tone(1), 16)[0, 0]
    assert torch.equal(masks, torch.from_numpy(grid_segments((64, 64), 16)).long())
    assert len(torch.unique(masks)) == 16 and masks[0, 0] != masks[-1, -1]
    for shape, n in [((64, 64), 64), ((224, 100), 64), ((1, 2), 64), ((5, 5), 2)]:
        labels = np.unique(grid_segments(shape, n))
        assert np.array_equal(labels, np.arange(len(labels))) and 2 <= len(labels) <= 1.5 * n


class RedLeftScore(nn.Module):
    """Class 0's logit is the mean red of the image's top-left quarter; class 1's its opposite."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        s = x[:, 0, :16, :16].mean((1, 2)) * self.scale
        return torch.stack([s, -s], 1)


def test_on_large_images_perturbation_methods_work_on_superpixels():
    x = _two_tone(1)
    options = method_options({"ig_steps": 4, "smoothgrad_samples": 2, "lime_samples": 40}, image_side=64)
    assert all(options[m]["superpixels"] == 64 for m in ("occlusion", "lime", "kernel_shap"))
    assert "superpixels" not in method_options({"ig_steps": 4, "smoothgrad_samples": 2, "lime_samples": 40},
                                               image_side=SUPERPIXEL_MIN_SIDE - 1).get("occlusion", {})
    model = RedLeftScore()
    masks = slic_masks(x, 64)[0, 0]
    for method in ("occlusion", "lime", "kernel_shap"):
        attr = explain(model, x, 0, method, **options[method])[0, 0]
        for label in torch.unique(masks):  # one value per superpixel
            values = attr[masks == label]
            assert torch.allclose(values, values[0].expand_as(values))
        assert attr[:16, :16].mean() > 3 * attr[:, 40:].abs().mean()  # the scored corner stands out
        if method == "occlusion":  # exact: removing a superpixel away from the corner changes nothing
            away = torch.unique(masks[:, 40:])
            away = away[~torch.isin(away, torch.unique(masks[:16, :16]))]
            assert attr[torch.isin(masks, away)].abs().max() == 0


def test_lrp_explains_the_study_cnn_resnets_and_vggs_and_conserves_on_them():
    """tests/cnn/test_relevance.py checks the backends against zennit and captum; here, through explain()."""
    torch.manual_seed(0)
    plain = PlainCNN().eval()
    x = torch.rand(3, 1, 28, 28)
    assert explain(plain, x, 1, "lrp").shape == x.shape
    resnet = torchvision_classifier("resnet18", 3, 10, 32).eval()  # once refused: captum has no residual rule
    x = torch.rand(3, 3, 32, 32)
    assert torch.isfinite(explain(resnet, x, 1, "lrp")).all()
    vgg = torchvision_classifier("vgg11", 3, 10, 32).eval()  # no skip connections: captum's rules hold
    x = torch.rand(2, 3, 32, 32)
    relevance = explain(vgg, x, 1, "lrp")
    with torch.no_grad():  # conserved: the relevances sum to the logit (the biases are zero at initialisation)
        assert torch.allclose(relevance.flatten(1).sum(1), vgg(x)[:, 1], rtol=1e-3, atol=1e-5)


def test_methods_that_cannot_explain_a_model_are_left_out_with_the_reason(tmp_path):
    torch.manual_seed(0)
    x, targets = torch.rand(2, 3, 32, 32), torch.tensor([0, 1])
    options = method_options({"ig_steps": 4, "smoothgrad_samples": 2, "lime_samples": 10})
    resnet = torchvision_classifier("resnet18", 3, 10, 32).eval()
    attach_layers(resnet, model_spec("torchvision", "resnet18"), (3, 32, 32))
    usable, reasons = applicable_methods(resnet, x, targets, ["saliency", "grad_cam", "lrp", "deeplift"], options)
    assert usable == ["saliency", "grad_cam", "lrp", "deeplift"] and reasons == {}
    mobilenet = torchvision_classifier("mobilenet_v2", 3, 10, 32).eval()  # ReLU6: no LRP rule in captum
    usable, reasons = applicable_methods(mobilenet, x, targets, ["saliency", "lrp"], options)
    assert usable == ["saliency"] and "ReLU6" in reasons["lrp"] and "has no rule" in reasons["lrp"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                                  nn.Flatten(), nn.Linear(4, 10)).eval())
    model = ImageClassifier(scripted, in_channels=3, net_channels=3, hookable=False)
    usable, reasons = applicable_methods(model, x, targets, ["saliency", "integrated_gradients", "grad_cam",
                                                             "guided_backprop", "occlusion"], options)
    assert usable == ["saliency", "integrated_gradients", "occlusion"]
    assert reasons == {m: "needs module hooks, which TorchScript models do not take"
                       for m in ("grad_cam", "guided_backprop")}


def test_a_wide_layer_is_attenuated_on_an_even_spread_of_its_ranking():
    order = np.arange(512)[::-1]
    chosen = attenuation_channels(order, 64)
    assert len(chosen) == 64 and 511 in chosen and 0 in chosen and np.all(np.diff(chosen) > 0)
    assert np.array_equal(attenuation_channels(np.array([3, 0, 2, 1]), 64), [0, 1, 2, 3])


def test_channel_layers_and_objectives_of_a_supplied_model():
    model = torchvision_classifier("resnet18", 3, 10, 64).eval()
    attach_layers(model, model_spec("torchvision", "resnet18"), (3, 64, 64))
    layers = conv_activation_layers(model)
    assert [name for name, _ in layers] == ["relu", "layer2", "layer4"]
    stage = dict(layers)["layer2"]  # a stage, not an activation: its output's channels (128) are the objective's
    scores = channel_objective(stage, [127, 5])(model, torch.rand(2, 3, 64, 64))
    assert scores.shape == (2,)
    with pytest.raises(LookupError, match="no channel layers chosen"):
        conv_activation_layers(torchvision_classifier("resnet18", 3, 10, 64))


def test_a_variant_of_a_supplied_model_starts_from_its_weights(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 16, 16, generator=g)
    y = torch.arange(40) % 2
    data = ImageDataset("tiny", x[:32], y[:32], x[32:], y[32:], ("a", "b"))
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 2))
    supplied = ImageClassifier(net, in_channels=3, net_channels=3).eval()
    settings = dict(epochs=1, batch_size=8, lr=1e-2, augment=False, seed=0, device="cpu",
                    cache_dir=str(tmp_path), progress="none")
    with pytest.raises(ValueError, match="init needs init_key"):
        train_classifier("mine", data, init=supplied, **settings)
    first = train_classifier("mine", data, init=supplied, init_key="supplied-aaaa", **settings)
    assert all(torch.equal(first.snapshots[0][k], v) for k, v in supplied.state_dict().items())  # its weights first
    assert not torch.equal(first.snapshots[1]["net.4.weight"], supplied.state_dict()["net.4.weight"])  # then trained
    assert torch.equal(supplied.state_dict()["net.4.weight"], net[4].weight)  # the supplied model is left alone
    other = train_classifier("mine", data, init=supplied, init_key="supplied-bbbb", **settings)
    assert other.key != first.key  # other weights, another cache entry
    assert variant_settings(model_spec(), first) == {"arch": "plain"}
    trained_here = variant_settings(model_spec("torchvision", "resnet18"), first)
    assert trained_here == {"arch": "resnet18", "init": first.model, "init_key": first.key}


def test_a_torchscript_model_is_copied_and_fine_tuned_without_touching_the_loaded_one(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 16, 16, generator=g)
    y = torch.arange(40) % 2
    data = ImageDataset("tiny", x[:32], y[:32], x[32:], y[32:], ("a", "b"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                                      nn.Flatten(), nn.Linear(4, 2))), tmp_path / "net.pt")
    from xai_helpers.cnn.model_sources import load_supplied
    supplied = load_supplied(model_spec("file", model_file=str(tmp_path / "net.pt")), data)
    before = {k: v.clone() for k, v in supplied.state_dict().items()}
    tuned = train_classifier("net", data, init=supplied, init_key="supplied-cccc", epochs=1, batch_size=8, lr=1e-2,
                             augment=False, seed=0, device="cpu", cache_dir=str(tmp_path / "cache"), progress="none")
    assert not tuned.model.hookable and isinstance(tuned.model.net, torch.jit.ScriptModule)
    assert any(not torch.equal(v, before[k]) for k, v in tuned.model.state_dict().items())
    assert all(torch.equal(v, before[k]) for k, v in supplied.state_dict().items())


def test_counts_are_scaled_by_area_only_above_64_px_and_explicit_values_win():
    from xai_helpers.cnn.attribution_study import scaled_for_image_size
    config = {"n_explain": 64, "n_sanity": 8, "n_sensitivity": 8}
    assert scaled_for_image_size(config, 64, 10) == {}  # the profiles' own scale
    at_224 = scaled_for_image_size(config, 224, 10)
    assert at_224 == {"n_explain": 10, "n_sanity": 2, "n_sensitivity": 2}  # one image per class at least
    assert scaled_for_image_size(config, 128, 3) == {"n_explain": 16, "n_sanity": 2, "n_sensitivity": 2}
    assert "n_explain" not in scaled_for_image_size(config, 224, 10, explicit={"n_explain"})
    assert scaled_for_image_size({"n_explain": 5, "n_sanity": 1, "n_sensitivity": 2}, 224, 10) == {}  # never raised


def test_a_torchscript_copy_keeps_the_class_maps_outputs():
    """clone_classifier rebuilt a TorchScript model's wrapper without its ``outputs``: the copy (the randomisation
    cascade's, the shortcut model's) gave all the model's logits rather than the mapped classes'."""
    from xai_helpers.cnn.captum_ready import clone_classifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                                  nn.Flatten(), nn.Linear(4, 6)).eval())
    model = ImageClassifier(scripted, in_channels=3, net_channels=3, hookable=False, outputs=[5, 1, 3])
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(clone_classifier(model)(x), model(x)) and model(x).shape == (2, 3)
