"""GAN dissection (Bau et al. 2019): which generator units draw a concept, and does removing them remove it?

For a layer of G with U channels ("units"):

1. **Dissection.** Each unit's activation map a_u(z) is upsampled (bilinear) to the image size and thresholded
   at t_{u,c}. Its agreement with a concept's masks c(z) (stroke pixels, a shape's region) over all samples is

   IoU_{u,c} = Σ_z |{a_u(z) > t_{u,c}} ∩ c(z)| / Σ_z |{a_u(z) > t_{u,c}} ∪ c(z)|.

   As in GAN Dissection (Bau et al. 2019, who pick the threshold per unit and concept), t_{u,c} is the best of
   a grid of the unit's activation quantiles (:data:`QUANTILES`); Network Dissection's fixed top-1 % level
   cannot reach a good IoU with concepts that cover 10–20 % of the image, as strokes and shapes do.

2. **Intervention.** Ablating a set of units (forcing their activations to 0 at every position) and
   regenerating from the same z; the *ablation effect* on a concept is the share of the concept's ink that
   disappears:

   effect = Σ_z Σ_{p ∈ c(z)} max(x_p(z) − x̃_p(z), 0) / Σ_z Σ_{p ∈ c(z)} x_p(z)   (x in [0, 1]).

   The causal check compares the k units with the highest IoU against random sets of k other units: if the
   dissection found the units that draw the concept, ablating them removes more of it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..cnn import attenuated
from ..gan import to_unit_range


def dissection_layer(generator: nn.Module) -> nn.Module:
    """The last hidden feature map of a :class:`~xai_helpers.gan.models.DCGANGenerator` (its ReLU): the
    highest-resolution layer whose units still stand for parts rather than pixels (14×14 for 28×28 images,
    16×16 for 32×32)."""
    return generator.net[-3]


def _run(generator, z, labels):
    return generator(z) if labels is None else generator(z, labels)


@torch.no_grad()
def unit_activations(generator: nn.Module, layer: nn.Module, z: torch.Tensor,
                     labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(activations of ``layer`` (N, U, h, w), images in [0, 1] (N, C, H, W)) for latents z, in eval mode."""
    generator.eval()
    store = {}
    handle = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o.detach().cpu()))
    try:
        images = to_unit_range(_run(generator, z, labels)).cpu()
    finally:
        handle.remove()
    return store["a"], images


#: Candidate thresholds (activation quantiles per unit); each unit–concept pair keeps the one with the best IoU.
QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def unit_thresholds(acts: torch.Tensor, quantile: float = 0.99) -> torch.Tensor:
    """Per unit, the ``quantile`` of its activation over all samples and positions: (U,)."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    flat = acts.transpose(0, 1).flatten(1).double()
    return torch.quantile(flat, quantile, dim=1)


def unit_masks(acts: torch.Tensor, thresholds: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Upsampled activations above each unit's threshold: bool (N, U, H, W)."""
    up = F.interpolate(acts.float(), size=size, mode="bilinear", align_corners=False)
    return up > thresholds.float()[None, :, None, None]


def unit_iou_grid(acts: torch.Tensor, thresholds: torch.Tensor, concept: torch.Tensor,
                  chunk: int = 128) -> np.ndarray:
    """IoU of every unit with the concept for each row of candidate thresholds (Q, U): (Q, U), pooled over
    samples. Samples are processed in chunks so that the upsampled maps never all sit in memory."""
    thresholds = torch.atleast_2d(thresholds).float()
    inter = torch.zeros(thresholds.shape, dtype=torch.float64)
    union = torch.zeros(thresholds.shape, dtype=torch.float64)
    size = tuple(concept.shape[-2:])
    for i in range(0, len(acts), chunk):
        up = F.interpolate(acts[i:i + chunk].float(), size=size, mode="bilinear", align_corners=False)
        c = concept[i:i + chunk].bool()[:, None]
        for q, t in enumerate(thresholds):
            m = up > t[None, :, None, None]
            inter[q] += (m & c).sum((0, 2, 3)).double()
            union[q] += (m | c).sum((0, 2, 3)).double()
    return (inter / union.clamp_min(1)).numpy()


def unit_iou(acts: torch.Tensor, thresholds: torch.Tensor, concept: torch.Tensor) -> np.ndarray:
    """IoU of every unit's masks (one threshold per unit) with the concept masks (N, H, W): (U,)."""
    return unit_iou_grid(acts, thresholds, concept)[0]


@torch.no_grad()
def generate_ablated(generator: nn.Module, layer: nn.Module, units, z: torch.Tensor,
                     labels: torch.Tensor | None = None) -> torch.Tensor:
    """G(z) in [0, 1] with ``units`` of ``layer`` switched off (attenuated to 0, as in feature attenuation)."""
    generator.eval()
    with attenuated(layer, list(units), 0.0):
        return to_unit_range(_run(generator, z, labels)).cpu()


