"""The measures from Quantus's families (localisation, complexity, randomisation, faithfulness): relevance mass and
rank accuracy with their chance levels, sparseness and entropy, Random Logit, smooth and Efficient MPRT and ROAD, on
hand cases, the stated tie rule, and cases built to fail. Agreement with Quantus on the same inputs is in
test_quantus_reference.py."""
import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from xai_helpers.cnn import explanation_metrics as em, road
from xai_helpers.cnn.attribution import explain, heatmap
from xai_helpers.cnn.attribution_study import substrate_rank_agreement
from xai_helpers.cnn.complexity import discrete_entropy, efficient_mprt, entropy, sparseness
from xai_helpers.cnn.localisation import localisation_chance, relevance_mass_accuracy, relevance_rank_accuracy
from xai_helpers.cnn.random_logit import other_classes, random_logit
from xai_helpers.cnn.road import linear_imputation, road_curves, road_images
from xai_helpers.cnn.smooth_mprt import fully_randomised, smooth_mprt, smoothed_maps

BOX = torch.tensor([[1, 1, 2, 2]])  # rows 1-2, columns 1-2 of a 4×4 map: K = 4 of 16 pixels


def test_mass_and_rank_accuracy_by_hand():
    heat = torch.zeros(1, 4, 4)
    heat[0, 1, 1], heat[0, 2, 2], heat[0, 0, 0], heat[0, 3, 3] = 4.0, 3.0, 2.0, 1.0
    assert relevance_mass_accuracy(heat, BOX) == pytest.approx([7 / 10])
    # top 4: 4 (in), 3 (in), 2 (out), 1 (out); the 12 zeros are below
    assert relevance_rank_accuracy(heat, BOX) == pytest.approx([0.5])


def test_rank_accuracy_shares_tied_places_in_proportion():
    """Top value 5 in the box, then a tie of 6 pixels at 1 (2 in the box) for the 3 places left: 1 + 3 · 2/6 = 2 of
    K = 4. Breaking the tie by position, as argsort does, would give 1/4 or 3/4 depending on where the pixels sit."""
    heat = torch.zeros(1, 4, 4)
    heat[0, 1, 1] = 5.0
    for r, c in ((1, 2), (2, 1), (0, 0), (0, 3), (3, 0), (3, 3)):
        heat[0, r, c] = 1.0
    assert relevance_rank_accuracy(heat, BOX) == pytest.approx([2 / 4])


def test_blank_and_constant_maps_score_zero_and_count_zero_in_the_chance_level():
    noise = torch.rand(4, 4, generator=torch.Generator().manual_seed(0))
    maps = torch.stack([torch.zeros(4, 4), torch.ones(4, 4), noise])
    boxes = BOX.repeat(3, 1)
    assert relevance_mass_accuracy(maps, boxes)[:2] == pytest.approx([0.0, 4 / 16])  # a constant map: its area share
    assert relevance_rank_accuracy(maps, boxes)[:2] == pytest.approx([0.0, 0.0])  # a constant map: no ranking
    assert localisation_chance(maps, boxes, "mass") == pytest.approx((0 + 4 / 16 + 4 / 16) / 3)
    assert localisation_chance(maps, boxes, "rank") == pytest.approx((0 + 0 + 4 / 16) / 3)


