"""Checks of the parameters that choose the explained classifier (xai_helpers.study.model_parameters)."""
import pytest
import torch

from xai_helpers.study.model_parameters import ModelSpec, ParameterError, model_spec


def test_the_default_is_the_study_model_and_every_source_reads_only_its_own_parameters():
    assert model_spec() == ModelSpec() and not model_spec().supplied
    with pytest.raises(ParameterError, match=r"model_name given with model_source = 'study', which does not read it"):
        model_spec("study", model_name="resnet18")
    with pytest.raises(ParameterError, match=r"model_file given with model_source = 'torchvision'.*reads "
                                             r"model_class_map, model_mean, model_name, model_std, model_weights"):
        model_spec("torchvision", "resnet18", model_file="m.pt")
    with pytest.raises(ParameterError, match=r"model_source = 'timm' is not allowed: expected one of study, "
                                             r"torchvision, file"):
        model_spec("timm")


def test_torchvision_names_are_checked_with_suggestions():
    spec = model_spec("torchvision", "mobilenet_v3_small")
    assert spec.trained_here and spec.label() == "mobilenet_v3_small"
    with pytest.raises(ParameterError, match="needs model_name"):
        model_spec("torchvision")
    with pytest.raises(ParameterError, match=r"'resnet81' is no torchvision classifier; did you mean resnet18"):
        model_spec("torchvision", "resnet81")
    with pytest.raises(ParameterError, match="'fasterrcnn_resnet50_fpn' is no torchvision classifier"):
        model_spec("torchvision", "fasterrcnn_resnet50_fpn")  # a detector, not a classifier


def test_files_must_exist_and_fit_the_source(tmp_path):
    weights = tmp_path / "w.pt"
    torch.save({"a": torch.zeros(1)}, weights)
    spec = model_spec("torchvision", "resnet18", str(weights))
    assert not spec.trained_here and spec.weights == str(weights.resolve())
    with pytest.raises(ParameterError, match=r"model_weights = '.*missing.pt': no such file"):
        model_spec("torchvision", "resnet18", str(tmp_path / "missing.pt"))
    with pytest.raises(ParameterError, match="needs model_file"):
        model_spec("file")
    with pytest.raises(ParameterError, match=r"model_file = 'mypkg.nets:build' \(module:factory\) needs model_weights"):
        model_spec("file", model_file="mypkg.nets:build")
    factory = model_spec("file", model_file="mypkg.nets:build", model_weights=str(weights))
    assert not factory.is_torchscript and factory.label() == "build"
    with pytest.raises(ParameterError, match=r"model_file = '.*nope.pt': no such file"):
        model_spec("file", model_file=str(tmp_path / "nope.pt"))
    script = tmp_path / "net.pt"
    script.write_bytes(b"x")
    assert model_spec("file", model_file=str(script)).is_torchscript
    with pytest.raises(ParameterError, match="TorchScript model_file, which carries its own weights"):
        model_spec("file", model_file=str(script), model_weights=str(weights))


def test_normalisation_and_layer_names():
    spec = model_spec("torchvision", "resnet18", model_mean=[0.5, 0.5, 0.5], model_std=[0.25, 0.25, 0.25],
                      gradcam_layer="layer3", tcav_layers="layer2, layer4")
    assert spec.mean == (0.5,) * 3 and spec.std == (0.25,) * 3 and spec.tcav_layers == ("layer2", "layer4")
    assert model_spec(tcav_layers="").tcav_layers is None
    with pytest.raises(ParameterError, match="give both"):
        model_spec("torchvision", "resnet18", model_mean=[0.5, 0.5, 0.5])
    with pytest.raises(ParameterError, match="give both"):
        model_spec("torchvision", "resnet18", model_mean=[0.5, 0.5, 0.5], model_std=[0.2])
    with pytest.raises(ParameterError, match=r"model_std = \[0.2, 0, 0.2\] is not allowed: expected a list of 1 or 3 "
                                             r"positive numbers"):
        model_spec("torchvision", "resnet18", model_mean=[0.5] * 3, model_std=[0.2, 0, 0.2])
    with pytest.raises(ParameterError, match="tcav_layers = .* is not allowed"):
        model_spec(tcav_layers="layer2,,layer4")


def _weights(tmp_path):
    weights = tmp_path / "w.pt"
    torch.save({"a": torch.zeros(1)}, weights)
    return weights


def test_a_class_map_is_read_and_checked_before_anything_runs(tmp_path):
    import json

    good = tmp_path / "map.json"
    good.write_text(json.dumps({"tabby": 281, "goldfish": 1}))
    spec = model_spec("torchvision", "resnet18", model_weights=str(_weights(tmp_path)), model_class_map=str(good))
    assert spec.class_map == (("tabby", 281), ("goldfish", 1)) and spec.class_map_file == str(good.resolve())
    for content, message in (("[1, 2]", "expected a JSON object"), ('{"a": -1}', "non-negative integer"),
                             ('{"a": 1, "b": 1}', "output index 1 is given to several classes"),
                             ("not json", "not a JSON file")):
        good.write_text(content)
        with pytest.raises(ParameterError, match=message):
            model_spec("torchvision", "resnet18", model_weights=str(_weights(tmp_path)), model_class_map=str(good))
    with pytest.raises(ParameterError, match="is trained here, with one output per class folder"):
        model_spec("torchvision", "resnet18", model_class_map=str(good))
    with pytest.raises(ParameterError, match="model_class_map given with model_source = 'study'"):
        model_spec("study", model_class_map=str(good))
