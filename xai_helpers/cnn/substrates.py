"""What stands in for removed or absent pixels: the substrates of the deletion/insertion curves and the baselines
of path methods (Integrated Gradients from a black, blurred or noise image). One place, so that a baseline
called "blur" is the same image in an explanation and in the curve that scores it."""
from __future__ import annotations

import torch

SUBSTRATES = ("zero", "blur", "noise")


def substrate(x: torch.Tensor, kind: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """What removed pixels are replaced with: ``zero`` (black), ``blur`` (Gaussian σ=3 of the image), or
    ``noise`` (uniform noise, seeded by ``generator``, else drawn from torch's global generator)."""
    if kind == "zero":
        return torch.zeros_like(x)
    if kind == "blur":
        from torchvision.transforms.functional import gaussian_blur

        return gaussian_blur(x, kernel_size=[13, 13], sigma=[3.0, 3.0])
    if kind == "noise":
        return torch.rand(x.shape, generator=generator).to(x)
    raise ValueError(f"unknown substrate {kind!r}; allowed: {', '.join(SUBSTRATES)}")