@pytest.mark.parametrize("block", [1, 2, 4])
def test_the_chance_level_is_the_mean_over_circular_shifts_whatever_the_granularity(block):
    """The module's claim, checked by brute force: a map made of block×block tiles (a Grad-CAM- or LIME-like map)
    scored against every circular shift of the box averages |B| / N."""
    coarse = torch.rand(1, 8 // block, 8 // block, generator=torch.Generator().manual_seed(block))
    heat = coarse.repeat_interleave(block, 1).repeat_interleave(block, 2)
    box = torch.tensor([[2, 3, 3, 2]])
    for measure, score in (("mass", relevance_mass_accuracy), ("rank", relevance_rank_accuracy)):
        shifted = [score(torch.roll(heat, (dr, dc), (1, 2)), box)[0] for dr in range(8) for dc in range(8)]
        assert np.mean(shifted) == pytest.approx(localisation_chance(heat, box, measure)) == pytest.approx(6 / 64)


def test_a_map_on_the_box_beats_chance_and_a_map_elsewhere_does_not():
    on, off = torch.zeros(1, 8, 8), torch.zeros(1, 8, 8)
    on[0, 2:4, 2:4], off[0, 5:7, 5:7] = 1.0, 1.0
    box = torch.tensor([[2, 2, 2, 2]])
    chance = localisation_chance(on, box, "rank")
    assert relevance_rank_accuracy(on, box)[0] == 1.0 > chance > relevance_rank_accuracy(off, box)[0] == 0.0
    assert relevance_mass_accuracy(on, box)[0] == 1.0 and relevance_mass_accuracy(off, box)[0] == 0.0


def test_bad_maps_and_boxes_are_refused():
    with pytest.raises(ValueError, match=r"must be \(N, H, W\) and boxes \(N, 4\)"):
        relevance_mass_accuracy(torch.ones(2, 4, 4), BOX)
    with pytest.raises(ValueError, match="non-negative"):
        relevance_rank_accuracy(-torch.ones(1, 4, 4), BOX)
    with pytest.raises(ValueError, match="at least one pixel"):
        relevance_rank_accuracy(torch.ones(1, 4, 4), torch.tensor([[9, 9, 2, 2]]))
    with pytest.raises(ValueError, match="measure must be 'mass' or 'rank', got 'pointing'"):
        localisation_chance(torch.ones(1, 4, 4), BOX, "pointing")


def test_sparseness_and_entropy_at_their_extremes():
    one_hot, uniform = torch.zeros(1, 10, 10), torch.ones(1, 10, 10)
    one_hot[0, 3, 3] = 2.0
    assert sparseness(one_hot)[0] == pytest.approx(0.99) and sparseness(uniform)[0] == pytest.approx(0.0)
    assert entropy(one_hot)[0] == pytest.approx(0.0) and entropy(uniform)[0] == pytest.approx(math.log(100))
    assert entropy(torch.zeros(1, 3, 3))[0] == 0.0
    half = torch.zeros(1, 10, 10)
    half[0, :5] = 1.0
    assert entropy(half)[0] == pytest.approx(math.log(50))


def test_discrete_entropy_counts_the_histogram_of_values():
    two_values = torch.zeros(1, 4, 4)
    two_values[0, :2] = 1.0  # 8 zeros and 8 ones: two bins of one half
    assert discrete_entropy(two_values)[0] == pytest.approx(math.log(2))
    assert discrete_entropy(torch.ones(1, 4, 4))[0] == 0.0
    spread = torch.arange(100.0).reshape(1, 10, 10)
    assert discrete_entropy(spread, bins=100)[0] == pytest.approx(math.log(100))


def test_other_classes_are_never_the_target_and_cover_the_others():
    targets = torch.zeros(3000, dtype=torch.long)
    drawn = other_classes(targets, 4, seed=1)
    assert not (drawn == targets).any() and set(drawn.tolist()) == {1, 2, 3}
    assert np.bincount(drawn.numpy(), minlength=4)[1:] == pytest.approx([1000] * 3, rel=0.1)
    assert torch.equal(other_classes(targets, 4, seed=1), drawn) and not torch.equal(other_classes(targets, 4), drawn)
    with pytest.raises(ValueError, match="at least 2 classes, got 1"):
        other_classes(targets, 1)
    with pytest.raises(ValueError, match=r"targets must be in \[0, 3\], got 0..7"):
        other_classes(torch.tensor([0, 7]), 4)


class _ClassBlind(nn.Module):
    """Every logit is the same function of the image: its gradient is the same map for every class."""
    def __init__(self, classes=3):
        super().__init__()
        self.classes, self.scale = classes, nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.scale * (x ** 2).flatten(1).sum(1, keepdim=True).repeat(1, self.classes)


class _ClassRegions(nn.Module):
    """Class c reads only the c-th third of the rows: its gradient map sits there."""
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        rows = x.shape[-2] // 3
        return self.scale * torch.stack([(x[..., c * rows:(c + 1) * rows, :] ** 2).flatten(1).sum(1)
                                         for c in range(3)], 1)


def test_random_logit_is_high_for_a_class_blind_model_and_low_for_a_class_sensitive_one():
    x = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(0)) + 0.1
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    blind = random_logit(_ClassBlind(), x, y, "saliency", 3, seed=0)
    sensitive = random_logit(_ClassRegions(), x, y, "saliency", 3, seed=0)
    assert blind == pytest.approx(np.ones(6))  # the same map whatever the class: the test fails it
    assert sensitive.max() < 0.2


