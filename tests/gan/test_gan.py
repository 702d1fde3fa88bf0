"""DCGAN models, training with logs and snapshots, the GAN cache, divergence and collapse detection, and the
discriminator's explanations."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xai_helpers.cnn.attribution import explain
from xai_helpers.data.datasets import ImageDataset
from xai_helpers.gan import dynamics as GD
from xai_helpers.gan.models import DCGANDiscriminator, DCGANGenerator, dcgan_init
from xai_helpers.gan.training_loop import snapshot_iterations
from xai_helpers.gan.train import (fixed_noise, gan_config, generate, to_gan_range,
                                   to_unit_range, train_gan)

TINY = dict(iterations=6, batch_size=16, z_dim=8, width=4, log_every=2, snapshot_every=3, seed=0, device="cpu",
            progress="none")


def _data(n=64, size=28, nan_at=None, classes=2):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=gen)
    if nan_at is not None:
        x[nan_at, 0, 0, 0] = float("nan")
    y = torch.arange(n) % classes
    return ImageDataset("tiny", x, y, x[:16].clone(), y[:16].clone(), tuple(str(i) for i in range(classes)))


# ------------------------------------------------------------------------------------------------- models
@pytest.mark.parametrize("size,channels,classes", [(28, 1, 0), (32, 3, 0), (28, 1, 3), (64, 3, 0), (64, 1, 2)])
def test_dcgan_shapes_ranges_and_labels(size, channels, classes):
    g = DCGANGenerator(8, channels, size, 4, classes).eval()
    d = DCGANDiscriminator(channels, size, 4, classes).eval()
    y = torch.arange(5) % classes if classes else None
    images = g(torch.randn(5, 8), y)
    assert images.shape == (5, channels, size, size) and images.abs().max() <= 1
    assert d(images, y).shape == (5,)
    seen = []
    hook = d.cam_layer.register_forward_hook(lambda m, i, o: seen.append(o.shape[-1]))
    d(images, y)
    hook.remove()
    assert seen == [7 if size == 28 else 8], "Grad-CAM's map: the last one above 4×4"


def test_the_28_and_32_px_networks_did_not_change_when_64_px_came():
    """Their cached weights must still load: the same parameter names and shapes as before (counted at width 4)."""
    for size, n_g, n_d in ((28, 4505, 2037), (32, 5209, 2933)):
        g, d = DCGANGenerator(8, 1, size, 4), DCGANDiscriminator(1, size, 4)
        assert sum(p.numel() for p in g.parameters()) == n_g and sum(p.numel() for p in d.parameters()) == n_d
        assert len(d.features) == 8 and len(g.net) == (5 if size == 28 else 8)


def test_conditional_networks_use_the_label_and_demand_it():
    torch.manual_seed(0)
    g, d = DCGANGenerator(8, 1, 28, 4, 3).eval(), DCGANDiscriminator(1, 28, 4, 3).eval()
    z = torch.randn(4, 8)
    assert not torch.allclose(g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.ones(4, dtype=torch.long)))
    x = torch.rand(4, 1, 28, 28)
    assert not torch.allclose(d(x, torch.zeros(4, dtype=torch.long)), d(x, torch.full((4,), 2)))
    with pytest.raises(ValueError, match="class-conditional"):
        g(z)
    with pytest.raises(ValueError, match="unconditional"):
        DCGANGenerator(8, 1, 28, 4)(z, torch.zeros(4, dtype=torch.long))


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    g = DCGANGenerator(64, 1, 28, 32)
    g.apply(dcgan_init)
    w = g.project[0].weight
    assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)
    assert g.project[1].weight.std().item() == pytest.approx(0.02, rel=0.2)
    assert g.net[-2].bias.abs().sum() == 0


def test_geometry_is_validated():
    with pytest.raises(ValueError, match="DCGAN image_size must be one of 28, 32, 64, got 48"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        DCGANDiscriminator(in_channels=2)
    with pytest.raises(ValueError, match="num_classes"):
        DCGANGenerator(num_classes=-1)


def test_range_conversions_and_fixed_noise():
    x = torch.rand(3, 1, 4, 4)
    assert torch.allclose(to_unit_range(to_gan_range(x)), x)
    z1, y1 = fixed_noise(8, 6, seed=1, num_classes=3)
    z2, _ = fixed_noise(8, 6, seed=1, num_classes=3)
    assert torch.equal(z1, z2) and y1.tolist() == [0, 1, 2, 0, 1, 2]
    assert not torch.equal(z1, fixed_noise(8, 6, seed=2)[0])


# ------------------------------------------------------------------------------------------------- training
def test_training_logs_snapshots_and_cache_round_trip(tmp_path, capsys):
    data = _data()
    first = train_gan(data, cache_dir=str(tmp_path), **TINY)
    assert not first.from_cache and not first.diverged and first.iterations_done == 6
    assert [r["iteration"] for r in first.history] == [2, 4, 6]
    record = first.history[0]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_fake_after_d_step", "grad_norm_d", "grad_norm_g",
                "weight_norm_d", "weight_norm_g"):
        assert math.isfinite(record[key]), key
    assert 0 <= record["d_real"] <= 1 and 0 <= record["d_fake"] <= 1
    # Per-layer norms combine to the network's norm.
    w = record["weight_norm_d_layers"]
    assert set(w) == {"features.0", "features.2", "features.3", "features.5", "features.6", "head"}
    assert math.sqrt(sum(v * v for v in w.values())) == pytest.approx(record["weight_norm_d"])
    assert [s["iteration"] for s in first.snapshots] == [0, 3, 6] == snapshot_iterations(6, 3)
    w0 = first.snapshots[0]["generator"]["project.0.weight"]
    assert not torch.equal(w0, first.snapshots[-1]["generator"]["project.0.weight"])  # training moved the weights
    assert all(torch.equal(v, first.snapshots[-1]["generator"][k]) for k, v in first.generator.state_dict().items())

    capsys.readouterr()
    second = train_gan(data, cache_dir=str(tmp_path), **TINY)
    assert second.from_cache and second.key == first.key
    assert "[cache] loaded DCGAN" in capsys.readouterr().out
    assert second.history == first.history
    for a, b in zip(first.snapshots, second.snapshots):
        assert a["iteration"] == b["iteration"]
        assert all(torch.equal(a["discriminator"][k], b["discriminator"][k]) for k in a["discriminator"])
    z = torch.randn(3, 8)
    assert torch.equal(first.generator(z), second.generator(z))


def test_training_is_reproducible_and_the_key_covers_the_config(tmp_path):
    data = _data()
    a = train_gan(data, cache_dir=str(tmp_path / "a"), **TINY)
    b = train_gan(data, cache_dir=str(tmp_path / "b"), **TINY)
    assert a.key == b.key and not b.from_cache
    assert all(torch.equal(v, b.generator.state_dict()[k]) for k, v in a.generator.state_dict().items())
    c = train_gan(data, cache_dir=str(tmp_path / "a"), **dict(TINY, iterations=4))
    assert c.key != a.key and not c.from_cache
    config = gan_config(data, iterations=6, batch_size=16, z_dim=8, width=4, lr_g=2e-4, lr_d=2e-4, beta1=0.5,
                        conditional=False, log_every=2, snapshot_every=3, seed=0, device=torch.device("cpu"))
    assert config["cpu_threads"] == torch.get_num_threads() and config["data_fingerprint"] == data.fingerprint


def test_conditional_training_and_balanced_generation(tmp_path):
    data = _data(classes=3)
    gan = train_gan(data, cache_dir=str(tmp_path), conditional=True, **TINY)
    assert gan.num_classes == 3
    images, labels = generate(gan.generator, 12, seed=0)
    assert images.shape == (12, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert np.bincount(labels.numpy()).tolist() == [4, 4, 4]
    again, _ = generate(gan.generator, 12, seed=0)
    assert torch.equal(images, again)


def test_injected_nan_stops_training_and_is_reported(tmp_path):
    # The NaN pixel sits in one training image; the run must stop at the first batch that contains it.
    data = _data(nan_at=5)
    gan = train_gan(data, cache_dir=str(tmp_path), **dict(TINY, iterations=40, snapshot_every=1, log_every=1))
    assert gan.diverged and "non-finite discriminator loss (nan)" in gan.divergence
    failed_at = int(gan.divergence.split("iteration ")[1].split(";")[0])
    assert gan.iterations_done == failed_at - 1 < 40
    assert [s["iteration"] for s in gan.snapshots] == list(range(failed_at))  # nothing after the failure
    assert all(torch.isfinite(v).all() for s in gan.snapshots for v in s["generator"].values() if v.is_floating_point())
    assert all(math.isfinite(r["d_loss"]) for r in gan.history) and len(gan.history) == failed_at - 1
    diagnosis = GD.diagnose(gan)
    assert diagnosis["diverged"] and not diagnosis["healthy"]


def test_non_finite_gradient_stops_before_the_step(tmp_path, monkeypatch):
    """A gradient that turns non-finite (here: injected into the norms the loop checks) stops training before
    the optimiser step, so every kept snapshot and the returned networks are finite and from before it."""
    from xai_helpers.gan import training_loop

    real_norms, calls = training_loop._layer_norms, {"grads": 0}

    def norms(model, grads):
        out = real_norms(model, grads)
        if grads:
            calls["grads"] += 1
            if calls["grads"] == 5:  # iteration 3, discriminator (calls per iteration: D, then G)
                out = dict(out, **{"features.2": float("inf")})
        return out

    monkeypatch.setattr(training_loop, "_layer_norms", norms)
    gan = train_gan(_data(), cache_dir=str(tmp_path), **dict(TINY, iterations=10, snapshot_every=1, log_every=4))
    assert gan.diverged and gan.divergence.startswith("non-finite discriminator gradient in features.2 at iteration 3")
    assert gan.iterations_done == 2 and [s["iteration"] for s in gan.snapshots] == [0, 1, 2]
    assert [r["iteration"] for r in gan.history] == [2]  # the unfinished window is kept, up to the last full step
    last = gan.snapshots[-1]["discriminator"]
    assert all(torch.equal(v, last[k]) for k, v in gan.discriminator.state_dict().items())


def test_a_run_that_diverges_at_once_is_still_described(tmp_path):
    data = _data(nan_at=list(range(64)))
    gan = train_gan(data, cache_dir=str(tmp_path), **TINY)
    assert gan.diverged and gan.iterations_done == 0 and gan.history == []
    frame = GD.history_frame(gan.history)
    assert frame.empty and "d_real" in frame.columns
    table = pd.DataFrame({"fid": [50.0], "classes_covered": [1], "class_kl": [0.6], "share/0": [1.0], "share/1": [0.0]},
                         index=pd.Index([0], name="iteration"))
    diagnosis = GD.diagnose(gan, table, 2)
    lines = GD.describe_phases(gan, table, diagnosis)
    assert lines[0].startswith("Training diverged: non-finite discriminator loss (nan) at iteration 1")
    assert any("No logging window" in line for line in lines) and any("did not improve" in line for line in lines)


def test_bad_arguments_are_refused(tmp_path):
    data = _data()
    with pytest.raises(ValueError, match="iterations must be a positive int, got 0"):
        train_gan(data, cache_dir=str(tmp_path), **dict(TINY, iterations=0))
    with pytest.raises(ValueError, match="batch_size 100 exceeds the 64 training images"):
        train_gan(data, cache_dir=str(tmp_path), **dict(TINY, batch_size=100))
    with pytest.raises(ValueError, match="28×28 and 32×32 and 64×64 images; tiny has 48×48"):
        train_gan(_data(size=48), cache_dir=str(tmp_path), **TINY)
    with pytest.raises(ValueError, match="beta1"):
        train_gan(data, cache_dir=str(tmp_path), beta1=1.0, **TINY)
    assert not any(tmp_path.iterdir())  # nothing half-written
    with pytest.raises(ValueError, match="3 labels for 4 samples"):
        generate(DCGANGenerator(8, 1, 28, 4, 2), 4, seed=0, labels=torch.zeros(3, dtype=torch.long))


# ------------------------------------------------------------------------------------------------- diagnosis
class _FakeGAN:
    def __init__(self, history, diverged=False):
        self.history, self.diverged, self.divergence = history, diverged, None


def _history(d_real, d_fake):
    return [{"iteration": 10 * (i + 1), "d_loss": 1.0, "g_loss": 1.0, "d_real": r, "d_fake": f,
             "d_fake_after_d_step": f, "grad_norm_d_layers": {"a": 1.0}} for i, (r, f) in enumerate(zip(d_real, d_fake))]


def test_discriminator_dominance_is_detected_only_when_long():
    long = _history([0.6] * 5 + [0.97] * 5, [0.4] * 5 + [0.02] * 5)
    d = GD.diagnose(_FakeGAN(long))
    assert d["discriminator_dominates"] and d["dominance_longest"] == {
        "from_iteration": 60, "to_iteration": 100, "share_of_training": 0.5}
    short = _history([0.6] * 9 + [0.97], [0.4] * 9 + [0.02])
    assert not GD.diagnose(_FakeGAN(short))["discriminator_dominates"]
    assert GD.diagnose(_FakeGAN(_history([0.6] * 10, [0.4] * 10)))["healthy"]


def test_mode_collapse_is_detected_from_the_class_histograms():
    def table(kls, covered):
        frame = pd.DataFrame({"class_kl": kls, "classes_covered": covered, "share/0": 0.5, "share/1": 0.5,
                              "share/2": 0.0, "share/3": 0.0}, index=[0, 100, 200, 300])
        return frame
    gan = _FakeGAN(_history([0.6] * 4, [0.4] * 4))
    healthy = GD.diagnose(gan, table([2.3, 0.3, 0.1, 0.05], [1, 4, 4, 4]), 4)
    assert not healthy["mode_collapse"]  # a collapsed start does not count
    collapsed = GD.diagnose(gan, table([2.3, 0.1, 0.2, 1.2], [1, 4, 4, 1]), 4)
    assert collapsed["mode_collapse"] and collapsed["mode_collapse_iterations"] == [300]


def test_evaluate_snapshots_matches_the_final_generator(tmp_path):
    from xai_helpers.gan import fidelity as F
    from xai_helpers.cnn.models import PlainCNN

    data = _data(n=96)
    gan = train_gan(data, cache_dir=str(tmp_path), **TINY)
    torch.manual_seed(0)
    clf = PlainCNN(num_classes=2, width=4, hidden=64).eval()
    name = F.register_classifier_features(clf, data.train_x)
    table = GD.evaluate_snapshots(gan, clf, data.train_x[:40], name, num_classes=2, n_samples=40, seed=3,
                                  kid_subsets=5, progress="none")
    assert list(table.index) == [0, 3, 6]
    fake, _ = generate(gan.generator, 40, seed=3)
    final = F.fidelity_metrics(fake, data.train_x[:40], name, kid_subsets=5, seed=3)
    assert table.loc[6, "fid"] == pytest.approx(final["fid"], rel=1e-6)
    hist = F.class_histogram(clf, fake, 2)
    assert table.loc[6, ["share/0", "share/1"]].tolist() == pytest.approx((hist / 40).tolist())


def test_history_frame_flattens_per_layer_norms():
    frame = GD.history_frame(_history([0.5, 0.6], [0.4, 0.3]))
    assert list(frame.index) == [10, 20] and "grad_norm_d/a" in frame.columns


# ------------------------------------------------------------------------------------------------- explanations
class PatchDiscriminator(nn.Module):
    """A 'discriminator' whose logit is the sum of a 1×1 convolution's output over the top-left 6×6 patch."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 1, 1), nn.LeakyReLU(0.2))
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.features[0].bias.fill_(0.5)

    def forward(self, x, y=None):
        return self.features(x)[:, 0, :6, :6].sum((1, 2))

    @property
    def cam_layer(self):
        return self.features[-1]


