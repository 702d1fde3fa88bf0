"""Latent sensitivity (exact on a linear generator), interpretable directions, latent IG, dissection, InfoGAN."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xai_helpers.data.datasets import ImageDataset
from xai_helpers.gan.models import DCGANDiscriminator, DCGANGenerator, sample_latent
from xai_helpers.gan.train import balanced_labels, decode, train_gan
from xai_helpers.latent import directions as LD
from xai_helpers.latent import sensitivity as LS
from xai_helpers.latent.attribution import latent_integrated_gradients
from xai_helpers.latent.dissection import (ablation_effect, dissect, dissection_examples, dissection_layer,
                                          generate_ablated, unit_iou)


class LinearGenerator(nn.Module):
    """G(z) = W z + b reshaped to (1, 4, 4): its Jacobian is W everywhere."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.z_dim, self.num_classes = w.shape[1], 0
        self.lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            self.lin.weight.copy_(w)
            self.lin.bias.copy_(b)

    def forward(self, z):
        return self.lin(z).view(-1, 1, 4, 4)


@pytest.fixture
def linear():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(16, 5, generator=gen) * torch.tensor([3.0, 1.0, 0.5, 2.0, 0.1])
    return LinearGenerator(w, torch.randn(16, generator=gen)), w


def test_linear_generator_sensitivity_is_column_norms_and_metric_is_wtw(linear):
    g, w = linear
    z = torch.randn(7, 5)
    jac = LS.jacobian(g, z)
    assert jac.shape == (7, 16, 5)
    torch.testing.assert_close(jac, w.expand(7, -1, -1), rtol=0, atol=1e-6)
    s = LS.sensitivity(jac)
    torch.testing.assert_close(s, w.norm(dim=0).expand(7, -1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(LS.expected_jtj(jac), (w.T @ w).double(), rtol=1e-6, atol=1e-5)
    values, vectors = LS.spectrum(LS.expected_jtj(jac))
    assert np.all(np.diff(values) <= 1e-9)
    np.testing.assert_allclose(values, np.linalg.eigvalsh((w.T @ w).double().numpy())[::-1], rtol=1e-6)
    maps = LS.sensitivity_maps(jac, (1, 4, 4))
    torch.testing.assert_close(maps, w.abs().T.reshape(5, 4, 4))
    # forward mode agrees with the Jacobian: ‖W v‖
    v = torch.tensor([1.0, -1.0, 0.0, 0.0, 0.0]) / 2 ** 0.5
    torch.testing.assert_close(LS.directional_sensitivity(g, z, v), (w @ v).norm().expand(7), rtol=1e-5, atol=1e-5)


def test_finite_differences_agree_with_autograd_on_a_dcgan_and_disagree_with_a_wrong_jacobian():
    torch.manual_seed(0)
    g = DCGANGenerator(6, 1, 28, 4).eval()
    z = torch.randn(3, 6)
    check = LS.autograd_vs_finite_differences(g, z)
    assert check["max_rel_err"] < 1e-5 and check["dtype"] == "float64"
    jf = LS.finite_difference_jacobian(g.double(), z.double())
    wrong = LS.jacobian(g, z.double()).clone()
    wrong[:, :, 0] *= 1.1  # a 10 % error in one column must show
    err = ((wrong - jf).flatten(1).norm(dim=1) / jf.flatten(1).norm(dim=1)).max()
    assert err > 1e-2


def test_conditional_jacobian_uses_labels():
    torch.manual_seed(0)
    g = DCGANGenerator(4, 1, 28, 4, num_classes=3).eval()
    z = torch.randn(2, 4)
    with pytest.raises(ValueError, match="conditional"):
        LS.jacobian(g, z)
    j0 = LS.jacobian(g, z, torch.tensor([0, 0]))
    j1 = LS.jacobian(g, z, torch.tensor([1, 1]))
    assert not torch.allclose(j0, j1)
    assert LS.autograd_vs_finite_differences(g, z, torch.tensor([0, 2]))["max_rel_err"] < 1e-5


def test_jacobian_rejects_wrong_latent_shape(linear):
    g, _ = linear
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        LS.jacobian(g, torch.randn(3, 4))


def test_effective_dimension_counts_equal_directions():
    assert LS.effective_dimension([1, 1, 1, 0]) == pytest.approx(3)
    assert LS.effective_dimension([1, 0, 0]) == pytest.approx(1)


# ------------------------------------------------------------------------------------------ directions
def test_sefa_returns_a_planted_dominant_direction_first():
    rng = np.random.default_rng(0)
    planted = rng.standard_normal(8)
    planted /= np.linalg.norm(planted)
    a = 0.1 * rng.standard_normal((50, 8)) + 5.0 * np.outer(rng.standard_normal(50), planted)
    values, dirs = LD.sefa(torch.tensor(a), k=3)
    assert abs(dirs[0] @ planted) > 0.99
    assert values[0] > 10 * values[1]
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0)


def _generator_with_uneven_batch_norm(num_classes=0):
    torch.manual_seed(0)
    g = DCGANGenerator(6, 1, 28, 4, num_classes=num_classes).eval()
    bn = g.project[1]
    with torch.no_grad():  # gains of a trained G: large and uneven (5.6–12.7)
        bn.weight.copy_(torch.empty_like(bn.weight).uniform_(2.0, 6.0))
        bn.running_var.copy_(torch.empty_like(bn.running_var).uniform_(0.1, 0.5))
        bn.running_mean.copy_(torch.randn_like(bn.running_mean))
        bn.bias.copy_(torch.randn_like(bn.bias))
    return g


def test_sefa_eigenvalues_are_the_squared_change_of_the_batch_norm_output_per_unit_step():
    g = _generator_with_uneven_batch_norm()
    values, dirs = LD.sefa(LD.first_layer_weight(g))
    lin, bn = g.project[0].double(), g.project[1].double()
    z = torch.randn(5, 6, dtype=torch.float64)

    def change(v):  # ‖BN(W(z + v)) − BN(W z)‖², the same for every z: BN is affine in eval mode
        with torch.no_grad():
            return ((bn(lin(z + torch.as_tensor(v))) - bn(lin(z))) ** 2).sum(1)

    for j in (0, 3):
        torch.testing.assert_close(change(dirs[j]), torch.full((5,), values[j], dtype=torch.float64), rtol=1e-5,
                                   atol=0)
    # The top direction moves the batch norm's output most of all unit directions.
    others = LD.random_directions(6, 200, seed=1)
    assert max(change(v)[0].item() for v in others) <= values[0] * (1 + 1e-9)
    # Uneven gains turn the directions, not only the eigenvalues: the raw weight's top direction differs.
    _, raw_dirs = LD.sefa(LD.first_layer_weight(g, fold_batch_norm=False), k=1)
    assert abs(raw_dirs[0] @ dirs[0]) < 0.99


def test_sefa_folds_the_batch_norm_of_a_conditional_generator_on_z_only():
    g = _generator_with_uneven_batch_norm(num_classes=3)
    folded = LD.first_layer_weight(g)
    assert folded.shape == (g.project[0].out_features, 6)
    bn = g.project[1]
    gain = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close(folded, gain[:, None] * g.project[0].weight.detach()[:, :6])


def test_ganspace_finds_the_direction_that_drives_the_first_layer():
    torch.manual_seed(0)
    g = DCGANGenerator(6, 1, 28, 4).eval()
    with torch.no_grad():  # the first layer only listens to z_2
        g.project[0].weight.zero_()
        g.project[0].weight[:, 2] = torch.randn(g.project[0].weight.shape[0])
    _, dirs = LD.ganspace(g, torch.randn(400, 6), k=1)
    assert abs(dirs[0, 2]) > 0.95


def test_interfacegan_recovers_a_linear_boundary():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(600, 6, generator=gen)
    normal = torch.tensor([0.0, 3.0, 0.0, -4.0, 0.0, 0.0]) / 5
    direction, acc = LD.interfacegan(z, (z @ normal > 0.2).numpy())
    assert direction @ normal.numpy() > 0.95 and acc > 0.9
    with pytest.raises(ValueError, match="600 of 600 latents have the attribute and 0 do not"):
        LD.interfacegan(z, np.ones(600, bool))


def test_interfacegan_refuses_a_side_with_fewer_than_ten_latents():
    """05 on shapes at smoke scale (seed 0, 2 threads) fitted a boundary to a property measurable on a handful of
    samples: one latent above the median, and sklearn's stratified split failed with its own message."""
    z = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    few = np.zeros(200, bool)
    few[:9] = True
    assert LD.interfacegan_refusal(few) == ("9 of 200 latents have the attribute and 191 do not; a boundary needs at "
                                            "least 10 on each side")
    with pytest.raises(ValueError, match="InterFaceGAN: 9 of 200 latents"):
        LD.interfacegan(z, few)
    few[9] = True
    assert LD.interfacegan_refusal(few) is None and len(LD.interfacegan(z, few)[0]) == 4


def test_slerp_keeps_norm_and_endpoints_and_lerp_is_linear():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = LD.slerp(z0, z1, [0, 0.5, 1])
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[2], z1)
    torch.testing.assert_close(path.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(LD.lerp(z0, z1, [0.5])[0], torch.tensor([0.5, 0.5]))


def test_rescoring_measures_the_readout_change_per_unit_step(linear):
    g, w = linear
    # read-out: mean of the image; a unit step along e_0 changes it by mean(W[:, 0]) (linear, exact).
    readout = lambda x: pd.DataFrame({"mean": x.flatten(1).mean(1).double().numpy()})  # noqa: E731

    class Clamped(LinearGenerator):  # decode() maps to [0, 1]; keep the linear part inside tanh's range
        def forward(self, z):
            return 0.01 * self.lin(z).view(-1, 1, 4, 4)

    gc = Clamped(w, torch.zeros(16))
    z = torch.zeros(4, 5)
    table = LD.rescoring(gc, z, {"e0": np.eye(5)[0], "e4": np.eye(5)[4]}, readout, pd.Series({"mean": 1.0}),
                         step=0.5)
    # decode: x01 = (0.01 W z + 1) / 2 → d mean / d z_0 = 0.005 mean(W[:, 0])
    assert table.loc["e0", "mean"] == pytest.approx(0.005 * w[:, 0].mean().item(), rel=1e-3)
    assert abs(table.loc["e4", "mean"]) < abs(table.loc["e0", "mean"])


# ------------------------------------------------------------------------------------------- latent IG
def test_latent_integrated_gradients_is_complete():
    torch.manual_seed(0)
    g = DCGANGenerator(6, 1, 28, 4).eval()
    clf = nn.Sequential(nn.Flatten(), nn.Linear(784, 16), nn.Tanh(), nn.Linear(16, 3)).eval()
    out = latent_integrated_gradients(g, clf, torch.randn(4, 6), target=1, n_steps=64)
    assert out["attributions"].shape == (4, 6)
    assert out["max_completeness_err"] < 0.01
    torch.testing.assert_close(out["attributions"].sum(1), out["delta"], rtol=0.01, atol=1e-4)


# ------------------------------------------------------------------------------------------- dissection
class PlantedGenerator(nn.Module):
    """Unit 0 of ``hidden`` draws the left half of the image; units 1–3 add faint texture everywhere."""

    def __init__(self):
        super().__init__()
        self.z_dim, self.num_classes = 2, 0
        self.hidden = nn.ReLU()
        self.mix = nn.Conv2d(4, 1, 1)
        with torch.no_grad():
            self.mix.weight.copy_(torch.tensor([3.0, 0.2, 0.2, 0.2]).view(1, 4, 1, 1))
            self.mix.bias.fill_(-2.0)
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("texture", torch.rand(3, 8, 8, generator=gen))

    def forward(self, z):
        left = torch.zeros(8, 8)
        left[:, :4] = 1
        unit0 = (1 + z[:, :1, None, None].abs()) * left
        rest = z[:, 1:2, None, None].abs() * self.texture[None]
        return torch.tanh(self.mix(self.hidden(torch.cat([unit0, rest], 1))))


def test_dissection_finds_the_planted_unit_and_its_ablation_removes_the_concept():
    g = PlantedGenerator()
    z = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
    left = torch.zeros(32, 8, 8, dtype=torch.bool)
    left[:, :, :4] = True
    result = dissect(g, z, {"left half": left}, layer=g.hidden, top_k=1, n_random=3, quantiles=(0.5,))
    c = result["concepts"]["left half"]
    assert c["top_units"] == [0] and c["top_unit_iou"] > 0.9
    assert c["ablation_effect_top"] > 0.5 > c["ablation_effect_random_max"]
    with pytest.raises(ValueError, match="top_k"):
        dissect(g, z, {"left half": left}, layer=g.hidden, top_k=4)


def test_ablating_every_unit_of_a_dcgan_layer_changes_the_output():
    torch.manual_seed(0)
    g = DCGANGenerator(4, 1, 28, 8).eval()
    layer = dissection_layer(g)
    z = torch.randn(8, 4)
    units = range(g.net[-2].in_channels)
    ablated = generate_ablated(g, layer, units, z)
    assert (ablated - decode(g, z)).abs().max() > 0.01
    # with every unit off, the output no longer depends on z (only the last layer's bias is left)
    torch.testing.assert_close(ablated, ablated[:1].expand_as(ablated))
    torch.testing.assert_close(decode(g, z), decode(g, z))  # the hook is gone afterwards


def test_unit_iou_and_ablation_effect_on_planted_masks():
    acts = torch.zeros(2, 3, 4, 4)
    acts[:, 0, :2, :2] = 1.0  # unit 0 fires exactly on the top-left quadrant
    acts[:, 1] = torch.rand(2, 4, 4)
    concept = torch.zeros(2, 8, 8, dtype=torch.bool)
    concept[:, :4, :4] = True
    iou = unit_iou(acts, torch.tensor([0.5, 2.0, 0.5]), concept)
    assert iou[0] > 0.7 and iou[1] == 0 and iou[2] == 0
    images = torch.zeros(2, 1, 8, 8)
    images[:, :, :4, :4] = 1.0
    half = images.clone()
    half[:, :, :2, :4] = 0  # half the concept's ink removed
    assert ablation_effect(images, half, concept) == pytest.approx(0.5)
    assert ablation_effect(images, images, concept) == 0
    assert np.isnan(ablation_effect(torch.zeros_like(images), images, concept))


# -------------------------------------------------------------------------------------------- InfoGAN
def test_sample_latent_codes_are_uniform_and_plain_latents_unchanged():
    z = sample_latent(6, 2000, torch.Generator().manual_seed(0), code_dim=2)
    assert z[:, :2].abs().max() <= 1 and z[:, :2].std() < 0.7  # U(−1, 1) has std 0.577
    assert abs(z[:, 2:].std().item() - 1) < 0.05
    torch.testing.assert_close(sample_latent(6, 5, torch.Generator().manual_seed(0)),
                               torch.randn(5, 6, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="exceeds z_dim"):
        sample_latent(3, 2, code_dim=4)


def test_infogan_trains_its_code_head_and_logs_the_information_term(tmp_path):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 28, 28, generator=gen)
    data = ImageDataset("tiny", x, torch.zeros(64, dtype=torch.long), x[:8], torch.zeros(8, dtype=torch.long), ("a",))
    gan = train_gan(data, iterations=30, batch_size=16, z_dim=6, width=4, log_every=5, snapshot_every=30,
                    device="cpu", progress="none", cache_dir=str(tmp_path), info_codes=2, info_weight=1.0)
    assert gan.code_dim == 2 and isinstance(gan.discriminator, DCGANDiscriminator)
    info = [r["info_loss"] for r in gan.history]
    assert info[-1] < info[0]  # Q learns to read the codes back
    plain = train_gan(data, iterations=2, batch_size=16, z_dim=6, width=4, log_every=1, snapshot_every=2,
                      device="cpu", progress="none", cache_dir=str(tmp_path))
    assert plain.key != gan.key and "info_loss" not in plain.history[0]
    with pytest.raises(ValueError, match="info_codes"):
        train_gan(data, iterations=2, z_dim=6, info_codes=7, device="cpu", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="no InfoGAN code head"):
        plain.discriminator.forward_with_codes(x[:2])


def test_dissection_examples_show_the_sample_with_most_concept_pixels_and_its_ablations():
    torch.manual_seed(0)
    g = DCGANGenerator(4, 1, 28, 8).eval()
    z = torch.randn(16, 4, generator=torch.Generator().manual_seed(2))
    images = decode(g, z)
    concept = {"bright": images[:, 0] > images.mean()}
    result = dissect(g, z, concept, top_k=2, n_random=2)
    example = dissection_examples(g, z, concept, result)["bright"]
    i = int(concept["bright"].flatten(1).sum(1).argmax())
    entry = result["concepts"]["bright"]
    torch.testing.assert_close(example["image"], images[i, 0])
    assert torch.equal(example["concept"], concept["bright"][i]) and example["unit"] == entry["top_units"][0]
    layer = dissection_layer(g)
    torch.testing.assert_close(example["ablated_top"], generate_ablated(g, layer, entry["top_units"], z[i:i + 1])[0, 0])
    torch.testing.assert_close(example["ablated_random"],
                               generate_ablated(g, layer, entry["random_sets"][0], z[i:i + 1])[0, 0])
    assert example["unit_mask"].shape == (28, 28) and example["unit_mask"].dtype == torch.bool


def test_balanced_labels_cycle_through_the_classes_and_are_none_for_an_unconditional_generator():
    assert balanced_labels(7, 3).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert balanced_labels(5, 0) is None
