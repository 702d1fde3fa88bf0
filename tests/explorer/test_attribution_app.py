"""The attribution explorer without a browser: set controls, click, and check what the form shows and exports."""
import json

import numpy as np
import pytest
import torch

from xai_helpers.cnn import explain, heatmap
from xai_helpers.cnn import explanation_metrics as em
from xai_helpers.explorer import image_attributions, select_images, view_record
from xai_helpers.explorer.attribution_view import image_maps, map_curves
from xai_helpers.explorer.app_widgets import Worker
from xai_helpers.explorer.attribution_widgets import AttributionExplorer, interaction_seconds


@pytest.fixture
def app(answered):
    return answered(AttributionExplorer)


def test_filters_select_only_images_of_that_class_and_outcome(app, smoke_models):
    labels = smoke_models.data.test_y
    for outcome in ("correct", "misclassified"):
        app.set_values(class_filter=3, outcome=outcome)
        app.wait()
        predicted = app.predictions()
        assert len(app.indices) > 0, outcome
        assert (labels[app.indices] == 3).all()
        assert ((predicted[app.indices] == 3) == (outcome == "correct")).all()
        assert app.view["index"] in app.indices.tolist() and app.view["true_class"] == 3
    assert app.controls["image"].max == len(app.indices) - 1


def test_clicking_a_class_explains_that_class_and_the_reset_returns_to_the_prediction(app):
    predicted_map = app.view["maps"]["saliency"]
    second = app.class_buttons.children[1]
    second.click()
    app.wait()
    other = app.view["top"][1][0] if app.view["target"] != app.view["predicted"] else None
    assert app.view["target"] != app.view["predicted"] and app.target == app.view["target"]
    assert not np.allclose(app.view["maps"]["saliency"], predicted_map)
    assert other is None or other == app.view["target"]
    app.explain_predicted.click()
    app.wait()
    assert app.view["target"] == app.view["predicted"]
    np.testing.assert_allclose(app.view["maps"]["saliency"], predicted_map)


def test_method_settings_reach_the_explanation(app, smoke_models):
    black = app.view["maps"]["integrated_gradients"]
    app.set_values(**{"integrated_gradients.baseline": "blur", "integrated_gradients.n_steps": 16})
    app.wait()
    assert app.view["options"]["integrated_gradients"] == {"n_steps": 16, "baseline": "blur"}
    assert not np.allclose(app.view["maps"]["integrated_gradients"], black)
    image = smoke_models.data.test_x[app.view["index"]][None]
    expected = heatmap(explain(smoke_models.classifiers["plain"], image, app.view["target"], "integrated_gradients",
                               n_steps=16, baseline="blur"))[0].numpy()
    np.testing.assert_allclose(app.view["maps"]["integrated_gradients"], expected, rtol=1e-5, atol=1e-7)


def test_switching_model_and_source_shows_the_planted_image_of_the_shortcut_model(app, smoke_models):
    plain = app.view["probabilities"]
    app.set_values(model="shortcut", source="planted")
    app.wait()
    index = app.view["index"]
    assert torch.equal(app.view["image"], smoke_models.patched_x[index])
    assert app.view["box"] is not None and torch.equal(app.view["box"], smoke_models.boxes[index])
    assert not np.allclose(app.view["probabilities"], plain)


def test_the_curves_are_the_deletion_measure_of_notebook_02_on_this_image(app, smoke_models):
    model, view = smoke_models.classifiers["plain"], app.view
    x, t = view["image"][None], torch.tensor([view["target"]])
    heat = torch.as_tensor(view["maps"]["grad_cam"])[None]
    deletion, insertion = em.deletion_insertion_curves(model, x, t, heat, "blur", smoke_models.config["deletion_steps"],
                                                       generator=torch.Generator().manual_seed(1), tie_seed=0)
    np.testing.assert_allclose(view["curves"]["grad_cam"]["deletion"], deletion[0], rtol=1e-6)
    assert view["curves"]["grad_cam"]["insertion_auc"] == pytest.approx(em.curve_auc(insertion))


