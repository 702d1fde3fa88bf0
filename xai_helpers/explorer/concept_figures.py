"""The concept tester's figure, drawn from a computed view (nothing is computed here). Object API only: it is drawn
in the explorer's background thread (see :mod:`.figures`)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..study.figures import as_image

_CONCEPT, _NULL, _SIGNIFICANT = "tab:blue", "tab:red", "tab:green"
_SHOWN = 8  # example images per set


def _examples(ax, images, title: str):
    tiles = [as_image(img)[0] for img in images[:_SHOWN]]
    gap = np.ones((tiles[0].shape[0], 2) + tiles[0].shape[2:])  # a white gap between tiles
    ax.imshow(np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1),
              cmap=as_image(images[0])[1], vmin=0, vmax=1)
    ax.set_title(title, fontsize=8, loc="left")
    ax.axis("off")


def _strip(ax, rows: list[tuple[str, np.ndarray, np.ndarray, str]], jitter: np.random.Generator):
    """Per row (label, values, filled, colour): a box and the points (hollow where ``filled`` is False)."""
    ax.boxplot([values for _, values, _, _ in rows], orientation="horizontal", widths=0.5, showfliers=False,
               medianprops={"color": "k"})
    for y, (_, values, filled, colour) in enumerate(rows, 1):
        ys = y + jitter.uniform(-0.15, 0.15, len(values))
        ax.scatter(values[filled], ys[filled], s=22, color=colour, zorder=3)
        ax.scatter(values[~filled], ys[~filled], s=22, facecolors="white", edgecolors=colour, zorder=3)
    ax.set_yticks(range(1, len(rows) + 1), [label for label, *_ in rows], fontsize=8)


def concept_figure(view: dict, classes, title: str = "") -> Figure:
    """Top: examples of the concept's first draw and of its random counterpart. Bottom: the target class's TCAV
    score of every CAV against the random-vs-random null with the verdict; each CAV's held-out accuracy; the mean
    score per class with the classes significant after Holm's correction."""
    row = view["row"]
    fig = Figure(figsize=(12, 5.6))
    outer = fig.add_gridspec(2, 1, height_ratios=[0.3, 1], left=0.1, right=0.98, top=0.9, bottom=0.1, hspace=0.25)
    top = outer[0].subgridspec(1, 2, wspace=0.08)
    _examples(fig.add_subplot(top[0]), view["examples"], f"{view['label']}: first draw")
    _examples(fig.add_subplot(top[1]), view["counterpart_examples"], "its random counterpart (first draw)")
    bottom = outer[1].subgridspec(1, 3, width_ratios=[1.3, 1, 1.3], wspace=0.35)

    ax = fig.add_subplot(bottom[0])
    concept, null = np.asarray(view["concept_scores"]), np.asarray(view["null_scores"])
    _strip(ax, [("random vs\nrandom (null)", null, np.ones(len(null), bool), _NULL),
                ("concept", concept, np.asarray(view["kept"]), _CONCEPT)], np.random.default_rng(0))
    ax.axvline(0.5, color="0.5", lw=0.8, ls=":")
    ax.set_xlim(-0.04, 1.04)
    ax.set_xlabel(f"TCAV score for class '{classes[view['target']]}' (hollow: CAV below accuracy "
                  f"{view['min_cav_accuracy']:g}, left out)", fontsize=7)
    p, pc = row["p_value"], row["p_value_corrected"]
    tested = f"p = {p:.3g}, Holm over {view['family']} classes {pc:.3g}" if row["tested"] else "not tested"
    ax.set_title(f"{view['verdict'].split(':')[0].upper()} ({tested}, α = {view['alpha']:g})", fontsize=8,
                 color=_SIGNIFICANT if row["significant"] else "0.3")

    ax = fig.add_subplot(bottom[1])
    draws = np.arange(len(view["cav_accuracy"]))
    ax.plot(draws, view["cav_accuracy"], "o-", color=_CONCEPT, label="concept vs counterpart")
    ax.plot(draws, view["null_cav_accuracy"], "s--", color=_NULL, label="random vs counterpart (null)", alpha=0.7)
    ax.axhline(view["min_cav_accuracy"], color="0.4", lw=0.8, ls=":", label="threshold")
    ax.set(xlabel="draw (random counterpart)", ylabel="held-out CAV accuracy", ylim=(0, 1.03))
    ax.set_xticks(draws)
    ax.set_title("how well each CAV separates its sets", fontsize=8)
    ax.legend(fontsize=6, loc="lower right")

    ax = fig.add_subplot(bottom[2])
    results = view["results"].sort_values("class_index")
    x = np.arange(len(results))
    colours = [_SIGNIFICANT if s else "0.75" for s in results.significant]
    bars = ax.bar(x, results.tcav_score, color=colours)
    bars[list(results.class_index).index(view["target"])].set_edgecolor("k")
    ax.scatter(x, results.null_score, marker="_", s=120, color=_NULL, zorder=3, label="null mean")
    ax.set_xticks(x, [str(classes[c]) for c in results.class_index], fontsize=7, rotation=90 if len(x) > 10 else 0)
    ax.set(ylim=(0, 1.03), ylabel="mean TCAV score")
    ax.set_title("every class (green: significant after Holm)", fontsize=8)
    ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    return fig
