"""InfoGAN-CR's contrastive regulariser (Lin et al. 2020): pairs of samples that share one code, and a classifier
that must tell which.

InfoGAN's mutual-information term makes every code *visible* in the image, but not *separate*: a generator may
mix two codes into the x and y position and still let Q read both back. InfoGAN-CR adds a cooperative game: draw
an index k, two code vectors that agree in c_k only (the noise is drawn independently), and ask a classifier H to
name k from the two images. H can only succeed if changing one code changes one thing in the image, so G and H
both minimise the cross-entropy, weighted by ``cr_weight`` in G's loss. H is a small CNN on the two images stacked
along channels, as in the paper; its optimiser is Adam with G's settings.

No library provides it for PyTorch (the authors' code is TensorFlow 1), hence this module.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .models import sample_latent


class PairClassifier(nn.Module):
    """Two images (N, C, S, S) each, stacked along channels → logits over which of ``code_dim`` codes they share."""

    def __init__(self, in_channels: int, code_dim: int, width: int = 32):
        super().__init__()
        if code_dim < 2:
            raise ValueError(f"code_dim = {code_dim!r} is not allowed: telling which code is shared needs ≥ 2 codes")
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(2 * in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, code_dim),  # any image size
        )

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([first, second], 1))


def shared_code_pairs(z_dim: int, code_dim: int, n: int, generator: torch.Generator):
    """``(z, z_other, k)``: n latent pairs whose codes agree in entry ``k`` (uniform over codes) and nowhere
    else by design; their noise entries are independent."""
    z = sample_latent(z_dim, n, generator, code_dim)
    other = sample_latent(z_dim, n, generator, code_dim)
    k = torch.randint(0, code_dim, (n,), generator=generator)
    rows = torch.arange(n)
    other[rows, k] = z[rows, k]
    return z, other, k


def contrastive_loss(g: nn.Module, h: PairClassifier, n: int, generator: torch.Generator,
                     device: torch.device) -> tuple[torch.Tensor, float]:
    """H's cross-entropy on ``n`` fresh pairs from an unconditional ``g`` (differentiable in G and H) and its
    accuracy."""
    z, other, k = shared_code_pairs(g.z_dim, g.code_dim, n, generator)
    k = k.to(device)
    logits = h(g(z.to(device)), g(other.to(device)))
    return F.cross_entropy(logits, k), (logits.argmax(1) == k).float().mean().item()