def test_discriminator_maps_find_the_region_it_uses():
    x = torch.rand(3, 1, 28, 28)
    maps = GD.discriminator_explanations(PatchDiscriminator(), x, ig_steps=16)
    assert set(maps) == set(GD.D_METHODS)
    for method, m in maps.items():
        assert m.shape == (3, 28, 28) and (m >= 0).all(), method
    # Gradient methods put all mass on the patch (Grad-CAM averages gradients over space, so it cannot here).
    for method in ("saliency", "integrated_gradients"):
        m = maps[method]
        assert m[:, :6, :6].min() > 0 and m[:, 6:, :].sum() == 0 and m[:, :, 6:].sum() == 0, method


def test_integrated_gradients_on_d_are_complete_from_a_black_image():
    torch.manual_seed(0)
    d = DCGANDiscriminator(1, 28, 4).eval()
    x = torch.rand(2, 1, 28, 28)
    wrapped = GD.DiscriminatorLogit(d)
    attr = explain(wrapped, to_gan_range(x), 0, "integrated_gradients", n_steps=200, baseline=-1.0)
    with torch.no_grad():
        gap = d(to_gan_range(x)) - d(torch.full_like(x, -1.0))
    assert torch.allclose(attr.sum((1, 2, 3)), gap, rtol=0.02, atol=1e-3)


