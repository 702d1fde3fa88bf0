"""The rating tool's faces: an ipywidgets form for people, and a static grid for headless runs and reports.

Both show what :mod:`.human_ratings` prepares: an image and one (or two) explanation maps, the method names
replaced by neutral labels, in the rater's own order. The form saves each answer the moment a button is
pressed and moves on; it starts at the first item the rater has not answered yet.
"""
from __future__ import annotations

import time

import matplotlib.pyplot as plt
import numpy as np

from .human_ratings import CHOICE_QUESTION, RATING_QUESTION, remaining, save_answer


def _show(ax, image, heat=None, title=""):
    img = np.asarray(image, float)
    ax.imshow(img if img.ndim == 2 else np.moveaxis(img, 0, -1).squeeze(), cmap="gray", vmin=0, vmax=1)
    if heat is not None:
        ax.imshow(np.asarray(heat, float), cmap="jet", alpha=0.5)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def item_figure(images, maps: dict, item: dict, task: str, target_name: str = ""):
    """One item as the rater sees it: the image, then one map (rating) or two maps labelled A and B (choice)."""
    i = item["image"]
    panels = [("explanation", item["method"])] if task == "rating" else [("A", item["left"]), ("B", item["right"])]
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(2.6 * (1 + len(panels)), 2.8))
    _show(axes[0], images[i][0] if images[i].shape[0] == 1 else images[i], title=f"image ({target_name})")
    for ax, (label, method) in zip(axes[1:], panels):
        _show(ax, images[i][0] if images[i].shape[0] == 1 else images[i], maps[method][i], label)
    fig.suptitle(RATING_QUESTION if task == "rating" else CHOICE_QUESTION, fontsize=10)
    fig.tight_layout()
    return fig


def static_items_grid(images, maps: dict, order: list[dict], n: int = 8, title: str = "What raters see"):
    """The first ``n`` rating items of an order, one row each, with the method hidden (for headless runs)."""
    shown = order[:n]
    fig, axes = plt.subplots(len(shown), 2, figsize=(4.4, 2.2 * len(shown)), squeeze=False)
    for r, item in enumerate(shown):
        i = item["image"]
        img = images[i][0] if images[i].shape[0] == 1 else images[i]
        _show(axes[r, 0], img, title=f"item {r + 1}: image")
        _show(axes[r, 1], img, maps[item["method"]][i], "explanation (method hidden)")
    fig.suptitle(f"{title}\nrated 1-5: {RATING_QUESTION}", fontsize=9)
    fig.tight_layout()
    return fig


def rating_form(images, maps: dict, order: list[dict], root, rater: str, task: str = "rating", target_names=None):
    """An ipywidgets form that walks the rater through the unanswered items of ``order`` and saves each answer
    (buttons 1–5 for ratings, A/B for choices). Returns the form's widget."""
    import ipywidgets as widgets
    from IPython.display import display

    todo = remaining(order, root, rater, task)
    out = widgets.Output()
    status = widgets.HTML()
    labels = [str(k) for k in range(1, 6)] if task == "rating" else ["A", "B"]
    buttons = [widgets.Button(description=label, layout=widgets.Layout(width="60px")) for label in labels]
    for b in buttons:  # stable classes for browser tests: xai-rating-answer, xai-rating-<task>
        b.add_class("xai-rating-answer")
        b.add_class(f"xai-rating-{task}")
    state = {"k": 0, "shown_at": time.perf_counter()}

    def render():
        out.clear_output(wait=True)
        with out:
            if state["k"] >= len(todo):
                status.value = f"<b>All {len(order)} items answered. Thank you, {rater}.</b>"
                for b in buttons:
                    b.disabled = True
                return
            item = todo[state["k"]]
            name = target_names[item["image"]] if target_names is not None else ""
            fig = item_figure(images, maps, item, task, name)
            display(fig)
            plt.close(fig)  # shown once, in the form; not again at the end of the cell
            status.value = f"item {len(order) - len(todo) + state['k'] + 1} of {len(order)}"
        state["shown_at"] = time.perf_counter()

    def answer(button):
        item = todo[state["k"]]
        seconds = time.perf_counter() - state["shown_at"]
        if task == "rating":
            save_answer(root, rater, item, "rating", rating=int(button.description), seconds=seconds)
        else:
            chosen = item["left"] if button.description == "A" else item["right"]
            save_answer(root, rater, item, "choice", choice=chosen, seconds=seconds)
        state["k"] += 1
        render()

    for b in buttons:
        b.on_click(answer)
    status.add_class(f"xai-rating-{task}-status")
    form = widgets.VBox([status, out, widgets.HBox(buttons)])
    display(form)
    render()
    return form