def test_export_writes_the_shown_png_and_its_numbers(app):
    png, data = app.export()
    assert png.read_bytes() == app.figure.value and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(data.read_text())
    assert record["app"] == "attribution" and record["image_index"] == app.view["index"]
    assert record["methods"]["saliency"]["deletion_auc"] == pytest.approx(app.view["curves"]["saliency"]["deletion_auc"])
    assert record["controls"]["model"] == "plain" and record["model_checkpoint"].startswith("classifier-")


def test_a_slow_method_runs_in_the_background_and_a_newer_request_wins(app):
    app.set_values(methods=("lime", "kernel_shap", "saliency"))
    assert app.is_slow()
    app.set_values(methods=("saliency",))  # before the slow answer is in
    app.wait()
    assert list(app.view["maps"]) == ["saliency"] and app.error is None


def test_worker_cancels_the_older_job_and_runs_only_the_newest():
    worker, seen = Worker(), []
    started = __import__("threading").Event()

    def slow(cancelled):
        started.set()
        for _ in range(500):
            if cancelled():
                seen.append("slow cancelled")
                return
            __import__("time").sleep(0.01)
        seen.append("slow finished")

    worker.submit(slow)
    started.wait(5)
    worker.submit(lambda cancelled: seen.append("second"))
    worker.submit(lambda cancelled: seen.append("third"))
    assert worker.wait(10)
    assert seen == ["slow cancelled", "third"]  # the second was superseded before it started


def test_the_worker_keeps_one_thread_for_every_job_and_outlives_a_failing_one(capsys):
    """A thread per answer gave PyTorch a fresh OpenMP team each time (0.1-0.3 s of a 1 s answer): the worker now
    stays for the next job, and a job that raises does not end it."""
    import threading

    worker, threads = Worker(), []
    for _ in range(3):
        worker.submit(lambda cancelled: threads.append(threading.get_ident()))
        assert worker.wait(10)
    worker.submit(lambda cancelled: 1 / 0)
    assert worker.wait(10)
    worker.submit(lambda cancelled: threads.append(threading.get_ident()))
    assert worker.wait(10)
    assert len(threads) == 4 and len(set(threads)) == 1 and threads[0] != threading.get_ident()
    assert "ZeroDivisionError" in capsys.readouterr().err  # printed, not swallowed


def test_an_empty_filter_is_reported_in_the_form_not_raised(app, smoke_models):
    labels = smoke_models.data.test_y
    app._predicted[("plain", "test")] = labels.clone()  # a model that is never wrong: nothing is misclassified
    app.set_values(class_filter=3, outcome="misclassified")
    app.wait()
    assert len(app.indices) == 0 and app.controls["image"].disabled
    assert "no image matches" in app.error and "no image matches" in app.status.value
    app.set_values(outcome="correct")
    app.wait()
    assert app.error is None and app.view["true_class"] == 3


def test_bad_arguments_name_what_is_allowed(smoke_models):
    image = smoke_models.data.test_x[0]
    with pytest.raises(ValueError, match="choose one or more of saliency"):
        image_attributions(smoke_models.classifiers["plain"], image, None, ["saliencyy"], {})
    with pytest.raises(ValueError, match=r"expected an integer in \[0, 9\]"):
        image_attributions(smoke_models.classifiers["plain"], image, 10, ["saliency"], {})
    with pytest.raises(ValueError, match="any, correct, misclassified"):
        select_images(smoke_models.data.test_y, smoke_models.data.test_y, None, "wrong")


def test_interaction_timing_measures_answers(smoke_models):
    maps, complete = interaction_seconds(smoke_models, ("saliency", "grad_cam"), n=2)
    assert len(maps) == len(complete) == 2 and all(0 < s < 60 for s in complete)
    assert all(0 < m < c for m, c in zip(maps, complete))  # the maps are answered before their curves


