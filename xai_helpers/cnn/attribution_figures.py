"""Figures of the attribution study (notebook 02). Inputs are computed maps and tables; nothing is computed here."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..study.figures import as_image


def method_grid(images, heats: dict, titles, row_labels: dict | None = None,
                title: str = "Attribution maps (each scaled to its maximum)"):
    """Rows: methods (first row the images); columns: images."""
    names = list(heats)
    n = len(images)
    height = 1.25 * (len(names) + 1) + 0.7
    # Fixed spacing, not constrained layout: solving the layout of ~135 panels took 3 s of every render.
    fig, axes = plt.subplots(len(names) + 1, n, figsize=(1.25 * n + 1.5, height), squeeze=False,
                             gridspec_kw=dict(wspace=0.08, hspace=0.1, left=0.02, right=0.98, bottom=0.01,
                                              top=1 - 0.35 / height))
    for j in range(n):
        arr, cmap = as_image(images[j])
        axes[0, j].imshow(arr, cmap=cmap, vmin=0, vmax=1)
        axes[0, j].set_title(titles[j], fontsize=7)
        for i, name in enumerate(names, start=1):
            h = torch.as_tensor(heats[name][j]).numpy()
            axes[i, j].imshow(h / (h.max() + 1e-12), cmap="hot", vmin=0, vmax=1)
    for i, name in enumerate(["image"] + names):
        axes[i, 0].set_ylabel((row_labels or {}).get(name, name), rotation=0, ha="right", va="center", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, y=1, va="bottom")  # above the panels' titles; saving with a tight box keeps it
    return fig


def metric_bars(table: pd.DataFrame, columns, title: str, better: dict | None = None, log: tuple = ()):
    """One horizontal bar panel per metric column, methods sorted within each panel (``log``: log-scale columns)."""
    fig, axes = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 0.32 * len(table) + 1.5), squeeze=False)
    for ax, col in zip(axes[0], columns):
        data = table[col].dropna().sort_values()
        colors = ["0.6" if name in ("random", "zero") else sns.color_palette()[0] for name in data.index]
        ax.barh(data.index, data.values, color=colors)
        label = col + (f" ({better[col]} is better)" if better and col in better else "")
        ax.set(title=label, xlabel=col, xscale="log" if col in log else "linear")
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def deletion_insertion_panel(curves: dict, methods, substrates, title: str):
    """Mean deletion and insertion curves per substrate (columns) for a few methods and the random baseline; for the
    ``road`` substrate the rows are ROAD's MoRF (most relevant removed first) and LeRF (least relevant first)."""
    fig, axes = plt.subplots(2, len(substrates), figsize=(4.2 * len(substrates), 6.4), squeeze=False)
    for j, kind in enumerate(substrates):
        for name in list(methods) + ["random"]:
            deletion, insertion = curves[name, kind]
            grid = np.linspace(0, 1, len(deletion))
            style = dict(ls="--", color="0.4") if name == "random" else {}
            axes[0, j].plot(grid, deletion, label=name, **style)
            axes[1, j].plot(grid, insertion, label=name, **style)
        road = kind == "road"
        axes[0, j].set(title="ROAD, most relevant first (MoRF)" if road else f"deletion, substrate '{kind}'",
                       xlabel="fraction of pixels removed", ylabel="p(target class)")
        axes[1, j].set(title="ROAD, least relevant first (LeRF)" if road else f"insertion, substrate '{kind}'",
                       xlabel="fraction of pixels removed" if road else "fraction of pixels revealed",
                       ylabel="p(target class)")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def sanity_cascade(records: pd.DataFrame, title: str):
    """Similarity to the original explanation as layers are randomised from the top down."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    layers = records.drop_duplicates("step").sort_values("step")["layer"].tolist()
    for ax, metric in zip(axes, ("spearman", "ssim")):
        sns.lineplot(records, x="step", y=metric, hue="method", style="method", markers=True, dashes=False,
                     palette="tab20", ax=ax, legend=ax is axes[1])
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=8)
        ax.set(xlabel="randomised down to layer", ylabel=f"{metric} with original map", ylim=(-1.05, 1.05))
        ax.axhline(0, color="0.5", lw=0.8)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def attenuation_curves(alphas, measured: dict, predicted: dict, title: str):
    """Measured Δf_c(α) (solid) and its first-order Taylor prediction (dashed) per channel group."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in measured:
        line, = ax.plot(alphas, measured[name], marker="o", label=f"{name}: measured")
        ax.plot(alphas, predicted[name], ls="--", color=line.get_color(), label=f"{name}: Taylor")
    ax.set(xlabel="attenuation factor α", ylabel="Δf_c(α) (logit units)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def channel_heatmap(importance: np.ndarray, classes, title: str, top: int = 12):
    """Class × channel mean contribution for the channels with the largest absolute contribution."""
    order = np.argsort(-np.abs(importance).mean(0))[:top]
    fig, ax = plt.subplots(figsize=(0.55 * top + 2, 0.4 * len(classes) + 1.5))
    sns.heatmap(importance[:, order], cmap="RdBu_r", center=0, xticklabels=[str(k) for k in order],
                yticklabels=classes, ax=ax, cbar_kws={"label": "mean Grad × Activation"})
    ax.set(xlabel="channel", ylabel="class", title=title)
    fig.tight_layout()
    return fig
