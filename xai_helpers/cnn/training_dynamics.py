"""Training-phase interpretability: how a classifier's explanations form over epochs.

Uses the per-epoch weight snapshots that :mod:`xai_helpers.cnn.train` stores in the cache, so nothing is retrained.
"""
from __future__ import annotations

import numpy as np
import torch
from captum.attr import Saliency
from scipy.stats import spearmanr
from torch import nn


def probe_indices(labels: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` fixed probe images: the first test image of class 0, 1, 2, … in turn (then the second, …)."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    labels = labels.numpy()
    classes = np.unique(labels)
    per_class = {c: list(np.flatnonzero(labels == c)) for c in classes}
    picked: list[int] = []
    rank = 0
    while len(picked) < min(n, len(labels)):
        for c in classes:
            if rank < len(per_class[c]) and len(picked) < n:
                picked.append(int(per_class[c][rank]))
        rank += 1
    return torch.tensor(picked)


def saliency_maps(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Simonyan saliency |∂f_c/∂x|, max over channels: (N, H, W)."""
    model.eval()
    device = next(model.parameters()).device
    attr = Saliency(model).attribute(x.to(device), target=targets.to(device), abs=True)
    return attr.amax(dim=1).detach().cpu()


def saliency_over_snapshots(model: nn.Module, snapshots: list[dict], x: torch.Tensor,
                            targets: torch.Tensor) -> torch.Tensor:
    """Saliency of probe images under each snapshot: (n_snapshots, N, H, W). ``model`` is reloaded in turn."""
    original = {k: v.clone() for k, v in model.state_dict().items()}
    maps = []
    try:
        for state in snapshots:
            model.load_state_dict(state)
            maps.append(saliency_maps(model, x, targets))
    finally:
        model.load_state_dict(original)
    return torch.stack(maps)


def rank_similarity_to_final(maps: torch.Tensor) -> np.ndarray:
    """Mean Spearman correlation of each snapshot's maps with the final snapshot's maps, per snapshot."""
    final = maps[-1].flatten(1).numpy()
    out = []
    for m in maps:
        m = m.flatten(1).numpy()
        rhos = [spearmanr(a, b).statistic if a.std() > 0 and b.std() > 0 else 0.0 for a, b in zip(m, final)]
        out.append(float(np.mean(rhos)))
    return np.array(out)
