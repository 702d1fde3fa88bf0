"""Issue 33, target 1: the explorer takes the model 01–03 take. With ``model_source`` it offers the user's classifier
and the copy of it 02 fine-tunes on the planted shortcut (02's very cache entry) in place of the study's CNNs, only
the attribution methods that run on that architecture, and 03's layers of it in the concept tester."""
import pytest

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
