"""The training scrubber without a browser: move the snapshot slider, the play button and the settings, and check
what the form shows, caches and exports."""
import dataclasses
import json
import threading

import numpy as np
import pytest
import torch

from xai_helpers.explorer import training_widgets
from xai_helpers.explorer.training_view import check_snapshot, history_split, window_at
from xai_helpers.explorer.training_widgets import TrainingScrubber, training_scrubber
from xai_helpers.gan import fixed_noise, history_frame, to_unit_range


@pytest.fixture
def app(answered):
    return answered(TrainingScrubber)


def test_it_opens_on_the_last_snapshot_of_the_trained_gan(app, smoke_models):
    gan = smoke_models.gan
    assert app.error is None
    assert app.view["iteration"] == gan.snapshots[-1]["iteration"] == gan.iterations_done
    assert [label for label, _ in app.controls["snapshot"].options] == [str(s["iteration"]) for s in gan.snapshots]


def test_moving_the_slider_changes_samples_figure_and_the_log_shown(app, smoke_models):
    gan = smoke_models.gan
    last = app.view
    png = app.figure.value
    app.controls["snapshot"].value = 1
    app.wait()
    view = app.view
    iteration = gan.snapshots[1]["iteration"]
    assert view["iteration"] == iteration and 0 < iteration < last["iteration"]
    assert not torch.allclose(view["samples"], last["samples"])
    assert app.figure.value != png
    # The coloured log ends at the snapshot; the rest is drawn grey, never dropped.
    assert view["history"].index.max() <= iteration < view["history_after"].index.min()
    assert len(view["history"]) + len(view["history_after"]) == len(history_frame(gan.history))
    assert view["window"]["iteration"] == view["history"].index.max()
    assert f"iteration {iteration} " in app.status.value


def test_the_samples_are_the_snapshot_generator_on_the_fixed_latents(app, smoke_models):
    gan = smoke_models.gan
    app.controls["snapshot"].value = 2
    app.wait()
    g, _ = gan.networks_at(gan.snapshots[2])
    z, y = fixed_noise(gan.z_dim, len(app.view["samples"]), smoke_models.seed, gan.num_classes)
    with torch.no_grad():
        expected = to_unit_range(g(z, y))
    assert torch.allclose(app.view["samples"], expected, atol=1e-6)


def test_scrubbing_back_is_served_from_the_cache(app):
    first = app.view
    assert not first["from_cache"]
    app.controls["snapshot"].value = 0
    app.wait()
    app.controls["snapshot"].value = len(app.controls["snapshot"].options) - 1
    app.wait()
    again = app.view
    assert again["from_cache"] and "cache" in app.status.value
    assert again["samples"] is first["samples"] and again["discriminator"] is first["discriminator"]


def test_the_initial_snapshot_has_no_log_yet(app):
    app.controls["snapshot"].value = 0
    app.wait()
    assert app.view["iteration"] == 0 and app.view["window"] is None
    assert len(app.view["history"]) == 0 and "no logged window" in app.status.value


def test_play_moves_the_slider(app, smoke_models):
    app.controls["play"].value = 1
    app.wait()
    assert app.controls["snapshot"].value == 1
    assert app.view["iteration"] == smoke_models.gan.snapshots[1]["iteration"]


def test_settings_change_the_maps_and_the_sample_count(app, smoke_models):
    maps = app.view["discriminator"]
    assert maps["real"]["evidence"] == "real" and maps["generated"]["evidence"] == "generated"
    app.set_values(evidence="real", explained=2, samples=app.grid_columns)
    app.wait()
    view = app.view
    assert view["discriminator"]["generated"]["evidence"] == "real"
    assert len(view["discriminator"]["real"]["images"]) == 2 and view["discriminator"]["real"]["maps"].shape[0] == 2
    assert len(view["samples"]) == app.grid_columns
    # Evidence for "real" on generated images is the negation of the evidence for "generated": other maps.
    assert not torch.allclose(view["discriminator"]["generated"]["maps"], maps["generated"]["maps"][:2])
    d = np.asarray(view["discriminator"]["real"]["d_output"])
    assert ((d >= 0) & (d <= 1)).all()
    app.controls["method"].value = "saliency"
    app.wait()
    assert app.view["method"] == "saliency" and app.error is None


