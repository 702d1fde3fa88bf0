"""Memorisation: nearest training neighbours of generated against held-out images, on hand cases, on samples of
one distribution (not flagged), and on planted copiers (flagged)."""
import math

import numpy as np
import pytest
import torch

from xai_helpers.gan.memorisation import (copycat_samples, data_copying_z, memorisation_test, nearest_distances,
                                          without_distances)


def test_nearest_distances_by_hand():
    queries = np.array([[0.0, 0.0], [6.0, 4.0], [6.0, 8.5]])  # nearest: (0, 1), (6, 8), (6, 8)
    reference = np.array([[0.0, 1.0], [6.0, 8.0]])
    assert nearest_distances(queries, reference, chunk=2) == pytest.approx([1.0, 4.0, 0.5])


def test_the_data_copying_z_by_hand():
    """Generated distances 1, 2 all below held-out 3, 4: U = 0 of m·n = 4 pairs, Z_U = (0 − 2) / √(4·5/12)."""
    assert data_copying_z([1.0, 2.0], [3.0, 4.0]) == pytest.approx(-2 / math.sqrt(20 / 12))
    assert data_copying_z([3.0, 4.0], [1.0, 2.0]) == pytest.approx(2 / math.sqrt(20 / 12))
    assert data_copying_z([1.0, 3.0], [1.0, 3.0]) == 0.0  # ties count ½: no side


def _gaussians(seed, n_train=1000, n=300, d=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_train, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng


def test_new_samples_of_the_training_distribution_are_not_flagged():
    """Generated and held-out images from one distribution: the near-copy share is about the 5 % it is calibrated
    to, and neither test flags any of 40 draws (a binomial test against a fixed 5 %, which ignores the noise of the
    estimated threshold, flagged 2 of these 40 at its level of 1 %)."""
    shares, flagged, zs = [], [], []
    for seed in range(40):
        train, held, gen, _ = _gaussians(seed)
        result = memorisation_test(gen, train, held)
        shares.append(result["near_copy_share"]), flagged.append(result["flagged"]), zs.append(result["data_copying_z"])
    assert not any(flagged)
    assert np.mean(shares) == pytest.approx(0.05, abs=0.015)
    assert abs(np.mean(zs)) < 0.6  # Z_U is centred under the null


def test_copies_are_flagged_even_when_few():
    train, held, gen, rng = _gaussians(0)
    copies = train[rng.integers(0, len(train), len(gen))] + 0.05 * rng.normal(size=gen.shape)
    full = memorisation_test(copies, train, held)
    assert full["flagged_by"] == ["near-copy share", "Z_U"] and full["near_copy_share"] == 1.0
    assert full["data_copying_z"] < -3 and full["median_distance_ratio"] < 0.2
    some = memorisation_test(np.concatenate([gen[:270], copies[:30]]), train, held)  # 10 % copies
    assert some["flagged_by"] == ["near-copy share"] and some["near_copy_share"] >= 0.1  # local: the share sees it


def test_disguised_copies_that_miss_the_threshold_are_flagged_by_z_u():
    """Every sample sits a little closer to the training set than new images do, none below τ: the share cannot
    see it, Meehan et al.'s Z_U does (global)."""
    train, held, gen, rng = _gaussians(2)
    d_held = nearest_distances(held, train)
    tau = np.quantile(d_held, 0.05)
    anchors = train[rng.integers(0, len(train), len(gen))]
    directions = rng.normal(size=gen.shape)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radius = np.quantile(d_held, 0.35)  # a third of new images are closer than these, and none of these below τ
    disguised = anchors + radius * directions
    result = memorisation_test(disguised, train, held)
    assert result["near_copy_share"] <= 0.05 and tau < radius
    assert result["flagged_by"] == ["Z_U"] and result["data_copying_z"] < -3


def test_a_generator_that_draws_far_from_the_data_is_not_flagged_and_has_a_positive_z():
    train, held, gen, _ = _gaussians(1)
    result = memorisation_test(3 * gen, train, held)
    assert not result["flagged"] and result["near_copy_share"] < 0.05 and result["data_copying_z"] > 3


def test_the_copycat_generator_returns_jittered_training_images_and_is_flagged_in_pixel_space():
    """Shifted by a pixel, noise images are as far from their originals as from any other (04 measures in the
    classifier's features, which tolerate the shift); in pixel space the test copies without shifts."""
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(400, 1, 12, 12, generator=gen)
    held = torch.rand(100, 1, 12, 12, generator=gen)
    copies = copycat_samples(train, 100, jitter=0.03, seed=1)
    assert copies.shape == (100, 1, 12, 12) and 0 <= copies.min() and copies.max() <= 1
    assert not any(torch.equal(c, t) for c in copies[:5] for t in train)  # disguised, not returned as they were
    assert torch.equal(copycat_samples(train, 100, seed=1), copies)  # the seed decides
    assert not torch.equal(copycat_samples(train, 100), copies)
    unrolled = [min(float((torch.roll(c, (a, b), (1, 2)) - t).abs().max()) for t in train
                    for a in (-1, 0, 1) for b in (-1, 0, 1)) for c in copies[:5]]
    assert max(unrolled) < 0.2  # each is a training image shifted by at most a pixel, plus noise (σ 0.03)
    unshifted = copycat_samples(train, 100, jitter=0.03, max_shift=0, seed=1)
    result = memorisation_test(unshifted.flatten(1), train.flatten(1), held.flatten(1))
    assert result["flagged"] and result["near_copy_share"] > 0.9
    assert set(without_distances(result)) == set(result) - {"generated_distances", "heldout_distances"}


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"one d, got \(3, 2\) and \(4, 3\)"):
        nearest_distances(np.zeros((3, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="quantile and alpha must be in"):
        memorisation_test(np.zeros((3, 2)), np.zeros((4, 2)), np.zeros((3, 2)), quantile=5)
    with pytest.raises(ValueError, match="at least 2 generated and 2 held-out images, got 1 and 3"):
        memorisation_test(np.zeros((1, 2)), np.zeros((4, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n must be ≥ 1 and jitter ≥ 0, got 0"):
        copycat_samples(torch.zeros(3, 1, 4, 4), 0)
    with pytest.raises(ValueError, match="max_shift must be ≥ 0, got -1"):
        copycat_samples(torch.zeros(3, 1, 4, 4), 2, max_shift=-1)
