"""Smooth MPRT (Hedström, Weber, Bareeva, Motzkus, Samek, Lapuschkin & Höhne 2024, "Sanity checks revisited"):
the model parameter randomisation test with the explanations *denoised* first, so that the gradient noise of
both the trained and the randomised model does not decide the similarity.

For an image x in [lo, hi], the smoothed explanation averages ``samples`` explanations of noisy copies,
:math:`\\bar A(x) = \\lvert \\frac1N \\sum_{s<N} \\sum_c A_c(x + \\varepsilon_s) \\rvert` with
:math:`\\varepsilon_s \\sim \\mathcal N(0, (0.1\\,(hi - lo))^2)` and the last :math:`\\varepsilon = 0` (so that one
sample is the plain explanation), as Quantus's ``SmoothMPRT`` does (noise_magnitude 0.1; it sums channels in its
``explain`` and takes the absolute value after averaging). The score is the Spearman correlation over all pixels
between the smoothed maps of the trained and of the fully randomised model, per image (NaN where a map is
constant); lower is better: a map that depends on the weights shares no ranking with the randomised model's.

The randomised model is the sanity cascade's last step (:func:`fully_randomised`: every layer re-drawn top down
with the cascade's generator), so smooth MPRT, Efficient MPRT and the cascade judge one and the same random model.
Quantus re-draws each layer bottom up with ``reset_parameters`` and draws the input noise from numpy's global
generator; on the same pair of models and the same noise the two agree (tests). The number of samples is the
profile's ``smoothgrad_samples`` (16 in quick; Quantus's default 50 in paper).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from .attribution import explain
from .captum_ready import clone_classifier
from .explanation_metrics import randomisation_steps, reinitialise

#: The noise std as a share of each image's value range (Quantus's ``noise_magnitude``).
NOISE_MAGNITUDE = 0.1


def fully_randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer re-drawn, top down, by the draws of the sanity cascade's ``seed``: the
    model of the cascade's last step."""
    generator = torch.Generator().manual_seed(seed)
    work = clone_classifier(model).eval()
    for _, groups in reversed(randomisation_steps(work)):
        for modules in reversed(groups):
            reinitialise(modules, generator)
    return work


def smoothed_maps(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, method: str, samples: int,
                  noise: list[torch.Tensor] | None = None, seed: int = 0, **options) -> torch.Tensor:
    """(N, H, W) denoised maps: |mean over ``samples`` explanations of noisy copies, channels summed|. ``noise``
    (``samples - 1`` tensors shaped like ``x``) replaces the seeded draws, e.g. to replay another library's."""
    if samples < 1:
        raise ValueError(f"samples must be ≥ 1, got {samples!r}")
    if noise is None:
        span = (x.amax((1, 2, 3), keepdim=True) - x.amin((1, 2, 3), keepdim=True)).cpu()
        generator = torch.Generator().manual_seed(seed)
        noise = [NOISE_MAGNITUDE * span * torch.randn(x.shape, generator=generator) for _ in range(samples - 1)]
    total = torch.zeros(x.shape[0], *x.shape[2:], dtype=torch.float64)
    for epsilon in [*noise, torch.zeros(x.shape)]:  # the last sample is the plain explanation
        total += explain(model, x + epsilon.to(x), targets, method, seed=seed, **options).sum(1).double()
    return (total / samples).abs()


def smooth_mprt(model: nn.Module, randomised: nn.Module, x: torch.Tensor, targets: torch.Tensor, method: str,
                samples: int, seed: int = 0, **options) -> np.ndarray:
    """Per image, the Spearman correlation of the smoothed maps of ``model`` and ``randomised`` (the same noise for
    both); NaN where either map is constant."""
    trained = smoothed_maps(model, x, targets, method, samples, seed=seed, **options)
    random = smoothed_maps(randomised, x, targets, method, samples, seed=seed, **options)
    return spearman_per_map(trained, random)


def spearman_per_map(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman's ρ of each pair of maps over all pixels; NaN where a map is constant."""
    out = []
    for u, v in zip(a.flatten(1).numpy(), b.flatten(1).numpy()):
        out.append(spearmanr(u, v).statistic if u.std() > 0 and v.std() > 0 else np.nan)
    return np.array(out, dtype=float)


def mean_over_maps(rho: np.ndarray) -> float:
    """The mean of per-image correlations over the images whose maps have a ranking; NaN when none has."""
    finite = np.asarray(rho, float)[np.isfinite(rho)]
    return float(finite.mean()) if len(finite) else float("nan")
