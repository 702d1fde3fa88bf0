"""ROAD (Rong, Leemann, Borisov, Kasneci & Kasneci 2022, "A consistent and efficient evaluation strategy for
attribution methods"): remove pixels and *debias* the removal by noisy linear imputation, so that the shape of the
removed set no longer tells the model where the evidence was.

**Imputation.** Each removed pixel takes the weighted mean of its eight neighbours (weight 1/6 for the four direct
ones, 1/12 for the diagonals; only neighbours inside the image), kept pixels keep their value; for the removed set
R this is the sparse linear system :math:`(D_R - W_{RR})\\,v = W_{RK}\\,x_K` (D: each pixel's summed neighbour
weights), solved for all channels with one mask, plus Gaussian noise of std ``noise`` (0.01, the paper's and
Quantus's) on the imputed values. With every pixel removed nothing anchors the system; the image becomes 0 (plus
noise), the zero substrate's end point.

**Curves.** At the deletion curve's fractions (``steps`` + 1 points over [0, 1]), the target-class probability with
the most relevant pixels removed first (**MoRF**: a faithful map makes it fall fast, lower AUC is better) and with
the least relevant first (**LeRF**: it should stay high, higher AUC is better).

**Against Quantus 0.6** (``quantus.ROAD`` and ``noisy_linear_imputation``, adapted from the authors' code): the same
equations and weights (the imputed images agree to 1e-5 with noise 0, tests). Three differences, on purpose:
Quantus solves one sparse LU system per image and step in numpy, here a batched conjugate-gradient solve in torch
does every image of a step at once (02 scores 15 maps × 64 images × 29 steps × 2 orders; per-image solves took
minutes); Quantus reports the *accuracy* over images at percentages 1, 3, …, 99, here the target-class probability
per image on the deletion curve's grid, so ROAD sits beside the zero and blur substrates as a third one; Quantus
draws the noise from numpy's global generator, here from a generator seeded by the run.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .attribution import FORWARD_PIXELS_PER_PASS, images_per_pass
from .explanation_metrics import _target_probabilities, pixel_order

#: The paper's neighbour weights: direct neighbours 1/6, diagonal ones 1/12 (they sum to 1 inside the image).
NEIGHBOUR_KERNEL = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])
#: The paper's noise on imputed values (images in [0, 1]).
ROAD_NOISE = 0.01
#: At most this many pixel values (images × channels × pixels) in one conjugate-gradient solve: past it the vectors
#: leave the processor's caches (at 28 px on 2 cores, 64 images per solve took as long per image as 334).
IMPUTED_VALUES_PER_SOLVE = 2 ** 18


def _neighbour_sum(u: torch.Tensor) -> torch.Tensor:
    """Σ_j w_ij u_j over each pixel's neighbours inside the image, for (B, 1, H, W) fields."""
    return F.conv2d(u, NEIGHBOUR_KERNEL.to(u)[None, None], padding=1)


def linear_imputation(x: torch.Tensor, removed: torch.Tensor, tol: float = 1e-7, max_iter: int = 2000) -> torch.Tensor:
    """``x`` (N, C, H, W) with the pixels of ``removed`` (N, H, W, bool) replaced by the solution of the system above
    (no noise): conjugate gradients on the symmetric positive definite :math:`D_R - W_{RR}`, every image and channel
    at once."""
    n, c, h, w = x.shape
    if removed.shape != (n, h, w):
        raise ValueError(f"removed must be (N, H, W) = {(n, h, w)}, got {tuple(removed.shape)}")
    field = x.double().reshape(n * c, 1, h, w)
    mask = removed.repeat_interleave(c, 0)[:, None].double()  # 1 on the unknowns
    degree = _neighbour_sum(torch.ones_like(mask))  # D: summed weights of the neighbours inside the image

    def apply(v):  # (D_R − W_RR) v, v zero outside R
        return mask * (degree * v - _neighbour_sum(v))

    b = mask * _neighbour_sum(field * (1 - mask))  # W_RK x_K
    v = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = (r * r).sum((1, 2, 3))
    scale = rr.clamp_min(1e-300)
    for _ in range(max_iter):
        if bool((rr <= tol ** 2 * scale).all()):
            break
        ap = apply(p)
        pap = (p * ap).sum((1, 2, 3))
        alpha = torch.where(pap > 0, rr / pap.clamp_min(1e-300), torch.zeros_like(rr))
        v = v + alpha[:, None, None, None] * p
        r = r - alpha[:, None, None, None] * ap
        rr_new = (r * r).sum((1, 2, 3))
        p = r + (rr_new / rr.clamp_min(1e-300))[:, None, None, None] * p
        rr = rr_new
    return (field * (1 - mask) + v).reshape(n, c, h, w).to(x.dtype)


