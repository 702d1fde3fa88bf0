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


def _finish_grid(fig, axes, title: str):
    """An image grid without ticks, titled."""
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
    return _finish_grid(fig, axes, title)


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


def stability_plot(table, question: str, title: str, k: int):
    """Mean agreement of two seeds' top-``k`` segments against the sample count, one line per method, with the
    spread over images and seed pairs (±1 sd) and the chance level of random top-``k`` sets."""
    if table is None:
        print(f"Not drawn yet: the agreement (complete {question} first).")
        return None
    fig, ax = plt.subplots(figsize=(5.4, 3.4))
    for method, rows in table.groupby("method"):
        stats = rows.groupby("n_samples")["agreement"].agg(["mean", "std"])
        ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=method)
    ax.axhline(table["chance"].mean(), color="grey", ls="--", label="chance (random top-k sets)")
    ax.set_xscale("log")
    ax.set(xlabel="samples per explanation", ylabel=f"Jaccard of the top {k} segments", ylim=(0, 1.02), title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def counterfactual_rows(before: torch.Tensor, after, labels: dict, question: str, title: str):
    """One column per latent: G(z) on top, the counterfactual G(z') below it and their difference (red: ink
    added, blue: removed) at the bottom; ``labels`` holds each row's classes. ``after`` None: unanswered."""
    if not answered(after):
        print(f"Not drawn yet: the counterfactuals (complete {question} first).")
        return None
    rows = {"G(z)": before, "G(z')": after, "G(z') − G(z)": after - before}
    fig, axes = plt.subplots(3, len(before), figsize=(1.25 * len(before), 4.2), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c, image in enumerate(images):
            ax = axes[r, c]
            if r < 2:
                pixels, cmap = as_image(image)
                ax.imshow(pixels, cmap=cmap, vmin=0, vmax=1)
                ax.set_title(str(labels[name][c]), fontsize=8)
            else:
                ax.imshow(image.sum(0).numpy(), cmap="bwr", vmin=-1, vmax=1)
        axes[r, 0].set_ylabel(name, fontsize=8)
    return _finish_grid(fig, axes, title)


def curves_plot(curves: dict, areas: dict, question: str, title: str, xlabel: str, ylabel: str):
    """The mean of each answered (N, S + 1) curve over images, on an even grid over [0, 1], with its area in the
    legend."""
    _missing(curves, question)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for name, value in curves.items():
        if answered(value):
            mean = torch.as_tensor(value).double().mean(0).numpy()
            area = areas.get(name)
            label = f"{name} (AUC {area:.3f})" if answered(area) else name
            ax.plot(np.linspace(0, 1, len(mean)), mean, label=label, linestyle="--" if name == "random" else "-")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cascade_plot(steps: list[str], similarity: dict, question: str, title: str):
    """Similarity to the trained model's maps after randomising the layers named in ``steps`` (cumulatively,
    top first), one line per method; None where unanswered."""
    _missing({name: None if any(not answered(v) for v in values) else values
              for name, values in similarity.items()}, question)
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, values in similarity.items():
        if all(answered(v) for v in values):
            ax.plot(range(len(values)), [float(v) for v in values], marker="o", label=name)
    ax.set_xticks(range(len(steps)), [f"+{s}" if i else s for i, s in enumerate(steps)], rotation=30, ha="right",
                  fontsize=8)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xlabel="layers randomised (cumulative, from the top)", ylabel="Spearman ρ on the foreground",
           title=title, ylim=(-0.5, 1.05))
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def patch_finding_rows(images: torch.Tensor, maps: dict, boxes: torch.Tensor, title: str):
    """Patched images and each method's map, the planted box outlined in cyan on all of them."""
    from matplotlib.patches import Rectangle

    fig = attribution_rows(images, maps, "-", title)
    for i, ax in enumerate(fig.axes):  # row-major: image i % n of every row
        top, left, h, w = (int(v) for v in boxes[i % len(images)])
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, edgecolor="cyan", linewidth=1.2))
    return fig