def test_conditional_discriminator_explanations_keep_each_image_with_its_label():
    torch.manual_seed(0)
    d = DCGANDiscriminator(1, 28, 4, num_classes=3).eval()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 0])
    maps = GD.discriminator_explanations(d, x, y, ig_steps=8)
    for i in range(4):  # one image at a time with its own label gives the same maps
        alone = GD.discriminator_explanations(d, x[i:i + 1], y[i:i + 1], ig_steps=8)
        for method in GD.D_METHODS:
            assert torch.allclose(maps[method][i], alone[method][0], atol=1e-5), method


def test_ink_share():
    images = torch.zeros(2, 1, 4, 4)
    images[:, :, :2, :] = 1.0  # the top half is ink
    on_ink = images[:, 0].clone()
    uniform = torch.ones(2, 4, 4)
    assert GD.ink_share(on_ink, images)[:, 0].tolist() == [1.0, 1.0]
    assert GD.ink_share(uniform, images).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    empty = GD.ink_share(torch.zeros(2, 4, 4), images)
    assert np.isnan(empty[:, 0]).all() and empty[:, 1].tolist() == [0.5, 0.5]


def test_grad_cam_explains_the_verdict_asked_for():
    """Grad-CAM keeps positive evidence only: on a D whose logit is +sum over the patch, the 'real' evidence
    is there and the 'generated' evidence (−logit) is empty."""
    x = 0.5 + 0.5 * torch.rand(2, 1, 28, 28)  # in D's range [0, 1]: the feature map is positive everywhere
    real = GD.discriminator_explanations(PatchDiscriminator(), x, evidence="real", methods=("grad_cam",))["grad_cam"]
    fake = GD.discriminator_explanations(PatchDiscriminator(), x, evidence="generated", methods=("grad_cam",))["grad_cam"]
    assert real.sum() > 0 and fake.sum() == 0
    with pytest.raises(ValueError, match="evidence must be"):
        GD.discriminator_explanations(PatchDiscriminator(), x, evidence="fake")