def test_the_maps_are_shown_before_their_curves_and_then_completed(app):
    """The curves cost more than the gradient maps (2 x (steps + 1) forward passes per map): the form draws the
    maps as soon as they are computed, then the same maps with their curves."""
    drawn, draw = [], app.draw
    app.draw = lambda view: (drawn.append((sorted(view["maps"]), sorted(view["curves"]))), draw(view))[1]
    renders = app.renders
    app.set_values(image=1)
    app.wait()
    methods = sorted(app.view["maps"])
    assert drawn == [(methods, []), (methods, methods)] and app.renders == renders + 2
    assert app.seconds < app.complete_seconds and "complete in" in app.status.value


def test_an_export_before_the_curves_records_the_maps_and_no_areas(smoke_models):
    model, image = smoke_models.classifiers["plain"], smoke_models.data.test_x[0]
    maps = image_maps(model, image, None, ["saliency"], {})
    record = view_record(maps, smoke_models.data.classes)
    assert record["methods"]["saliency"]["deletion_auc"] is None and record["substrate"] is None
    complete = map_curves(model, image, maps, steps=4)
    assert view_record(complete, smoke_models.data.classes)["methods"]["saliency"]["deletion_auc"] is not None
    assert not maps["curves"]  # completing returns a copy: the shown view is not changed under the figure


def test_two_forms_on_one_model_never_explain_at_the_same_time(smoke_models):
    """captum hooks the model's modules: two workers explaining the plain CNN at once used to fail in one of them
    ("differentiated Tensor … not used in the graph"), which 07 hit when its timing form ran beside the shown one."""
    methods = ("saliency", "guided_backprop", "grad_cam", "deconvolution", "integrated_gradients")
    apps = [AttributionExplorer(smoke_models, methods=methods) for _ in range(2)]
    for i in range(8):
        for app in apps:  # both workers get a request at once, and each answers it (none is superseded)
            app.set_values(image=i)
        for app in apps:
            app.wait()
            assert app.error is None, app.error_traceback


def test_an_export_while_the_curves_are_computed_waits_for_them_and_keeps_its_status(app, monkeypatch):
    """Exported before the curves arrived, the record had no areas, and the curves' arrival then replaced the
    "exported …" status line (seen in Chromium as an export that never said so)."""
    import threading
    import time

    import xai_helpers.explorer.attribution_widgets as widgets_module

    started, complete = threading.Event(), widgets_module.map_curves

    def slow_curves(*args, **kwargs):
        started.set()
        time.sleep(1.0)
        return complete(*args, **kwargs)

    monkeypatch.setattr(widgets_module, "map_curves", slow_curves)
    app.set_values(image=2)
    assert started.wait(60)
    _, data = app.export()
    assert json.loads(data.read_text())["methods"]["saliency"]["deletion_auc"] is not None
    app.wait()
    assert app.status.value.startswith("exported") and app.view["curves"]


def test_an_export_while_a_newer_answer_is_computed_exports_that_answer_and_keeps_its_status(app, monkeypatch):
    """Switching the model asks twice (the model's observer, then the image list's), so a browser that saw the
    first answer drawn could click export while the second was computed. The export then wrote the older view
    and that answer's arrival replaced the "exported …" line at once: under CI's load Chromium never saw it."""
    import threading
    import time

    import xai_helpers.explorer.attribution_widgets as widgets_module

    started, maps = threading.Event(), widgets_module.image_maps

    def slow_maps(*args, **kwargs):
        started.set()
        time.sleep(1.0)
        return maps(*args, **kwargs)

    monkeypatch.setattr(widgets_module, "image_maps", slow_maps)
    app.set_values(image=3)
    assert started.wait(60)
    _, data = app.export()
    assert json.loads(data.read_text())["controls"]["image"] == 3 and app.view["index"] == app.indices[3]
    app.wait()
    assert app.status.value.startswith("exported")


def test_a_failed_export_says_why_in_the_status_line(app):
    """A click handler's exception reaches only the kernel's log: the browser would show nothing."""
    app.run_path = None
    app.export_button.click()
    assert app.status.value.startswith("<span") and "export failed: RuntimeError" in app.status.value
    assert "no run folder" in app.status.value
