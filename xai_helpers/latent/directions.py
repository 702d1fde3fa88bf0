"""Interpretable directions in a generator's latent space, how to walk them, and what they change.

Each finder returns unit directions in z-space as the rows of a (k, D) array:

* **SeFa** (Shen & Zhou 2021), closed form: the first layer maps z by a matrix A, so a unit step along v moves
  its output by ‖Av‖; the directions moving it most are the top eigenvectors of AᵀA. No sampling, no training.
  The eval-mode batch norm after that layer is folded into A (see :func:`first_layer_weight`).
* **GANSpace** (Härkönen et al. 2020): PCA of the first layer's activations over many samples, carried back to
  z by least squares (z ≈ U·pca_coordinates), as the paper does for BigGAN.
* **E[JᵀJ]**: the top eigenvectors of the expected Jacobian metric (:mod:`.sensitivity`), i.e. the
  directions that change the whole image most, through all layers.
* **InterFaceGAN** (Shen et al. 2020), supervised: a linear boundary in z-space between samples with and
  without an attribute (read by the classifier or measured); its unit normal is the direction.
* **random** unit directions: the baseline every other finder must beat.

A *read-out* is any function ``images01 (N, C, H, W) → DataFrame`` of semantic numbers (class logits, measured
stroke properties, shapes factors). The re-scoring matrix says how much a unit step along each direction moves
each read-out, in standard deviations of that read-out over real images (Shen et al.'s "re-scoring").
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..gan import decode, one_hot

Readout = Callable[[torch.Tensor], pd.DataFrame]


def _unit_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return m / np.linalg.norm(m, axis=1, keepdims=True).clip(1e-12)


def first_layer_weight(generator: nn.Module, fold_batch_norm: bool = True) -> torch.Tensor:
    """The matrix A (out, z_dim) of G's first layer, restricted to z (a conditional G's label inputs dropped).

    Shen & Zhou take the first layer's weight as it is. Our DCGAN follows it with a batch norm whose gains
    γ / sqrt(var + eps) are large and uneven (5.6–12.7 in a trained G), and what the next layer sees is the
    batch norm's output; so with ``fold_batch_norm`` (the default) the eval-mode batch norm is folded in:
    row j of A is scaled by its feature's gain, and ‖A v‖ is the change of the batch norm's output per unit
    step along v. The shift (mean, β) does not depend on z and drops out. Uneven gains change the
    eigenvectors, not only the eigenvalues."""
    layer = generator.project[0]
    if not isinstance(layer, nn.Linear):
        raise ValueError(f"SeFa needs a linear first layer, got {type(layer).__name__}")
    weight = layer.weight.detach()[:, :generator.z_dim].cpu()
    norm = generator.project[1] if len(generator.project) > 1 else None
    if fold_batch_norm and isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)):
        weight = _batch_norm_gain(norm, weight.shape[0])[:, None] * weight
    return weight


def _batch_norm_gain(norm: nn.Module, out_features: int) -> torch.Tensor:
    """Eval-mode gain γ / sqrt(running_var + eps) of each of a layer's ``out_features`` outputs (a 2-d batch
    norm after a reshape to channels has one gain per channel, shared by the channel's consecutive units)."""
    if norm.running_var is None:
        raise ValueError("the batch norm after the first layer keeps no running statistics: its eval-mode "
                         "gain depends on the batch and cannot be folded into the weight")
    gain = torch.rsqrt(norm.running_var.detach().double() + norm.eps)
    if norm.weight is not None:
        gain = gain * norm.weight.detach().double()
    if out_features % len(gain):
        raise ValueError(f"a batch norm over {len(gain)} features cannot follow {out_features} outputs")
    return gain.repeat_interleave(out_features // len(gain)).float().cpu()


def sefa(weight: torch.Tensor, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SeFa on a first-layer matrix A (out, D): (eigenvalues of AᵀA descending, top-k unit directions (k, D)).

    Shen & Zhou normalise each column of A first; we keep A as it is, so the eigenvalues are the squared
    output change per unit step (of the batch norm's output when A comes from :func:`first_layer_weight`)
    and directions stay comparable with E[JᵀJ]."""
    a = torch.as_tensor(weight, dtype=torch.float64)
    if a.ndim != 2:
        raise ValueError(f"weight must be a matrix (out, D), got shape {tuple(a.shape)}")
    values, vectors = torch.linalg.eigh(a.T @ a)
    order = torch.argsort(values, descending=True)
    k = a.shape[1] if k is None else k
    return values[order].numpy(), _unit_rows(vectors[:, order[:k]].T.numpy())


@torch.no_grad()
def first_layer_activations(generator: nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None) -> np.ndarray:
    """Output of G's first block (after its nonlinearity), flattened: (N, features)."""
    generator.eval()
    device = next(generator.parameters()).device
    z = z.to(device)
    if generator.num_classes:
        z = torch.cat([z, one_hot(labels.to(device), generator.num_classes).to(z)], 1)
    return generator.project(z).flatten(1).double().cpu().numpy()


def ganspace(generator: nn.Module, z: torch.Tensor, k: int = 8,
             labels: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """GANSpace: (explained variance ratio of the top-k PCs, k unit z-directions (k, D))."""
    from sklearn.decomposition import PCA

    if not 1 <= k <= min(len(z), generator.z_dim):
        raise ValueError(f"k must be in [1, min(N, z_dim) = {min(len(z), generator.z_dim)}], got {k!r}")
    acts = first_layer_activations(generator, z, labels)
    pca = PCA(n_components=k, svd_solver="full").fit(acts)
    coords = pca.transform(acts)
    # Least squares z ≈ coords @ U: row j of U is the z-space direction that moves PC j.
    u, *_ = np.linalg.lstsq(coords, z.double().cpu().numpy(), rcond=None)
    return pca.explained_variance_ratio_, _unit_rows(u)


#: InterFaceGAN fits a boundary only with at least this many latents on each side: its 30 % held-out split then
#: holds at least 3 of each, so that the accuracy it reports rests on more than one or two latents.
INTERFACEGAN_MIN_PER_SIDE = 10


def interfacegan_refusal(has_attribute: np.ndarray) -> str | None:
    """Why no InterFaceGAN boundary can be fitted to these labels (too few latents on a side), or None."""
    y = np.asarray(has_attribute, bool)
    n_with, n_without = int(y.sum()), int((~y).sum())
    if min(n_with, n_without) < INTERFACEGAN_MIN_PER_SIDE:
        return (f"{n_with} of {len(y)} latents have the attribute and {n_without} do not; a boundary needs at "
                f"least {INTERFACEGAN_MIN_PER_SIDE} on each side")
    return None


def interfacegan(z: torch.Tensor, has_attribute: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """InterFaceGAN: (unit normal of a linear SVM boundary in z-space, its held-out accuracy).

    ``has_attribute`` is boolean per latent. The normal points towards the attribute. The accuracy is on a
    stratified 30 % held-out split (a direction from a boundary at chance level means nothing). Labels with fewer
    than :data:`INTERFACEGAN_MIN_PER_SIDE` latents on a side are refused (:func:`interfacegan_refusal`)."""
    from sklearn.model_selection import train_test_split
    from sklearn.svm import LinearSVC

    y = np.asarray(has_attribute, bool)
    if y.shape != (len(z),):
        raise ValueError(f"has_attribute must be one bool per latent ({len(z)}), got shape {y.shape}")
    reason = interfacegan_refusal(y)
    if reason:
        raise ValueError(f"InterFaceGAN: {reason}")
    x = z.double().cpu().numpy()
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    svm = LinearSVC(C=1.0, random_state=seed).fit(xtr, ytr)
    return _unit_rows(svm.coef_)[0], float(svm.score(xte, yte))


def random_directions(z_dim: int, k: int, seed: int = 0) -> np.ndarray:
    """k unit directions drawn uniformly on the sphere."""
    rng = np.random.default_rng(seed)
    return _unit_rows(rng.standard_normal((k, z_dim)))


# --------------------------------------------------------------------------------------- walking z-space
def traverse(generator: nn.Module, z: torch.Tensor, direction, alphas, labels: torch.Tensor | None = None):
    """Images G(z + α v) in [0, 1]: (len(z), len(alphas), C, H, W)."""
    v = torch.as_tensor(np.asarray(direction), dtype=z.dtype)
    alphas = torch.as_tensor(np.asarray(alphas), dtype=z.dtype)
    moved = z[:, None, :] + alphas[None, :, None] * v[None, None, :]
    y = None if labels is None else labels.repeat_interleave(len(alphas))
    images = decode(generator, moved.reshape(-1, z.shape[1]), y)
    return images.reshape(len(z), len(alphas), *images.shape[1:])


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Linear interpolation (len(t), D)."""
    t = torch.as_tensor(np.asarray(t), dtype=z0.dtype)[:, None]
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    """Spherical interpolation (White 2016): keeps ‖z‖ near the prior's shell, where G was trained, instead
    of cutting through the low-norm interior as :func:`lerp` does in high dimension."""
    t = torch.as_tensor(np.asarray(t), dtype=torch.float64)[:, None]
    a, b = z0.double(), z1.double()
    cos = (a @ b / (a.norm() * b.norm())).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-6:
        return lerp(z0, z1, t.flatten().numpy())
    out = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    return out.to(z0.dtype)


def rescoring(generator: nn.Module, z: torch.Tensor, directions: dict[str, np.ndarray], readout: Readout,
              scale: pd.Series, step: float = 1.0, labels: torch.Tensor | None = None) -> pd.DataFrame:
    """Semantic sensitivity: mean of ``(r(G(z + s v)) − r(G(z − s v))) / 2s`` over z, per direction and read-out,
    divided by ``scale`` (each read-out's standard deviation over real images).

    A central difference of finite step ``s`` rather than a derivative because measured properties (area,
    slant…) are piecewise constant in the pixels; ``s = 1`` is one prior standard deviation. NaN read-outs
    (e.g. a blank sample has no slant) are left out of the mean."""
    if not step > 0:
        raise ValueError(f"step must be positive, got {step!r}")
    rows, cols = {}, None
    for name, v in directions.items():
        images = traverse(generator, z, v, [-step, step], labels)
        minus, plus = readout(images[:, 0]), readout(images[:, 1])
        cols = plus.columns
        with warnings.catch_warnings():  # a read-out that is NaN for every sample stays NaN, silently
            warnings.simplefilter("ignore", RuntimeWarning)
            rows[name] = np.nanmean((plus.to_numpy(np.float64) - minus.to_numpy(np.float64)) / (2 * step), axis=0)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    return table / scale[cols].to_numpy()
