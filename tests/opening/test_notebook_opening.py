"""A notebook's opening, one call (xai_helpers.opening): parameters checked first, then the session, the data and the
classifier the notebook explains, from the same cache entry notebook 01 writes."""
import importlib
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from xai_helpers.cnn import AtInputSide, classifier_settings, train_classifier
from xai_helpers.opening import open_notebook
from xai_helpers.study.parameter_registry import PARAMETERS


def _values(notebook, tmp_path, **over):
    """A notebook's parameters as its parameters cell sets them, at the smoke profile and a few images."""
    values = {p.name: p.default for p in PARAMETERS if notebook in p.notebooks}
    values.update(profile="smoke", device="cpu", run_dir=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"),
                  train_limit=200, test_limit=100, epochs=1)
    values.update(over)
    return values


def test_the_opening_checks_loads_and_gives_01s_classifiers_from_their_cache_entries(tmp_path, capsys):
    config, spec, dev, run_path, cache_path, data, plain, attention, settings = open_notebook(
        "01_cnn_training", _values("01_cnn_training", tmp_path), attention=True)
    assert config["epochs"] == 1 and not spec.supplied and dev == torch.device("cpu") and run_path.is_dir()
    assert data.name == "mnist5k" and len(data.train_y) == 200 and len(data.test_y) == 100
    assert (plain.arch, attention.arch) == ("plain", "attention")
    assert settings == classifier_settings(config, seed=0, device=dev, cache_dir=cache_path)
    again = train_classifier("plain", data, **settings)  # what 01 trains: the very entry the opening wrote
    assert again.from_cache and again.key == plain.key
    assert "explained model: the study's plain CNN" in capsys.readouterr().out
    *_, reopened, _, _ = open_notebook("04_gan_dynamics", _values("04_gan_dynamics", tmp_path), images="gan")
    assert reopened.from_cache and reopened.key == plain.key  # 28 px digits are already a DCGAN side


def _image_folder(root, side):
    for name, value in (("dark", 40), ("light", 200)):
        (root / name).mkdir(parents=True)
        for i in range(20):
            Image.fromarray(np.full((side, side, 3), value + i, np.uint8)).save(root / name / f"{i}.png")
    return root


def test_gan_images_are_resized_to_a_side_the_dcgan_is_built_for(tmp_path):
    values = _values("05_gan_latent", tmp_path, dataset="imagefolder", data_dir=str(_image_folder(tmp_path / "img", 48)),
                     image_size=48, channels=1)
    *_, own, _, _, _ = open_notebook("05_gan_latent", values, classifier=False)
    *_, gan, classifier, _, _ = open_notebook("05_gan_latent", values, images="gan", classifier=False)
    assert own.image_shape == (1, 48, 48) and gan.image_shape == (1, 32, 32) and gan.info["resized_from"] == 48
    assert classifier is None


def test_a_bad_request_or_parameter_is_refused_before_anything_is_made(tmp_path):
    with pytest.raises(ValueError, match="images = 'tiny' is not allowed: expected one of own, gan"):
        open_notebook("04_gan_dynamics", _values("04_gan_dynamics", tmp_path), images="tiny")
    with pytest.raises(ValueError, match="epochs = 0 is not allowed"):
        open_notebook("02_cnn_attribution", _values("02_cnn_attribution", tmp_path, epochs=0))
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()


FACTORY = """
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
"""


@pytest.fixture
def user_model(tmp_path, monkeypatch):
    (tmp_path / "opening_nets.py").write_text(textwrap.dedent(FACTORY))
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.save(importlib.import_module("opening_nets").build().state_dict(), tmp_path / "weights.pt")
    yield "opening_nets"
    sys.modules.pop("opening_nets", None)


def test_the_users_model_is_explained_alone_with_its_layers(tmp_path, user_model, capsys):
    values = _values("02_cnn_attribution", tmp_path, model_source="file", model_file=f"{user_model}:build",
                     model_weights=str(tmp_path / "weights.pt"))
    _, spec, *_, classifier, attention, _ = open_notebook("02_cnn_attribution", values, attention=True)
    assert spec.supplied and attention is None  # there is no attention CNN beside a user's model
    assert classifier.model.layers["gradcam"] == "3"  # the deepest feature map (its ReLU), chosen and attached
    out = capsys.readouterr().out
    assert "explained model: opening_nets:build()" in out and "Grad-CAM" in out  # the layer table


