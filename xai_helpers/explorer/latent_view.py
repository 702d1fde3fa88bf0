"""What the GAN latent explorer shows, computed without widgets: the generator's top directions of each family
(notebook 05's SeFa, GANSpace, E[JᵀJ] and InterFaceGAN), the latent point a set of slider values names, and
for that point the image, the classifier's probabilities, the discriminator's verdict, where in the image the
generator is most sensitive, and (InfoGAN on ``shapes``) the factors the regressor reads back."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..gan import TrainedGAN, balanced_labels, decode, sample_latent, to_gan_range
from ..latent import directions as LD, read_factors, sensitivity as LS

FAMILIES = ("SeFa", "GANSpace", "E[JᵀJ]", "InterFaceGAN")
PATHS = ("lerp", "slerp")


@dataclass(frozen=True)
class Direction:
    family: str
    label: str  # e.g. "SeFa 1 (eigenvalue 3.2)" or "InterFaceGAN → '7' (boundary accuracy 0.94)"
    vector: np.ndarray  # unit vector in z-space


def latent_pool(gan: TrainedGAN, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` latents from the GAN's prior (InfoGAN codes uniform) and balanced labels for a conditional GAN."""
    z = sample_latent(gan.z_dim, n, torch.Generator().manual_seed(seed), gan.code_dim)
    return z, balanced_labels(n, gan.num_classes)


@torch.no_grad()
def _predict(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    device = next(classifier.parameters()).device
    classifier.eval()
    return torch.cat([classifier(images[i:i + 512].to(device)).argmax(1).cpu() for i in range(0, len(images), 512)])


def latent_directions(gan: TrainedGAN, classifier: nn.Module, classes, *, k: int = 4, n_pool: int = 512,
                      n_jacobian: int = 32, seed: int = 0) -> dict[str, list[Direction]]:
    """The top ``k`` directions of each family, as 05 computes them: SeFa from the first layer, GANSpace from
    PCA of first-layer activations over ``n_pool`` latents, E[JᵀJ] from ``n_jacobian`` exact Jacobians, and
    InterFaceGAN boundaries between latents the classifier calls class c and the rest, for the ``k`` most
    frequent classes with at least 10 latents on each side (a boundary on fewer means nothing)."""
    G = gan.generator
    if not 1 <= k <= gan.z_dim:
        raise ValueError(f"k = {k!r} is not allowed: expected an integer in [1, {gan.z_dim}] (the latent size)")
    z_pool, y_pool = latent_pool(gan, n_pool, seed + 1)
    out: dict[str, list[Direction]] = {f: [] for f in FAMILIES}
    values, vectors = LD.sefa(LD.first_layer_weight(G), k)
    out["SeFa"] = [Direction("SeFa", f"SeFa {i + 1} (eigenvalue {values[i]:.3g})", vectors[i]) for i in range(k)]
    ratio, vectors = LD.ganspace(G, z_pool, min(k, n_pool), y_pool)
    out["GANSpace"] = [Direction("GANSpace", f"GANSpace {i + 1} ({ratio[i]:.1%} of variance)", vectors[i])
                       for i in range(len(vectors))]
    jac = LS.jacobian(G, z_pool[:n_jacobian], None if y_pool is None else y_pool[:n_jacobian])
    values, vectors = LS.spectrum(LS.expected_jtj(jac))
    out["E[JᵀJ]"] = [Direction("E[JᵀJ]", f"E[JᵀJ] {i + 1} (eigenvalue {values[i]:.3g})", vectors[i])
                     for i in range(k)]
    predicted = _predict(classifier, decode(G, z_pool, y_pool)).numpy()
    counts = np.bincount(predicted, minlength=len(classes))
    for c in np.argsort(-counts):
        if len(out["InterFaceGAN"]) == k or counts[c] < LD.INTERFACEGAN_MIN_PER_SIDE:
            break
        if n_pool - counts[c] < LD.INTERFACEGAN_MIN_PER_SIDE:
            continue
        normal, accuracy = LD.interfacegan(z_pool, predicted == c, seed)
        out["InterFaceGAN"].append(Direction("InterFaceGAN", f"InterFaceGAN → '{classes[c]}' (boundary accuracy "
                                                             f"{accuracy:.2f})", normal))
    return out


def latent_point(z_a: torch.Tensor, z_b: torch.Tensor, t: float, path: str, moves, codes=None) -> torch.Tensor:
    """The latent (1, D) the sliders name: the point at ``t`` on the ``path`` (lerp or slerp) from ``z_a`` to
    ``z_b``, moved by ``α·v`` for each ``(vector, α)`` in ``moves``, with InfoGAN codes (``{index: value}``)
    set last, since a code is a coordinate, not a direction."""
    if path not in PATHS:
        raise ValueError(f"path {path!r} is not allowed: expected one of {', '.join(PATHS)}")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t = {t!r} is not allowed: expected a number in [0, 1]")
    z = (LD.lerp if path == "lerp" else LD.slerp)(z_a.flatten(), z_b.flatten(), np.array([t]))
    for vector, alpha in moves:
        z = z + float(alpha) * torch.as_tensor(np.asarray(vector), dtype=z.dtype)
    z = z.reshape(1, -1).clone()
    for index, value in (codes or {}).items():
        z[0, index] = float(value)
    return z


def latent_state(gan: TrainedGAN, classifier: nn.Module, z: torch.Tensor, label: int | None = None,
                 regressor: nn.Module | None = None) -> dict:
    """For one latent (1, D): the image G(z) in [0, 1], the classifier's probabilities, D's probability that
    the image is real, the per-pixel sensitivity ‖∂G(z)_p/∂z‖₂ (averaged over channels), and, with a shapes
    factor ``regressor``, the factors it reads from the image."""
    G, D = gan.generator, gan.discriminator
    y = None if not gan.num_classes else torch.tensor([0 if label is None else int(label)])
    image = decode(G, z, y)
    device = next(classifier.parameters()).device
    with torch.no_grad():
        classifier.eval()
        probs = F.softmax(classifier(image.to(device)), 1)[0].cpu().numpy()
        was_training = D.training
        D.eval()
        d_device = next(D.parameters()).device
        logit = D(to_gan_range(image).to(d_device), None if y is None else y.to(d_device))
        D.train(was_training)
    jac = LS.jacobian(G, z, y)  # (1, P, D)
    c, h, w = image.shape[1:]
    sensitivity = jac[0].norm(dim=1).reshape(c, h, w).mean(0).numpy()
    state = {"image": image[0], "probabilities": probs, "d_real": float(torch.sigmoid(logit).item()),
             "d_logit": float(logit.item()), "sensitivity": sensitivity, "z_norm": float(z.norm())}
    if regressor is not None:
        state["factors"] = read_factors(regressor, image).iloc[0].to_dict()
    return state