def road_images(x: torch.Tensor, removed: torch.Tensor, noise: float = ROAD_NOISE,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Noisy linear imputation: :func:`linear_imputation` plus N(0, ``noise``²) on the imputed pixels."""
    imputed = linear_imputation(x, removed)
    if noise == 0:
        return imputed
    jitter = noise * torch.randn(x.shape, generator=generator)
    return torch.where(removed[:, None].expand_as(x), imputed + jitter.to(x), imputed)


@torch.no_grad()
def road_curves(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, heat: torch.Tensor, steps: int = 28,
                noise: float = ROAD_NOISE, seed: int = 0, tie_seed: int = 0, batch_size: int | None = None):
    """The target-class probability with the most (MoRF) and the least (LeRF) relevant pixels removed and imputed,
    at ``steps`` + 1 fractions: two (N, steps + 1) arrays. The noise is drawn from ``seed``, the same for every map."""
    return road_curves_for(model, x, targets, {"map": heat}, steps, noise, seed, tie_seed, batch_size)["map"]


@torch.no_grad()
def road_curves_for(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, heats: dict[str, torch.Tensor],
                    steps: int = 28, noise: float = ROAD_NOISE, seed: int = 0, tie_seed: int = 0,
                    batch_size: int | None = None) -> dict[str, tuple]:
    """:func:`road_curves` of several maps of the same images (``{name: (N, H, W)}``), each equal to its own call:
    the same noise for every map. The maps' imputations of one fraction are solved together, up to
    :data:`IMPUTED_VALUES_PER_SOLVE` values at once: a conjugate-gradient iteration costs about as much for 8 images
    as for 100 (02's measure reliability solves 8 images × 15 maps × 58 fractions and orders per condition)."""
    n, c, h, w = x.shape
    batch_size = images_per_pass(x.shape, 1024, FORWARD_PIXELS_PER_PASS) if batch_size is None else batch_size
    names = list(heats)
    ranks = torch.cat([_ranks(heats[name], tie_seed) for name in names])  # (maps × N, H·W)
    counts = torch.linspace(0, h * w, steps + 1).round().long()
    generator = torch.Generator().manual_seed(seed)
    x = x.cpu()
    many = x.repeat(len(names), 1, 1, 1)
    per_solve = max(1, IMPUTED_VALUES_PER_SOLVE // x[0].numel())

    def perturbed():  # per step: MoRF, then LeRF
        for k in counts:
            for removed in ((ranks < k).view(-1, h, w), (ranks >= h * w - k).view(-1, h, w)):
                imputed = torch.cat([linear_imputation(many[i:i + per_solve], removed[i:i + per_solve])
                                     for i in range(0, len(many), per_solve)])
                if noise:
                    jitter = (noise * torch.randn(x.shape, generator=generator)).repeat(len(names), 1, 1, 1)
                    imputed = torch.where(removed[:, None].expand_as(imputed), imputed + jitter.to(x), imputed)
                yield imputed

    probs = _target_probabilities(model, perturbed(), targets.cpu().repeat(len(names)), batch_size)
    morf, lerf = torch.stack(probs[0::2], 1), torch.stack(probs[1::2], 1)
    return {name: (morf[i * n:(i + 1) * n].numpy(), lerf[i * n:(i + 1) * n].numpy()) for i, name in enumerate(names)}


def _ranks(heat: torch.Tensor, tie_seed: int) -> torch.Tensor:
    """(N, H·W): each pixel's place in the order of decreasing heat (ties broken by ``tie_seed``)."""
    order = pixel_order(heat, tie_seed)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand(len(order), -1))
    return rank
