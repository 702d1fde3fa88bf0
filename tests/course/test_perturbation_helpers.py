"""Assignment 6's helpers: the segments are the ones the study's LIME perturbs, the agreement table and its chance
level are right, and Grad-CAM maps are brought to the image's size."""
import itertools

import numpy as np
import pytest
import torch

from xai_helpers.cnn import explain
from xai_helpers.course.perturbation import (chance_jaccard, feature_options, seed_agreement, segment_scores, segments,
                                             upsampled)


def _tiny_cnn(channels: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(channels, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16, 3)).eval()


@pytest.mark.parametrize("channels, side, kind", [(1, 28, "cell"), (3, 64, "superpixels")])
def test_segments_are_the_features_the_studys_lime_perturbs(channels, side, kind):
    """LIME gives every pixel of one of its features the same value: within each of our segments the attribution
    must be constant, and the segments must not be coarser than LIME's (two features in one segment would differ)."""
    x = torch.rand(2, channels, side, side, generator=torch.Generator().manual_seed(1))
    options = feature_options(x)
    assert set(options) == {kind}
    index = segments(x, options)
    assert index.shape == (2, side, side) and index.dtype == torch.long
    attributions = explain(_tiny_cnn(channels), x, 0, "lime", n_samples=200, **options)
    for values, image_index in zip(attributions.sum(1), index):
        for s in image_index.unique():
            inside = values[image_index == s]
            assert torch.allclose(inside, inside[0].expand_as(inside), atol=1e-7), (kind, int(s))
    scores = segment_scores(attributions, index)
    assert [len(s) for s in scores] == [int(i.max()) + 1 for i in index]
    first = int(index[0, 0, 0])
    assert float(scores[0][first]) == pytest.approx(float(attributions[0, :, 0, 0].sum()), abs=1e-6)


def test_chance_jaccard_is_the_mean_over_random_top_k_sets():
    assert chance_jaccard(2, 1) == pytest.approx(0.5)  # two random singletons out of two agree half the time
    assert chance_jaccard(7, 7) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    draws = [len(set(rng.choice(49, 5, replace=False)) & set(rng.choice(49, 5, replace=False))) for _ in range(20000)]
    simulated = np.mean([i / (10 - i) for i in draws])
    assert chance_jaccard(49, 5) == pytest.approx(simulated, abs=0.005)
    assert chance_jaccard(49, 5) != pytest.approx(5 / 49, abs=0.01)  # not the expected overlap share k / F
    with pytest.raises(ValueError, match="k = 50 is not allowed"):
        chance_jaccard(49, 50)


def test_seed_agreement_compares_every_pair_of_seeds_per_method_and_count():
    def jaccard(a, b, k):
        ta, tb = set(torch.topk(a, k).indices.tolist()), set(torch.topk(b, k).indices.tolist())
        return len(ta & tb) / len(ta | tb)

    base = [torch.arange(6.0), torch.arange(6.0).flip(0)]
    lift = torch.tensor([10.0, 0, 0, 0, 0, 0])  # seeds 1 and 2 put segment 0 on top of image 0 (already there in 1)
    scores = {("lime", 10, s): [v + s * lift for v in base] for s in range(3)}
    scores |= {("kernel_shap", 10, s): base for s in range(3)}
    table = seed_agreement(scores, jaccard, 2)
    assert len(table) == 2 * 3 * 2  # methods × pairs of three seeds × images
    assert set(table["seeds"]) == {f"{s}-{t}" for s, t in itertools.combinations(range(3), 2)}
    assert (table.loc[table["method"] == "kernel_shap", "agreement"] == 1.0).all()
    lime = table[(table["method"] == "lime") & (table["image"] == 0)].set_index("seeds")["agreement"]
    assert lime["0-1"] == lime["0-2"] == pytest.approx(1 / 3) and lime["1-2"] == 1.0  # {4, 5} against {0, 5}
    assert (table[(table["method"] == "lime") & (table["image"] == 1)]["agreement"] == 1.0).all()
    assert (table["chance"] == chance_jaccard(6, 2)).all()
    assert seed_agreement(scores, lambda a, b, k: None, 2) is None  # an unanswered Q3


def test_upsampled_maps_keep_their_values_at_the_cells_centres():
    cam = torch.tensor([[[0.0, 1.0], [2.0, 3.0]]])
    big = upsampled(cam, torch.zeros(1, 3, 8, 8))
    assert big.shape == (1, 8, 8)
    assert float(big[0, 0, 0]) == pytest.approx(0.0) and float(big[0, -1, -1]) == pytest.approx(3.0)
    assert float(big[0, 2, 6]) == pytest.approx(1.0, abs=0.3) and float(big.mean()) == pytest.approx(1.5, abs=1e-5)
