"""Concept sets for TCAV and the planted-concept data (xai_helpers.concepts.sets, data.planting.planted_concept_dataset)."""
import numpy as np
import pytest
import torch

from xai_helpers.data.planting import planted_concept_dataset
from xai_helpers.concepts.sets import (concept_sets, dots, euler_numbers, pattern_alone, planting_pattern,
                                  slanted_strokes, stripes, thick_strokes, thin_strokes)
from xai_helpers.data.datasets import ImageDataset


def ring(size=28, r_out=8, r_in=5, cy=14, cx=14):
    yy, xx = np.mgrid[:size, :size]
    d = (yy - cy) ** 2 + (xx - cx) ** 2
    return ((d <= r_out ** 2) & (d > r_in ** 2)).astype(np.float32)


def bar(size=28, top=4, left=12, height=20, width=4):
    img = np.zeros((size, size), np.float32)
    img[top:top + height, left:left + width] = 1
    return img


def synthetic(n=400, seed=0, ring_every=2):
    """Rings (class 0, one hole; every ``ring_every``-th image) and bars (class 1), at random offsets, with a
    little noise: unique images."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n):
        dy, dx = rng.integers(-4, 5, 2)
        is_ring = i % ring_every == 0
        img = ring(cy=14 + dy, cx=14 + dx) if is_ring else bar(top=4 + dy // 2, left=12 + dx)
        images.append(np.clip(img * 0.9 + rng.uniform(0, 0.05, img.shape), 0, 1))
        labels.append(0 if is_ring else 1)
    x = torch.from_numpy(np.stack(images))[:, None].float()
    y = torch.tensor(labels)
    return ImageDataset("synthetic", x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:], ("ring", "bar"))


def test_euler_number_counts_holes():
    eight = np.maximum(ring(cy=8, r_out=6, r_in=3), ring(cy=19, r_out=6, r_in=3))
    images = torch.from_numpy(np.stack([ring(), bar(), eight]))[:, None]
    assert euler_numbers(images).tolist() == [0, 1, -1]


def test_thick_strokes_contain_the_original_and_add_ink():
    x = torch.from_numpy(bar())[None, None]
    thick = thick_strokes(x)
    assert torch.all(thick >= x)
    assert (thick > 0.5).sum() > 1.4 * (x > 0.5).sum()


def test_thin_strokes_are_a_one_pixel_skeleton_inside_the_ink():
    x = torch.from_numpy(bar(width=5))[None, None] * 0.8  # grey ink: the skeleton keeps it
    thin = thin_strokes(x)
    assert torch.all((thin == 0) | (thin == x)) and thin.max() == 0.8
    assert (thin.sum(-1) <= 1).all()  # a vertical bar thins to one pixel per row


def test_slanted_strokes_lean_right():
    x = torch.from_numpy(bar(top=2, height=24))[None, None]
    s = slanted_strokes(x)[0, 0].numpy()
    cols = np.arange(28)

    def centre(rows):
        ink = s[rows].sum(0)
        return (ink * cols).sum() / ink.sum()

    assert centre(slice(2, 8)) > centre(slice(20, 26)) + 3


def test_textures_and_pattern_are_deterministic_and_binary():
    shape = (1, 28, 28)
    a = stripes(4, shape, torch.Generator().manual_seed(1))
    b = stripes(4, shape, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and set(a.unique().tolist()) == {0.0, 1.0}
    d = dots(4, shape, torch.Generator().manual_seed(1))
    assert set(d.unique().tolist()) == {0.0, 1.0} and (d.sum((1, 2, 3)) > 0).all()
    p = planting_pattern(4)
    alone = pattern_alone(5, shape, torch.Generator().manual_seed(1), p)
    assert torch.allclose(alone.sum((1, 2, 3)), torch.full((5,), p.sum()))


def test_concept_sets_structure_disjointness_and_pairing():
    data = synthetic()
    sets = concept_sets(data, set_size=10, n_random=5, pattern=planting_pattern(4), n_controls=2)
    concepts, randoms, null, controls = sets.concepts, sets.counterparts, sets.null, sets.controls
    assert set(concepts) == {"thick_strokes", "thin_strokes", "slanted_strokes", "closed_loops", "stripes", "dots",
                             "planted_pattern", "planted_pattern_alone"}
    assert len(randoms) == len(null) == 5 and set(controls) == {"random_control_1", "random_control_2"}
    for draws in [*concepts.values(), *controls.values(), null]:
        assert len(draws) == 5 and all(d.shape == (10, 1, 28, 28) for d in draws)
    key = lambda img: img.numpy().tobytes()  # noqa: E731
    counterpart_keys = [{key(i) for i in r} for r in randoms]
    random_keys = [key(i) for group in [randoms, null, *controls.values()] for d in group for i in d]
    assert len(set(random_keys)) == len(random_keys) == 200  # counterparts, null sets and controls: disjoint
    loop_keys = [key(img) for draw in concepts["closed_loops"] for img in draw]
    assert len(set(loop_keys)) == len(loop_keys) == 50  # disjoint draws
    assert not set(loop_keys) & set().union(*counterpart_keys)  # outside every counterpart
    assert all((euler_numbers(draw) <= 0).all() for draw in concepts["closed_loops"])
    # Transformed concepts: draw i is null set i transformed (the null score it is compared with).
    for i in range(5):
        assert torch.equal(concepts["thick_strokes"][i], thick_strokes(null[i]))
        assert torch.equal(concepts["thin_strokes"][i], thin_strokes(null[i]))
        assert torch.equal(concepts["slanted_strokes"][i], slanted_strokes(null[i]))
        changed = (concepts["planted_pattern"][i] != null[i]).flatten(1).any(1)
        assert changed.all()  # the pattern pasted into every image of the null set, nothing else
    again = concept_sets(data, set_size=10, n_random=5, pattern=planting_pattern(4), n_controls=2)
    assert all(torch.equal(a, b) for a, b in zip(again.concepts["dots"], concepts["dots"]))
    assert all(torch.equal(a, b) for a, b in zip(again.counterparts, randoms))


def test_concept_sets_refuse_what_the_data_cannot_give():
    data = synthetic()
    with pytest.raises(ValueError, match=r"need 1600 training images; synthetic has 300"):
        concept_sets(data, set_size=40, n_random=10, n_controls=2)
    few_rings = concept_sets(synthetic(ring_every=10), set_size=10, n_random=5)  # 30 rings in 300; 50 needed
    assert "closed_loops" not in few_rings.concepts
    assert few_rings.info["omitted"]["closed_loops"].endswith("have a closed loop; 5 draws of 10 need 50")
    with pytest.raises(ValueError, match="set_size"):
        concept_sets(data, set_size=1, n_random=4)


def test_planted_concept_dataset_plants_only_in_the_target_class():
    data = synthetic()
    assert planted_concept_dataset(data, 0, 0.0) is data
    full = planted_concept_dataset(data, 0, 1.0, patch=4)
    changed = (full.train_x != data.train_x).flatten(1).any(1)
    assert torch.equal(changed, data.train_y == 0)
    assert torch.equal(full.train_y, data.train_y) and torch.equal(full.test_x, data.test_x)
    half = planted_concept_dataset(data, 0, 0.5, patch=4)
    n_half = int((half.train_x != data.train_x).flatten(1).any(1).sum())
    assert n_half == round(0.5 * int((data.train_y == 0).sum()))
    assert len({full.fingerprint, half.fingerprint, data.fingerprint}) == 3
    with pytest.raises(ValueError, match="rate must be in"):
        planted_concept_dataset(data, 0, 1.5)
    with pytest.raises(ValueError, match="target_class"):
        planted_concept_dataset(data, 2, 0.5)
