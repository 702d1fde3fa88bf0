"""Colour, textured versions of grayscale images: the objects tinted and laid over textured colour backgrounds.

The study is built on grayscale digits; it must also hold on colour images whose backgrounds carry texture
and edges of every colour (issue 14: on a 32 px RGB clothing set a black-and-white planted patch was reported
never learned). This module makes such data from any grayscale set with a known foreground (the ink of a
digit, the garment of Fashion-MNIST): the tests use it on mnist5k, and ``tools/make_colour_imagefolder.py``
writes a 10-class colour clothing imagefolder from Fashion-MNIST for whole-study runs.

Each image: a background of two random colours mixed by a random gradient, plus stripes of random frequency and
angle and pixel noise; the object in a third random colour, shaded by its grayscale intensity. Everything is
drawn from one seed, so the set is reproducible.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def textured_backgrounds(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, size, size) backgrounds in [0, 1]: a two-colour gradient, stripes and noise."""
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    out = np.empty((n, 3, size, size))
    for i in range(n):
        a, b = rng.random(3), rng.random(3)
        angle = rng.uniform(0, np.pi)
        ramp = np.cos(angle) * xx + np.sin(angle) * yy
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
        base = a[:, None, None] * (1 - ramp) + b[:, None, None] * ramp
        freq, phase, theta = rng.uniform(2, 8), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi)
        stripes = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (np.cos(theta) * xx + np.sin(theta) * yy) + phase)
        contrast = rng.uniform(0.05, 0.3)
        out[i] = base * (1 - contrast) + contrast * stripes[None] + rng.normal(0, 0.03, (3, size, size))
    return np.clip(out, 0, 1)


def colourise(gray: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(N, 3, H, W) colour versions of (N, 1, H, W) grayscale images in [0, 1] whose intensity is the object
    (1 = object, 0 = background): a tinted object over a textured colour background."""
    if gray.ndim != 4 or gray.shape[1] != 1:
        raise ValueError(f"gray must be (N, 1, H, W), got shape {tuple(gray.shape)}")
    if gray.shape[-1] != gray.shape[-2]:
        raise ValueError(f"images must be square, got {tuple(gray.shape[-2:])}")
    rng = np.random.default_rng(seed)
    n, _, size, _ = gray.shape
    background = textured_backgrounds(n, size, rng)
    tint = rng.random((n, 3, 1, 1)) * 0.8 + 0.2
    g = gray.double().numpy()
    shade = 0.4 + 0.6 * g  # the object's own grayscale shading survives as brightness
    alpha = np.clip(g * 1.5, 0, 1)  # soft object edges, as in the grayscale original
    return torch.from_numpy(alpha * tint * shade + (1 - alpha) * background).float().clamp(0, 1)


def write_imagefolder(images: torch.Tensor, labels: torch.Tensor, classes, out: str | Path) -> Path:
    """Write (N, 3, H, W) images in [0, 1] as PNG files ``out/<class>/<index>.png`` (the layout of
    ``--dataset imagefolder``); refuses a folder that already holds images, so no two sets mix."""
    from PIL import Image

    out = Path(out)
    if out.exists() and any(out.rglob("*.png")):
        raise FileExistsError(f"{out} already holds PNG images; choose an empty folder")
    arrays = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, (array, label) in enumerate(zip(arrays, labels.tolist())):
        folder = out / str(classes[label])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array, "RGB").save(folder / f"{i:05d}.png")
    return out
