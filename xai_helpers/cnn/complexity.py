"""Complexity of explanation maps (Quantus's "complexity" family): how concentrated the heat is.

- **sparseness** (Chalasani et al. 2020): the Gini index of the map's values, 0 for a uniform map, towards 1 when
  all heat sits on one pixel. With the values sorted ascending :math:`h_{(1)} \\le … \\le h_{(n)}`:
  :math:`G = \\sum_k (2k - n - 1) h_{(k)} / (n \\sum_k h_{(k)})`. Quantus 0.6's ``Sparseness`` adds 1e-7 to every
  value before this (against division by zero); here an all-zero map scores 0 instead, so the two differ by at
  most about 1e-7 · n / Σh on maps scaled to a maximum of 1 (tests).
- **entropy** (Bhatt et al. 2020, Quantus's ``Complexity``): the Shannon entropy (nats) of the map read as a
  distribution over pixels, :math:`-\\sum_p q_p \\ln q_p` with :math:`q = h / \\sum h`; 0 for one hot pixel,
  :math:`\\ln n` for a uniform map. Neither is graded: a sparse map is easier to read, not more faithful.
- **discrete entropy**: the entropy of the histogram of the map's values (``bins`` equal bins over its range),
  Quantus's ``discrete_entropy``, which Efficient MPRT (Hedström et al. 2024) compares before and after
  randomising the model: :func:`efficient_mprt`, per image :math:`(\\mathcal H_\\text{random} -
  \\mathcal H_\\text{original}) / \\mathcal H_\\text{original}`, Quantus's ``EfficientMPRT`` score. A map that
  depends on the weights turns to noise, whose value histogram is wider: higher is better, 0 means no change. The
  study reads it at the last step of its cascade (:func:`~xai_helpers.cnn.explanation_metrics.randomisation_cascade`),
  whose randomised weights are the cascade's draws; Quantus re-draws each layer with ``reset_parameters`` under its
  own seed, so the two agree on the same pair of models (tests), not on each one's own random model.
"""
from __future__ import annotations

import numpy as np
import torch


def sparseness(heat: torch.Tensor) -> np.ndarray:
    """Gini index of each non-negative map (N, H, W) or (N, C, H, W); 0 for an all-zero map."""
    v = heat.flatten(1).sort(dim=1).values.double()
    n = v.shape[1]
    k = torch.arange(1, n + 1, dtype=torch.float64)
    total = v.sum(1).clamp_min(1e-12)
    return (((2 * k - n - 1) * v).sum(1) / (n * total)).numpy()


def entropy(heat: torch.Tensor) -> np.ndarray:
    """Shannon entropy (nats) of each non-negative map read as a distribution over its pixels; 0 for all zero."""
    q = heat.flatten(1).double()
    q = q / q.sum(1, keepdim=True).clamp_min(1e-300)
    return -(torch.special.xlogy(q, q)).sum(1).numpy()


def efficient_mprt(original: torch.Tensor, randomised: torch.Tensor, bins: int = 100) -> np.ndarray:
    """Per image, the relative change of the maps' discrete entropy when the model is randomised; NaN where the
    original map's is 0 (a constant map: no histogram to widen)."""
    before, after = discrete_entropy(original, bins), discrete_entropy(randomised, bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(before > 0, (after - before) / before, np.nan)


def discrete_entropy(heat: torch.Tensor, bins: int = 100) -> np.ndarray:
    """Entropy (nats) of the histogram of each map's values in ``bins`` equal bins over its own range."""
    out = []
    for values in heat.flatten(1).double().numpy():
        counts, _ = np.histogram(values, bins=bins)
        p = counts[counts > 0] / counts.sum()
        out.append(float(-(p * np.log(p)).sum()))
    return np.array(out)
