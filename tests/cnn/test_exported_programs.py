"""A torch.export program as the explained model (issue 33, target 7): loaded from its .pt2 file, unflattened into the
user's modules, hooked as the original is, and refused or restricted where the program cannot be explained."""
import copy

import pytest
import torch
import torchvision
from captum.attr import LayerGradCam
from torch import nn

from xai_helpers.cnn import explain, method_options
from xai_helpers.cnn.attribution_study import applicable_methods
from xai_helpers.cnn.captum_ready import ImageClassifier, PerCallActivations, clone_classifier, make_captum_ready
from xai_helpers.cnn.exported_programs import functional_nonlinearities, is_convolution
from xai_helpers.cnn.model_sources import ModelError, attach_layers, describe, load_supplied
from xai_helpers.cnn.train import train_classifier
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.study.model_parameters import ParameterError, model_spec


def _data(classes=4, side=32, n=40):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, side, side, generator=g)
    y = torch.arange(n) % classes
    return ImageDataset("tiny", x[:32], y[:32], x[32:], y[32:], tuple(f"c{i}" for i in range(classes)))


def _export(net: nn.Module, path, side=32, any_batch=True):
    example = torch.rand(2 if any_batch else 1, 3, side, side)
    dynamic = {"x": {0: torch.export.Dim.AUTO}} if any_batch else None
    torch.export.save(torch.export.export(net.eval(), (example,), dynamic_shapes=dynamic), path)
    return str(path)


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    torch.manual_seed(3)
    net = torchvision.models.resnet18(num_classes=4).eval()
    return net, _export(net, tmp_path_factory.mktemp("exported") / "resnet18.pt2")


def test_a_pt2_file_is_read_as_a_torch_export_program_that_carries_its_weights(resnet_file, tmp_path):
    _, path = resnet_file
    spec = model_spec("file", model_file=path)
    assert spec.is_exported and not spec.is_torchscript and spec.label() == "resnet18"
    assert describe(spec).startswith("the torch.export program")
    (tmp_path / "w.pt").write_bytes(b"")
    with pytest.raises(ParameterError, match="torch.export program model_file, which carries its own weights"):
        model_spec("file", model_file=path, model_weights=str(tmp_path / "w.pt"))


def test_the_unflattened_program_computes_the_models_outputs_and_takes_hooks_under_its_names(resnet_file):
    net, path = resnet_file
    data = _data()
    model = load_supplied(model_spec("file", model_file=path), data)
    with torch.no_grad():
        assert torch.allclose(model(data.test_x), net(data.test_x), atol=1e-5)
    assert model.hookable and model.untyped == ()  # every ReLU and the max pooling given back as modules
    assert isinstance(model.net.get_submodule("layer1.0.relu"), PerCallActivations)  # a block's ReLU, called twice, split as usual
    assert is_convolution(model.net.conv1) and not isinstance(model.net.conv1, nn.Conv2d)
    spec = model_spec("file", model_file=path)
    choice = attach_layers(model, spec, data.image_shape)
    in_memory = ImageClassifier(copy.deepcopy(net), in_channels=3, net_channels=3)
    make_captum_ready(in_memory.net, data.test_x[:1])
    assert choice == attach_layers(in_memory, spec, data.image_shape)  # the layers the original model gets
    x, targets = data.test_x[:3], torch.tensor([0, 1, 2])
    # Grad-CAM on the program's chosen layer is captum's on the original's.
    layer = net.get_submodule(choice.gradcam)
    original = LayerGradCam(net, layer).attribute(x, target=targets, relu_attributions=True)
    ours = explain(model, x, targets, "grad_cam")[:, 0]
    up = nn.functional.interpolate(original, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(ours, up, rtol=1e-4, atol=1e-6)
    assert torch.allclose(explain(model, x, targets, "saliency"), explain(net, x, targets, "saliency"), atol=1e-5)
    assert torch.allclose(explain(model, x, targets, "deeplift"),
                          explain(in_memory, x, targets, "deeplift"), atol=1e-4)


def test_methods_whose_rules_need_lost_layer_types_are_refused_with_the_reason(resnet_file, tmp_path):
    _, path = resnet_file
    data = _data()
    model = load_supplied(model_spec("file", model_file=path), data)
    attach_layers(model, model_spec("file", model_file=path), data.image_shape)
    options = method_options({"ig_steps": 4, "smoothgrad_samples": 2, "lime_samples": 10})
    x, targets = data.test_x[:2], torch.tensor([0, 1])
    usable, reasons = applicable_methods(model, x, targets, ["saliency", "grad_cam", "deeplift", "lrp"], options)
    assert usable == ["saliency", "grad_cam", "deeplift"]
    assert "each layer's type" in reasons["lrp"] and "InterpreterModules" in reasons["lrp"]

    class Functional(nn.Module):  # a ReLU called as a function: no module for Guided Backprop to change
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).mean((2, 3)))

    torch.manual_seed(0)
    functional = load_supplied(model_spec("file", model_file=_export(Functional(), tmp_path / "f.pt2")), data)
    assert functional.untyped == ("the top level: relu",) == tuple(functional_nonlinearities(functional.net))
    usable, reasons = applicable_methods(functional, x, targets, ["saliency", "guided_backprop", "deeplift"], options)
    assert usable == ["saliency"]
    assert all("the top level: relu" in reasons[m] and "plain gradient" in reasons[m]
               for m in ("guided_backprop", "deeplift"))


