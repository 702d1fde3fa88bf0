import pytest
import torch
from torch import nn

from xai_helpers.cnn.models import CLASSIFIERS, AttentionCNN, PlainCNN, build_classifier
from xai_helpers.gan.models import DCGANDiscriminator, DCGANGenerator

NONLINEAR = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh)


@pytest.mark.parametrize("arch", list(CLASSIFIERS))
@pytest.mark.parametrize("channels,size", [(1, 28), (3, 32), (1, 32)])
def test_classifier_output_shape(arch, channels, size):
    model = build_classifier(arch, channels, 7, size).eval()
    assert model(torch.rand(3, channels, size, size)).shape == (3, 7)


def _nonlinear_call_counts(model, x):
    counts = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, name=name: counts.__setitem__(name, counts.get(name, 0) + 1))
             for name, m in model.named_modules() if isinstance(m, NONLINEAR)]
    model(x)
    for h in hooks:
        h.remove()
    return counts


@pytest.mark.parametrize("model,x", [
    (PlainCNN(), torch.rand(2, 1, 28, 28)),
    (AttentionCNN(in_channels=3, image_size=32), torch.rand(2, 3, 32, 32)),
    (DCGANGenerator(16, 1, 28), torch.randn(2, 16)),
    (DCGANDiscriminator(3, 32), torch.rand(2, 3, 32, 32)),
])
def test_every_nonlinearity_is_its_own_module_used_once(model, x):
    model.eval()
    modules = [m for m in model.modules() if isinstance(m, NONLINEAR)]
    assert len({id(m) for m in modules}) == len(modules)
    counts = _nonlinear_call_counts(model, x)
    assert len(counts) == len(modules), "a nonlinearity module was never called (functional call instead?)"
    assert set(counts.values()) == {1}, f"a nonlinearity module was reused: {counts}"


def _functional_nonlinearity_calls(model, x):
    """Every call of a functional nonlinearity during a forward pass (modules call them too)."""
    from torch.overrides import TorchFunctionMode

    names = {"relu", "leaky_relu", "sigmoid", "tanh"}
    calls = []

    class Record(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", "").rstrip("_") in names:
                calls.append(func.__name__)
            return func(*args, **(kwargs or {}))

    with Record():
        model(x)
    return calls


@pytest.mark.parametrize("model,x", [
    (PlainCNN(), torch.rand(2, 1, 28, 28)),
    (AttentionCNN(), torch.rand(2, 1, 28, 28)),
    (DCGANGenerator(16, 3, 32), torch.randn(2, 16)),
    (DCGANDiscriminator(1, 28), torch.rand(2, 1, 28, 28)),
])
def test_no_nonlinearity_is_called_functionally(model, x):
    model.eval()
    assert len(_functional_nonlinearity_calls(model, x)) == sum(_nonlinear_call_counts(model, x).values())


def test_a_functional_relu_would_be_caught():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return torch.nn.functional.relu(self.lin(x))

    model = Functional()
    assert len(_functional_nonlinearity_calls(model, torch.rand(1, 4))) == 1
    assert sum(_nonlinear_call_counts(model, torch.rand(1, 4)).values()) == 0


def test_a_reused_relu_would_be_caught():
    class Sneaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = nn.ReLU()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return self.act(self.act(self.lin(x)))

    assert _nonlinear_call_counts(Sneaky(), torch.rand(1, 4)) == {"act": 2}


def test_attention_map_is_per_image_in_unit_interval_and_gates_the_logits():
    torch.manual_seed(0)
    model = AttentionCNN().eval()
    x = torch.rand(4, 1, 28, 28)
    logits, att = model.forward_with_attention(x)
    assert att.shape == (4, 1, 14, 14)
    assert ((att > 0) & (att < 1)).all()
    assert torch.allclose(model(x), logits)
    # The map is used: forcing it to zero changes the logits.
    model.attention.score[-1].register_forward_hook(lambda m, i, o: torch.zeros_like(o))
    assert not torch.allclose(model(x), logits)


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError, match="in_channels"):
        PlainCNN(in_channels=2)
    with pytest.raises(ValueError, match="image_size"):
        PlainCNN(image_size=30)
    with pytest.raises(ValueError, match="plain, attention"):
        build_classifier("resnet", 1, 10, 28)
