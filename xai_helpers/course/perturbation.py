"""Assignment 6's plumbing around the student's code: the segments LIME and KernelSHAP perturb (the same ones the
study's ``explain`` uses), one score per segment, the agreement of those scores across seeds with its chance
level, and Grad-CAM maps brought to the image's size."""
from __future__ import annotations

import inspect
import itertools
from math import comb

import pandas as pd
import torch

from ..cnn import DEFAULT_SUPERPIXELS, METHODS, grid_feature_mask, slic_masks, uses_superpixels

#: The side of the study's fixed blocks on small images, read from its LIME (one place for that fact).
GRID_CELL = inspect.signature(METHODS["lime"].fn).parameters["cell"].default


def feature_options(x: torch.Tensor) -> dict:
    """What ``explain`` needs to perturb the study's features of images like ``x``: SLIC superpixels on large
    images, fixed blocks on small ones (:mod:`xai_helpers.cnn.superpixels`)."""
    if uses_superpixels(min(x.shape[-2:])):
        return {"superpixels": DEFAULT_SUPERPIXELS}
    return {"cell": GRID_CELL}


def segments(x: torch.Tensor, options: dict) -> torch.Tensor:
    """(N, H, W): each pixel's segment index (0 … F-1) under ``options`` (from :func:`feature_options`)."""
    if options.get("superpixels"):
        return slic_masks(x, options["superpixels"])[:, 0]
    return grid_feature_mask(x.shape, options["cell"])[0, 0].expand(len(x), -1, -1)


def segment_scores(attributions: torch.Tensor, segment_index: torch.Tensor) -> list[torch.Tensor]:
    """Per image, one score per segment: the attribution summed over channels, averaged over the segment's pixels
    (LIME and KernelSHAP give every pixel of a segment the same value, so this is that value times C)."""
    summed = attributions.detach().sum(1)
    out = []
    for values, index in zip(summed, segment_index):
        count = torch.bincount(index.flatten()).clamp_min(1)
        out.append(torch.bincount(index.flatten(), weights=values.flatten().double()) / count)
    return out


def chance_jaccard(features: int, k: int) -> float:
    """The expected Jaccard index of two top-``k`` sets drawn uniformly at random from ``features``: the
    overlap i is hypergeometric, and J = i / (2k - i)."""
    if not 1 <= k <= features:
        raise ValueError(f"k = {k!r} is not allowed: expected an integer in [1, {features}]")
    total = comb(features, k)
    return sum(comb(k, i) * comb(features - k, k - i) / total * i / (2 * k - i) for i in range(k + 1))


def seed_agreement(scores: dict, agreement, k: int) -> pd.DataFrame | None:
    """``scores[(method, n_samples, seed)]`` = per-image segment scores; ``agreement(a, b, k)`` the student's
    measure. One row per method, sample count, image and pair of seeds, with the chance level of the image's
    segment count; None while ``agreement`` is unanswered."""
    rows = []
    for (method, n), group in itertools.groupby(sorted(scores), key=lambda key: key[:2]):
        seeds = [key[2] for key in group]
        for s, t in itertools.combinations(seeds, 2):
            for image, (a, b) in enumerate(zip(scores[method, n, s], scores[method, n, t])):
                value = agreement(a, b, k)
                if value is None or value is Ellipsis:
                    return None
                rows.append({"method": method, "n_samples": n, "image": image, "seeds": f"{s}-{t}",
                             "agreement": float(value), "chance": chance_jaccard(len(a), k)})
    return pd.DataFrame(rows)


def upsampled(cam: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N, h, w) layer maps → (N, H, W) at ``x``'s size, bilinear (as Grad-CAM's authors and captum do)."""
    return torch.nn.functional.interpolate(cam[:, None].detach().float(), size=tuple(x.shape[-2:]), mode="bilinear",
                                           align_corners=False)[:, 0]
