"""What each attribution method needs and how much its maps move with its own settings: the measured half of a
method's card (Saliency Cards, Boggust et al. 2023), computed in 02; 06 assembles the cards
(:mod:`xai_helpers.evaluation.method_cards`).

- :func:`passes_per_image`: the model evaluations one map takes (a forward and backward pass for gradient methods,
  forward passes only for perturbation methods), from the method's settings in this run (or its defaults).
- :func:`hyperparameter_sensitivity`: the map again with the method's key setting doubled (Integrated Gradients'
  steps, SmoothGrad's noise σ, Occlusion's window), and the mean per-image Spearman ρ between the two maps over all
  pixels: 1 means the setting hardly matters at this scale, lower that the choice shapes what a reader sees.
"""
from __future__ import annotations

import inspect

import torch
from torch import nn

from .attribution import METHODS, explain, heatmap
from .smooth_mprt import mean_over_maps, spearman_per_map

#: The setting of a method whose choice most shapes its maps, and the alternative tried (doubled).
HYPERPARAMETERS = {"integrated_gradients": "n_steps", "smoothgrad": "stdev", "occlusion": "window"}
#: Settings that give a method's number of model evaluations per image.
SAMPLE_SETTINGS = {"integrated_gradients": "n_steps", "smoothgrad": "nt_samples", "gradient_shap": "n_samples",
                   "lime": "n_samples", "kernel_shap": "n_samples"}


def setting(method: str, name: str, options: dict):
    """The value of ``name`` for ``method`` in this run: its option, else the default of its function."""
    if name in options.get(method, {}):
        return options[method][name]
    return inspect.signature(METHODS[method].fn).parameters[name].default


def passes_per_image(method: str, options: dict, image_shape) -> int:
    """Model evaluations per map: samples or steps for path and sampling methods, one window position per pass
    for Occlusion (one superpixel per pass from 48 px on), one otherwise."""
    if method in SAMPLE_SETTINGS:
        return int(setting(method, SAMPLE_SETTINGS[method], options))
    if method == "occlusion":
        superpixels = options.get("occlusion", {}).get("superpixels")
        if superpixels:
            return int(superpixels)
        window, stride = setting("occlusion", "window", options), setting("occlusion", "stride", options)
        h, w = image_shape[-2:]
        return int(((h - window) // stride + 1) * ((w - window) // stride + 1))
    return 1


def requirements(method: str) -> str:
    """What the method needs from the model, in words."""
    m = METHODS[method]
    needs = "forward passes only" if m.family == "perturbation" else "gradients"
    if m.hooks:
        needs += ", hooks on its modules"
    if m.needs:
        needs += f", a model with {m.needs}"
    return needs


def hyperparameter_sensitivity(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, methods, options: dict,
                               heats: dict, seed: int = 0) -> dict:
    """``{method: {"parameter", "value", "alternative", "rank_correlation"}}`` for the methods of
    :data:`HYPERPARAMETERS` among ``methods`` (``heats``: their maps of ``x`` at this run's settings); a method whose
    setting does not apply here (Occlusion on superpixels) gets ``{"parameter", "skipped": reason}``."""
    out = {}
    for method in (m for m in methods if m in HYPERPARAMETERS):
        name = HYPERPARAMETERS[method]
        if method == "occlusion" and options.get(method, {}).get("superpixels"):
            out[method] = {"parameter": name, "skipped": "occlusion removes superpixels at this image size"}
            continue
        value = setting(method, name, options)
        alternative = 2 * value
        changed = heatmap(explain(model, x, targets, method, seed=seed,
                                  **{**options.get(method, {}), name: alternative}))
        rho = spearman_per_map(heats[method][: len(x)], changed)
        out[method] = {"parameter": name, "value": value, "alternative": alternative,
                       "rank_correlation": mean_over_maps(rho)}
    return out
