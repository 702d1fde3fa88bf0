"""Figures of a student's answers. Each one draws what has been answered and names what has not: a student
version runs top to bottom before any question is answered (unanswered functions return None), so a figure must
never be the cell that crashes."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..study.figures import as_image
from .lab import answered


def _missing(what: dict, question: str) -> list[str]:
    missing = [name for name, value in what.items() if not answered(value)]
    if missing:
        print(f"Not drawn yet: {', '.join(missing)} (complete {question} first).")
    return missing


def _map2d(value) -> np.ndarray:
    """(C, H, W) or (H, W) attribution → (H, W) magnitude, summed over channels."""
    arr = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
    return np.abs(arr).sum(0) if arr.ndim == 3 else np.abs(arr)


def attribution_rows(images: torch.Tensor, maps: dict, question: str, title: str, labels=None):
    """One column per image: the image on top, then one row per answered map (|attribution|, summed over
    channels, scaled to each map's maximum). ``maps`` maps row names to (N, C, H, W) tensors or None."""
    _missing(maps, question)
    rows = {name: value for name, value in maps.items() if answered(value)}
    n = len(images)
    fig, axes = plt.subplots(1 + len(rows), n, figsize=(1.3 * n, 1.4 * (1 + len(rows))), squeeze=False)
    for j in range(n):
        arr, cmap = as_image(images[j])
        axes[0, j].imshow(arr, cmap=cmap, vmin=0, vmax=1)
        axes[0, j].set_title(f"label {labels[j]}" if labels is not None else f"image {j}", fontsize=8)
        for i, (name, value) in enumerate(rows.items(), 1):
            heat = _map2d(value[j])
            axes[i, j].imshow(heat / (heat.max() + 1e-12), cmap="hot", vmin=0, vmax=1)
            if j == 0:
                axes[i, j].set_ylabel(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def convergence_plot(steps, series: dict, question: str, title: str, ylabel: str):
    """``series[name]`` = one value per entry of ``steps`` (None where unanswered), on log-log axes."""
    _missing({name: None if values is None or any(not answered(v) for v in values) else values
              for name, values in series.items()}, question)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, values in series.items():
        if values is not None and all(answered(v) for v in values):
            ax.loglog(steps, [float(v) for v in values], marker="o", label=name)
    ax.set(xlabel="steps", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, which="both")
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
