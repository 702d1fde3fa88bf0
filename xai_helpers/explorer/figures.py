"""The explorers' figures, drawn from computed views (nothing is computed here).

They are built with matplotlib's object API (``Figure``), not pyplot: the explorers draw in a background thread
while the kernel keeps serving the form, and pyplot's global figure registry is not thread-safe. The same
function draws the live widget image and the static view of a headless run."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..data import SHAPE_NAMES
from ..study.figures import as_image


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (what an ipywidgets ``Image`` shows)."""
    buffer = io.BytesIO()
    # No tight box: it renders twice; the layout already fits. zlib level 1: PNG encoding took 30 ms of the
    # attribution explorer's answer at the default level 6, for files about 10 % larger.
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _show_image(ax, image, box=None, title: str = ""):
    arr, cmap = as_image(image)
    ax.imshow(arr, cmap=cmap, vmin=0, vmax=1)
    if box is not None:  # (row, col, height, width) of the planted patch
        r, c, h, w = (int(v) for v in box)
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, edgecolor="cyan", linewidth=1.5))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _rgb(image) -> np.ndarray:
    arr, cmap = as_image(image)
    return np.repeat(arr[..., None], 3, axis=2) if cmap else arr


def _strip(panels: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """RGB panels (H, W, 3) side by side with white gaps: one image, so one axes to draw instead of one per panel
    (axes and their ticks are most of a small figure's drawing time, and the form redraws on every change)."""
    h = panels[0].shape[0]
    white = np.ones((h, gap, 3))
    out = [panels[0]]
    for panel in panels[1:]:
        out += [white, panel]
    return np.concatenate(out, axis=1)


def attribution_figure(view: dict, image, classes, titles: dict[str, str], box=None, title: str = "") -> Figure:
    """Top: the image with its top-3 classes, then one map per method (scaled to its maximum, "hot" colours) with
    its time; bottom: each map's deletion and insertion curve on this image with their areas (a note that they are
    being computed, for a view without them yet)."""
    methods = list(view["maps"])
    n = len(methods) + 1
    hot = matplotlib.colormaps["hot"]
    panels = [_rgb(image)] + [hot(np.asarray(view["maps"][m]) / (np.asarray(view["maps"][m]).max() + 1e-12))[..., :3]
                              for m in methods]
    strip = _strip(panels)
    width = max(7.5, 1.7 * n)
    fig = Figure(figsize=(width, 5.6))
    ax = fig.add_axes((0.02, 0.5, 0.96, 0.33))
    ax.imshow(strip, interpolation="nearest", aspect="equal")
    ax.set_axis_off()
    side = panels[0].shape[1] + 2
    top = "\n".join(f"{classes[c]}: {p:.3f}" for c, p in view["top"])
    labels = [f"top classes\n{top}"] + [f"{titles.get(m, m)}\n{view['seconds'][m] * 1000:.0f} ms" for m in methods]
    for j, label in enumerate(labels):
        ax.text(j * side + side / 2 - 1, -1.5, label, ha="center", va="bottom", fontsize=8)
        if box is not None:  # the planted patch, outlined on the image and on every map
            r, c, h, w = (int(v) for v in box)
            ax.add_patch(Rectangle((j * side + c - 0.5, r - 0.5), w, h, fill=False, edgecolor="cyan", linewidth=1))
    fig.suptitle(title or f"explaining class '{classes[view['target']]}'", fontsize=10, y=0.98)
    if not view["curves"]:  # the maps are shown first; the curves follow (see AttributionExplorer.refine)
        fig.text(0.5, 0.23, "deletion and insertion curves: computing …", ha="center", va="center", fontsize=9,
                 color="0.4")
        return fig
    for k, (kind, better) in enumerate((("deletion", "lower"), ("insertion", "higher"))):
        ax = fig.add_axes((0.08 + 0.47 * k, 0.08, 0.4, 0.3))
        for method in methods:
            curve = np.asarray(view["curves"][method][kind])
            auc = view["curves"][method][f"{kind}_auc"]
            ax.plot(np.linspace(0, 1, len(curve)), curve, label=f"{titles.get(method, method)} ({auc:.2f})")
        ax.set(xlabel=f"share of pixels {'removed' if kind == 'deletion' else 'revealed'} "
                      f"(fill: {view['substrate']})", ylabel=f"p({classes[view['target']]})", ylim=(-0.02, 1.02))
        ax.set(xticks=(0, 0.25, 0.5, 0.75, 1), yticks=(0, 0.5, 1))  # fixed ticks: no locator search per redraw
        ax.set_title(f"{kind} curve, AUC in legend ({better} is better)", fontsize=9)
        # A fixed corner, where the curves usually are not (deletion falls from 1, insertion rises from 0):
        # loc="best" tests every position against every line point and was a quarter of each redraw.
        ax.legend(fontsize=7, loc="upper right" if kind == "deletion" else "upper left")
        ax.grid(alpha=0.3)
    return fig


def latent_figure(state: dict, classes, title: str = "") -> Figure:
    """G(z), where G is most sensitive at z, the classifier's top classes, D's verdict, and (InfoGAN on
    shapes) the factors read back from the image."""
    factors = state.get("factors")
    n = 4 if factors is not None else 3
    fig = Figure(figsize=(2.6 * n + 0.6, 3.0))
    grid = fig.add_gridspec(1, n, left=0.03, right=0.97, top=0.78, bottom=0.14, wspace=0.45)
    verdict = "real" if state["d_real"] >= 0.5 else "generated"
    _show_image(fig.add_subplot(grid[0, 0]), state["image"], title=f"G(z), ‖z‖ = {state['z_norm']:.2f}\n"
                                                                    f"D: {state['d_real']:.2f} real → '{verdict}'")
    ax = fig.add_subplot(grid[0, 1])
    im = ax.imshow(state["sensitivity"], cmap="viridis")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title("sensitivity ‖∂G(z)/∂z‖ per pixel", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    probs = np.asarray(state["probabilities"])
    order = np.argsort(-probs)[:5][::-1]
    ax = fig.add_subplot(grid[0, 2])
    ax.barh([str(classes[c]) for c in order], probs[order], color="tab:blue")
    ax.set(xlim=(0, 1), xlabel="probability")
    ax.set_title(f"classifier: '{classes[order[-1]]}'", fontsize=8)
    ax.tick_params(labelsize=7)
    if factors is not None:
        ax = fig.add_subplot(grid[0, 3])
        names = [k for k in factors if k != "shape"]
        ax.barh(names, [factors[k] for k in names], color="tab:green")
        ax.set(xlim=(0, 1), xlabel="value read by the regressor")
        ax.set_title(f"factors read back (shape: {SHAPE_NAMES[int(factors['shape'])]})", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    return fig
