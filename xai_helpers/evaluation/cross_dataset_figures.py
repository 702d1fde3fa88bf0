"""Figures of the cross-data-set summary (``<out>/summary/``), drawn from the tables of
:mod:`xai_helpers.evaluation.cross_dataset`; nothing is computed here."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # written by a workflow job, never shown
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def accuracy_figure(classification: pd.DataFrame):
    """Test accuracy of each classifier on each data set, with its 95 % interval over seeds where there is one."""
    table = classification.reset_index()
    datasets, models = list(dict.fromkeys(table["dataset"])), list(dict.fromkeys(table["model"]))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(datasets) * max(1, len(models)) / 2, 3.6))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        rows = table[table["model"] == model].set_index("dataset").reindex(datasets)
        mean = rows["accuracy"].to_numpy(float)
        low, high = rows["accuracy_low"].to_numpy(float), rows["accuracy_high"].to_numpy(float)
        err = np.where(np.isnan(low), 0.0, np.vstack([mean - low, high - mean]))
        ax.bar(np.arange(len(datasets)) + (i - (len(models) - 1) / 2) * width, mean, width, yerr=err, capsize=3,
               label=model)
    ax.set_xticks(np.arange(len(datasets)), datasets)
    ax.set_ylim(0, 1)
    ax.set_xlabel("data set")
    ax.set_ylabel("test accuracy")
    ax.set_title("Classifiers across data sets (mean, 95 % interval over seeds)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def rank_heatmap(ranks: pd.DataFrame, agreement: float):
    """The attribution methods' mean rank on each data set (1 = best), with Kendall's W in the title."""
    fig, ax = plt.subplots(figsize=(2.4 + 1.1 * ranks.shape[1], 0.9 + 0.32 * ranks.shape[0]))
    image = ax.imshow(ranks.to_numpy(float), cmap="viridis_r", aspect="auto")
    for (i, j), value in np.ndenumerate(ranks.to_numpy(float)):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                    color="white" if value > np.nanmean(ranks.to_numpy(float)) else "black")
    ax.set_xticks(range(ranks.shape[1]), ranks.columns)
    ax.set_yticks(range(ranks.shape[0]), ranks.index)
    ax.set_xlabel("data set")
    ax.set_ylabel("attribution method")
    w = "n/a" if np.isnan(agreement) else f"{agreement:.2f}"
    chance = 1 / ranks.shape[1]  # W's expectation under independent rankings of m data sets
    ax.set_title(f"Mean rank of each method over 02's metrics (Kendall's W = {w}; chance level {chance:.2f})",
                 fontsize=10)
    fig.colorbar(image, ax=ax, label="mean rank (1 = best)")
    fig.tight_layout()
    return fig
