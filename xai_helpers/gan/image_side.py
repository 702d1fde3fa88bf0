"""The side the GAN notebooks train their DCGAN at, and a data set resized to it.

The DCGAN is built for 28, 32 and 64 px (:data:`xai_helpers.gan.models.GAN_SIDES`). Images of one of those sides
are used as they are; other images are trained at the largest of those sides not above theirs: a practitioner's
224 px folder at 64 px, 48 px images at 32 px. A GAN at 224 px would need a deeper network and far more images
and iterations than a CPU study can give it, and the GAN notebooks explain the GAN, not the user's classifier, so
they run at a side the DCGAN is made for and say so. Nothing is ever upsampled: images below 28 px are refused.

Resizing is torch's bilinear interpolation with antialiasing (a low-pass filter before subsampling, as PIL's
resize does), so stripes and edges finer than the new pixel grid average out instead of aliasing into moiré.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from ..data import ImageDataset
from .models import GAN_SIDES


def gan_image_side(side: int) -> int:
    """The DCGAN side for images of ``side`` px: ``side`` itself if the DCGAN is built for it, else the largest
    DCGAN side below it."""
    if not isinstance(side, int) or isinstance(side, bool) or side < 1:
        raise ValueError(f"side must be a positive int (pixels), got {side!r}")
    below = [s for s in GAN_SIDES if s <= side]
    if not below:
        raise ValueError(f"images of {side}×{side} px are smaller than the DCGAN's smallest side, {min(GAN_SIDES)} px "
                         f"(sides it is built for: {', '.join(map(str, GAN_SIDES))}); load them with a larger "
                         f"image_size")
    return max(below)


def _resize(images: torch.Tensor, side: int, chunk: int = 512) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] → (N, C, side, side), in chunks (a 224 px set is gigabytes as float)."""
    return torch.cat([F.interpolate(images[i:i + chunk], size=(side, side), mode="bilinear", align_corners=False,
                                    antialias=True).clamp_(0, 1) for i in range(0, len(images), chunk)])


def resized_for_gan(data: ImageDataset) -> ImageDataset:
    """``data`` at :func:`gan_image_side` of its images: the same object when it already fits, else a copy with
    resized images (labels and factors unchanged; ``info["resized_from"]`` records the original side). The copy's
    fingerprint differs, so its GANs and classifiers are cached apart from those of the full-size images."""
    _, height, width = data.image_shape
    if height != width:
        raise ValueError(f"the DCGAN takes square images; {data.name} has {height}×{width}")
    side = gan_image_side(height)
    if side == height:
        return data
    if data.train_stamps is not None:  # the stamps' pixel positions would no longer match the images
        raise ValueError(f"{data.name} carries planted stamps: resize the images before planting")
    return dataclasses.replace(data, train_x=_resize(data.train_x, side), test_x=_resize(data.test_x, side),
                               info=dict(data.info, image_size=side, resized_from=height))
