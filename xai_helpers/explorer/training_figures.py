"""The training scrubber's figure, drawn from a computed view (nothing is computed here). Object API only: it is
drawn in the explorer's background thread (see :mod:`.figures`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..gan.figures import sample_grid
from ..study.figures import as_image

_LABELS = {"d_loss": "D loss", "g_loss": "G loss (non-saturating)", "d_real": "D(x), real",
           "d_fake": "D(G(z)) in the D step", "d_fake_after_d_step": "D(G(z)) after the D step"}
_GAP = 2  # pixels between the tiles of a mosaic
_EVIDENCE = {"real": "evidence for 'real'", "generated": "evidence for 'generated'"}


def _curves(ax, seen, after, columns, iteration: int, diverged_at: int | None):
    """Each column of the log: in colour up to the snapshot, in light grey after it (training had not seen it)."""
    for column in columns:
        if column not in seen and column not in after:
            continue
        line, = ax.plot(seen.index, seen[column], label=_LABELS[column], lw=1.3)
        if len(after):
            # Join the grey part to the last coloured point so the curve reads as one line.
            joined = after[column] if not len(seen) else pd.concat([seen[column].iloc[-1:], after[column]])
            ax.plot(joined.index, joined.to_numpy(), color=line.get_color(), alpha=0.25, lw=1)
    ax.axvline(iteration, color="k", lw=1, ls="--", label=f"snapshot (iteration {iteration})")
    if diverged_at is not None:
        ax.axvline(diverged_at, color="red", lw=1, ls=":", label=f"diverged after iteration {diverged_at}")
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)


def _mosaic(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles (H, W) or (H, W, 3) side by side with blank (NaN: drawn in the background colour) gaps."""
    gap = np.full((tiles[0].shape[0], _GAP) + tiles[0].shape[2:], np.nan)
    return np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)


def training_figure(view: dict, method_title: str, title: str = "") -> Figure:
    """Top: the fixed-latent samples at the snapshot, the losses and the mean D outputs over training (grey after
    the snapshot); bottom: real and generated images with D's map and output D(·) at the snapshot."""
    n_maps = len(view["discriminator"]["real"]["images"])
    fig = Figure(figsize=(11.0, 7.0))
    outer = fig.add_gridspec(2, 1, height_ratios=[1.25, 1], left=0.06, right=0.98, top=0.9, bottom=0.03, hspace=0.3)
    top = outer[0].subgridspec(1, 3, width_ratios=[1, 1.25, 1.25], wspace=0.3)
    ax = fig.add_subplot(top[0])
    grid = sample_grid(view["samples"], nrow=view["grid_columns"])
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_title(f"samples of the fixed latents at iteration {view['iteration']}", fontsize=9)
    ax.axis("off")
    diverged_at = view["iterations_done"] if view["diverged"] else None
    ax = fig.add_subplot(top[1])
    _curves(ax, view["history"], view["history_after"], ("d_loss", "g_loss"), view["iteration"], diverged_at)
    ax.axhline(2 * np.log(2), ls=":", c="grey", lw=0.8)  # D's loss at the equilibrium D = 1/2
    ax.set_title("losses (dotted: D loss at equilibrium, 2 log 2)", fontsize=9)
    ax = fig.add_subplot(top[2])
    _curves(ax, view["history"], view["history_after"], ("d_real", "d_fake", "d_fake_after_d_step"),
            view["iteration"], diverged_at)
    ax.axhline(0.5, ls=":", c="grey", lw=0.8)  # the equilibrium D = 1/2
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("mean D outputs per logged window", fontsize=9)
    # One mosaic per row, not one axes per image: each axes costs about as much to draw as the whole mosaic.
    bottom = outer[1].subgridspec(2, 2, hspace=0.25, wspace=0.25)
    for column, kind in enumerate(("real", "generated")):
        part = view["discriminator"][kind]
        tiles = [as_image(img)[0] for img in part["images"]]
        maps = [np.asarray(m) / (np.asarray(m).max() + 1e-12) for m in part["maps"]]
        for k, (mosaic, cmap, label) in enumerate((
                (_mosaic(tiles), as_image(part["images"][0])[1], f"{kind} images"),
                (_mosaic(maps), "hot", f"{method_title}\n{_EVIDENCE[part['evidence']]}"))):
            ax = fig.add_subplot(bottom[k, column])
            ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=1, aspect="equal")
            ax.set_yticks([])
            ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
            side = tiles[0].shape[1]
            ax.set_xticks([j * (side + _GAP) + side / 2 for j in range(n_maps)],
                          [f"D = {float(d):.2f}" for d in part["d_output"]] if k == 0 else [], fontsize=7)
            ax.tick_params(length=0)
            ax.xaxis.set_ticks_position("top")
            for spine in ax.spines.values():
                spine.set_visible(False)
    fig.suptitle(title or f"GAN at iteration {view['iteration']}", fontsize=10)
    return fig