def ablation_effect(images: torch.Tensor, ablated_images: torch.Tensor, concept: torch.Tensor) -> float:
    """Share of the concept's ink removed by an ablation (see the module docstring); NaN without concept pixels."""
    c = concept.bool()[:, None].expand_as(images)
    ink = images[c].double().sum()
    if ink <= 0:
        return float("nan")
    return float((images - ablated_images).clamp_min(0)[c].double().sum() / ink)


def dissect(generator: nn.Module, z: torch.Tensor, concepts: dict[str, torch.Tensor], *,
            layer: nn.Module | None = None, labels: torch.Tensor | None = None, top_k: int = 4,
            n_random: int = 10, quantiles=QUANTILES, seed: int = 0) -> dict:
    """Dissect ``layer`` (default :func:`dissection_layer`) on latents z against concept masks (N, H, W) each.

    Returns per concept: ``iou`` (per unit, at its best threshold), ``thresholds`` and ``quantiles`` (the chosen
    ones per unit), ``top_units`` (k best by IoU), ``top_unit_iou``, ``ablation_effect_top`` and
    ``ablation_effect_random`` (mean over ``n_random`` sets of k units drawn from the other units),
    ``ablation_effect_random_all`` (each draw), its min and max, and ``random_sets`` (the units of each draw)."""
    layer = dissection_layer(generator) if layer is None else layer
    acts, images = unit_activations(generator, layer, z, labels)
    n_units = acts.shape[1]
    if not 1 <= top_k < n_units:
        raise ValueError(f"top_k must be in [1, {n_units - 1}] for a layer of {n_units} units, got {top_k!r}")
    grid = torch.stack([unit_thresholds(acts, q) for q in quantiles])  # (Q, U)
    rng = np.random.default_rng(seed)
    out = {}
    for name, mask in concepts.items():
        if mask.shape != (len(z), *images.shape[-2:]):
            raise ValueError(f"concept {name!r} masks must be (N, H, W) = {(len(z), *images.shape[-2:])}, "
                             f"got {tuple(mask.shape)}")
        ious = unit_iou_grid(acts, grid, mask)
        best = ious.argmax(0)
        iou = ious[best, np.arange(n_units)]
        top = [int(u) for u in np.argsort(-iou, kind="stable")[:top_k]]
        others = np.setdiff1d(np.arange(n_units), top)
        effect_top = ablation_effect(images, generate_ablated(generator, layer, top, z, labels), mask)
        random_sets = [sorted(int(u) for u in rng.choice(others, top_k, replace=False)) for _ in range(n_random)]
        randoms = [ablation_effect(images, generate_ablated(generator, layer, units, z, labels), mask)
                   for units in random_sets]
        out[name] = {"iou": iou.tolist(), "thresholds": grid[best, np.arange(n_units)].tolist(),
                     "quantiles": [float(quantiles[b]) for b in best], "top_units": top,
                     "top_unit_iou": float(iou[top[0]]), "ablation_effect_top": effect_top,
                     "ablation_effect_random": float(np.mean(randoms)),
                     "ablation_effect_random_min": float(np.min(randoms)),
                     "ablation_effect_random_max": float(np.max(randoms)),
                     "ablation_effect_random_all": [float(r) for r in randoms], "random_sets": random_sets}
    return {"concepts": out, "n_units": n_units, "top_k": top_k, "layer_shape": list(acts.shape[1:])}


def dissection_examples(generator: nn.Module, z: torch.Tensor, concepts: dict[str, torch.Tensor], result: dict,
                        labels: torch.Tensor | None = None) -> dict[str, dict]:
    """One illustrative sample per concept of a :func:`dissect` ``result``: the sample with the most concept pixels,
    with the mask of the concept's best unit, and the sample regenerated with its top units ablated and with the
    first random unit set ablated (what :func:`~.figures.dissection_figure` shows)."""
    layer = dissection_layer(generator)
    acts, images = unit_activations(generator, layer, z, labels)
    out = {}
    for name, mask in concepts.items():
        entry = result["concepts"][name]
        i = int(mask.flatten(1).sum(1).argmax())
        unit = entry["top_units"][0]
        threshold = torch.tensor(entry["thresholds"][unit:unit + 1])
        unit_mask = unit_masks(acts[i:i + 1, unit:unit + 1], threshold, tuple(mask.shape[-2:]))[0, 0]
        y = None if labels is None else labels[i:i + 1]
        out[name] = {"image": images[i, 0], "concept": mask[i], "unit": unit, "unit_mask": unit_mask,
                     "ablated_top": generate_ablated(generator, layer, entry["top_units"], z[i:i + 1], y)[0, 0],
                     "ablated_random": generate_ablated(generator, layer, entry["random_sets"][0], z[i:i + 1], y)[0, 0]}
    return out
