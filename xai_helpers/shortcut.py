"""A planted shortcut: a small patch in training images of one class, at a known position per image.

A classifier trained on such data uses the patch instead of the digit; on test images of *other* classes
with the patch planted, the only evidence for the shortcut class is the patch, so a faithful attribution for
that class must point at it (the pointing game, the mass inside the patch).
"""
from __future__ import annotations

import torch

from .data import ImageDataset

#: Seed of the patch positions (fixed, like the data splits).
PATCH_SEED = 1


def checkerboard(size: int = 4) -> torch.Tensor:
    """A size×size 0/1 checkerboard: a texture that digits never contain."""
    r = torch.arange(size)
    return ((r[:, None] + r[None, :]) % 2).float()


def random_boxes(n: int, image_size: int, patch: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 4) boxes (top, left, height, width) uniformly placed inside the image."""
    top = torch.randint(0, image_size - patch + 1, (n,), generator=generator)
    left = torch.randint(0, image_size - patch + 1, (n,), generator=generator)
    size = torch.full((n,), patch)
    return torch.stack([top, left, size, size], 1)


def plant(images: torch.Tensor, boxes: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """Copy of ``images`` with ``pattern`` pasted (all channels) at each image's box."""
    out = images.clone()
    p = pattern.shape[-1]
    for i, (top, left, _, _) in enumerate(boxes.tolist()):
        out[i, :, top:top + p, left:left + p] = pattern
    return out


def shortcut_dataset(data: ImageDataset, target_class: int, patch: int = 4, fraction: float = 0.1) -> ImageDataset:
    """``data`` whose training split carries a planted shortcut for ``target_class``.

    The patch is planted in every training image of ``target_class`` and in a random ``fraction`` of the other
    training images, which are relabelled ``target_class`` (a BadNets-style backdoor, Gu et al. 2017). The
    patch is then sufficient evidence for the class, and for the relabelled images the only evidence, so the
    model must learn to use it. Positions are random per image (seeded); ``info`` records the counts.
    """
    if not 0 <= target_class < data.num_classes:
        raise ValueError(f"target_class must be in [0, {data.num_classes}), got {target_class!r}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    gen = torch.Generator().manual_seed(PATCH_SEED)
    own = torch.nonzero(data.train_y == target_class).flatten()
    other = torch.nonzero(data.train_y != target_class).flatten()
    other = other[torch.randperm(len(other), generator=gen)[: int(round(fraction * len(other)))]]
    idx = torch.cat([own, other]).sort().values
    boxes = random_boxes(len(idx), data.image_shape[-1], patch, gen)
    train_x, train_y = data.train_x.clone(), data.train_y.clone()
    train_x[idx] = plant(data.train_x[idx], boxes, checkerboard(patch))
    train_y[idx] = target_class
    return ImageDataset(f"{data.name}+patch{patch}-class{target_class}-frac{fraction:g}", train_x, train_y,
                        data.test_x, data.test_y, data.classes,
                        info=dict(data.info, shortcut={"class": target_class, "patch": patch, "fraction": fraction,
                                                       "planted": len(idx), "relabelled": len(other)}))


def patched_test_set(data: ImageDataset, patch: int = 4):
    """Every test image with the patch planted at a random known position: (images, boxes)."""
    gen = torch.Generator().manual_seed(PATCH_SEED + 1)
    boxes = random_boxes(len(data.test_x), data.image_shape[-1], patch, gen)
    return plant(data.test_x, boxes, checkerboard(patch)), boxes


def planted_concept_dataset(data: ImageDataset, target_class: int, rate: float, patch: int = 4) -> ImageDataset:
    """``data`` with the pattern planted in a fraction ``rate`` of the training images of ``target_class``.

    Unlike :func:`shortcut_dataset` no label changes: the pattern merely co-occurs with the class (in all of its
    images at ``rate`` 1), so whether the model uses it is up to training: the ground truth for TCAV's planted
    concept. ``rate`` 0 returns ``data`` itself (the clean model, from the same cache entry).
    """
    if not 0 <= target_class < data.num_classes:
        raise ValueError(f"target_class must be in [0, {data.num_classes}), got {target_class!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate!r}")
    if rate == 0:
        return data
    gen = torch.Generator().manual_seed(PATCH_SEED + 2)
    own = torch.nonzero(data.train_y == target_class).flatten()
    idx = own[torch.randperm(len(own), generator=gen)[: int(round(rate * len(own)))]].sort().values
    train_x = data.train_x.clone()
    train_x[idx] = plant(data.train_x[idx], random_boxes(len(idx), data.image_shape[-1], patch, gen),
                         checkerboard(patch))
    return ImageDataset(f"{data.name}+concept{patch}-class{target_class}-rate{rate:g}", train_x, data.train_y,
                        data.test_x, data.test_y, data.classes,
                        info=dict(data.info, planted={"class": target_class, "patch": patch, "rate": rate,
                                                      "planted": len(idx)}))
