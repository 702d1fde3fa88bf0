"""Figures of the latent-space notebook (05). Inputs are arrays, tables and images; nothing is computed here."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..gan.figures import sample_grid


def sensitivity_bars(mean: np.ndarray, std: np.ndarray, title: str, top: int = 32):
    """E_z S_i(z) per latent dimension, sorted, with ± one standard deviation over z."""
    order = np.argsort(-mean)[:top]
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(order)), 3.4))
    ax.bar(range(len(order)), mean[order], yerr=std[order], color="tab:blue", alpha=0.85, capsize=2)
    ax.set_xticks(range(len(order)), [f"z{i}" for i in order], rotation=90, fontsize=7)
    ax.set(xlabel="latent dimension (sorted)", ylabel=r"$\mathbb{E}_z\,\|\partial G/\partial z_i\|_2$", title=title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def spectrum_plot(spectra: dict[str, np.ndarray], title: str):
    """Eigenvalue spectra (normalised to sum 1) on a log scale, e.g. E[JᵀJ] against SeFa's AᵀA."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for name, values in spectra.items():
        v = np.clip(np.asarray(values, float), 1e-12, None)
        ax.plot(np.arange(1, len(v) + 1), v / v.sum(), marker=".", label=name)
    ax.set_yscale("log")
    ax.set(xlabel="eigenvalue rank", ylabel="share of the trace", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def sensitivity_maps_figure(maps: torch.Tensor, dims, title: str):
    """Where in the image each latent dimension acts: E_z |∂G_p/∂z_i| per pixel, one panel per dimension."""
    n = len(dims)
    fig, axes = plt.subplots(1, n, figsize=(1.5 * n, 1.9), squeeze=False)
    for ax, i in zip(axes[0], dims):
        im = ax.imshow(maps[i].numpy(), cmap="magma")
        ax.set_title(f"z{i}", fontsize=8)
        ax.axis("off")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="mean |∂G/∂z_i|")
    fig.suptitle(title, fontsize=10)
    return fig


def rescoring_heatmap(table: pd.DataFrame, title: str, center: float = 0.0):
    """Directions × read-outs: change of each read-out per unit step, in read-out standard deviations."""
    fig, ax = plt.subplots(figsize=(0.55 * table.shape[1] + 3, 0.32 * table.shape[0] + 1.6))
    lim = float(np.nanmax(np.abs(table.to_numpy()))) or 1.0
    sns.heatmap(table, cmap="RdBu_r", center=center, vmin=-lim, vmax=lim, ax=ax, annot=table.shape[1] <= 8,
                fmt=".2f", cbar_kws={"label": "read-out std per unit step"})
    ax.set(xlabel="semantic read-out", ylabel="latent direction", title=title)
    fig.tight_layout()
    return fig