def test_a_program_for_one_batch_size_or_another_side_is_refused_saying_how_to_export_it(tmp_path):
    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=4)
    fixed = _export(net, tmp_path / "fixed.pt2", any_batch=False)
    with pytest.raises(ModelError, match=r"batches of 1 image\(s\) only.*Dim.AUTO"):
        load_supplied(model_spec("file", model_file=fixed), _data())
    other_side = _export(net, tmp_path / "side.pt2", side=48)
    with pytest.raises(ModelError, match="cannot take tiny's images"):
        load_supplied(model_spec("file", model_file=other_side), _data())
    (tmp_path / "not.pt2").write_bytes(b"not a program")
    with pytest.raises(ModelError, match="not a torch.export program"):
        load_supplied(model_spec("file", model_file=str(tmp_path / "not.pt2")), _data())


def test_an_exported_model_is_copied_and_fine_tuned_without_touching_the_loaded_one(resnet_file, tmp_path):
    _, path = resnet_file
    data = _data()
    supplied = load_supplied(model_spec("file", model_file=path), data)
    before = {k: v.clone() for k, v in supplied.state_dict().items()}
    copied = clone_classifier(supplied)
    assert copied.untyped == () and set(copied.state_dict()) == set(before)
    with torch.no_grad():
        copied.net.fc.weight.add_(1.0)
        assert not torch.allclose(copied(data.test_x), supplied(data.test_x))
    tuned = train_classifier("exported", data, init=supplied, init_key="supplied-eeee", epochs=1, batch_size=8,
                             lr=1e-2, augment=False, seed=0, device="cpu", cache_dir=str(tmp_path / "cache"),
                             progress="none")
    assert any(not torch.equal(v, before[k]) for k, v in tuned.model.state_dict().items())
    assert all(torch.equal(v, before[k]) for k, v in supplied.state_dict().items())
    assert copy.deepcopy(supplied) is not supplied  # the exporter's fake tensors are gone from the graphs


def test_the_randomisation_cascade_steps_through_an_exported_resnets_blocks(resnet_file):
    """02's cascade found no layer to randomise in an exported program (every module an InterpreterModule) and its
    sanity table was empty: its steps are now the original's, block by block, and re-drawing them changes the model."""
    from xai_helpers.cnn.explanation_metrics import reinitialise, randomisation_steps

    net, path = resnet_file
    model = load_supplied(model_spec("file", model_file=path), _data())
    in_memory = ImageClassifier(copy.deepcopy(net), in_channels=3, net_channels=3)
    steps = randomisation_steps(model)
    assert [name for name, _ in steps] == [name for name, _ in randomisation_steps(in_memory)]
    assert [name for name, _ in steps][:3] == ["net.conv1", "net.layer1.0", "net.layer1.1"]
    copied, x = clone_classifier(model), _data().test_x
    for _, groups in steps:
        for modules in groups:
            reinitialise(modules, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not torch.allclose(model(x), copied(x), atol=1e-3)
