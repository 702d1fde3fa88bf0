"""The GAN latent explorer without a browser: sliders move z as the formulas say, and the view follows z."""
import numpy as np
import pytest
import torch

from xai_helpers.explorer.latent_view import latent_point, latent_state
from xai_helpers.explorer.latent_widgets import LatentExplorer, latent_explorer
from xai_helpers.gan import decode


@pytest.fixture
def app(answered):
    return answered(LatentExplorer)


def _z(app, seed):
    return app._seed_latent(seed)[0][0]


def test_a_direction_slider_moves_z_by_alpha_times_the_direction(app):
    before = app.figure.value
    app.set_values(sefa_which=1, sefa_alpha=2.0)
    app.wait()
    v = app.directions()["SeFa"][1].vector
    np.testing.assert_allclose(app.view["z"], (_z(app, app.value("seed_a")) + 2.0 * torch.as_tensor(v).float()).numpy(),
                               rtol=1e-5, atol=1e-6)
    assert app.figure.value != before and "SeFa 2" in next(iter(app.view["moves"]))
    assert abs(np.linalg.norm(v) - 1) < 1e-6


def test_the_image_is_the_generator_at_that_z(app, smoke_models):
    app.set_values(t=1.0, path="lerp")
    app.wait()
    z_b = _z(app, app.value("seed_b"))
    np.testing.assert_allclose(app.view["z"], z_b.numpy(), rtol=1e-6)
    assert torch.allclose(app.view["image"], decode(smoke_models.gan.generator, z_b[None])[0], atol=1e-6)


def test_slerp_stays_on_the_shell_where_lerp_cuts_through(app):
    z_a, z_b = _z(app, 0), _z(app, 1)
    mid_lerp = latent_point(z_a, z_b, 0.5, "lerp", [])
    mid_slerp = latent_point(z_a, z_b, 0.5, "slerp", [])
    assert mid_slerp.norm() > mid_lerp.norm()
    assert min(z_a.norm(), z_b.norm()) - 1e-4 <= mid_slerp.norm() <= max(z_a.norm(), z_b.norm()) + 1e-4


def test_sensitivity_map_agrees_with_finite_differences(smoke_models):
    gan = smoke_models.gan
    z = torch.randn(1, gan.z_dim, generator=torch.Generator().manual_seed(3))
    state = latent_state(gan, smoke_models.classifiers["plain"], z)
    eps, base = 1e-3, decode(gan.generator, z.double().float())
    columns = [(decode(gan.generator, z + eps * torch.eye(gan.z_dim)[i:i + 1]) - base) / eps for i in range(gan.z_dim)]
    fd = torch.stack(columns, -1)[0].norm(dim=-1).mean(0).numpy()  # (H, W): ‖∂G_p/∂z‖ averaged over channels
    assert np.corrcoef(fd.ravel(), state["sensitivity"].ravel())[0, 1] > 0.99
    assert 0 <= state["d_real"] <= 1 and state["probabilities"].sum() == pytest.approx(1, abs=1e-5)


def test_interfacegan_directions_point_to_the_class_they_name(app, smoke_models):
    found = app.directions()["InterFaceGAN"]
    assert found, "no InterFaceGAN boundary at smoke"
    label = found[0].label
    assert "boundary accuracy" in label and label.startswith("InterFaceGAN → '")


def test_codes_are_set_as_coordinates_after_the_moves():
    z_a = torch.zeros(5)
    z = latent_point(z_a, z_a, 0.0, "lerp", [(np.ones(5) / np.sqrt(5), 1.0)], codes={0: 0.7})
    assert z[0, 0] == pytest.approx(0.7) and z[0, 1] == pytest.approx(1 / np.sqrt(5))
    with pytest.raises(ValueError, match="lerp, slerp"):
        latent_point(z_a, z_a, 0.0, "linear", [])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        latent_point(z_a, z_a, 1.5, "lerp", [])


def test_the_static_view_moves_along_every_family(smoke_models, tmp_path):
    app = latent_explorer(smoke_models, interactive=False, run_path=tmp_path)
    assert (tmp_path / "figures" / "07_explorer_latent.png").exists()
    assert len(app.view["moves"]) == sum(1 for f in ("sefa", "ganspace", "jtj", "interfacegan")
                                         if not app.controls[f"{f}_alpha"].disabled)
    assert len(app.controls) >= 10


def test_on_shapes_the_infogan_codes_are_sliders_and_the_factors_are_read_back(tmp_path):
    import os

    from xai_helpers.data import load_dataset
    from xai_helpers.explorer import load_study_models
    from xai_helpers.study import resolve_config

    config = resolve_config("smoke")
    shapes = load_dataset("shapes", image_size=32, train_limit=config["train_limit"], test_limit=config["test_limit"])
    models = load_study_models(shapes, config, seed=0, device="cpu", cache_dir=os.environ["XAI_CACHE_DIR"],
                               classifiers=("plain",), gan=True)
    assert models.info_gan is not None and models.regressor is not None
    app = LatentExplorer(models, run_path=tmp_path)
    app.controls["generator"].value = [g for g in app.gans if g.startswith("InfoGAN")][0]
    app.wait()
    assert len(app.code_sliders.children) == models.info_gan.code_dim == config["info_codes"]
    app.set_values(code_0=-0.9)
    app.wait()
    first = app.view
    app.set_values(code_0=0.9)
    app.wait()
    assert first["z"][0] == pytest.approx(-0.9) and app.view["z"][0] == pytest.approx(0.9)
    assert set(app.view["factors"]) == {"shape", "scale", "orientation", "pos_x", "pos_y"}
    assert not torch.equal(first["image"], app.view["image"])
    app.controls["generator"].value = "DCGAN (notebook 04)"
    app.wait()
    assert "factors" not in app.view and all(s.disabled for s in
                                             (app.controls[f"code_{j}"] for j in range(config["info_codes"])))


def test_needs_the_gan(smoke_models):
    import dataclasses
    with pytest.raises(ValueError, match="gan=True"):
        LatentExplorer(dataclasses.replace(smoke_models, gan=None))


def test_directions_refuse_k_beyond_the_latent_size(smoke_models):
    from xai_helpers.explorer.latent_view import latent_directions
    with pytest.raises(ValueError, match=r"expected an integer in \[1, "):
        latent_directions(smoke_models.gan, smoke_models.classifiers["plain"], smoke_models.data.classes, k=10_000)


def test_directions_wait_for_a_worker_that_is_computing(app):
    """The generator's observer computes directions (forward-mode Jacobians) in the kernel's thread; run while a
    worker computed another view, the two forward-AD computations collided ("Trying to access a forward AD level
    with an invalid index", intermittently). Directions now wait for whatever explorer is computing."""
    import threading

    from xai_helpers.explorer.app_widgets import COMPUTING

    app._directions.clear()
    held, done = threading.Event(), threading.Event()
    release = threading.Event()

    def busy_worker():
        with COMPUTING:
            held.set()
            release.wait(30)

    threading.Thread(target=busy_worker, daemon=True).start()
    assert held.wait(10)
    threading.Thread(target=lambda: (app.directions(), done.set()), daemon=True).start()
    assert not done.wait(1.0), "directions were computed while another computation held the explorers' lock"
    release.set()
    assert done.wait(120) and app.directions()["SeFa"]
