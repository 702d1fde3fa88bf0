"""The concept tester without a browser: choose a concept, model, layer and class, press "run TCAV", and check
what the form shows, caches and exports, and what it refuses."""
import json
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from xai_helpers.concepts import folder_draws, load_concept_folder, tcav_study
from xai_helpers.explorer import concept_view as cv
from xai_helpers.explorer.concept_widgets import ConceptTester, concept_tester


@pytest.fixture(scope="module")
def tested(smoke_models):
    """A tester that has run its default test (the shortcut model's planted pattern) once; tests that change it
    leave it on the default settings again."""
    app = ConceptTester(smoke_models)
    app.request()
    return app.wait()


def _run(app, **values):
    """Set controls as a user does (each change alone) and press "run TCAV"."""
    for key, value in values.items():
        app.controls[key].value = value
    app.run_button.click()
    return app.wait()


def test_the_default_test_is_the_shortcut_models_planted_pattern(tested, smoke_models):
    view = tested.view
    assert tested.error is None
    assert (view["model"], view["concept"], view["target"]) == ("shortcut", "planted_pattern",
                                                                 smoke_models.shortcut_class)
    assert view["layer_label"].startswith("last hidden layer")
    row = view["row"]
    assert 0 <= row["p_value"] <= row["p_value_corrected"] <= 1
    assert np.all((view["cav_accuracy"] >= 0) & (view["cav_accuracy"] <= 1))
    assert len(view["results"]) == smoke_models.data.num_classes == view["family"]
    r = len(tested.sets.counterparts)
    assert len(view["concept_scores"]) == len(view["null_scores"]) == r


def test_the_planted_pattern_has_a_direction_the_shortcut_model_uses(tested):
    """Ground truth at smoke scale (5 CAVs, too few for a verdict that survives Holm over 10 classes): the pattern
    is separable from random images at the last hidden layer and pushes the shortcut class more than random
    directions do."""
    row = tested.view["row"]
    assert row["tested"] and row["cav_accuracy"] >= tested.min_cav_accuracy
    assert row["tcav_score"] > row["null_score"]


def test_the_scores_are_those_of_03s_tcav_study(tested, smoke_models):
    """Training the CAVs one draw at a time gives 03's CAVs and scores exactly (same held-out splits)."""
    concept = tested.concepts["planted_pattern"]
    model = smoke_models.classifiers["shortcut"]
    layer = tested.view["layer"]
    ours = cv.concept_scores(model, layer, concept, tested.sets.counterparts, tested.sets.null, tested.inputs,
                             model_key="fresh", seed=smoke_models.seed)
    theirs = tcav_study(model, [layer], {concept.key: concept.draws}, tested.sets.counterparts, tested.sets.null,
                        tested.inputs, seed=smoke_models.seed)
    key = ["role", "draw", "class_index"]
    ours, theirs = ours.sort_values(key).reset_index(drop=True), theirs.sort_values(key).reset_index(drop=True)
    assert ours[key].equals(theirs[key])
    assert np.allclose(ours.tcav_score, theirs.tcav_score) and np.allclose(ours.cav_accuracy, theirs.cav_accuracy)


def test_another_class_answers_from_the_cache_without_the_button(tested, smoke_models):
    renders = tested.renders
    other = (smoke_models.shortcut_class + 1) % smoke_models.data.num_classes
    tested.controls["target"].value = other
    tested.wait()
    try:
        assert tested.renders == renders + 1 and tested.view["target"] == other
        assert tested.cached() and not tested.is_slow()  # cached CAVs and gradients: a re-test, not a TCAV run
    finally:
        tested.controls["target"].value = smoke_models.shortcut_class
        tested.wait()


def test_an_uncached_change_waits_for_the_button_and_says_so(tested):
    renders, view = tested.renders, tested.view
    tested.controls["concept"].value = "random_control_1"
    tested.wait()
    assert tested.renders == renders and tested.view is view and "press" in tested.status.value
    try:
        _run(tested)
        assert tested.view["concept"] == "random_control_1" and tested.renders == renders + 1
        assert tested.view["row"]["role"] == "control"
        assert "random training images" in tested.note.value
    finally:
        tested.controls["concept"].value = "planted_pattern"
        tested.wait()


def test_a_model_change_keeps_the_kind_of_layer(tested):
    tested.controls["model"].value = "attention"
    try:
        label = next(lab for lab, name in tested.controls["layer"].options if name == tested.value("layer"))
        assert label.startswith("last hidden layer")
        assert tested.value("layer") in dict(tested.models.classifiers["attention"].named_modules())
    finally:
        tested.controls["model"].value = "shortcut"
        tested.wait()


