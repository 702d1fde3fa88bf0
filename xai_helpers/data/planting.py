"""Planted ground truth: a checkerboard patch pasted into images at known positions, as a shortcut (02: planted in
one class and in relabelled images of others) or as a concept (03: co-occurring with one class, no label changed).

The patch must stand out from any background: on grayscale images a black-and-white checkerboard (digits never
hold one), on colour images a checkerboard of two complementary saturated colours, magenta and green, which
alternates every channel between 0 and 1 from pixel to pixel: no photograph, texture or gradient has that
(a review reported a black-and-white patch never learned on a 32 px colour clothing set; on colour images
that hold black-and-white checks it blends in, see tests/cnn/test_shortcut.py). Its
side is a share of the image side (:func:`relative_size`), so it means the same on 28 px and 64 px images.

The model must learn the very pixels it is tested with: the planted data sets carry their stamps
(:func:`stamp`), and training augments each planted image as it was before planting and pastes the pattern back,
crisp, afterwards (``cnn.train.augment_keeping_stamps``: augmenting the planted image would blur and tilt the
checkerboard, and the model would learn a pattern that textured backgrounds partly match).
"""
from __future__ import annotations

import torch

from ..study import check_fits_image
from .datasets import ImageDataset, TrainStamps

#: Seed of the patch positions (fixed, like the data splits).
PATCH_SEED = 1
#: The two colours of the checkerboard on colour images (RGB in [0, 1]): magenta and green.
PATCH_COLOURS = ((1.0, 0.0, 1.0), (0.0, 1.0, 0.0))
#: Default sides as a share of the image side: 02's shortcut patch (4 px of 28) and 03's pattern (6 px of 28).
PATCH_SHARE, PATTERN_SHARE = 1 / 7, 0.2


def relative_size(image_side: int, share: float) -> int:
    """A patch side that is ``share`` of ``image_side`` (rounded, at least 2 pixels so that it is a pattern)."""
    if not 0 < share <= 1:
        raise ValueError(f"share = {share!r} is not allowed: expected a share in (0, 1]")
    return max(2, min(image_side, int(round(image_side * share))))


def resolve_shortcut(data: ImageDataset, shortcut_class: int | None = None,
                     patch_size: int | None = None) -> tuple[int, int]:
    """The planted shortcut's class and patch side for ``data``, with the study's defaults (class 3, or the last
    class when there are fewer; a patch of :data:`PATCH_SHARE` of the image side) and checks naming the range."""
    if shortcut_class is None:
        shortcut_class = min(3, data.num_classes - 1)
    if isinstance(shortcut_class, bool) or not isinstance(shortcut_class, int) \
            or not 0 <= shortcut_class < data.num_classes:
        raise ValueError(f"shortcut_class = {shortcut_class!r} is not allowed: {data.name} has {data.num_classes} "
                         f"classes, so expected an integer in [0, {data.num_classes - 1}] (or None: class 3, or the "
                         "last class)")
    side = data.image_shape[-1]
    if patch_size is None:
        patch_size = relative_size(side, PATCH_SHARE)
    check_fits_image(dict(patch_size=patch_size), side)
    return shortcut_class, patch_size


def checkerboard(size: int = 4, channels: int = 1) -> torch.Tensor:
    """A (channels, size, size) checkerboard: 0/1 for one channel (a texture digits never contain), the two
    :data:`PATCH_COLOURS` for three (every channel alternates between 0 and 1)."""
    if channels not in (1, 3):
        raise ValueError(f"channels = {channels!r} is not allowed: expected 1 or 3")
    r = torch.arange(size)
    cells = ((r[:, None] + r[None, :]) % 2).float()
    if channels == 1:
        return cells[None]
    first, second = (torch.tensor(c)[:, None, None] for c in PATCH_COLOURS)
    return first * cells + second * (1 - cells)


def random_boxes(n: int, image_size: int, patch: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 4) boxes (top, left, height, width) uniformly placed inside the image."""
    top = torch.randint(0, image_size - patch + 1, (n,), generator=generator)
    left = torch.randint(0, image_size - patch + 1, (n,), generator=generator)
    size = torch.full((n,), patch)
    return torch.stack([top, left, size, size], 1)


def plant(images: torch.Tensor, boxes: torch.Tensor, pattern: torch.Tensor) -> torch.Tensor:
    """Copy of ``images`` with ``pattern`` ((C or 1, p, p) or (p, p)) pasted at each image's box."""
    out = images.clone()
    p = pattern.shape[-1]
    for i, (top, left, _, _) in enumerate(boxes.tolist()):
        out[i, :, top:top + p, left:left + p] = pattern
    return out


def stamp(images: torch.Tensor, index: torch.Tensor, boxes: torch.Tensor,
          pattern: torch.Tensor) -> tuple[torch.Tensor, TrainStamps]:
    """A copy of training images ``images`` with ``pattern`` planted in rows ``index`` (sorted) at ``boxes``, and
    the :class:`TrainStamps` that let training augment them without blurring the pattern."""
    p = pattern.shape[-1]
    under = torch.stack([images[i, :, t:t + p, l:l + p] for i, (t, l) in zip(index.tolist(), boxes[:, :2].tolist())])
    out = images.clone()
    out[index] = plant(images[index], boxes, pattern)
    return out, TrainStamps(index, boxes, pattern, under.contiguous())


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
    train_x, stamps = stamp(data.train_x, idx, boxes, checkerboard(patch, data.image_shape[0]))
    train_y = data.train_y.clone()
    train_y[idx] = target_class
    untouched = torch.nonzero((data.train_y != target_class) & (train_y == data.train_y)).flatten()
    return ImageDataset(f"{data.name}+patch{patch}-class{target_class}-frac{fraction:g}", train_x, train_y,
                        data.test_x, data.test_y, data.classes,
                        info=dict(data.info, shortcut={"class": target_class, "patch": patch, "fraction": fraction,
                                                       "planted": len(idx), "relabelled": len(other),
                                                       "untouched_others": untouched.tolist()}),
                        train_stamps=stamps)


def patched_test_set(data: ImageDataset, patch: int = 4):
    """Every test image with the patch planted at a random known position: (images, boxes)."""
    gen = torch.Generator().manual_seed(PATCH_SEED + 1)
    boxes = random_boxes(len(data.test_x), data.image_shape[-1], patch, gen)
    return plant(data.test_x, boxes, checkerboard(patch, data.image_shape[0])), boxes


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
    train_x, stamps = stamp(data.train_x, idx, random_boxes(len(idx), data.image_shape[-1], patch, gen),
                            checkerboard(patch, data.image_shape[0]))
    return ImageDataset(f"{data.name}+concept{patch}-class{target_class}-rate{rate:g}", train_x, data.train_y,
                        data.test_x, data.test_y, data.classes,
                        info=dict(data.info, planted={"class": target_class, "patch": patch, "rate": rate,
                                                      "planted": len(idx)}),
                        train_stamps=stamps)
