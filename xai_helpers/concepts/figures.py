"""Figures of the TCAV study (notebook 03). Inputs are computed sets and tables; nothing is computed here."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..study.figures import as_image


def concept_set_grid(sets: dict, n: int = 8, title: str = "Concept sets (first draw)"):
    """One row per set: its first ``n`` images side by side (one mosaic per row, so it draws fast)."""
    fig, axes = plt.subplots(len(sets), 1, figsize=(1.0 * n + 1.6, 1.0 * len(sets) + 0.6), squeeze=False,
                             layout="constrained")
    for ax, (name, images) in zip(axes[:, 0], sets.items()):
        tiles = [as_image(img)[0] for img in images[:n]]
        gap = np.ones((tiles[0].shape[0], 2) + tiles[0].shape[2:])  # a white gap between tiles
        row = np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)
        ax.imshow(row, cmap=as_image(images[0])[1], vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name.replace("_", " "), rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    return fig


def score_heatmaps(results: pd.DataFrame, layers: dict, classes, title: str):
    """Per layer a concept × class heat map of TCAV scores; cells that are not significant after correction
    are masked (light grey, score in grey), untested cells (CAV accuracy too low) are hatched."""
    concepts = list(dict.fromkeys(results.concept))
    fig, axes = plt.subplots(1, len(layers), figsize=(0.45 * len(classes) * len(layers) + 3.5,
                                                      0.42 * len(concepts) + 1.8),
                             squeeze=False, layout="constrained")
    for ax, (label, layer) in zip(axes[0], layers.items()):
        sub = results[results.layer == layer]
        score = sub.pivot(index="concept", columns="class_index", values="tcav_score").reindex(concepts)
        significant = sub.pivot(index="concept", columns="class_index", values="significant").reindex(concepts)
        tested = sub.pivot(index="concept", columns="class_index", values="tested").reindex(concepts)
        ax.set_facecolor("0.92")
        sns.heatmap(score, mask=~significant.astype(bool).to_numpy(), vmin=0, vmax=1, center=0.5, cmap="RdBu_r",
                    annot=True, fmt=".2f", annot_kws={"fontsize": 7}, cbar=ax is axes[0, -1], ax=ax,
                    xticklabels=list(classes), cbar_kws={"label": "TCAV score (significant cells)"})
        for (r, c), ok in np.ndenumerate(tested.astype(bool).to_numpy()):
            if not ok:
                ax.add_patch(plt.Rectangle((c, r), 1, 1, fill=False, hatch="///", edgecolor="0.6", lw=0))
            elif not significant.iloc[r, c]:  # masked: keep the number, in grey
                ax.text(c + 0.5, r + 0.5, f"{score.iloc[r, c]:.2f}", ha="center", va="center", fontsize=6, color="0.55")
        ax.set(title=f"{label} ({layer})", xlabel="class", ylabel="" if ax is not axes[0, 0] else "concept")
    fig.suptitle(title)
    return fig


def score_boxplots(scores: pd.DataFrame, layers: dict, class_name: str, title: str):
    """Per layer, the TCAV scores of every concept's CAVs (one per random counterpart) and of the null."""
    data = scores.assign(concept=scores.concept.where(scores.role != "baseline", "random vs random (null)"))
    order = list(dict.fromkeys(data.concept))
    fig, axes = plt.subplots(1, len(layers), figsize=(4.2 * len(layers), 0.38 * len(order) + 1.8), sharey=True,
                             squeeze=False, layout="constrained")
    palette = {"concept": sns.color_palette()[0], "control": "0.65", "baseline": sns.color_palette()[3]}
    for ax, (label, layer) in zip(axes[0], layers.items()):
        sub = data[data.layer == layer]
        sns.boxplot(data=sub, y="concept", x="tcav_score", hue="role", order=order, palette=palette, ax=ax,
                    fliersize=2, linewidth=0.8, legend=ax is axes[0, -1])
        sns.stripplot(data=sub, y="concept", x="tcav_score", order=order, color="k", size=2, alpha=0.5, ax=ax)
        ax.axvline(0.5, color="0.5", lw=0.8, ls=":")
        ax.set(title=f"{label} ({layer})", xlabel="TCAV score per CAV", ylabel="", xlim=(-0.03, 1.03))
    fig.suptitle(f"{title} (class {class_name})")
    return fig


def planted_curve(planted: pd.DataFrame, layers: dict, title: str):
    """Left: TCAV score of the planted concept against the planting rate per layer (filled: significant after
    correction, open: not significant, ×: not tested because its CAVs were flagged).
    Right: the planted models' accuracy on clean and on patched test images."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for i, (label, layer) in enumerate(layers.items()):
        sub = planted[planted.layer == layer].sort_values("rate")
        color = sns.color_palette()[i]
        ax.plot(sub.rate * 100, sub.tcav_score, color=color, label=f"{label} ({layer})")
        for pts, face in ((sub[sub.significant], color), (sub[~sub.significant & sub.tested], "white")):
            ax.scatter(pts.rate * 100, pts.tcav_score, s=45, facecolors=face, edgecolors=color, zorder=3)
        untested = sub[~sub.tested]
        ax.scatter(untested.rate * 100, untested.tcav_score, s=45, marker="x", color=color, zorder=3)
    ax.axhline(0.5, color="0.5", lw=0.8, ls=":")
    ax.set(xlabel="planting rate r (% of the target class's training images)", ylabel="TCAV score",
           ylim=(-0.03, 1.03), title="planted concept (filled: significant; open: not; ×: CAVs flagged)")
    ax.legend(fontsize=8)
    acc = planted.drop_duplicates("rate").sort_values("rate")
    ax2.plot(acc.rate * 100, acc.accuracy_clean, marker="o", label="clean test images")
    ax2.plot(acc.rate * 100, acc.accuracy_patched, marker="s", label="test images with the pattern")
    ax2.set(xlabel="planting rate r (%)", ylabel="test accuracy", title="what the planted models learned",
            ylim=(min(0.5, float(acc[["accuracy_clean", "accuracy_patched"]].min().min())) - 0.02, 1.0))
    ax2.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def cav_accuracy_heatmap(cavs: pd.DataFrame, threshold: float, title: str):
    """Mean held-out CAV accuracy per set and layer (rows in ``cavs`` order); concept cells whose mean is below
    ``threshold`` are outlined. Random controls and the null are meant to be near 0.5 and are not outlined."""
    table = cavs.pivot_table(index="concept", columns="layer", values="cav_accuracy", aggfunc="mean", sort=False)
    roles = cavs.drop_duplicates("concept").set_index("concept").role
    fig, ax = plt.subplots(figsize=(1.5 * table.shape[1] + 3, 0.42 * len(table) + 1.5), layout="constrained")
    sns.heatmap(table, vmin=0.5, vmax=1, cmap="viridis", annot=True, fmt=".2f", ax=ax,
                cbar_kws={"label": "held-out accuracy"})
    for (r, c), value in np.ndenumerate(table.to_numpy()):
        if value < threshold and roles[table.index[r]] == "concept":
            ax.add_patch(plt.Rectangle((c, r), 1, 1, fill=False, edgecolor="red", lw=2))
    ax.set(title=f"{title}\n(red: concept mean below {threshold:g}; single CAVs below it are flagged)",
           xlabel="layer", ylabel="")
    return fig