def test_a_supplied_model_on_a_folder_without_test_dir_is_warned_about_an_inflated_test_split(tmp_path, user_model,
                                                                                               capsys):
    folder = tmp_path / "folder"
    for value, name in enumerate("abcdefghij"):  # ten classes: the factory's ten outputs
        (folder / name).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((28, 28), 20 * value + i, np.uint8)).save(folder / name / f"{i}.png")
    values = _values("02_cnn_attribution", tmp_path, dataset="imagefolder", data_dir=str(folder), image_size=28,
                     channels=1, model_source="file", model_file=f"{user_model}:build",
                     model_weights=str(tmp_path / "weights.pt"))
    open_notebook("02_cnn_attribution", values)
    assert "WARNING: the test images are 20 % of data_dir" in capsys.readouterr().out
    *_, data, _, _, _ = open_notebook("02_cnn_attribution", dict(values, test_dir=str(folder)))
    assert "WARNING" not in capsys.readouterr().out and data.info["test_split"] == f"test_dir {folder.resolve()}"
    with pytest.raises(ValueError, match="test_dir = .* is for dataset imagefolder; mnist5k has its own test split"):
        open_notebook("02_cnn_attribution", _values("02_cnn_attribution", tmp_path, test_dir=str(folder)))


def test_the_gan_notebooks_judge_with_the_users_model_at_its_own_side(tmp_path, user_model, capsys):
    """Issue 33, target 5: 04 and 05 label and judge the GAN's samples with the model 01 evaluated (the same weights,
    at the side it reads), not with a study CNN retrained at the GAN's side."""
    folder = tmp_path / "folder"
    for value, name in enumerate("abcdefghij"):
        (folder / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((48, 48), 20 * value + i, np.uint8)).save(folder / name / f"{i}.png")
    values = {nb: _values(nb, tmp_path, dataset="imagefolder", data_dir=str(folder), image_size=48, channels=1,
                          model_source="file", model_file=f"{user_model}:build",
                          model_weights=str(tmp_path / "weights.pt"), test_dir=str(folder))
              for nb in ("01_cnn_training", "04_gan_dynamics")}
    *_, own_data, evaluated, _, _ = open_notebook("01_cnn_training", values["01_cnn_training"])
    *_, gan_data, judge, _, _ = open_notebook("04_gan_dynamics", values["04_gan_dynamics"], images="gan")
    assert own_data.image_shape == (1, 48, 48) and gan_data.image_shape == (1, 32, 32)
    assert judge.key == evaluated.key and isinstance(judge.model, AtInputSide) and judge.model.side == 48
    assert judge.model.classifier is not evaluated.model  # a second load of the same weights
    x = gan_data.test_x[:3]
    resized = F.interpolate(x, size=(48, 48), mode="bilinear", align_corners=False)
    assert torch.allclose(judge.model(x), evaluated.model(resized), atol=1e-6)
    out = capsys.readouterr().out
    assert "the GAN's 32 px images are resized to 48 px for opening_nets:build()" in out
    # 04 explains the GAN: the classifier it opens with judges, it is not the explained model
    assert out.count("explained model: opening_nets:build()") == 1 and "judging classifier: opening_nets:build()" in out


def test_the_judging_classifier_is_named_for_what_it_is(tmp_path, user_model):
    from xai_helpers.opening import judging_classifier

    values = _values("04_gan_dynamics", tmp_path, model_source="file", model_file=f"{user_model}:build",
                     model_weights=str(tmp_path / "weights.pt"))
    _, spec, *_, data, _, _, _ = open_notebook("04_gan_dynamics", values, images="gan", classifier=False)
    assert judging_classifier(spec, data).startswith("opening_nets:build() with the weights")
    _, study, *_ = open_notebook("04_gan_dynamics", _values("04_gan_dynamics", tmp_path), classifier=False)
    assert judging_classifier(study, data) == "the study's plain CNN at 28 px"