def test_batchnorm_statistics_are_those_of_the_explained_kind():
    torch.manual_seed(0)
    d = DCGANDiscriminator(1, 28, 4)
    d.apply(dcgan_init)
    batch = to_gan_range(torch.rand(16, 1, 28, 28))
    calibrated = GD.batchnorm_as_in_training(d, batch)
    d.train()
    with torch.no_grad():
        assert torch.allclose(calibrated(batch), d(batch), rtol=1e-2, atol=1e-4)  # = train mode on that batch
        single = calibrated(batch[:1])
    assert torch.allclose(single, calibrated(batch)[:1], atol=1e-6)  # and per image, independent of the others
    assert calibrated is not d and not calibrated.training


def test_map_rank_similarity_skips_constant_maps():
    a = torch.rand(3, 5, 5)
    assert GD.map_rank_similarity(a, a) == pytest.approx(1.0)
    assert math.isnan(GD.map_rank_similarity(torch.zeros(2, 5, 5), torch.rand(2, 5, 5)))


def test_gan_settings_are_train_gans_arguments_from_the_profile():
    """04, 05 and 06 build 04's GAN from gan_settings: every key is a train_gan argument, every value the profile's,
    so a -p gan_* value reaches all three (one cache entry)."""
    import inspect

    from xai_helpers.gan.train import gan_settings, train_gan
    from xai_helpers.study.config import resolve_config

    config = resolve_config("smoke", gan_lr=1e-3, gan_z_dim=16)
    settings = gan_settings(config, conditional=True, seed=3, device=torch.device("cpu"), cache_dir="c")
    inspect.signature(train_gan).bind(None, **settings)  # raises on a key train_gan does not take
    assert settings["lr_g"] == settings["lr_d"] == 1e-3 and settings["z_dim"] == 16
    assert settings["iterations"] == config["gan_iterations"] and settings["conditional"] is True
    assert settings["device"] == "cpu" and settings["cache_dir"] == "c" and settings["seed"] == 3