def test_a_newer_snapshot_request_drops_the_older_one(smoke_models, tmp_path, monkeypatch):
    started, release = threading.Event(), threading.Event()
    real_samples_at = training_widgets.samples_at

    def gated_samples_at(gan, index, n, seed):
        if index == 0:  # hold the first request inside G until the user has moved on
            started.set()
            release.wait(30)
        return real_samples_at(gan, index, n, seed)

    monkeypatch.setattr(training_widgets, "samples_at", gated_samples_at)
    app = TrainingScrubber(smoke_models, run_path=tmp_path)
    app.controls["snapshot"].value = 0
    assert started.wait(30)
    app.controls["snapshot"].value = 2  # while snapshot 0 is still being computed
    release.set()
    app.wait()
    assert app.renders == 1 and app.view["snapshot"] == 2 and app.error is None
    assert any(key[0] == 0 for key in app._samples)  # the stale request did start …
    assert not any(key[0] == 0 for key in app._maps)  # … and stopped before D's maps


def test_a_diverged_gan_stops_at_its_last_sound_snapshot_and_says_so(smoke_models, tmp_path):
    gan = smoke_models.gan
    reason = f"non-finite discriminator loss (nan) at iteration {gan.iterations_done}; training stopped"
    diverged = dataclasses.replace(gan, snapshots=gan.snapshots[:2],
                                   meta={**gan.meta, "diverged": True, "divergence": reason})
    app = TrainingScrubber(dataclasses.replace(smoke_models, gan=diverged), run_path=tmp_path)
    assert len(app.controls["snapshot"].options) == 2
    app.request()
    app.wait()
    assert app.error is None and app.view["iteration"] == gan.snapshots[1]["iteration"]
    assert "DIVERGED" in app.status.value and reason in app.describe(app.view)
    assert len(app.view["history_after"]) > 0  # the log after the last sound snapshot is still shown (grey)


def test_without_a_gan_it_says_how_to_load_one(smoke_models):
    with pytest.raises(ValueError, match="gan=True"):
        TrainingScrubber(dataclasses.replace(smoke_models, gan=None))


def test_a_bad_snapshot_index_names_the_range(smoke_models):
    n = len(smoke_models.gan.snapshots)
    with pytest.raises(ValueError, match=rf"\[0, {n - 1}\]"):
        check_snapshot(smoke_models.gan, n)


def test_history_split_and_window_at_follow_the_iteration():
    frame = history_frame([{"iteration": i, "d_loss": 1.0 / i, "g_loss": float(i), "d_real": 0.9, "d_fake": 0.1,
                            "d_fake_after_d_step": 0.2} for i in (5, 10, 15)])
    seen, after = history_split(frame, 12)
    assert list(seen.index) == [5, 10] and list(after.index) == [15]
    assert window_at(frame, 12)["iteration"] == 10 and window_at(frame, 4) is None


def test_headless_show_saves_the_figure_and_export_writes_png_and_json(smoke_models, tmp_path, capsys):
    app = training_scrubber(smoke_models, interactive=False, run_path=tmp_path)
    assert (tmp_path / "figures" / "07_explorer_training.png").stat().st_size > 0
    assert "answered in" in capsys.readouterr().out
    png, data = app.export()
    record = json.loads(data.read_text())
    assert png.read_bytes() == app.figure.value
    assert record["app"] == "training" and record["iteration"] == app.view["iteration"]
    assert record["gan_checkpoint"] == smoke_models.gan.key
    assert max(record["log_iterations"]) <= record["iteration"]
    assert record["controls"]["snapshot"] == app.controls["snapshot"].value
