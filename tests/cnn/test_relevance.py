"""LRP that conserves the explained logit (xai_helpers.cnn.relevance): zennit's composite with canonizers on
torchvision's ResNets and VGGs, captum's ε rule on the study's CNNs, and a map refused when it does not conserve."""
import warnings

import pytest
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import EpsilonPlusFlat, LayerMapComposite
from zennit.rules import Epsilon, Pass
from zennit.torchvision import ResNetCanonizer

from xai_helpers.cnn import explain
from xai_helpers.cnn import relevance
from xai_helpers.cnn.models import PlainCNN, torchvision_classifier


@pytest.fixture(scope="module")
def trained_resnet():
    """A ResNet-18 trained (to 100 % on its 128 images) to read a planted corner and the red level, at 64 px."""
    torch.manual_seed(0)
    model = torchvision_classifier("resnet18", 3, 4, 64)
    x = torch.rand(128, 3, 64, 64)
    y = (x[:, 0, :32].mean((1, 2)) * 4).long().clamp(0, 3)
    x[:, 1, :8, :8] = (y == 1).float().view(-1, 1, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(3):
        for i in range(0, 128, 32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32]).backward()
            optimiser.step()
    model.eval()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.9
        target = model(x[:8]).argmax(1)
    return model, x[:8], target


def _captum(model, x, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return relevance._captum_relevance(model, x, target)


def test_on_a_trained_resnet18_lrp_conserves_where_captums_explodes(trained_resnet):
    model, x, target = trained_resnet
    assert relevance.lrp_backend(model) == "zennit EpsilonPlusFlat (bias-free) + ResNetCanonizer"
    ours, _ = relevance.conservation(model, x, target, explain(model, x, target, "lrp"))
    theirs, _ = relevance.conservation(model, x, target, _captum(model, x, target))
    assert 0.5 <= float(ours.median()) <= 1.5 and float(ours.min()) > 0.3, ours
    assert float((ours - 1).abs().max()) < 0.01, ours  # the rules leave the biases out: each layer hands on all
    assert float(theirs.abs().median()) > 1e3, theirs  # captum has no rule for the residual addition
    # With its biases in the rules, the same composite loses to them what batch-norm folding moved there.
    with torch.no_grad():
        logits = model(x)
    start = torch.zeros_like(logits).scatter(1, target.view(-1, 1), logits.gather(1, target.view(-1, 1)))
    with Gradient(model=model, composite=EpsilonPlusFlat(canonizers=[ResNetCanonizer()])) as attributor:
        _, with_biases = attributor(x, start)
    kept, _ = relevance.conservation(model, x, target, with_biases)
    assert float((kept - 1).abs().median()) > 0.05, kept


def test_our_resnet_maps_are_zennits_own_attributor_with_the_same_composite(trained_resnet):
    model, x, target = trained_resnet
    with torch.no_grad():
        logits = model(x)
    start = torch.zeros_like(logits)
    start[torch.arange(len(x)), target] = logits[torch.arange(len(x)), target]  # the explained logit, not 1
    with Gradient(model=model, composite=EpsilonPlusFlat(zero_params="bias", canonizers=[ResNetCanonizer()])) as attributor:
        _, reference = attributor(x, start)
    assert torch.allclose(relevance.lrp(model, x, target), reference, rtol=1e-5, atol=1e-7)


def test_captums_lrp_on_the_study_cnn_is_zennits_epsilon_rule():
    """Where captum's rules cover every layer it stays, and it agrees with zennit's ε rule there."""
    torch.manual_seed(0)
    model = PlainCNN(3, 10, 32).eval()
    x = torch.rand(4, 3, 32, 32)
    assert relevance.lrp_backend(model) == "captum epsilon"
    ours = relevance.lrp(model, x, 3)
    rule = Epsilon(1e-9)
    composite = LayerMapComposite([(nn.Conv2d, rule), (nn.Linear, rule), (nn.BatchNorm2d, rule),
                                   (nn.AvgPool2d, rule), (nn.ReLU, Pass())])
    with torch.no_grad():
        logits = model(x)
    start = torch.zeros_like(logits)
    start[:, 3] = logits[:, 3]
    with Gradient(model=model, composite=composite) as attributor:
        _, reference = attributor(x, start)
    assert torch.allclose(ours, reference, rtol=1e-4, atol=1e-6 * float(ours.abs().max()))


def test_a_map_that_does_not_conserve_is_refused_naming_the_sums(trained_resnet, monkeypatch):
    """Built to fail: the trained ResNet sent to captum's rules, which have none for its residual additions."""
    model, x, target = trained_resnet
    monkeypatch.setattr(relevance, "lrp_backend", lambda _: "captum epsilon")
    with pytest.raises(ValueError, match=r"LRP's relevance is not conserved on ResNet \(sums up to .* for logits"):
        relevance.lrp(model, x, target)


def test_the_backend_follows_the_blocks_a_model_holds_wherever_they_sit():
    resnet = torchvision_classifier("resnet18", 3, 10, 32)
    assert relevance.lrp_backend(nn.Sequential(nn.Identity(), resnet)).endswith("ResNetCanonizer")
    assert relevance.lrp_backend(torchvision_classifier("vgg11", 3, 10, 32)).endswith("VGGCanonizer")
    assert relevance.lrp_backend(nn.Sequential(nn.Flatten(), nn.Linear(4, 2))) == "captum epsilon"


def test_the_summary_names_the_backend_and_the_ratios_range(trained_resnet):
    model, x, target = trained_resnet
    summary = relevance.conservation_summary(model, x, target, relevance.lrp(model, x, target))
    assert summary["backend"].startswith("zennit") and summary["images"] == len(x)
    assert summary["min"] <= summary["median"] <= summary["max"]


def test_lrp_works_when_the_caller_turned_gradients_off(trained_resnet):
    """captum's max-sensitivity calls the explanation under torch.no_grad(): zennit's rules are backward hooks."""
    model, x, target = trained_resnet
    with torch.no_grad():
        inside = relevance.lrp(model, x, target)
    assert torch.equal(inside, relevance.lrp(model, x, target))
