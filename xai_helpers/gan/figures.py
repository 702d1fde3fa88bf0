"""Figures of the GAN dynamics notebook (04). Inputs are logs, tables and images; nothing is computed here
except image layout (grids and the GIF's frames)."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..study.figures import as_image


def _style(ax, xlabel="iteration", ylabel="", title=""):
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)


def loss_and_output_panels(frame: pd.DataFrame, title: str):
    """Left: D and G losses; right: mean D(x), D(G(z)) before and after the D step, with the equilibrium 1/2."""
    fig, (ax_l, ax_d) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax_l.plot(frame.index, frame["d_loss"], label="D loss")
    ax_l.plot(frame.index, frame["g_loss"], label="G loss (non-saturating)")
    ax_l.axhline(2 * np.log(2), ls=":", c="grey", label="D loss at equilibrium (2 log 2)")
    _style(ax_l, ylabel="binary cross-entropy", title="losses")
    ax_d.plot(frame.index, frame["d_real"], label="D(x), real")
    ax_d.plot(frame.index, frame["d_fake"], label="D(G(z)) in the D step")
    ax_d.plot(frame.index, frame["d_fake_after_d_step"], label="D(G(z)) after the D step", alpha=0.7)
    ax_d.axhline(0.5, ls=":", c="grey", label="equilibrium 1/2")
    ax_d.set_ylim(-0.02, 1.02)
    _style(ax_d, ylabel="mean sigmoid output", title="discriminator outputs")
    for ax in (ax_l, ax_d):
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def norm_panels(frame: pd.DataFrame, title: str):
    """Top: gradient norm per network and per layer; bottom: weight norm per network and per layer (log scales)."""
    fig, axes = plt.subplots(2, 3, figsize=(14, 6.4))
    for row, kind in enumerate(("grad_norm", "weight_norm")):
        ax = axes[row, 0]
        ax.plot(frame.index, frame[f"{kind}_d"], label="discriminator")
        ax.plot(frame.index, frame[f"{kind}_g"], label="generator")
        ax.set_yscale("log")
        _style(ax, ylabel="L2 norm", title=f"{kind.replace('_', ' ')}: whole network")
        ax.legend(fontsize=7)
        for col, net in ((1, "d"), (2, "g")):
            ax = axes[row, col]
            cols = [c for c in frame.columns if c.startswith(f"{kind}_{net}/")]
            for c in cols:
                ax.plot(frame.index, frame[c], label=c.split("/", 1)[1], lw=1)
            ax.set_yscale("log")
            _style(ax, ylabel="L2 norm", title=f"{kind.replace('_', ' ')} per layer: "
                                                 f"{'discriminator' if net == 'd' else 'generator'}")
            ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def sample_grid(images: torch.Tensor, nrow: int) -> np.ndarray:
    """One image (H', W'[, 3]) tiling ``images`` (N, C, H, W) in rows of ``nrow``, one-pixel grey gutters."""
    from torchvision.utils import make_grid
    grid = make_grid(images.clamp(0, 1), nrow=nrow, padding=1, pad_value=0.5)
    return grid[0].numpy() if images.shape[1] == 1 else grid.permute(1, 2, 0).numpy()


def samples_over_training(grids: list[np.ndarray], iterations: list[int], title: str, ncols: int = 4):
    """The fixed-noise sample grid at each snapshot."""
    n = len(grids)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 3.3 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, grid, it in zip(axes.flat, grids, iterations):
        ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(f"iteration {it}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_gif(grids: list[np.ndarray], iterations: list[int], path: str | Path, ms_per_frame: int = 600,
             scale: int = 3) -> Path:
    """An animated GIF of the sample grids (each upscaled ``scale``×, nearest), with the iteration written on
    each frame; the last frame is held three times as long."""
    from PIL import Image, ImageDraw
    frames = []
    for grid, it in zip(grids, iterations):
        arr = (np.clip(grid, 0, 1) * 255).astype(np.uint8)
        img = Image.fromarray(arr).convert("RGB")
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        canvas = Image.new("RGB", (img.width, img.height + 16), "white")
        canvas.paste(img, (0, 16))
        ImageDraw.Draw(canvas).text((4, 2), f"iteration {it}", fill="black")
        frames.append(canvas)
    path = Path(path)
    durations = [ms_per_frame] * (len(frames) - 1) + [3 * ms_per_frame]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


def fidelity_over_training(table: pd.DataFrame, floor: float, collapsed: float, title: str):
    """FID (log scale) with the calibration lines, KID, precision/recall and IS against iteration."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    ax = axes[0]
    ax.plot(table.index, table["fid"], marker="o", label="GAN")
    ax.axhline(floor, c="green", ls="--", label=f"real vs real ({floor:.2g})")
    ax.axhline(collapsed, c="red", ls="--", label=f"one-class generator ({collapsed:.2g})")
    ax.set_yscale("log")
    _style(ax, ylabel="FID (classifier features)", title="FID")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.errorbar(table.index, table["kid_mean"], yerr=table["kid_std"], marker="o", capsize=2)
    ax.set_yscale("symlog", linthresh=1e-2)  # KID spans orders of magnitude and can dip below 0 near the floor
    _style(ax, ylabel="KID (classifier features, symlog)", title="KID (mean ± std over subsets)")
    ax = axes[2]
    ax.plot(table.index, table["precision"], marker="o", label="precision")
    ax.plot(table.index, table["recall"], marker="s", label="recall")
    ax.set_ylim(-0.02, 1.02)
    _style(ax, ylabel="share", title="precision / recall (k-NN manifolds)")
    ax.legend(fontsize=7)
    ax = axes[3]
    ax.plot(table.index, table["inception_score"], marker="o")
    _style(ax, ylabel="IS (classifier logits)", title="Inception-style score")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_histogram_heatmap(table: pd.DataFrame, classes, title: str):
    """Share of generated samples per class (columns) at each snapshot (rows), with the covered count and KL."""
    shares = table[[f"share/{i}" for i in range(len(classes))]].to_numpy()
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(classes), 0.9 + 0.32 * len(table)))
    sns.heatmap(shares, ax=ax, cmap="viridis", vmin=0, vmax=max(0.3, float(shares.max())), annot=len(classes) <= 12,
                fmt=".2f", annot_kws={"fontsize": 6}, cbar_kws={"label": "share of samples"},
                xticklabels=list(classes),
                yticklabels=[f"{it} ({c}, {kl:.2f})" for it, c, kl in
                             zip(table.index, table["classes_covered"], table["class_kl"])])
    ax.set(xlabel="class assigned by the classifier", ylabel="iteration (classes covered, KL to uniform)",
           title=title)
    fig.tight_layout()
    return fig


