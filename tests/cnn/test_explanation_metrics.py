"""Pointing game and its chance level on hand-made maps: ties, blocks, constant maps and circular shifts."""
import pytest
import torch

from xai_helpers.cnn import explanation_metrics as em


def test_a_constant_map_points_nowhere():
    # Every pixel of a constant map is a tied maximum, so "any tied maximum inside" would call it a hit.
    boxes = torch.tensor([[2, 2, 4, 4]] * 3)
    heat = torch.stack([torch.zeros(8, 8), torch.full((8, 8), 0.5), torch.ones(8, 8)])
    assert em.pointing_game(heat, boxes).tolist() == [0.0, 0.0, 0.0]
    assert em.pointing_game(heat, boxes, tolerance=0).tolist() == [0.0, 0.0, 0.0]


def test_a_block_maximum_scores_the_share_of_it_inside_the_box():
    heat = torch.zeros(1, 8, 8)
    heat[0, 2:6, 4:8] = 1.0  # a 4x4 superpixel (LIME, KernelSHAP); the box covers its columns 6 and 7
    box = torch.tensor([[2, 6, 4, 2]])
    assert em.pointing_game(heat, box, tolerance=0)[0] == pytest.approx(0.5)
    # the tolerance grows the box by a pixel on each side: columns 5-7 of the block count
    assert em.pointing_game(heat, box, tolerance=1)[0] == pytest.approx(0.75)


def test_separate_tied_peaks_share_the_hit():
    heat = torch.zeros(1, 10, 10)
    heat[0, 1, 1] = heat[0, 8, 8] = heat[0, 8, 1] = 2.0  # three equal peaks, one of them in the box
    heat[0, 5, 5] = 1.0  # below the maximum: never counts
    assert em.pointing_game(heat, torch.tensor([[0, 0, 3, 3]]), tolerance=0)[0] == pytest.approx(1 / 3)


def test_a_single_peak_inside_or_outside_the_box():
    heat = torch.zeros(3, 10, 10) + 0.1 * torch.rand(3, 10, 10, generator=torch.Generator().manual_seed(0))
    heat[0, 2, 3] = 1.0  # inside the box
    heat[1, 9, 9] = 1.0  # far outside
    heat[2, 4, 5] = 1.0  # one pixel right of the box: a hit only within the tolerance
    boxes = torch.tensor([[1, 2, 3, 3], [0, 0, 3, 3], [2, 2, 3, 3]])
    assert em.pointing_game(heat, boxes, tolerance=1).tolist() == [1.0, 0.0, 1.0]
    assert em.pointing_game(heat, boxes, tolerance=0).tolist() == [1.0, 0.0, 0.0]


def _boxes(n, size, patch, seed):
    g = torch.Generator().manual_seed(seed)
    corner = torch.randint(0, size - patch + 1, (n, 2), generator=g)
    return torch.cat([corner, torch.full((n, 2), patch)], 1)


def _block_maps(n, size, cell, seed):
    """Block-constant maps (one value per cell×cell superpixel, as LIME and KernelSHAP give)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, size // cell, size // cell, generator=g)
    return coarse.repeat_interleave(cell, 1).repeat_interleave(cell, 2)


def _mean_over_all_circular_shifts(heat, boxes, tolerance):
    """The chance level by brute force: each map's score under every one of its H·W circular shifts."""
    n, h, w = heat.shape
    shifted = torch.cat([torch.roll(heat, (dy, dx), (1, 2)) for dy in range(h) for dx in range(w)])
    return float(em.pointing_game(shifted, boxes.repeat(h * w, 1), tolerance).mean())


@pytest.mark.parametrize("tolerance", [0, 1])
def test_chance_of_single_pixel_maps_is_the_area_share(tolerance):
    heat, boxes = torch.rand(6, 16, 16, generator=torch.Generator().manual_seed(1)), _boxes(6, 16, 4, 2)
    chance = em.pointing_chance_for_maps(heat, boxes, tolerance)
    assert chance == pytest.approx(em.pointing_chance(boxes, 16, 16, tolerance))
    assert chance == pytest.approx(_mean_over_all_circular_shifts(heat, boxes, tolerance))


@pytest.mark.parametrize("tolerance", [0, 1])
def test_chance_of_block_maps_is_the_expected_block_overlap(tolerance):
    heat, boxes = _block_maps(5, 16, 4, 3), _boxes(5, 16, 4, 4)
    chance = em.pointing_chance_for_maps(heat, boxes, tolerance)
    assert chance == pytest.approx(_mean_over_all_circular_shifts(heat, boxes, tolerance))
    # A uniformly random one of the 16 superpixels as the maximum: its expected share inside the (grown) box.
    grown = boxes.clone()
    grown[:, :2] -= tolerance
    grown[:, 2:] += 2 * tolerance
    inside = em.box_mask(grown, 16, 16).float()  # (N, 16, 16)
    per_block = inside.unfold(1, 4, 4).unfold(2, 4, 4).mean((-1, -2))  # (N, 4, 4): share of each block inside
    assert chance == pytest.approx(float(per_block.mean()))
    # Counting any block that touches the box as a hit would put the chance far higher.
    assert float((per_block > 0).float().mean()) > 1.5 * chance


def test_constant_maps_lower_the_chance_of_a_method():
    boxes = _boxes(4, 16, 4, 5)
    heat = _block_maps(4, 16, 4, 6)
    heat[2:] = 0.0  # half of the maps are all zeros: they score 0 wherever the patch is
    chance = em.pointing_chance_for_maps(heat, boxes)
    assert chance == pytest.approx(_mean_over_all_circular_shifts(heat, boxes, 1))
    assert chance == pytest.approx(em.pointing_chance(boxes[:2], 16, 16) / 2)


def test_the_chance_level_is_deterministic():
    heat, boxes = _block_maps(4, 16, 4, 7), _boxes(4, 16, 4, 8)
    state = torch.get_rng_state()
    first = em.pointing_chance_for_maps(heat, boxes)
    assert torch.equal(state, torch.get_rng_state())  # draws nothing from the global generator
    assert all(em.pointing_chance_for_maps(heat.clone(), boxes.clone()) == first for _ in range(3))
