"""The automatic metrics of the very maps raters judged, one row per (image, method) item.

Correlating a method's mean rating with its mean metric over methods has as many points as methods: 06 rates
three, so each correlation rested on 3 points, whose exact two-sided p-value cannot go below 1/3 (issue 29). Here
every rated map gets its own deletion and insertion AUC (Petsiuk et al. 2018, the zero substrate, as notebook 02
measures them) and its Gini sparseness, computed on the rated image for the class the map explains, so ratings
and metrics meet item by item (:func:`xai_helpers.evaluation.rating_summary.ratings_vs_item_metrics`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..cnn import explanation_metrics as em, sparseness

#: Per-item metrics, with the direction in which a map is better (+1 higher, −1 lower).
ITEM_METRICS = {"deletion_auc": -1, "insertion_auc": +1, "sparseness": 0}


def item_metrics(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, maps: dict, test_indices,
                 steps: int = 28, seed: int = 0) -> pd.DataFrame:
    """One row per (test image, method): ``test_index``, ``method`` and :data:`ITEM_METRICS` of its map.
    ``maps``: method → (N, H, W) maps of ``images`` (the maps the raters saw), ``test_indices`` their images."""
    test_indices = [int(i) for i in test_indices]
    rows = []
    for method, heat in maps.items():
        heat = torch.as_tensor(np.asarray(heat), dtype=torch.float32)
        if heat.shape[0] != len(images) or len(test_indices) != len(images):
            raise ValueError(f"{method}: {heat.shape[0]} maps and {len(test_indices)} test indices for "
                             f"{len(images)} images")
        deletion, insertion = em.deletion_insertion_curves(model, images, targets, heat, "zero", steps,
                                                           tie_seed=seed)
        dx = 1.0 / steps
        rows += [{"test_index": t, "method": method, "deletion_auc": float(d), "insertion_auc": float(i),
                  "sparseness": float(g)}
                 for t, d, i, g in zip(test_indices, np.trapezoid(deletion, dx=dx, axis=1),
                                       np.trapezoid(insertion, dx=dx, axis=1), sparseness(heat))]
    return pd.DataFrame(rows, columns=["test_index", "method", *ITEM_METRICS])
