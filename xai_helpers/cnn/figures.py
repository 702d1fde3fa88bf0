"""Figures of the classifier (01): learning curves, confusion, per-class accuracy, attention maps, saliency over
training. Each function takes computed tensors/arrays/tables and returns a matplotlib Figure; nothing here
computes results, so every figure can be redrawn from saved numbers."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F

from ..study.figures import as_image


def learning_curves(histories: dict[str, list[dict]], title: str = "Learning curves"):
    """Training loss and train/test accuracy per epoch for each named model."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, history in histories.items():
        df = pd.DataFrame(history)
        ax_loss.plot(df.epoch, df.train_loss, marker="o", label=name)
        line, = ax_acc.plot(df.epoch, df.test_accuracy, marker="o", label=f"{name} (test)")
        ax_acc.plot(df.epoch, df.train_accuracy, ls="--", color=line.get_color(), label=f"{name} (train)")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="training loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_heatmap(matrix, classes, title: str = "Confusion matrix", ax=None):
    """Row-normalised confusion matrix with counts annotated."""
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.45 * len(classes) + 2.5, 0.45 * len(classes) + 2))
    sns.heatmap(rates, annot=matrix, fmt="d", cmap="Blues", vmin=0, vmax=1, cbar_kws={"label": "row share"},
                xticklabels=classes, yticklabels=classes, ax=ax, annot_kws={"fontsize": 7})
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return fig or ax.figure


def per_class_bars(table: pd.DataFrame, title: str = "Per-class test accuracy"):
    """Grouped bars from a table with one column per model and one row per class."""
    long = table.reset_index().melt(id_vars=table.index.name or "index", var_name="model", value_name="accuracy")
    fig, ax = plt.subplots(figsize=(9, 3.2))
    sns.barplot(long, x=table.index.name or "index", y="accuracy", hue="model", ax=ax)
    low = max(0.0, float(table.values.min()) - 0.05)
    ax.set(ylim=(low, 1.0), xlabel="class", ylabel="test accuracy", title=title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def attention_overlay(images, maps, titles=None, title: str = "Attention maps"):
    """Three rows per image: the input, its attention map (upsampled to the image size), and the overlay."""
    images = torch.as_tensor(images)
    maps = F.interpolate(torch.as_tensor(maps).float(), size=images.shape[-2:], mode="bilinear",
                         align_corners=False)[:, 0]
    n = len(images)
    fig, axes = plt.subplots(3, n, figsize=(1.5 * n + 1.2, 4.8), squeeze=False, layout="constrained")
    for i in range(n):
        arr, cmap = as_image(images[i])
        axes[0, i].imshow(arr, cmap=cmap, vmin=0, vmax=1)
        im = axes[1, i].imshow(maps[i].numpy(), cmap="inferno", vmin=0, vmax=1)
        axes[2, i].imshow(arr, cmap=cmap, vmin=0, vmax=1)
        axes[2, i].imshow(maps[i].numpy(), cmap="inferno", alpha=0.5, vmin=0, vmax=1)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for row, label in enumerate(("input", "attention a(x)", "overlay")):
        axes[row, 0].set_ylabel(label)
    fig.colorbar(im, ax=axes[1:, :].ravel().tolist(), shrink=0.8, label="attention weight")
    fig.suptitle(title)
    return fig


def map_grid_over_epochs(images, maps, epochs, title: str = "Saliency over training"):
    """Rows: probe images; first column the image, then one saliency map per snapshot (each scaled to its max)."""
    images = torch.as_tensor(images)
    maps = torch.as_tensor(maps)  # (n_snapshots, N, H, W)
    n_snap, n = maps.shape[:2]
    fig, axes = plt.subplots(n, n_snap + 1, figsize=(1.1 * (n_snap + 1), 1.1 * n + 0.6), squeeze=False)
    for i in range(n):
        arr, cmap = as_image(images[i])
        axes[i, 0].imshow(arr, cmap=cmap, vmin=0, vmax=1)
        for j in range(n_snap):
            m = maps[j, i].numpy()
            axes[i, j + 1].imshow(m / (m.max() + 1e-12), cmap="hot", vmin=0, vmax=1)
            if i == 0:
                axes[i, j + 1].set_title(f"epoch {epochs[j]}", fontsize=8)
        if i == 0:
            axes[i, 0].set_title("image", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def similarity_curve(epochs, values: dict[str, np.ndarray], ylabel: str, title: str):
    """One line per model: a similarity (or any score) against epoch."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for name, v in values.items():
        ax.plot(epochs, v, marker="o", label=name)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title, ylim=(-0.05, 1.05))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
