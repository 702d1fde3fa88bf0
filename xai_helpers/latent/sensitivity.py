"""Latent variable sensitivity of a generator G: z ∈ R^D → x ∈ R^P (P = C·H·W, x in G's own [-1, 1] range).

Definitions (all computed with autograd, and checked against central finite differences):

* Jacobian ``J(z) = ∂G(z)/∂z`` (P × D), per sample, with ``torch.func.jacfwd`` under ``vmap`` (forward mode:
  D Jacobian-vector products instead of P vector-Jacobian products, and D ≪ P).
* Per-dimension sensitivity ``S_i(z) = ‖J(z) e_i‖₂`` (the norm of the i-th Jacobian column: how far the image
  moves per unit step of z_i) and its expectation ``S̄_i = E_z S_i(z)``.
* The metric ``M = E_z[J(z)ᵀ J(z)]`` (D × D): ``vᵀ M v`` is the mean squared image change per unit step along a
  unit direction v, so its eigenvectors are the directions G is most and least sensitive to, its spectrum
  says how many directions matter at all, and ``diag(M) = E_z S_i(z)²``.
* Sensitivity maps ``A_i(p) = E_z |J(z)_{p,i}|``: where in the image dimension i acts.
* Directional sensitivity ``‖J(z) v‖₂`` with ``torch.func.jvp`` (one forward pass, no full Jacobian).

Batch norm is used in eval mode (running statistics), so each sample's G(z) depends on its own z only and the
Jacobian is that of the function the user samples from.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.func import jacfwd, jvp, vmap


def _as_function(generator: nn.Module, labels: torch.Tensor | None):
    """z (D,) [, y ()] → flat image (P,): the per-sample function that vmap/jacfwd differentiate."""
    generator.eval()
    if generator.num_classes:
        if labels is None:
            raise ValueError("the generator is class-conditional: pass labels")
        return lambda z, y: generator(z[None], y[None])[0].flatten()
    return lambda z, y=None: generator(z[None])[0].flatten()


def _check_z(generator: nn.Module, z: torch.Tensor) -> None:
    if z.ndim != 2 or z.shape[1] != generator.z_dim:
        raise ValueError(f"z must be (N, {generator.z_dim}), got {tuple(z.shape)}")


def jacobian(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch_size: int = 32) -> torch.Tensor:
    """Exact Jacobians ``∂G(z)/∂z`` by forward-mode autograd: (N, P, D), detached, on the CPU."""
    _check_z(generator, z)
    f = _as_function(generator, labels)
    device = next(generator.parameters()).device
    out = []
    for i in range(0, len(z), batch_size):
        zb = z[i:i + batch_size].to(device)
        if labels is None:
            out.append(vmap(jacfwd(f))(zb).detach().cpu())
        else:
            out.append(vmap(jacfwd(f), in_dims=(0, 0))(zb, labels[i:i + batch_size].to(device)).detach().cpu())
    return torch.cat(out)


def finite_difference_jacobian(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
                               eps: float = 1e-5) -> torch.Tensor:
    """Central differences ``(G(z + ε e_i) − G(z − ε e_i)) / 2ε``: (N, P, D), in G's own dtype."""
    _check_z(generator, z)
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    generator.eval()
    device = next(generator.parameters()).device
    dtype = next(generator.parameters()).dtype
    z = z.to(device, dtype)
    y = labels.to(device) if labels is not None else None
    cols = []
    with torch.no_grad():
        for i in range(z.shape[1]):
            step = torch.zeros_like(z)
            step[:, i] = eps
            args_p = (z + step,) if y is None else (z + step, y)
            args_m = (z - step,) if y is None else (z - step, y)
            cols.append(((generator(*args_p) - generator(*args_m)) / (2 * eps)).flatten(1).cpu())
    return torch.stack(cols, 2)


def autograd_vs_finite_differences(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
                                   eps: float = 1e-5) -> dict:
    """Relative error ``‖J_autograd − J_fd‖_F / ‖J_fd‖_F`` per sample, on a float64 copy of G.

    float64 because central differences in float32 lose ~half their digits to rounding (error ~ u/ε + ε²).
    A small ε because G is piecewise smooth: a ReLU whose input lies within ε of its kink switches side inside
    the difference, and with thousands of units some do (on a trained digit DCGAN, ε = 1e-4 gave relative
    errors up to 5e-3, ε = 1e-5 gave 1e-10). In float64 with ε = 1e-5 a correct Jacobian agrees to ~1e-9, so a
    disagreement above a percent means the autograd Jacobian is wrong, not that differencing is noisy."""
    g64 = copy.deepcopy(generator).double().cpu().eval()
    z64 = z.double().cpu()
    ja = jacobian(g64, z64, labels)
    jf = finite_difference_jacobian(g64, z64, labels, eps)
    err = (ja - jf).flatten(1).norm(dim=1) / jf.flatten(1).norm(dim=1).clamp_min(1e-300)
    return {"max_rel_err": float(err.max()), "mean_rel_err": float(err.mean()), "per_sample": err.tolist(),
            "eps": eps, "dtype": "float64"}


def sensitivity(jac: torch.Tensor) -> torch.Tensor:
    """``S_i(z) = ‖J(z) e_i‖₂``: (N, D) from Jacobians (N, P, D)."""
    return jac.norm(dim=1)


def expected_jtj(jac: torch.Tensor) -> torch.Tensor:
    """``M = E_z[JᵀJ]`` (D, D) from Jacobians (N, P, D), in float64 (it is a sum of N·P products)."""
    j = jac.double()
    return torch.einsum("npi,npj->ij", j, j) / len(j)


def spectrum(matrix: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and unit eigenvectors as rows of a symmetric PSD matrix such as ``M``."""
    values, vectors = torch.linalg.eigh(matrix.double())
    order = torch.argsort(values, descending=True)
    return values[order].numpy(), vectors[:, order].T.numpy()


def effective_dimension(eigenvalues: np.ndarray) -> float:
    """Participation ratio ``(Σλ)² / Σλ²``: how many directions share G's sensitivity (1 … D)."""
    lam = np.clip(np.asarray(eigenvalues, float), 0, None)
    return float(lam.sum() ** 2 / (lam ** 2).sum())


def sensitivity_maps(jac: torch.Tensor, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """``A_i(p) = E_z |J_{p,i}(z)|`` averaged over channels: (D, H, W), where in the image each dimension acts."""
    c, h, w = image_shape
    return jac.abs().mean(0).T.reshape(-1, c, h, w).mean(1)


def directional_sensitivity(generator: nn.Module, z: torch.Tensor, direction: torch.Tensor,
                            labels: torch.Tensor | None = None) -> torch.Tensor:
    """``‖J(z) v‖₂`` per sample (N,) for a unit direction v, by forward-mode autograd (``torch.func.jvp``)."""
    _check_z(generator, z)
    v = torch.as_tensor(direction, dtype=z.dtype).flatten()
    if v.shape != (generator.z_dim,):
        raise ValueError(f"direction must have {generator.z_dim} entries, got {tuple(v.shape)}")
    v = v / v.norm()
    generator.eval()
    device = next(generator.parameters()).device
    z = z.to(device)
    tangent = v.to(device).expand_as(z).contiguous()
    fn = (lambda zz: generator(zz)) if labels is None else (lambda zz: generator(zz, labels.to(device)))
    _, out = jvp(fn, (z,), (tangent,))
    return out.flatten(1).norm(dim=1).detach().cpu()
