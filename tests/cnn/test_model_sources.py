"""Loading the classifier to explain from torchvision, a state dict, a factory or TorchScript, and refusing what does
not fit the data (xai_helpers.cnn.model_sources)."""
import re
import sys
import textwrap
import warnings

import pytest
import torch
import torchvision

from xai_helpers.cnn.model_sources import ModelError, load_supplied, study_classifier
from xai_helpers.cnn.model_sources import describe as spec_description
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.study.model_parameters import model_spec


def _data(classes=4, channels=3, side=32, n=48):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, channels, side, side, generator=g)
    y = torch.arange(n) % classes
    return ImageDataset("tiny", x[:32], y[:32], x[32:], y[32:], tuple(f"c{i}" for i in range(classes)))


def _resnet(classes=4):
    torch.manual_seed(3)
    return torchvision.models.resnet18(num_classes=classes).eval()


FACTORY = """
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

def build_for_32px():
    return nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 32 * 32, 4))

def not_a_model():
    return "resnet"
"""


@pytest.fixture
def factory_module(tmp_path, monkeypatch):
    (tmp_path / "user_nets.py").write_text(textwrap.dedent(FACTORY))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_nets"
    sys.modules.pop("user_nets", None)


def test_torchvision_weights_are_loaded_and_explained_as_they_are(tmp_path):
    data, net = _data(), _resnet()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    model = load_supplied(model_spec("torchvision", "resnet18", str(tmp_path / "w.pt")), data)
    with torch.no_grad():
        assert torch.allclose(model(data.test_x), net(data.test_x), atol=1e-5)
    assert model.hookable and model.net_channels == 3


