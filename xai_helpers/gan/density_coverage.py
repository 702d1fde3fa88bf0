"""Density and coverage (Naeem et al. 2020, "Reliable fidelity and diversity metrics for generative models") of
generated images against real ones, in a feature space.

With :math:`B_k(r_i)` the ball around real feature :math:`r_i` whose radius is the distance to its k-th nearest
real neighbour, M generated features :math:`f_j` and N real ones:

- density :math:`= \\frac{1}{kM}\\sum_j\\sum_i [f_j \\in B_k(r_i)]`: how many real neighbourhoods hold each generated
  sample, on average, over k. Unlike precision it counts, so one real outlier with a huge ball cannot make every
  sample "inside"; two samples of one distribution give about 1, and above 1 means samples crowd where real images
  are dense.
- coverage :math:`= \\frac{1}{N}\\sum_i [\\exists j: f_j \\in B_k(r_i)]`: the share of real neighbourhoods that hold at
  least one generated sample. Unlike recall it builds no balls around generated samples, so a few wild samples
  cannot cover everything; two samples of one distribution give about :math:`1 - 2^{-k}` for large samples.

Computed by prdc 0.2 (clovaai/generative-evaluation-prdc, the paper's own code: the reference, used rather than
rewritten), with the paper's k = 5. prdc prints a line per call; it is kept off the notebook's output here.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

#: The paper's recommended neighbourhood size (Naeem et al. 2020, section 4).
NEAREST_K = 5


def density_coverage(real_features, fake_features, nearest_k: int = NEAREST_K) -> dict[str, float]:
    """``{"density", "coverage"}`` of ``fake_features`` (M, d) against ``real_features`` (N, d)."""
    real, fake = (np.asarray(x, dtype=np.float32) for x in (real_features, fake_features))
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"features must be (N, d) and (M, d) with one d, got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) < nearest_k + 2:  # prdc's neighbour search within each set needs k + 2 points
        raise ValueError(f"nearest_k = {nearest_k} needs at least {nearest_k + 2} real and {nearest_k + 2} generated "
                         f"features, got {len(real)} and {len(fake)}")
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints "Num real: ... Num fake: ..."
        result = compute_prdc(real, fake, nearest_k=nearest_k)
    return {"density": float(result["density"]), "coverage": float(result["coverage"])}
