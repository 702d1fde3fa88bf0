"""Batch norms folded into their convolutions for explaining: the same function, only where nothing else reads the
convolution's output, names and hooks kept, and a copy remembered only while the model stays the same."""
import pytest
import torch
import torchvision
from captum.attr import LayerGradCam, Saliency
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from xai_helpers.cnn.attribution import explain
from xai_helpers.cnn.batch_norm_folding import fold_batch_norms, foldable_pairs, folded_for_explaining
from xai_helpers.cnn.captum_ready import make_captum_ready


def _with_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine parameters (fresh ones are 0/1: folding them would be a no-op)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) - 0.5)
    return model.eval()


def _names(model):
    return {n for n, _ in model.named_modules()}


@pytest.mark.parametrize("name, pairs", [("resnet18", 20), ("mobilenet_v3_small", 34), ("vgg11_bn", 8)])
def test_torchvision_models_fold_to_the_same_function_with_their_names_kept(name, pairs):
    torch.manual_seed(0)
    model = _with_statistics(getattr(torchvision.models, name)(num_classes=5))
    make_captum_ready(model, torch.zeros(1, 3, 32, 32))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(4, 3, 32, 32)
    folded, found = fold_batch_norms(model, x[:1])
    assert len(found) == pairs
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert all(isinstance(folded.get_submodule(norm), nn.Identity) for _, norm in found)
    assert _names(folded) == _names(model)  # a layer named by the user is still there
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), rtol=1e-4, atol=1e-4)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # the model is not touched
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


class _ConvReadTwice(nn.Module):
    """The convolution's output feeds the batch norm and, functionally, a skip connection."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        z = self.conv(x)
        return self.head((self.bn(z) + z).mean((2, 3)))


def test_a_convolution_whose_output_is_read_elsewhere_is_not_folded():
    torch.manual_seed(0)
    model = _with_statistics(_ConvReadTwice())
    x = torch.rand(3, 3, 8, 8)
    assert foldable_pairs(model, x[:1]) == []
    folded, pairs = fold_batch_norms(model, x[:1])
    assert pairs == [] and folded is model  # nothing to fold: no copy
    # Folding it anyway changes the function (the skip connection would read the normalised map): the check matters.
    naive = _ConvReadTwice().eval()
    naive.load_state_dict(model.state_dict())
    naive.conv, naive.bn = fuse_conv_bn_eval(naive.conv, naive.bn), nn.Identity()
    with torch.no_grad():
        assert not torch.allclose(naive(x), model(x), atol=1e-3)


class _SharedConv(nn.Module):
    """One convolution called twice, each output normalised by its own batch norm."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn_a, self.bn_b = nn.BatchNorm2d(4), nn.BatchNorm2d(4)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        a, b = self.bn_a(self.conv(x)), self.bn_b(self.conv(x.flip(-1)))
        return self.head(torch.cat([a, b], 1).mean((2, 3)))


def _stack():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1),
                         nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))


def test_a_shared_convolution_and_a_kept_one_are_not_folded():
    torch.manual_seed(0)
    assert foldable_pairs(_with_statistics(_SharedConv()), torch.rand(1, 3, 8, 8)) == []
    model = _with_statistics(_stack())
    x = torch.rand(1, 3, 8, 8)
    assert foldable_pairs(model, x) == [("0", "1"), ("3", "4")]
    assert foldable_pairs(model, x, keep=[model[3]]) == [("0", "1")]


def test_a_torchscript_model_comes_back_as_it_is():
    torch.manual_seed(0)
    scripted = torch.jit.script(_with_statistics(_stack()))
    folded, pairs = fold_batch_norms(scripted, torch.rand(1, 3, 8, 8))
    assert folded is scripted and pairs == []


def test_the_folded_copy_is_remembered_until_the_weights_change_even_through_data():
    torch.manual_seed(0)
    model = _with_statistics(_stack())
    x = torch.rand(2, 3, 8, 8)
    first, _ = folded_for_explaining(model, x[:1])
    assert first is not model and folded_for_explaining(model, x[:1])[0] is first
    model[1].weight.data.mul_(2)  # a write through .data: no version counter sees it
    second, _ = folded_for_explaining(model, x[:1])
    assert second is not first
    with torch.no_grad():
        assert torch.allclose(second(x), model(x), atol=1e-5)
        model[4].running_var.add_(1.0)
    third, _ = folded_for_explaining(model, x[:1])
    assert third is not second
    with torch.no_grad():
        assert torch.allclose(third(x), model(x), atol=1e-5)
    model[5] = nn.Tanh()  # a parameter-free module swapped
    fourth, _ = folded_for_explaining(model, x[:1])
    assert fourth is not third
    # Keeping a convolution is another copy, and both are remembered (Saliency and Grad-CAM alternate in a study);
    # keeping a module that is not a convolution changes nothing.
    kept, _ = folded_for_explaining(model, x[:1], keep=[model[3]])
    assert kept is not fourth and isinstance(kept[4], nn.BatchNorm2d) and isinstance(fourth[4], nn.Identity)
    assert folded_for_explaining(model, x[:1])[0] is fourth
    assert folded_for_explaining(model, x[:1], keep=[model[3]])[0] is kept
    assert folded_for_explaining(model, x[:1], keep=[model[5]])[0] is fourth