def concept_examples(sets: dict, question: str, title: str, n: int = 8):
    """The first ``n`` images of the first draw of each answered list of sets, one row per set."""
    _missing(sets, question)
    rows = {name: value[0][:n] for name, value in sets.items() if answered(value)}
    fig, axes = plt.subplots(max(1, len(rows)), n, figsize=(1.1 * n, 1.2 * max(1, len(rows))), squeeze=False)
    for i, (name, images) in enumerate(rows.items()):
        for j, ax in enumerate(axes[i]):
            if j < len(images):
                arr, cmap = as_image(images[j])
                ax.imshow(arr, cmap=cmap, vmin=0, vmax=1)
            if j == 0:
                ax.set_ylabel(name, fontsize=8)
    return _finish_grid(fig, axes, title)


def tcav_score_plot(scores: dict, question: str, title: str):
    """Each answered list of TCAV scores as points (one per random set) over a box, on a shared [0, 1] axis."""
    _missing(scores, question)
    answered_scores = {name: [float(v) for v in values] for name, values in scores.items() if answered(values)}
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if answered_scores:
        names = list(answered_scores)
        ax.boxplot([answered_scores[n] for n in names], vert=False, widths=0.5)
        for k, name in enumerate(names, 1):
            values = answered_scores[name]
            ax.scatter(values, np.full(len(values), k) + np.linspace(-0.12, 0.12, len(values)), s=14, zorder=3)
        ax.set_yticks(range(1, len(names) + 1), names)
    ax.set(xlim=(-0.02, 1.02), xlabel="TCAV score (share of class images with a positive directional derivative)",
           title=title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def training_logs(histories: dict, title: str):
    """One column per run: both losses (log scale) on top, D's mean output on real and generated images below."""
    fig, axes = plt.subplots(2, len(histories), figsize=(3.6 * len(histories), 5), squeeze=False, sharex=True)
    for j, (name, frame) in enumerate(histories.items()):
        top, bottom = axes[0, j], axes[1, j]
        top.semilogy(frame.index, frame["d_loss"].clip(lower=1e-8), label="D loss")
        top.semilogy(frame.index, frame["g_loss"].clip(lower=1e-8), label="G loss")
        top.set_title(name, fontsize=10)
        bottom.plot(frame.index, frame["d_real"], label="D(x), real")
        bottom.plot(frame.index, frame["d_fake"], label="D(G(z)), generated")
        bottom.set(ylim=(-0.03, 1.03), xlabel="iteration")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        if j == 0:
            top.set_ylabel("loss (log scale)")
            bottom.set_ylabel("mean D output")
            top.legend(fontsize=8)
            bottom.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sample_rows(samples: dict, title: str, n: int = 10):
    """The first ``n`` images of each run's samples, one row per run."""
    fig, axes = plt.subplots(len(samples), n, figsize=(1.0 * n, 1.1 * len(samples)), squeeze=False)
    for i, (name, images) in enumerate(samples.items()):
        for j, ax in enumerate(axes[i]):
            arr, cmap = as_image(images[j])
            ax.imshow(arr, cmap=cmap, vmin=0, vmax=1)
            if j == 0:
                ax.set_ylabel(name, fontsize=8)
    return _finish_grid(fig, axes, title)


def fid_ladder_plot(ladder: dict, reference: float, runs: dict, question: str, title: str, xlabel: str):
    """FID of corrupted real images against strength, with real-vs-real and each run's FID as horizontal lines."""
    values = dict(ladder, reference=reference, **runs)
    _missing(values, question)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    if all(answered(v) for v in ladder.values()):
        ax.plot(list(ladder), [float(v) for v in ladder.values()], marker="o", color="black", label="corrupted real")
    if answered(reference):
        ax.axhline(float(reference), color="grey", linestyle=":", label="real vs real")
    for name, value in runs.items():
        if answered(value):
            ax.axhline(float(value), linestyle="--", color=f"C{list(runs).index(name)}", label=name)
    ax.set(xlabel=xlabel, ylabel="FID (classifier features, log scale)", title=title, yscale="log")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def mig_bars(scores: dict, question: str, title: str):
    """One bar per representation's MIG (only the answered ones)."""
    _missing(scores, question)
    done = {name: float(v) for name, v in scores.items() if answered(v)}
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.barh(list(done), list(done.values()), color="tab:green")
    ax.set(xlim=(0, 1), xlabel="MIG (0: entangled, 1: one code per factor)", title=title)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
