"""Making outside classifiers fit for captum (xai_helpers.cnn.captum_ready)."""
import copy

import pytest
import torch
import torchvision
from captum.attr import DeepLift
from torch import nn

from xai_helpers.cnn.captum_ready import ImageClassifier, PerCallActivations, call_counts, make_captum_ready


class SharedReluBlock(nn.Module):
    """A residual block that calls one ReLU twice, as torchvision's ResNet blocks do."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.conv2 = nn.Conv2d(2, 4, 3, padding=1), nn.Conv2d(4, 2, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.head = nn.Linear(2 * 6 * 6, 3)

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out) - 0.3 + x)
        return self.head(out.flatten(1))


def _completeness_gap(model, x):
    baseline = torch.zeros_like(x)
    attr = DeepLift(model).attribute(x, baselines=baseline, target=0)
    with torch.no_grad():
        delta = model(x)[:, 0] - model(baseline)[:, 0]
    return float((attr.flatten(1).sum(1) - delta).abs().max() / delta.abs().max())


def test_a_shared_relu_is_split_per_call_so_deeplift_runs_and_sums_to_the_output_difference():
    x = torch.rand(4, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    model = SharedReluBlock().eval()
    original = copy.deepcopy(model)
    with pytest.raises(RuntimeError, match="used more than once"):  # captum's DeepLift refuses the shared ReLU
        _completeness_gap(model, x)
    split = make_captum_ready(model, x[:1])
    assert split == ["relu"] and isinstance(model.relu, PerCallActivations) and len(model.relu.calls) == 2
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    assert _completeness_gap(model, x) < 1e-4
    with torch.no_grad():
        assert torch.equal(model(x), original(x))  # the same function ...
    assert model.state_dict().keys() == original.state_dict().keys()  # ... and the same state-dict keys
    assert call_counts(model, x[:1])["relu.calls.1"] == 1


def test_resnet18_is_made_ready_without_changing_its_output_or_weights_names():
    net = torchvision.models.resnet18(num_classes=5).eval()
    reference = copy.deepcopy(net)
    x = torch.rand(2, 3, 32, 32)
    split = make_captum_ready(net, x[:1])
    assert sorted(split) == sorted(f"layer{i}.{j}.relu" for i in range(1, 5) for j in range(2))
    assert "relu" not in split  # the stem's ReLU is called once
    with torch.no_grad():
        assert torch.allclose(net(x), reference(x), atol=1e-6)
        assert torch.allclose(net(x), reference(x), atol=1e-6)  # the call counter restarts every forward pass
    assert net.state_dict().keys() == reference.state_dict().keys()


def test_image_classifier_normalises_inside_and_repeats_gray_images_for_an_rgb_model():
    net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 4)).eval()
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]
    model = ImageClassifier(net, in_channels=1, net_channels=3, mean=mean, std=std)
    gray = torch.rand(3, 1, 8, 8)
    rgb = gray.expand(-1, 3, -1, -1)
    expected = net((rgb - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1))
    assert torch.allclose(model(gray), expected)
    with pytest.raises(ValueError, match="cannot read 3-channel images"):
        ImageClassifier(net, in_channels=3, net_channels=1)
    with pytest.raises(ValueError, match="both the mean and the std"):
        ImageClassifier(net, in_channels=3, net_channels=3, mean=mean)
    with pytest.raises(LookupError, match="no Grad-CAM layer chosen"):
        model.cam_layer


def test_a_classifier_at_its_input_side_resizes_other_sides_and_passes_gradients():
    from xai_helpers.cnn import AtInputSide, at_side

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    wrapped = AtInputSide(net, 48)
    small = torch.rand(2, 1, 32, 32, requires_grad=True)
    expected = net(torch.nn.functional.interpolate(small, size=(48, 48), mode="bilinear", align_corners=False))
    assert torch.allclose(wrapped(small), expected)
    wrapped(small).sum().backward()
    assert small.grad is not None and small.grad.abs().sum() > 0  # latent attributions reach the GAN's image
    big = torch.rand(1, 1, 96, 96)
    assert wrapped(big).shape == (1, 3) and not torch.allclose(  # shrinking is antialiased
        wrapped(big), net(torch.nn.functional.interpolate(big, size=(48, 48), mode="bilinear", align_corners=False)))
    assert torch.equal(wrapped(torch.ones(1, 1, 48, 48)), net(torch.ones(1, 1, 48, 48)))  # its own side: as it is
    assert at_side(net, 48, 48) is net and isinstance(at_side(net, 48, 32), AtInputSide)
    with pytest.raises(ValueError, match="side = 0 is not allowed"):
        AtInputSide(net, 0)
