"""What the attribution explorer shows, computed without widgets: which images a filter selects, the model's top
classes for one image, each chosen method's map for a chosen class (:func:`image_maps`, shown first), and the
deletion/insertion curves of those maps on that image (:func:`map_curves`: the faithfulness measure of notebook 02,
for this one image, drawn when they are done)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..cnn import IG_BASELINES, METHODS, explain, explanation_metrics as em, heatmap

#: Methods that run many forward passes per image (seconds, not milliseconds): run in the background with a
#: progress bar, so the form never freezes.
SLOW_METHODS = ("lime", "kernel_shap")
OUTCOMES = ("any", "correct", "misclassified")
SOURCES = ("test", "planted")


@dataclass(frozen=True)
class Setting:
    """One adjustable option of a method: its ``explain()`` keyword, label, kind (int/float/choice), range and
    where its default comes from (a profile knob, or a fixed value)."""

    method: str
    option: str
    label: str
    kind: str
    low: float = 0
    high: float = 0
    choices: tuple = ()
    default: float | str | None = None


#: The settings the explorer exposes, one per knob the literature varies.
SETTINGS = (
    Setting("integrated_gradients", "n_steps", "IG steps", "int", 2, 256),
    Setting("integrated_gradients", "baseline", "IG baseline", "choice", choices=tuple(IG_BASELINES),
            default="black"),
    Setting("smoothgrad", "stdev", "SmoothGrad σ", "float", 0.0, 1.0, default=0.15),
    Setting("smoothgrad", "nt_samples", "SmoothGrad samples", "int", 1, 100),
    Setting("occlusion", "window", "occlusion window", "int", 1, 16, default=4),
    Setting("lime", "n_samples", "LIME / KernelSHAP samples", "int", 10, 2000),
)


def default_settings(options: dict[str, dict]) -> dict[tuple[str, str], object]:
    """``{(method, option): value}``: the profile's value (02's options) where it has one, else the setting's
    default (the value :func:`explain` would use)."""
    values = {}
    for s in SETTINGS:
        value = options.get(s.method, {}).get(s.option, s.default)
        if s.method == "integrated_gradients" and s.option == "baseline" and not isinstance(value, str):
            value = "black"  # 02 integrates from a constant black image
        values[(s.method, s.option)] = value
    return values


def method_options(methods, settings: dict[tuple[str, str], object], base: dict[str, dict]) -> dict[str, dict]:
    """Per-method ``explain()`` options: ``base`` (02's options) overridden by the explorer's settings. LIME's
    sample count also drives KernelSHAP (one control, the same budget for both perturbation methods)."""
    out = {m: dict(base.get(m, {})) for m in methods}
    for (method, option), value in settings.items():
        targets = (method, "kernel_shap") if method == "lime" else (method,)
        for m in targets:
            if m in out:
                out[m][option] = value
    if "occlusion" in out and "window" in out["occlusion"]:
        # A stride of half the window (at least 1 px): the overlap 02 uses (window 4, stride 2).
        out["occlusion"]["stride"] = max(1, int(out["occlusion"]["window"]) // 2)
    return out


def select_images(labels: torch.Tensor, predicted: torch.Tensor, class_index: int | None = None,
                  outcome: str = "any") -> torch.Tensor:
    """Indices of the images of ``class_index`` (None: every class) whose prediction is ``outcome``."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not allowed: expected one of {', '.join(OUTCOMES)}")
    keep = torch.ones(len(labels), dtype=torch.bool)
    if class_index is not None:
        keep &= labels == class_index
    if outcome == "correct":
        keep &= predicted == labels
    elif outcome == "misclassified":
        keep &= predicted != labels
    return torch.nonzero(keep).flatten()