def traversal_figure(rows: dict[str, torch.Tensor], alphas, title: str,
                     xlabel: str = "step α along the unit direction (prior standard deviations)"):
    """One row per direction: G(z + αv) for the given α (images (len(alphas), C, H, W) per row)."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(0.75 * len(alphas) + 1.5, 0.8 * len(rows) + 0.6), squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows.items()):
        ax.imshow(sample_grid(images, nrow=len(images)), cmap="gray", vmin=0, vmax=1)
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    side = rows[next(iter(rows))].shape[-1] + 1
    axes[-1, 0].set_xticks([side * (k + 0.5) for k in range(len(alphas))], [f"{a:+.1f}" for a in alphas], fontsize=7)
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def interpolation_figure(strips: dict[str, torch.Tensor], norms: dict[str, np.ndarray], title: str):
    """Left: image strips along each interpolation path; right: ‖z‖ along the paths."""
    fig = plt.figure(figsize=(12, 0.9 * len(strips) + 1.2))
    grid = fig.add_gridspec(len(strips), 2, width_ratios=[4, 1.3])
    for k, (name, images) in enumerate(strips.items()):
        ax = fig.add_subplot(grid[k, 0])
        ax.imshow(sample_grid(images, nrow=len(images)), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    ax = fig.add_subplot(grid[:, 1])
    for name, n in norms.items():
        ax.plot(np.linspace(0, 1, len(n)), n, label=name)
    ax.set(xlabel="t", ylabel="‖z‖", title="latent norm along the path")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def generation_explanation_figure(images, pixel_maps, d_maps, latent_attr: np.ndarray, titles, title: str,
                                  top: int = 12):
    """Per sample (row): G(z), pixel IG of the classifier, D's saliency, and the top latent IG attributions."""
    n = len(images)
    fig, axes = plt.subplots(n, 4, figsize=(12, 2.3 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 1, 2.6]})
    for r in range(n):
        axes[r, 0].imshow(images[r, 0], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(titles[r], fontsize=8)
        lim = float(pixel_maps[r].abs().max()) or 1.0
        axes[r, 1].imshow(pixel_maps[r], cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[r, 1].set_title("classifier: pixel IG", fontsize=8)
        axes[r, 2].imshow(d_maps[r], cmap="magma")
        axes[r, 2].set_title("discriminator: saliency", fontsize=8)
        for ax in axes[r, :3]:
            ax.axis("off")
        a = latent_attr[r]
        order = np.argsort(-np.abs(a))[:top]
        axes[r, 3].bar(range(len(order)), a[order], color=np.where(a[order] > 0, "tab:red", "tab:blue"))
        axes[r, 3].set_xticks(range(len(order)), [f"z{i}" for i in order], rotation=90, fontsize=7)
        axes[r, 3].axhline(0, c="k", lw=0.6)
        axes[r, 3].set_ylabel("IG (logit units)", fontsize=8)
        axes[r, 3].set_title("classifier logit attributed to latent dimensions (top |IG|)", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def disentanglement_bars(table: pd.DataFrame, title: str):
    """Models (rows of ``table``) × metrics (columns), grouped bars on a common [0, 1] scale."""
    long = table.reset_index(names="model").melt(id_vars="model", var_name="metric", value_name="score")
    fig, ax = plt.subplots(figsize=(10, 3.6))
    sns.barplot(long, x="metric", y="score", hue="model", ax=ax)
    ax.set_ylim(0, 1)
    ax.set(xlabel="", ylabel="score (0 = chance, 1 = perfect)", title=title)
    ax.tick_params(axis="x", labelrotation=20)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def code_factor_heatmap(matrix: pd.DataFrame, title: str, label: str = "mutual information / H(factor)"):
    """Latent codes × factors, e.g. normalised mutual information."""
    fig, ax = plt.subplots(figsize=(0.9 * matrix.shape[1] + 2.5, 0.35 * matrix.shape[0] + 1.5))
    sns.heatmap(matrix, cmap="viridis", vmin=0, annot=True, fmt=".2f", ax=ax, cbar_kws={"label": label})
    ax.set(xlabel="factor (read by the regressor)", ylabel="latent dimension", title=title)
    fig.tight_layout()
    return fig


def dissection_figure(iou: dict[str, np.ndarray], examples: dict[str, dict], title: str):
    """Per concept (row): IoU of every unit (sorted), then one sample with its concept outlined, the top unit's
    thresholded map, and the sample after ablating the top units and after ablating random units.

    ``examples[concept]`` holds 2-D arrays ``image``, ``concept``, ``unit_mask``, ``ablated_top``,
    ``ablated_random`` and the int ``unit``."""
    concepts = list(iou)
    fig, axes = plt.subplots(len(concepts), 5, figsize=(13, 2.3 * len(concepts)), squeeze=False,
                             gridspec_kw={"width_ratios": [2.2, 1, 1, 1, 1]})
    for r, name in enumerate(concepts):
        values = np.sort(np.asarray(iou[name]))[::-1]
        axes[r, 0].bar(range(len(values)), values, color="tab:purple")
        axes[r, 0].set(xlabel="unit (sorted by IoU)", ylabel="IoU", title=f"concept '{name}'")
        axes[r, 0].grid(axis="y", alpha=0.3)
        ex = examples[name]
        panels = [(ex["image"], "sample (concept outlined)"), (ex["unit_mask"], f"unit {ex['unit']} above threshold"),
                  (ex["ablated_top"], "top units ablated"), (ex["ablated_random"], "random units ablated")]
        for ax, (img, label) in zip(axes[r, 1:], panels):
            ax.imshow(np.asarray(img, float), cmap="gray", vmin=0, vmax=1)
            ax.set_title(label, fontsize=8)
            ax.axis("off")
        axes[r, 1].contour(np.asarray(ex["concept"], float), levels=[0.5], colors="tab:orange", linewidths=0.8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def ablation_effect_bars(table: pd.DataFrame, title: str):
    """Per concept: share of its ink removed by ablating the top units against random units (± range)."""
    fig, ax = plt.subplots(figsize=(1.6 * len(table) + 3, 3.4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["ablation_effect_top"], 0.4, label="top units (by IoU)", color="tab:red")
    ax.bar(x + 0.2, table["ablation_effect_random"], 0.4, label="random units (mean of draws)", color="tab:grey",
           yerr=[table["ablation_effect_random"] - table["ablation_effect_random_min"],
                 table["ablation_effect_random_max"] - table["ablation_effect_random"]], capsize=3)
    ax.set_xticks(x, table.index)
    ax.set(ylabel="share of the concept's ink removed", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
