"""Concept sets for TCAV, built locally and deterministically from the data (no downloads).

Stroke concepts transform real images (dilation, skeleton thinning, shear) or select them by a measured
property (closed loops: Euler number ≤ 0); texture concepts are drawn on a blank canvas; the planted concept is
the planted pattern pasted into random images, and the pattern alone on a blank canvas. Random counterparts
and random controls are random training images. Every set comes from the *training* split; the transformed
concepts are transformed random sets, so they hold every class as often as random images do and a concept is
not a class in disguise (closed loops are the exception: the property goes with the class).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.measure import euler_number
from skimage.morphology import skeletonize

from ..data import ImageDataset, checkerboard, plant, random_boxes

#: Seed of the concept sets (fixed, like the data splits): the same data always gives the same sets.
CONCEPT_SEED = 2

STROKE_CONCEPTS = ("thick_strokes", "thin_strokes", "slanted_strokes", "closed_loops")
TEXTURE_CONCEPTS = ("stripes", "dots")


def _binary(images: torch.Tensor, threshold: float = 0.5) -> np.ndarray:
    """(N, H, W) boolean ink masks (channel mean above ``threshold``)."""
    return (images.mean(1) > threshold).numpy()


def thick_strokes(images: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Grey-level dilation with a ``size``×``size`` square: every stroke ~``size - 1`` pixels wider."""
    out = ndimage.grey_dilation(images.numpy(), size=(1, 1, size, size))
    return torch.from_numpy(np.ascontiguousarray(out))