@torch.no_grad()
def class_probabilities(model: nn.Module, image: torch.Tensor) -> np.ndarray:
    """Softmax over the classes for one (C, H, W) image."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = F.softmax(model(image[None].to(device)), 1)[0].cpu().numpy()
    model.train(was_training)
    return probs


def top_classes(probabilities: np.ndarray, k: int = 3) -> list[tuple[int, float]]:
    order = np.argsort(-probabilities)[:k]
    return [(int(c), float(probabilities[c])) for c in order]


def image_attributions(model: nn.Module, image: torch.Tensor, target: int | None, methods, options: dict[str, dict],
                     *, seed: int = 0, steps: int = 28, substrate: str = "blur",
                     progress: Callable[[int, int, str], None] | None = None,
                     cancelled: Callable[[], bool] = lambda: False) -> dict | None:
    """Everything the explorer draws for one image: :func:`image_maps`, then :func:`map_curves` of those maps.
    ``progress(done, total, method)`` counts the maps, then the curves; None as soon as ``cancelled()``."""
    view = image_maps(model, image, target, methods, options, seed=seed, progress=progress, cancelled=cancelled)
    if view is None:
        return None
    return map_curves(model, image, view, seed=seed, steps=steps, substrate=substrate, progress=progress,
                      cancelled=cancelled)


def image_maps(model: nn.Module, image: torch.Tensor, target: int | None, methods, options: dict[str, dict],
               *, seed: int = 0, progress: Callable[[int, int, str], None] | None = None,
               cancelled: Callable[[], bool] = lambda: False) -> dict | None:
    """What the explorer shows first for one image: class probabilities and top 3, the explained class (``target``;
    None: the predicted one), and each method's (H, W) map with its wall time. ``progress(done, total, method)``
    is called after each method; returns None as soon as ``cancelled()`` (a newer request supersedes this one)."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods {list(methods)!r} not allowed: choose one or more of {', '.join(METHODS)}")
    if image.ndim != 3:
        raise ValueError(f"image must be (C, H, W), got shape {tuple(image.shape)}")
    probs = class_probabilities(model, image)
    target = int(probs.argmax()) if target is None else int(target)
    if not 0 <= target < len(probs):
        raise ValueError(f"target class {target} is not allowed: expected an integer in [0, {len(probs) - 1}]")
    view = {"target": target, "predicted": int(probs.argmax()), "probabilities": probs, "top": top_classes(probs),
            "maps": {}, "seconds": {}, "curves": {}, "substrate": None, "options": {}}
    x, t = image[None], torch.tensor([target])
    for done, method in enumerate(methods, 1):
        if cancelled():
            return None
        started = time.perf_counter()
        # Unfolded: for one image, folding the batch norms saves less than checking the folded copy costs.
        view["maps"][method] = heatmap(explain(model, x, t, method, seed=seed, fold=False,
                                               **options.get(method, {})))[0].numpy()
        view["seconds"][method] = time.perf_counter() - started
        view["options"][method] = {k: v for k, v in options.get(method, {}).items() if not torch.is_tensor(v)}
        if progress:
            progress(done, len(methods), method)
    return view


def map_curves(model: nn.Module, image: torch.Tensor, view: dict, *, seed: int = 0, steps: int = 28,
               substrate: str = "blur", progress: Callable[[int, int, str], None] | None = None,
               cancelled: Callable[[], bool] = lambda: False) -> dict | None:
    """A copy of ``view`` (from :func:`image_maps`) with the deletion and insertion curves of each map on this
    image and their areas: notebook 02's faithfulness measure for one image. They take about as long as the
    gradient maps themselves (``steps + 1`` forward passes each), which is why the explorer shows the maps
    first. None as soon as ``cancelled()``."""
    x, t = image[None], torch.tensor([view["target"]])
    curves = {}
    for done, (method, heat) in enumerate(view["maps"].items(), 1):
        if cancelled():
            return None
        deletion, insertion = em.deletion_insertion_curves(model, x, t, torch.as_tensor(heat)[None], substrate, steps,
                                                           generator=torch.Generator().manual_seed(seed + 1),
                                                           tie_seed=seed)
        curves[method] = {"deletion": deletion[0], "insertion": insertion[0],
                          "deletion_auc": em.curve_auc(deletion), "insertion_auc": em.curve_auc(insertion)}
        if progress:
            progress(done, len(view["maps"]), method)
    return {**view, "curves": curves, "substrate": substrate}


def view_record(view: dict, classes, **context) -> dict:
    """The numbers of a view as plain JSON types (the explorer's export): classes by name, curves as lists."""
    return {
        **context,
        "explained_class": classes[view["target"]], "predicted_class": classes[view["predicted"]],
        "top3": [{"class": classes[c], "probability": p} for c, p in view["top"]],
        "substrate": view["substrate"],
        "methods": {m: {"seconds": view["seconds"][m], "options": view["options"][m], **_curve_record(view, m)}
                    for m in view["maps"]},
    }


def _curve_record(view: dict, method: str) -> dict:
    """A map's curves and areas as JSON; None while they are still being computed (an export between the two)."""
    curves = view["curves"].get(method)
    if curves is None:
        return dict.fromkeys(("deletion_auc", "insertion_auc", "deletion_curve", "insertion_curve"))
    return {"deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"],
            "deletion_curve": np.asarray(curves["deletion"]).tolist(),
            "insertion_curve": np.asarray(curves["insertion"]).tolist()}