def test_normalisation_stated_by_parameters_happens_inside_the_model(tmp_path):
    data, net = _data(), _resnet()
    torch.save(net.state_dict(), tmp_path / "w.pt")
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    model = load_supplied(model_spec("torchvision", "resnet18", str(tmp_path / "w.pt"), model_mean=mean,
                                     model_std=std), data)
    normalised = (data.test_x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(model(data.test_x), net(normalised), atol=1e-5)


def test_factory_and_torchscript_give_the_in_memory_models_outputs(tmp_path, factory_module):
    data, net = _data(), _resnet()
    import user_nets
    small = user_nets.build().eval()
    torch.save(small.state_dict(), tmp_path / "small.pt")
    model = load_supplied(model_spec("file", model_file=f"{factory_module}:build",
                                     model_weights=str(tmp_path / "small.pt")), data)
    with torch.no_grad():
        assert torch.equal(model(data.test_x), small(data.test_x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
        torch.jit.save(torch.jit.script(net), tmp_path / "net.pt")
    scripted = load_supplied(model_spec("file", model_file=str(tmp_path / "net.pt")), data)
    with torch.no_grad():
        assert torch.allclose(scripted(data.test_x), net(data.test_x), atol=1e-5)
    assert not scripted.hookable
    with pytest.raises(LookupError, match="TorchScript: its layers cannot be hooked"):
        scripted.cam_layer


def test_mismatched_classes_are_refused_naming_both_counts(tmp_path):
    torch.save(_resnet(classes=1000).state_dict(), tmp_path / "imagenet.pt")
    with pytest.raises(ModelError, match=r"do not fit resnet18; the weights have 1000 outputs and the data set has 4 "
                                         r"classes: .*size mismatch for fc.weight"):
        load_supplied(model_spec("torchvision", "resnet18", str(tmp_path / "imagenet.pt")), _data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(_resnet(classes=7)), tmp_path / "seven.pt")
    with pytest.raises(ModelError, match=r"seven returns \(1, 7\) for one image; expected \(1, 4\): one logit per "
                                         r"class of tiny \(c0, c1, c2, c3\)"):
        load_supplied(model_spec("file", model_file=str(tmp_path / "seven.pt")), _data())


def test_a_torchscript_model_of_another_input_size_is_refused_with_the_shapes_that_do_not_fit(tmp_path, factory_module):
    """Issue 35: the reason shown was 300 characters of TorchScript traceback, and the shapes never appeared."""
    import user_nets
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(user_nets.build_for_32px()), tmp_path / "net32.pt")
    with pytest.raises(ModelError) as refused:
        load_supplied(model_spec("file", model_file=str(tmp_path / "net32.pt")), _data(side=64))
    message = str(refused.value)
    assert re.search(r"3×64×64: RuntimeError: mat1 and mat2 shapes cannot be multiplied \(1x8192 and 2048x4\) "
                     r"\(in return torch.linear\(input, weight, bias\), torch/nn/modules/linear.py\)", message), message
    assert "Traceback" not in message and len(message) < 400


def test_an_input_size_or_channels_that_do_not_fit_are_refused(tmp_path, factory_module):
    import user_nets
    torch.save(user_nets.build_for_32px().state_dict(), tmp_path / "w32.pt")
    spec = model_spec("file", model_file=f"{factory_module}:build_for_32px", model_weights=str(tmp_path / "w32.pt"))
    assert load_supplied(spec, _data(side=32)) is not None
    with pytest.raises(ModelError, match=r"build_for_32px cannot take tiny's images \(3×64×64, set by image_size and "
                                         r"channels\): 3×64×64: .*shapes cannot be multiplied"):
        load_supplied(spec, _data(side=64))
    gray = load_supplied(model_spec("file", model_file=f"{factory_module}:build_for_32px",
                                    model_weights=str(tmp_path / "w32.pt")), _data(channels=1))
    assert gray.net_channels == 3 and gray.in_channels == 1  # gray images are repeated for an RGB model


def test_weights_files_must_be_plain_tensors(tmp_path, factory_module):
    data = _data()
    torch.save(_resnet(), tmp_path / "pickled_module.pt")  # the whole module: unpickling would run code
    with pytest.raises(ModelError, match=r"pickled_module.pt: not a plain state dict of tensors; "
                                         r"torch.load\(weights_only=True\) refused it: it holds a pickled Python "
                                         r"object \(torchvision.models.resnet.ResNet\).*torch.save\(model.state_dict"
                                         r"\(\), path\)") as refused:
        load_supplied(model_spec("torchvision", "resnet18", str(tmp_path / "pickled_module.pt")), data)
    assert not re.search(r"weights_only.{0,20}False|can still be loaded", str(refused.value))  # would run its code
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ModelError, match="expected a state dict .* found list"):
        load_supplied(model_spec("torchvision", "resnet18", str(tmp_path / "list.pt")), data)
    net = _resnet()
    torch.save({"epoch": 3, "state_dict": net.state_dict()}, tmp_path / "checkpoint.pt")  # a training checkpoint
    model = load_supplied(model_spec("torchvision", "resnet18", str(tmp_path / "checkpoint.pt")), data)
    with torch.no_grad():
        assert torch.allclose(model(data.test_x), net(data.test_x), atol=1e-5)
    with pytest.raises(ModelError, match=r"module 'user_nets' has no function 'build2'"):
        load_supplied(model_spec("file", model_file="user_nets:build2", model_weights=str(tmp_path / "list.pt")), data)
    with pytest.raises(ModelError, match=r"not_a_model\(\) returned str, not a torch.nn.Module"):
        load_supplied(model_spec("file", model_file="user_nets:not_a_model",
                                 model_weights=str(tmp_path / "list.pt")), data)


def test_a_torchvision_architecture_without_weights_is_trained_cached_and_gets_its_layers(tmp_path):
    data = _data()
    settings = dict(epochs=1, batch_size=16, lr=1e-3, weight_decay=0.0, augment=False, seed=0, device="cpu",
                    cache_dir=str(tmp_path / "cache"), progress="none")
    first = study_classifier(model_spec("torchvision", "resnet18"), data, **settings)
    again = study_classifier(model_spec("torchvision", "resnet18"), data, **settings)
    assert not first.from_cache and again.from_cache and first.key == again.key
    assert len(first.history) == 1 and first.train_seconds > 0 and len(first.snapshots) == 2
    assert first.model.layers["gradcam"] == "layer1"  # 8×8 at 32 px
    with torch.no_grad():
        assert torch.equal(first.model(data.test_x), again.model(data.test_x))


def test_supplied_models_are_named_by_a_hash_of_their_files(tmp_path):
    data, net = _data(), _resnet()
    torch.save(net.state_dict(), tmp_path / "a.pt")
    spec = model_spec("torchvision", "resnet18", str(tmp_path / "a.pt"))
    first = study_classifier(spec, data, device="cpu")
    assert first.key.startswith("supplied-") and first.key == study_classifier(spec, data, device="cpu").key
    assert first.model.layers["gradcam"] == "layer1" and first.history == []
    with torch.no_grad():
        net.fc.bias += 1
    torch.save(net.state_dict(), tmp_path / "a.pt")
    assert study_classifier(spec, data, device="cpu").key != first.key


FACTORY_12 = """
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 12))
"""


@pytest.fixture
def twelve_outputs(tmp_path, monkeypatch):
    (tmp_path / "twelve_nets.py").write_text(textwrap.dedent(FACTORY_12))
    monkeypatch.syspath_prepend(str(tmp_path))
    import twelve_nets

    torch.save(twelve_nets.build().state_dict(), tmp_path / "w12.pt")
    yield twelve_nets
    sys.modules.pop("twelve_nets", None)


def _class_map(tmp_path, mapping):
    path = tmp_path / "classes.json"
    path.write_text(__import__("json").dumps(mapping))
    return str(path)


def test_a_class_map_picks_a_trained_models_outputs_in_the_folders_class_order(tmp_path, twelve_outputs):
    """Issue 33: a model with other outputs (1000 ImageNet classes) was refused; the map says which is which."""
    data = _data(classes=4)  # classes c0..c3
    mapping = {"c2": 7, "c0": 11, "c3": 0, "c1": 5, "unused": 3}  # more classes than the folder: allowed
    spec = model_spec("file", model_file="twelve_nets:build", model_weights=str(tmp_path / "w12.pt"),
                      model_class_map=_class_map(tmp_path, mapping))
    model = load_supplied(spec, data)
    reference = twelve_outputs.build().eval()
    reference.load_state_dict(torch.load(tmp_path / "w12.pt"))
    with torch.no_grad():
        assert torch.allclose(model(data.test_x), reference(data.test_x)[:, [11, 5, 7, 0]], atol=1e-6)
    assert "outputs chosen by the class map" in spec_description(spec)
    without = model_spec("file", model_file="twelve_nets:build", model_weights=str(tmp_path / "w12.pt"))
    with pytest.raises(ModelError, match=r"returns \(1, 12\) for one image; expected \(1, 4\)"):
        load_supplied(without, data)  # without a map the counts must agree, as before


def test_a_class_map_that_misses_a_folder_or_an_output_is_refused_naming_it(tmp_path, twelve_outputs):
    data = _data(classes=4)
    weights = str(tmp_path / "w12.pt")
    short = model_spec("file", model_file="twelve_nets:build", model_weights=weights,
                       model_class_map=_class_map(tmp_path, {"c0": 1, "c1": 2, "c2": 3}))
    with pytest.raises(ModelError, match=r"names no output for the class folder\(s\) c3"):
        load_supplied(short, data)
    beyond = model_spec("file", model_file="twelve_nets:build", model_weights=weights,
                        model_class_map=_class_map(tmp_path, {"c0": 1, "c1": 2, "c2": 3, "c3": 12}))
    with pytest.raises(ModelError, match="has 12 outputs, and the class map names output 12"):
        load_supplied(beyond, data)