def calibration_figure(ladder: dict, floor: float, collapsed: float, gan: float, title: str):
    """FID of real test-set stand-ins under each corruption and strength, the floor, the one-class generator
    and the GAN on one log axis."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for kind, points in ladder.items():
        s = [0.0] + [p["strength"] for p in points]
        f = [floor] + [p["fid"] for p in points]
        ax.plot(np.arange(len(s)), f, marker="o", label=kind)
        for i, (si, fi) in enumerate(zip(s[1:], f[1:]), start=1):
            ax.annotate(f"{si:g}", (i, fi), textcoords="offset points", xytext=(3, 3), fontsize=6)
    ax.axhline(floor, c="green", ls="--", label=f"real vs real {floor:.3g}")
    ax.axhline(collapsed, c="red", ls="--", label=f"one-class generator {collapsed:.3g}")
    ax.axhline(gan, c="black", lw=2, label=f"this GAN {gan:.3g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(next(iter(ladder.values()))) + 1))
    _style(ax, xlabel="corruption step (0 = none; strengths annotated)", ylabel="FID (classifier features)",
           title=title)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def discriminator_maps(images: dict[str, torch.Tensor], maps: dict, iterations: list[int], method_titles: dict,
                       title: str, n_show: int = 4):
    """Rows: (image kind, method); columns: for each snapshot, ``n_show`` images. ``maps[kind][iteration][method]``
    is (N, H, W); ``images[kind]`` is (N, C, H, W) or ``images[kind][iteration]`` for generated ones."""
    kinds = list(maps)
    methods = list(method_titles)
    rows = []
    for k in kinds:
        rows.append((k, "image"))
        rows += [(k, m) for m in methods]
    ncols = len(iterations) * n_show
    fig, axes = plt.subplots(len(rows), ncols, figsize=(0.95 * ncols + 1.4, 0.95 * len(rows) + 0.8), squeeze=False,
                             layout="constrained")
    for r, (kind, method) in enumerate(rows):
        for s, it in enumerate(iterations):
            imgs = images[kind][it] if isinstance(images[kind], dict) else images[kind]
            for j in range(n_show):
                ax = axes[r, s * n_show + j]
                ax.set_xticks([])
                ax.set_yticks([])
                if method == "image":
                    arr, cmap = as_image(imgs[j])
                    ax.imshow(arr, cmap=cmap, vmin=0, vmax=1)
                else:
                    m = torch.as_tensor(maps[kind][it][method][j]).numpy()
                    ax.imshow(m / (m.max() + 1e-12), cmap="hot", vmin=0, vmax=1)
                if r == 0 and j == 0:
                    ax.set_title(f"iteration {it}", fontsize=8, loc="left")
        label = f"{kind}: image" if method == "image" else f"{kind}: {method_titles[method]}"
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title)
    return fig


def ink_share_plot(table: pd.DataFrame, title: str):
    """Share of attribution mass on ink, per method and image kind, against iteration; dotted: the ink area."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for (kind, method), g in table.groupby(["images", "method"]):
        ax.plot(g["iteration"], g["ink_share"], marker="o", ls="-" if kind == "real" else "--",
                label=f"{method}, {kind}")
    for kind, g in table.groupby("images"):
        g = g.groupby("iteration")["ink_area"].mean()
        ax.plot(g.index, g.values, ls=":", c="grey")
    ax.set_ylim(0, 1)
    _style(ax, ylabel="share of |attribution| on ink", title=title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def memorisation_figure(results: dict[str, dict], title: str):
    """Distributions of the distance to the nearest training image: held-out real images (the reference), and each
    generator of ``results`` (name: :func:`~xai_helpers.gan.memorisation.memorisation_test` result), with the
    near-copy threshold τ. Copies pile up left of τ."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    first = next(iter(results.values()))
    values = [first["heldout_distances"]] + [r["generated_distances"] for r in results.values()]
    bins = np.linspace(0, max(float(np.max(v)) for v in values), 50)
    ax.hist(first["heldout_distances"], bins=bins, density=True, alpha=0.5, color="grey",
            label="held-out real images (never trained on)")
    for name, result in results.items():
        ax.hist(result["generated_distances"], bins=bins, density=True, histtype="step", lw=1.8,
                label=f"{name}: {result['near_copy_share']:.1%} near copies, Z_U {result['data_copying_z']:.1f}"
                      + (f" (flagged by {' and '.join(result['flagged_by'])})" if result["flagged"] else ""))
    ax.axvline(first["near_copy_threshold"], c="red", ls="--",
               label=f"τ: {first['expected_share']:.0%} of held-out images are closer")
    _style(ax, xlabel="distance to the nearest training image (classifier features)", ylabel="density", title=title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