def thin_strokes(images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Morphological thinning to a one-pixel skeleton that keeps the image's own grey levels (so the concept
    differs from the original in stroke width only, not in being binary)."""
    skel = np.stack([skeletonize(b) for b in _binary(images, threshold)]).astype(np.float32)
    return images * torch.from_numpy(skel)[:, None]


def slanted_strokes(images: torch.Tensor, shear: float = 0.4) -> torch.Tensor:
    """A horizontal shear x' = x + shear·(centre − y): upright strokes lean right by atan(shear) ≈ 22°."""
    n = len(images)
    theta = torch.tensor([[1.0, shear, 0.0], [0.0, 1.0, 0.0]]).expand(n, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def euler_numbers(images: torch.Tensor, threshold: float = 0.5) -> np.ndarray:
    """Euler number (objects − holes, 8-connected ink) of each binarised image: ≤ 0 means a closed loop."""
    return np.array([euler_number(b, connectivity=2) for b in _binary(images, threshold)])


def stripes(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
    """Binary stripes on a blank canvas: random orientation, period 4–7 pixels, random phase."""
    c, h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    angle = torch.rand(n, generator=generator) * math.pi
    period = 4 + torch.randint(0, 4, (n,), generator=generator).float()
    phase = torch.rand(n, generator=generator) * 2 * math.pi
    proj = xx[None] * torch.cos(angle)[:, None, None] + yy[None] * torch.sin(angle)[:, None, None]
    wave = torch.sin(2 * math.pi * proj / period[:, None, None] + phase[:, None, None])
    return (wave > 0.3).float()[:, None].expand(n, c, h, w).contiguous()


def dots(n: int, shape: tuple[int, int, int], generator: torch.Generator, count: tuple[int, int] = (6, 12),
         radius: tuple[float, float] = (1.0, 2.0)) -> torch.Tensor:
    """``count`` random filled discs of radius in ``radius`` pixels on a blank canvas."""
    c, h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    out = torch.zeros(n, h, w)
    k = torch.randint(count[0], count[1] + 1, (n,), generator=generator)
    for i in range(n):
        cy = torch.rand(int(k[i]), generator=generator) * (h - 4) + 2
        cx = torch.rand(int(k[i]), generator=generator) * (w - 4) + 2
        r = radius[0] + torch.rand(int(k[i]), generator=generator) * (radius[1] - radius[0])
        inside = (yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2 <= r[:, None, None] ** 2
        out[i] = inside.any(0).float()
    return out[:, None].expand(n, c, h, w).contiguous()


def pattern_alone(n: int, shape: tuple[int, int, int], generator: torch.Generator,
                  pattern: torch.Tensor) -> torch.Tensor:
    """The planted pattern alone on a blank canvas, at a random position per image."""
    return with_pattern(torch.zeros(n, *shape), generator, pattern)


def with_pattern(images: torch.Tensor, generator: torch.Generator, pattern: torch.Tensor) -> torch.Tensor:
    """``images`` with the pattern pasted at a random position each (as it is planted in training images)."""
    return plant(images, random_boxes(len(images), images.shape[-1], pattern.shape[-1], generator), pattern)


@dataclass(frozen=True)
class ConceptSets:
    """Everything a TCAV study compares, as ``R`` draws each (draw ``i`` of anything is paired with counterpart
    ``i``): named concepts, the random counterparts, the null's random sets, and random controls."""

    concepts: dict[str, list[torch.Tensor]]
    counterparts: list[torch.Tensor]
    null: list[torch.Tensor]
    controls: dict[str, list[torch.Tensor]]
    info: dict


def concept_sets(data: ImageDataset, set_size: int, n_random: int, *, pattern: torch.Tensor | None = None,
                 n_controls: int = 0, seed: int = CONCEPT_SEED) -> ConceptSets:
    """Concept sets, random counterparts, the null's random sets and random controls: ``n_random`` draws of
    ``set_size`` images each.

    ``counterparts[i]`` and ``null[i]`` are disjoint random training images; the null pairs them
    (random vs random). Draw ``i`` of a concept is also set against ``counterparts[i]``:

    * thick, thin and slanted strokes, and (if ``pattern`` is given) ``planted_pattern``: ``null[i]``
      transformed, or with the pattern pasted in. Concept and null score ``i`` then share every sampling
      accident and differ by the transformation alone, and nothing is shared across ``i``;
    * closed loops: disjoint draws of training images with Euler number ≤ 0 (a selection, not a transform)
      outside every counterpart; omitted, with the reason in ``info["omitted"]``, where the data hold too few
      (filled shapes have none);
    * stripes, dots and (if ``pattern`` is given) ``planted_pattern_alone``: drawn on a blank canvas. These
      differ from random digits above all by the missing digit, which TCAV cannot tell from the texture.

    ``controls`` maps ``random_control_<j>`` to ``n_random`` further random sets, disjoint from the
    counterparts, the null and each other (closed-loop draws may share images with null sets and controls):
    random "concepts" that check the significance test itself. Each CAV sees a fresh draw of its concept, so
    concept scores vary from draw to draw as random-vs-random scores do; with one fixed concept set all its
    scores would share that set's sampling accident, and random controls would come out "significant".
    """
    if set_size < 2:
        raise ValueError(f"set_size must be at least 2, got {set_size!r}")
    if n_random < 2:
        raise ValueError(f"n_random must be at least 2, got {n_random!r}")
    if n_controls < 0:
        raise ValueError(f"n_controls must be non-negative, got {n_controls!r}")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    x, y = data.train_x, data.train_y
    shape = tuple(data.image_shape)
    per_concept = n_random * set_size
    needed = (2 + n_controls) * per_concept
    if needed > len(x):
        raise ValueError(f"{n_random} draws of {set_size} images for the counterparts, the null and {n_controls} "
                         f"controls need {needed} training images; {data.name} has {len(x)}. "
                         f"Lower set_size, n_random or n_controls.")
    # Counterparts, null sets and controls are uniform draws from the same images, so all are exchangeable.
    # Closed-loop draws avoid every counterpart; they may share images with null sets and controls.
    order = rng.permutation(len(x))

    def draws(images: torch.Tensor) -> list[torch.Tensor]:
        return [images[i * set_size:(i + 1) * set_size].contiguous() for i in range(n_random)]

    def block(k: int) -> list[torch.Tensor]:
        return draws(x[torch.from_numpy(order[k * per_concept:(k + 1) * per_concept])])

    counterparts, null = block(0), block(1)
    loops, omitted = _loop_draws(x, order, n_random, set_size, rng), {}
    concepts = {
        "thick_strokes": [thick_strokes(r) for r in null],
        "thin_strokes": [thin_strokes(r) for r in null],
        "slanted_strokes": [slanted_strokes(r) for r in null],
    }
    if isinstance(loops, str):  # data without enough closed shapes (e.g. filled shapes): say so, go on without
        omitted["closed_loops"] = loops
    else:
        concepts["closed_loops"] = draws(x[torch.from_numpy(loops)])
    concepts["stripes"] = draws(stripes(per_concept, shape, gen))
    concepts["dots"] = draws(dots(per_concept, shape, gen))
    if pattern is not None:
        concepts["planted_pattern"] = [with_pattern(r, gen, pattern) for r in null]
        concepts["planted_pattern_alone"] = draws(pattern_alone(per_concept, shape, gen, pattern))
    controls = {f"random_control_{j + 1}": block(2 + j) for j in range(n_controls)}
    info = {"set_size": set_size, "n_random": n_random, "n_controls": n_controls, "omitted": omitted}
    if "closed_loops" in concepts:
        info["closed_loop_classes"] = np.bincount(y[torch.from_numpy(loops)].numpy(),
                                                  minlength=data.num_classes).tolist()
    return ConceptSets(concepts, counterparts, null, controls, info)


def _loop_draws(x: torch.Tensor, order: np.ndarray, n_random: int, set_size: int, rng) -> np.ndarray | str:
    """Indices of ``n_random`` disjoint draws of closed-loop images (Euler number ≤ 0) outside every counterpart
    (``order[:n_random * set_size]``); the reason as text if there are too few."""
    per_concept = n_random * set_size
    outside = order[per_concept:]
    pool = rng.permutation(outside[euler_numbers(x[torch.from_numpy(outside)]) <= 0])
    if len(pool) < per_concept:
        return (f"only {len(pool)} training images outside the counterparts have a closed loop; {n_random} draws "
                f"of {set_size} need {per_concept}")
    return pool[:per_concept]


def planting_pattern(size: int = 4, channels: int = 1) -> torch.Tensor:
    """The planted concept's pattern: the checkerboard of :mod:`xai_helpers.cnn.shortcut` (black and white on grayscale
    images, which digits never hold; magenta and green on colour images, which no background holds)."""
    return checkerboard(size, channels)