def test_efficient_mprt_is_the_relative_entropy_change_at_the_last_cascade_step():
    """The cascade's complexity_change at full randomisation is mean_i (H(random map_i) − H(map_i)) / H(map_i)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2])
    records = em.cascading_randomization(model, x, y, "saliency", seed=0)
    assert records[0]["complexity_change"] == pytest.approx(0.0)  # step 0: the trained model again
    original = discrete_entropy(heatmap(explain(model, x, y, "saliency")))
    generator = torch.Generator().manual_seed(0)  # the cascade's draws, top down
    randomised = copy.deepcopy(model)
    for _, groups in reversed(em.randomisation_steps(randomised)):
        for modules in reversed(groups):
            em.reinitialise(modules, generator)
    final = discrete_entropy(heatmap(explain(randomised, x, y, "saliency")))
    assert records[-1]["complexity_change"] == pytest.approx(float(np.mean((final - original) / original)))
    constant = torch.ones(2, 4, 4)
    assert np.isnan(efficient_mprt(constant, torch.rand(2, 4, 4))).all()  # no histogram to widen: not a score


def test_linear_imputation_recovers_a_linear_ramp_inside_the_image():
    """Inside the image the neighbour weights are symmetric, so a linear function is its own weighted neighbour
    mean: a hole cut into a ramp is filled with the ramp."""
    rows, cols = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    ramp = (0.02 * rows + 0.05 * cols)[None, None].repeat(1, 3, 1, 1)
    removed = torch.zeros(1, 12, 12, dtype=torch.bool)
    removed[0, 3:9, 2:10] = True
    filled = linear_imputation(ramp * ~removed[:, None], removed)
    assert filled == pytest.approx(ramp, abs=1e-6)
    noisy = road_images(ramp, removed, noise=0.01, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy[:, :, ~removed[0]], ramp[:, :, ~removed[0]])  # kept pixels untouched
    assert 0.005 < float((noisy - filled)[:, :, removed[0]].std()) < 0.015  # noise of std 0.01 on the imputed ones
    everything = torch.ones(1, 12, 12, dtype=torch.bool)
    assert torch.equal(linear_imputation(ramp, everything), torch.zeros_like(ramp))  # nothing to anchor: 0


class _BlobDetector(nn.Module):
    """Class 0's logit grows with the brightness of the top third; classes 1 and 2 have a fixed logit of 2."""
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(12.0))

    def forward(self, x):
        top = x[..., : x.shape[-2] // 3, :].mean((1, 2, 3))
        return torch.stack([self.scale * top, torch.full_like(top, 2.0), torch.full_like(top, 2.0)], 1)


def test_road_morf_falls_faster_than_lerf_for_a_map_on_the_evidence():
    """Bright blobs in the top third are class 0's evidence. A map on them removes the evidence first (MoRF falls),
    and last when read backwards (LeRF stays high); a map on the dark rest swaps the two."""
    x = torch.zeros(4, 1, 12, 12)
    x[:, :, 0:3, 2:10] = 1.0
    on = x[:, 0] + 0.01 * torch.rand(4, 12, 12, generator=torch.Generator().manual_seed(1))
    targets = torch.zeros(4, dtype=torch.long)
    model = _BlobDetector().eval()
    morf, lerf = road_curves(model, x, targets, on, steps=6, seed=0)
    assert morf.shape == lerf.shape == (4, 7)
    assert em.curve_auc(morf) < em.curve_auc(lerf) - 0.2
    off_morf, off_lerf = road_curves(model, x, targets, on.max() - on, steps=6, seed=0)
    assert em.curve_auc(off_morf) > em.curve_auc(morf) and em.curve_auc(off_lerf) < em.curve_auc(lerf)
    again = road_curves(model, x, targets, on, steps=6, seed=0)
    assert np.array_equal(again[0], morf)  # the seed decides the noise


@pytest.mark.parametrize("values_per_solve", [2 ** 22, 3 * 4 * 2 * 12 * 12])  # all 12 masks in one solve; 3 per solve
def test_road_batched_imputation_equals_one_solve_per_fraction_and_order(monkeypatch, values_per_solve):
    monkeypatch.setattr(road, "IMPUTED_VALUES_PER_SOLVE", values_per_solve)
    g = torch.Generator().manual_seed(2)
    x, heat = torch.rand(4, 2, 12, 12, generator=g), torch.rand(4, 12, 12, generator=g)
    model, targets = _BlobDetector().eval(), torch.tensor([0, 1, 2, 0])
    morf, lerf = road_curves(model, x, targets, heat, steps=5, seed=3)
    rank = torch.empty(4, 144, dtype=torch.long)
    rank.scatter_(1, em.pixel_order(heat, 0), torch.arange(144).expand(4, -1))
    generator, expected = torch.Generator().manual_seed(3), []
    for k in torch.linspace(0, 144, 6).round().long():
        for removed in (rank < k, rank >= 144 - k):
            images = road_images(x, removed.view(4, 12, 12), generator=generator)
            expected.append(torch.softmax(model(images), 1)[torch.arange(4), targets].detach())
    np.testing.assert_allclose(morf, torch.stack(expected[0::2], 1).numpy(), atol=1e-6)
    np.testing.assert_allclose(lerf, torch.stack(expected[1::2], 1).numpy(), atol=1e-6)


def test_substrate_agreement_pairs_every_substrate_of_a_curve_and_leaves_the_random_row_out():
    table = pd.DataFrame({"deletion_auc_zero": [0.1, 0.2, 0.3, 0.9], "deletion_auc_blur": [0.3, 0.2, 0.1, 0.9],
                          "road_morf_auc": [0.1, 0.2, 0.3, 0.0], "road_lerf_auc": [0.5, 0.6, 0.7, 0.1],
                          "insertion_auc_zero": [0.9, 0.8, 0.7, 0.0], "insertion_auc_blur": [0.9, 0.8, 0.7, 0.5]},
                         index=["a", "b", "c", "random"])
    tau = substrate_rank_agreement(table)["kendall_tau"].to_dict()
    assert tau == pytest.approx({"deletion: zero vs blur": -1.0, "deletion: zero vs road": 1.0,
                                 "deletion: blur vs road": -1.0, "insertion: zero vs blur": 1.0})


def test_fully_randomised_is_the_cascades_last_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    randomised = fully_randomised(model, seed=5)
    by_hand = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(5)
    for _, groups in reversed(em.randomisation_steps(by_hand)):
        for modules in reversed(groups):
            em.reinitialise(modules, generator)
    for (name, a), (_, b) in zip(randomised.state_dict().items(), by_hand.state_dict().items()):
        assert torch.equal(a, b), name
    assert not torch.equal(randomised[0].weight, model[0].weight)  # the model itself is left as it was


def test_smooth_mprt_is_low_when_the_map_depends_on_the_weights_and_one_when_it_cannot():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 0])
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 3)).eval()
    rho = smooth_mprt(cnn, fully_randomised(cnn), x, y, "saliency", samples=4)
    assert np.nanmean(np.abs(rho)) < 0.5
    blind = _ClassBlind()  # no layer to randomise: the "random" model is the trained one
    assert smooth_mprt(blind, fully_randomised(blind), x, y, "saliency", samples=4) == pytest.approx(np.ones(4))
    one = smoothed_maps(cnn, x, y, "saliency", samples=1)
    assert torch.allclose(one, heatmap(explain(cnn, x, y, "saliency")).double(), atol=1e-6)  # 1 sample: no noise
    with pytest.raises(ValueError, match="samples must be ≥ 1, got 0"):
        smoothed_maps(cnn, x, y, "saliency", samples=0)