def test_discriminator_over_training_explains_each_picked_snapshot_with_its_own_batch_norm(tmp_path):
    """04's view of D over training: a row per snapshot, kind and method, whose ink share is that of the maps it
    returns, and the real images explained with batch norm set on real data (as D had it), not on generated."""
    data = _data()
    gan = train_gan(data, cache_dir=str(tmp_path), **TINY)
    real = (data.test_x[:3], data.test_y[:3])
    real_bn = (data.train_x[:16], data.train_y[:16])
    noise = fixed_noise(gan.z_dim, 3, 0, gan.num_classes)
    images, maps, table = GD.discriminator_over_training(gan, [0, 2], real, real_bn, noise, batch_size=16, seed=0,
                                                         ig_steps=4, device="cpu")
    iterations = [gan.snapshots[i]["iteration"] for i in (0, 2)]
    assert sorted(maps["real"]) == sorted(maps["generated"]) == sorted(images["generated"]) == iterations
    assert len(table) == 2 * 2 * len(GD.D_METHODS)
    row = table[(table.iteration == iterations[1]) & (table.images == "real") & (table.method == "saliency")].iloc[0]
    share = GD.ink_share(maps["real"][iterations[1]]["saliency"], real[0])
    assert row.ink_share == pytest.approx(np.nanmean(share[:, 0]))
    _, d_snap = gan.networks_at(gan.snapshots[2])
    on_real = GD.batchnorm_as_in_training(d_snap, to_gan_range(real_bn[0]))
    expected = GD.discriminator_explanations(on_real, real[0], evidence="real", ig_steps=4)["saliency"]
    assert torch.allclose(maps["real"][iterations[1]]["saliency"], expected)
