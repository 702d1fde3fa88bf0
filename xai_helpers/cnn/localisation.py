"""Localisation on a known region (Arras, Osman & Samek 2022, "CLEVR-XAI"): relevance mass accuracy and relevance
rank accuracy of non-negative heat maps against a box that holds the evidence (02's planted patch), each with its
chance level.

With a map :math:`H \\ge 0` over :math:`N = H·W` pixels and the ground-truth box :math:`B`:

- **relevance mass accuracy** :math:`= \\sum_{p \\in B} H_p / \\sum_p H_p`, the share of the heat inside the box;
- **relevance rank accuracy** :math:`= |\\mathrm{top}_K(H) \\cap B| / K` with :math:`K = |B|`, the share of the K most
  relevant pixels that lie in the box. Tied values at the K-th place share the remaining places in proportion
  (the expectation over random tie-breaks), so a block-valued map (Grad-CAM, LIME) is scored the same whatever
  the order of its equal pixels; Quantus 0.6 breaks ties by ``np.argsort`` order, which depends on pixel
  positions: on maps without ties the two agree exactly (tests).

**Chance levels.** Over the N circular shifts of a map each pixel visits the box |B| times, so both measures
average |B| / N over the shifts, whatever the map's granularity: a map that does not depend on where the evidence
is scores |B| / N on average. A map that is all zero has no mass and a constant map no ranking: they score 0 (as in
the pointing game), and the chance level counts them as 0 too, so a method is never above chance by being blank.

These are the Quantus metrics ``RelevanceMassAccuracy`` and ``RelevanceRankAccuracy`` on ``heatmap`` maps
(|attribution| summed over channels; Quantus's defaults ``abs=True``, ``normalise=True`` leave both unchanged);
written here for the tie rule, the chance levels and batched torch input.
"""
from __future__ import annotations

import numpy as np
import torch

from .explanation_metrics import box_mask


def _checked(heat: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    if heat.ndim != 3 or boxes.shape != (len(heat), 4):
        raise ValueError(f"heat maps must be (N, H, W) and boxes (N, 4) as (top, left, height, width), got "
                         f"{tuple(heat.shape)} and {tuple(boxes.shape)}")
    if bool((heat < 0).any()):
        raise ValueError("heat maps must be non-negative (use heatmap(attributions))")
    mask = box_mask(boxes, *heat.shape[1:])
    if not bool(mask.flatten(1).any(1).all()):
        raise ValueError("every box must cover at least one pixel of the image")
    return mask


def relevance_mass_accuracy(heat: torch.Tensor, boxes: torch.Tensor) -> np.ndarray:
    """Per map, the share of its heat inside its box; 0 for an all-zero map."""
    mask = _checked(heat, boxes)
    flat, inside = heat.flatten(1).double(), mask.flatten(1)
    total = flat.sum(1)
    mass = (flat * inside).sum(1) / total.clamp_min(1e-300)
    return torch.where(total > 0, mass, torch.zeros_like(mass)).numpy()


def relevance_rank_accuracy(heat: torch.Tensor, boxes: torch.Tensor) -> np.ndarray:
    """Per map, the share of its K = |box| most relevant pixels inside the box, ties at the K-th value shared in
    proportion; 0 for a constant map."""
    mask = _checked(heat, boxes)
    out = []
    for values, inside in zip(heat.flatten(1).double(), mask.flatten(1)):
        k = int(inside.sum())
        if values.max() == values.min():
            out.append(0.0)
            continue
        kth = values.topk(k).values[-1]
        above, tied = values > kth, values == kth
        places_left = k - int(above.sum())  # filled by the tied pixels, each with the same chance
        hits = int((above & inside).sum()) + places_left * int((tied & inside).sum()) / int(tied.sum())
        out.append(hits / k)
    return np.array(out)


def localisation_chance(heat: torch.Tensor, boxes: torch.Tensor, measure: str) -> float:
    """The mean score of each map under every circular shift (see the module): mean over maps of |B| / N, with the
    maps that score 0 anywhere (all zero for ``"mass"``, constant for ``"rank"``) counted as 0."""
    if measure not in ("mass", "rank"):
        raise ValueError(f"measure must be 'mass' or 'rank', got {measure!r}")
    mask = _checked(heat, boxes)
    flat = heat.flatten(1)
    scores = flat.max(1).values > (0 if measure == "mass" else flat.min(1).values)
    return float((scores.double() * mask.flatten(1).double().mean(1)).mean())
