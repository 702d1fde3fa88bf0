"""Issue 33, target 1: the explorer takes the model 01–03 take. With ``model_source`` it offers the user's classifier
and the copy of it 02 fine-tunes on the planted shortcut (02's very cache entry) in place of the study's CNNs, only
the attribution methods that run on that architecture, and 03's layers of it in the concept tester."""
import copy

import numpy as np
import pytest
import torch

from xai_helpers.cnn import tcav_layer_names, train_shortcut_model, variant_settings
from xai_helpers.explorer import load_study_models
from xai_helpers.explorer.attribution_widgets import AttributionExplorer
from xai_helpers.explorer.concept_widgets import ConceptTester
from xai_helpers.opening import open_notebook
from xai_helpers.study.parameter_registry import PARAMETERS


@pytest.fixture(scope="module")
def supplied(tmp_path_factory):
    """A torchvision ResNet-18 trained here on 200 digits for one epoch, opened as 07 opens it, and its models."""
    tmp = tmp_path_factory.mktemp("supplied")
    values = {p.name: p.default for p in PARAMETERS if "07_explorer" in p.notebooks}
    values.update(profile="smoke", device="cpu", run_dir=str(tmp / "run"), cache_dir=str(tmp / "cache"),
                  train_limit=200, test_limit=100, epochs=1, model_source="torchvision", model_name="resnet18")
    config, spec, dev, run_path, cache_path, data, classifier, _, settings = open_notebook(
        "07_explorer", values, needs_hooks=True)
    models = load_study_models(data, config, seed=0, device=dev, cache_dir=cache_path, spec=spec,
                               explained=classifier)
    return models, spec, classifier, settings, run_path


def test_the_users_model_and_its_shortcut_copy_replace_the_study_cnns(supplied):
    models, spec, classifier, settings, _ = supplied
    assert list(models.classifiers) == ["yours", "shortcut"] and models.explained == "yours" and models.supplied
    assert models.classifiers["yours"] is classifier.model and models.checkpoints["yours"] == classifier.key
    assert models.label("yours") == "your resnet18" and models.label("shortcut") == "shortcut resnet18"
    # 02's shortcut model of the same classifier: the same cache entry, so 07 explores what 02 reported
    again, _ = train_shortcut_model(models.data, models.shortcut_class, models.patch_size, **settings,
                                    **variant_settings(spec, classifier))
    assert again.from_cache and again.key == models.checkpoints["shortcut"]
    assert type(models.classifiers["shortcut"]) is type(classifier.model)  # fine-tuned from it, not a study CNN
    assert set(models.methods) | set(models.skipped) >= {"saliency", "lrp", "grad_cam"}
    with pytest.raises(ValueError, match=r"classifiers = \['plain'\] is not allowed: expected a non-empty subset "
                                         r"of yours, shortcut \(a supplied model replaces the study's CNNs\)"):
        load_study_models(models.data, models.config, seed=0, device="cpu", cache_dir=".", spec=spec,
                          explained=classifier, classifiers=("plain",))
    with pytest.raises(ValueError, match="a supplied model needs explained"):
        load_study_models(models.data, models.config, seed=0, device="cpu", cache_dir=".", spec=spec)


def test_the_attribution_explorer_explains_the_users_model_with_the_methods_that_run_on_it(supplied):
    models, *_, run_path = supplied
    app = AttributionExplorer(models, run_path)
    assert app.value("model") == "yours"
    assert [value for _, value in app.controls["methods"].options] == list(models.methods)
    app.request()
    view = app.wait().view
    assert app.error is None and view["model"] == "yours" and set(view["maps"]) == set(app.chosen_methods())
    assert app.draw(view).texts[0].get_text().startswith("your resnet18, test image")


def test_the_concept_tester_offers_03s_layers_of_the_users_model(supplied):
    models, *_ = supplied
    app = ConceptTester(models)
    names = [name for _, name in app.controls["layer"].options]
    assert app.value("model") == "shortcut"
    assert names == list(tcav_layer_names(models.classifiers["shortcut"]).values())  # 03's, no ReLU of a block
    assert app.value("layer") == names[-1]  # 03 reports its verdicts at the deepest probed layer
    assert all(name.startswith("net.") for name in names)  # the wrapped torchvision network's modules


@pytest.fixture(scope="module")
def exported(supplied, tmp_path_factory):
    """The same ResNet-18 as a torch.export program (issue 33, target 7), opened by 07 from its .pt2 file."""
    models, _, classifier, _, _ = supplied
    tmp = tmp_path_factory.mktemp("exported")
    net = copy.deepcopy(classifier.model.net).eval()
    example = torch.rand(2, classifier.model.net_channels, *models.data.image_shape[-2:])
    program = torch.export.export(net, (example,), dynamic_shapes={"x": {0: torch.export.Dim.AUTO}})
    torch.export.save(program, tmp / "yours.pt2")
    values = {p.name: p.default for p in PARAMETERS if "07_explorer" in p.notebooks}
    values.update(profile="smoke", device="cpu", run_dir=str(tmp / "run"), cache_dir=str(tmp / "cache"),
                  train_limit=200, test_limit=100, epochs=1, model_source="file", model_file=str(tmp / "yours.pt2"))
    config, spec, dev, run_path, cache_path, data, opened, _, _ = open_notebook("07_explorer", values,
                                                                               needs_hooks=True)
    models = load_study_models(data, config, seed=0, device=dev, cache_dir=cache_path, spec=spec, explained=opened)
    return models, run_path


def test_the_explorer_explains_a_torch_export_program_with_every_method_its_graph_allows(exported):
    models, run_path = exported
    assert models.classifiers["yours"].untyped == ()  # every nonlinearity given back as a module
    assert "chosen by each layer's type" in models.skipped["lrp"]  # LRP's rules: the types are lost in a program
    assert {"saliency", "grad_cam", "deeplift", "guided_backprop"} <= set(models.methods)
    app = AttributionExplorer(models, run_path, methods=("saliency", "grad_cam", "deeplift"))
    app.request()
    view = app.wait().view
    assert app.error is None and set(view["maps"]) == {"saliency", "grad_cam", "deeplift"}
    assert all(np.abs(m).max() > 0 for m in view["maps"].values()) and view["curves"]
    app.set_values(model="shortcut")  # 02's fine-tuned copy of the program
    assert app.wait().error is None and app.view["model"] == "shortcut"


def test_the_concept_tester_runs_tcav_on_a_torch_export_program(exported):
    models, _ = exported
    app = ConceptTester(models)
    app.request()
    assert app.wait().error is None and app.view["row"]["tested"] in (True, False)
    assert app.view["layer"].startswith("net.layer")  # a residual stage of the user's program, under its name