def test_a_newer_run_cancels_the_older_one_between_draws(smoke_models, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real_cav = cv._cav

    def gated_cav(model, layer, images, counterpart, seed):
        started.set()
        release.wait(30)  # hold the first CAV until the user has asked for something else
        return real_cav(model, layer, images, counterpart, seed)

    monkeypatch.setattr(cv, "_cav", gated_cav)
    app = ConceptTester(smoke_models)
    app.controls["concept"].value = "dots"
    app.run_button.click()
    assert started.wait(30)
    app.controls["concept"].value = "stripes"
    app.run_button.click()
    release.set()
    app.wait()
    assert app.error is None and app.renders == 1 and app.view["concept"] == "stripes"
    # The stale run stopped after its first CAV: none of its other draws was trained.
    assert [key for key in app._cavs if key[2] == "dots"] == [(app.models.checkpoints["shortcut"],
                                                               app.value("layer"), "dots", 0)]


def test_a_folder_of_own_images_is_a_concept(smoke_models, tmp_path):
    folder = tmp_path / "concepts" / "my dots"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):  # colour images of another size than the data's: converted and resized
        Image.fromarray((rng.random((40, 40, 3)) > 0.9).astype(np.uint8) * 255).save(folder / f"{i}.png")
    app = ConceptTester(smoke_models, run_path=tmp_path, concepts_dir=tmp_path / "concepts")
    key = cv.FOLDER_PREFIX + "my_dots"
    assert key in app.concepts and "your folder" in app.concepts[key].label
    draws = app.concepts[key].draws
    assert len(draws) == len(app.sets.counterparts)
    assert draws[0].shape[1:] == smoke_models.data.image_shape and 0 <= draws[0].min() <= draws[0].max() <= 1
    _run(app, concept=key)
    assert app.error is None and app.view["concept"] == key and "12 images" in app.view["note"]
    png, data = app.export()
    record = json.loads(data.read_text())
    assert record["concept"] == key and record["app"] == "concepts" and png.exists()
    assert 0 <= record["p_value"] <= record["p_value_corrected"] <= 1
    assert set(record["per_class"]) == set(smoke_models.data.classes)


def test_folder_draws_are_disjoint_when_the_folder_is_large_enough():
    images = torch.arange(30.0).view(30, 1, 1, 1)
    draws, how = folder_draws(images, 3, 10, seed=0)
    assert "disjoint" in how and len(torch.cat(draws).unique()) == 30
    draws, how = folder_draws(images[:4], 3, 10, seed=0)
    assert "all 4" in how and all(len(d) == 4 for d in draws)


@pytest.mark.parametrize("make, match", [
    (lambda root: None, "is not a folder"),
    (lambda root: root.mkdir(), "holds no concept folders"),
    (lambda root: (root / "empty").mkdir(parents=True), "holds 0 images"),
    (lambda root: ((root / "broken").mkdir(parents=True), (root / "broken" / "a.png").write_bytes(b"not a png"),
                   (root / "broken" / "b.png").write_bytes(b"nor this")), "cannot read the image"),
])
def test_a_bad_concepts_dir_is_refused_naming_the_path(tmp_path, make, match):
    root = tmp_path / "mine"
    make(root)
    with pytest.raises((ValueError, FileNotFoundError), match=match) as err:
        load_concept_folder(root, (1, 28, 28))
    assert str(root) in str(err.value)


def test_stroke_concepts_say_they_are_for_digits(tested, smoke_models):
    labels = {key: c.label for key, c in tested.concepts.items()}
    assert "digits only" in labels["thick_strokes"] and "digits only" not in labels["dots"]
    assert "not meaningful" not in labels["thick_strokes"]  # mnist5k is digits
    other = cv.concept_choices(tested.sets, "fashion-mnist", 4, "shirt")
    assert "not meaningful on fashion-mnist" in other["thick_strokes"].label


def test_verdict_words_follow_the_test():
    base = {"tested": True, "significant": True, "tcav_score": 0.9, "null_score": 0.5, "n_cavs": 5,
            "n_cavs_flagged": 0}
    assert cv.verdict(base).startswith("significant") and "towards" in cv.verdict(base)
    assert "away from" in cv.verdict({**base, "tcav_score": 0.1})
    assert cv.verdict({**base, "significant": False}).startswith("not significant")
    assert cv.verdict({**base, "tested": False, "n_cavs_flagged": 4}).startswith("not tested")


def test_headless_show_saves_the_figure(smoke_models, tmp_path, capsys):
    app = concept_tester(smoke_models, interactive=False, run_path=tmp_path)
    assert (tmp_path / "figures" / "07_explorer_concepts.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "planted pattern" in out and "Holm" in out and app.view is not None
