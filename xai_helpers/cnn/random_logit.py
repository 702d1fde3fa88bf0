"""Random Logit (Sixt, Granz & Landgraf 2020, "When explanations lie"; Quantus's ``RandomLogit``): explain each
image for another class, drawn at random, and compare with its explanation for the class it was explained for.
A map that hardly changes (high similarity) does not explain the *class*: it shows the image, or the network's
input-side processing, which is how several modified-backprop methods pass the eye test. Lower is better.

The similarity is the SSIM of the two heat maps (|attribution| summed over channels) as images, each scaled to
[0, 1] by its maximum (:func:`~xai_helpers.cnn.explanation_metrics.map_ssim`, 7×7 windows). Quantus 0.6's
default ``similarity_func`` is SSIM too, but of the two maps *flattened* to one row of pixels (its RandomLogit
reshapes them to (N, H·W)), whose 7-pixel windows run along image rows and across a row's end into the next: the
study compares maps as images, as the sanity cascade does. With Quantus's similarity and its draws of the other
class passed in, the two agree to float precision (tests). The other class is drawn uniformly from the classes
other than the explained one, with the run's seed, the same draws for every method (Quantus re-seeds numpy's
global generator for its draws; here a torch generator of its own).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from .attribution import explain, heatmap
from .explanation_metrics import map_ssim


def other_classes(targets: torch.Tensor, num_classes: int, seed: int = 0) -> torch.Tensor:
    """For each target, a class drawn uniformly from the ``num_classes - 1`` others."""
    if num_classes < 2:
        raise ValueError(f"Random Logit needs at least 2 classes, got {num_classes}")
    targets = torch.as_tensor(targets).long()
    if len(targets) and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(f"targets must be in [0, {num_classes - 1}], got {int(targets.min())}..{int(targets.max())}")
    offset = torch.randint(1, num_classes, (len(targets),), generator=torch.Generator().manual_seed(seed))
    return (targets + offset) % num_classes  # never the target itself, every other class equally likely


def random_logit(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, method: str, num_classes: int,
                 heat: torch.Tensor | None = None, seed: int = 0, others: torch.Tensor | None = None,
                 similarity: Callable[[torch.Tensor, torch.Tensor], np.ndarray] = map_ssim, **options) -> np.ndarray:
    """Per image, the ``similarity`` of the ``method`` map for ``targets`` (``heat`` when already computed) and the
    map for another class: ``others``, else a random one (:func:`other_classes`)."""
    targets = torch.as_tensor(targets).long().cpu()
    others = other_classes(targets, num_classes, seed) if others is None else torch.as_tensor(others).long()
    if others.shape != targets.shape or bool((others == targets).any()):
        raise ValueError("others must hold one class per image, each different from the image's target")
    if heat is None:
        heat = heatmap(explain(model, x, targets, method, seed=seed, **options)).cpu()
    other = heatmap(explain(model, x, others, method, seed=seed, **options)).cpu()
    return similarity(heat, other)