def test_explain_on_the_folded_copy_matches_captum_on_the_model():
    torch.manual_seed(0)
    model = _with_statistics(_stack())
    x, targets = torch.rand(4, 3, 8, 8), torch.tensor([0, 1, 2, 0])
    assert torch.allclose(explain(model, x, targets, "saliency"),
                          Saliency(model).attribute(x.clone().requires_grad_(), target=targets), rtol=1e-4, atol=1e-6)
    # Grad-CAM on a convolution that has a batch norm after it: the convolution's own output is what it reads,
    # so that pair stays (folded, the map would be of the normalised output).
    layer = model[3]
    reference = LayerGradCam(model, layer).attribute(x, target=targets, relu_attributions=True)
    cam = explain(model, x, targets, "grad_cam", layer=layer)[:, 0]
    up = nn.functional.interpolate(reference, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(cam, up, rtol=1e-4, atol=1e-6)
    folded_cam = LayerGradCam(model, model[4]).attribute(x, target=targets, relu_attributions=True)
    assert not torch.allclose(folded_cam, reference, atol=1e-3)  # what a folded pair would have given


def test_a_channels_last_model_gets_contiguous_attributions_that_captum_metrics_can_read():
    from xai_helpers.cnn import explanation_metrics as em
    from xai_helpers.cnn.captum_ready import CHANNELS_LAST_MIN_SIDE, ImageClassifier

    torch.manual_seed(0)
    model = ImageClassifier(_with_statistics(_stack()), in_channels=3, net_channels=3, layers={"gradcam": "2"})
    model.use_channels_last(CHANNELS_LAST_MIN_SIDE)
    assert model.channels_last
    x = torch.rand(2, 3, CHANNELS_LAST_MIN_SIDE, CHANNELS_LAST_MIN_SIDE)
    for method in ("saliency", "grad_cam"):
        assert explain(model, x, 0, method).is_contiguous()
    # captum's sensitivity_max .view()s the maps: it raised on channels-last gradients before.
    assert em.max_sensitivity(model, x, torch.tensor([0, 1]), "saliency", n_perturb=2) >= 0


def test_the_folded_copy_follows_hooks_added_or_removed_after_it_was_made():
    """Issue 29, item 8: the copy carries the hooks the model had when it was made; a hook added afterwards was
    ignored (and one removed kept acting) because the fingerprint did not look at hooks."""
    torch.manual_seed(0)
    model = _with_statistics(_stack())
    x = torch.rand(2, 3, 8, 8)
    first, _ = folded_for_explaining(model, x[:1])
    handle = model[5].register_forward_hook(lambda module, inputs, output: output * 0.5)
    with_hook, _ = folded_for_explaining(model, x[:1])
    with torch.no_grad():
        assert with_hook is not first and torch.allclose(with_hook(x), model(x), atol=1e-5)
    handle.remove()
    without, _ = folded_for_explaining(model, x[:1])
    with torch.no_grad():
        assert torch.allclose(without(x), model(x), atol=1e-5) and not torch.allclose(with_hook(x), model(x))


def test_a_weight_permutation_written_through_data_makes_a_new_copy():
    """Issue 29, item 8: permuting a convolution's filters through ``.data`` changes neither a version counter nor
    an XOR of the bits; the digest sees it."""
    torch.manual_seed(0)
    model = _with_statistics(_stack())
    x = torch.rand(2, 3, 8, 8)
    first, _ = folded_for_explaining(model, x[:1])
    weight = model[0].weight.data
    weight[:] = weight[torch.arange(len(weight) - 1, -1, -1)].clone()
    second, _ = folded_for_explaining(model, x[:1])
    with torch.no_grad():
        assert second is not first and torch.allclose(second(x), model(x), atol=1e-5)


class _MaskedByItsConvolution(nn.Module):
    """Reads the convolution's output without a gradient (``z > 0``) besides its batch norm: folding changes z."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.head = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Linear(4 * 64, 2)

    def forward(self, x):
        z = self.conv(x)
        mask = (z > 0).float()
        return self.head((self.bn(z) * mask).flatten(1))


def test_a_model_that_folding_would_change_is_explained_unfolded():
    """Issue 29, item 8: the autograd graph misses the ``z > 0`` read, so the pair was folded and Saliency moved
    53 %. The copy is checked against the model on the example and the model itself is explained."""
    torch.manual_seed(0)
    model = _with_statistics(_MaskedByItsConvolution())
    x = torch.rand(4, 3, 8, 8)
    assert foldable_pairs(model, x[:1]) == [("conv", "bn")]  # the graph alone says it may be folded
    with pytest.warns(RuntimeWarning, match="changed its outputs"):
        folded, _ = folded_for_explaining(model, x[:1])
    assert folded is model
    reference = Saliency(model).attribute(x.clone().requires_grad_(True), target=0)  # |gradient|, as explain()
    assert torch.allclose(explain(model, x, 0, "saliency"), reference, atol=1e-6)


def test_fold_false_explains_the_model_itself_without_making_or_checking_a_copy(monkeypatch):
    """The explorer's path (one image per answer): no folded copy is made or fingerprinted, and the maps are the
    folded path's up to float rounding, for a gradient and a layer method."""
    import xai_helpers.cnn.attribution as attribution

    torch.manual_seed(0)
    model = _with_statistics(torchvision.models.resnet18(num_classes=5))
    make_captum_ready(model, torch.zeros(1, 3, 32, 32))
    x, targets = torch.rand(2, 3, 32, 32), torch.tensor([1, 3])
    layer = model.layer4
    folded = {m: explain(model, x, targets, m, layer=layer) if m == "grad_cam" else explain(model, x, targets, m)
              for m in ("saliency", "grad_cam")}

    def no_copy(*args, **kwargs):
        raise AssertionError("fold=False made or checked a folded copy")

    monkeypatch.setattr(attribution, "folded_for_explaining", no_copy)
    for method, expected in folded.items():
        options = {"layer": layer} if method == "grad_cam" else {}
        got = explain(model, x, targets, method, fold=False, **options)
        assert torch.allclose(got, expected, rtol=1e-3, atol=1e-5), method
    with pytest.raises(AssertionError, match="fold=False made"):
        explain(model, x, targets, "saliency")  # the folded path does use it
