"""Per-item metrics of the maps raters saw: one row per (image, method), each the metric of that map alone."""
import numpy as np
import pytest
import torch
from torch import nn

from xai_helpers.cnn import explanation_metrics as em
from xai_helpers.cnn.complexity import sparseness
from xai_helpers.evaluation.rated_maps import ITEM_METRICS, item_metrics


def test_item_metrics_score_each_rated_map_on_its_own_image():
    torch.manual_seed(0)
    weights = torch.rand(1, 1, 6, 6)
    model = nn.Sequential(nn.Flatten(), nn.Linear(36, 2)).eval()
    with torch.no_grad():  # class 0's logit is the weighted sum of the pixels, class 1's is 0
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[0] = weights.flatten() * 4
    x = torch.rand(3, 1, 6, 6) * 0.5 + 0.5
    targets = torch.zeros(3, dtype=torch.long)
    true = (x * weights)[:, 0]  # each pixel's contribution: deleting it first drops the logit fastest
    maps = {"true": true.numpy(), "reversed": (-true).numpy()}
    table = item_metrics(model, x, targets, maps, [20, 21, 22])
    assert list(table.columns) == ["test_index", "method", *ITEM_METRICS] and len(table) == 6
    by = table.set_index(["method", "test_index"])
    for t in (20, 21, 22):
        assert by.loc[("true", t), "deletion_auc"] < by.loc[("reversed", t), "deletion_auc"]
        assert by.loc[("true", t), "insertion_auc"] > by.loc[("reversed", t), "insertion_auc"]
    assert by.loc["true", "sparseness"].tolist() == pytest.approx(sparseness(true).tolist())
    # the mean of the per-item AUCs is 02's AUC of the same maps
    deletion, _ = em.deletion_insertion_curves(model, x, targets, true, "zero", 28)
    assert by.loc["true", "deletion_auc"].mean() == pytest.approx(em.curve_auc(deletion))
    with pytest.raises(ValueError, match="2 maps and 3 test indices for 3 images"):
        item_metrics(model, x, targets, {"short": np.zeros((2, 6, 6))}, [20, 21, 22])
