"""DCGAN generator and discriminator (Radford et al. 2016), unconditional or class-conditional.

The architecture follows the paper: the generator projects z to a small feature map and doubles its side with
strided 4×4 transposed convolutions (batch norm + ReLU between them, tanh at the end); the discriminator halves
the side with strided convolutions (4×4; the last one 3×3 for 28×28 images, since 7 → 4 needs it; LeakyReLU 0.2,
batch norm except after the first) and ends in one logit. 28×28: 7 → 14 → 28; 32×32: 4 → 8 → 16 → 32. Images live in [-1, 1].

Conditioning (``num_classes > 0``) is the plain cGAN recipe of Mirza & Osindero (2014): the generator gets
one-hot(y) concatenated to z, the discriminator gets one-hot(y) as constant image planes concatenated to x.

Each nonlinearity is its own module used once, so captum's hooks (Guided Backprop, DeepLift) see them all.
These classes live apart from the classifiers so that GAN edits do not change the classifiers' cache keys.
"""
from __future__ import annotations

import torch
from torch import nn


def _check(image_size: int, channels: int, num_classes: int) -> None:
    if image_size not in (28, 32):
        raise ValueError(f"DCGAN image_size must be 28 or 32, got {image_size!r}")
    if channels not in (1, 3):
        raise ValueError(f"DCGAN channels must be 1 or 3, got {channels!r}")
    if not isinstance(num_classes, int) or num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or a positive int, got {num_classes!r}")


def _labels_needed(num_classes: int, y) -> torch.Tensor | None:
    if num_classes and y is None:
        raise ValueError(f"this GAN is class-conditional ({num_classes} classes): pass labels y")
    if not num_classes and y is not None:
        raise ValueError("this GAN is unconditional: do not pass labels y")
    return y


class DCGANGenerator(nn.Module):
    """z (N, z_dim) [and labels y (N,)] → images (N, C, S, S) in [-1, 1]."""

    def __init__(self, z_dim: int = 64, out_channels: int = 1, image_size: int = 28, width: int = 32,
                 num_classes: int = 0):
        super().__init__()
        _check(image_size, out_channels, num_classes)
        self.z_dim, self.image_size, self.out_channels, self.num_classes = z_dim, image_size, out_channels, num_classes
        self.start, ups = (7, 2) if image_size == 28 else (4, 3)
        self.start_channels = width * 2 ** (ups - 1)
        n = self.start_channels * self.start ** 2
        self.project = nn.Sequential(nn.Linear(z_dim + num_classes, n, bias=False), nn.BatchNorm1d(n), nn.ReLU())
        layers: list[nn.Module] = []
        c = self.start_channels
        for _ in range(ups - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU()]
            c //= 2
        layers += [nn.ConvTranspose2d(c, out_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if _labels_needed(self.num_classes, y) is not None:
            z = torch.cat([z, nn.functional.one_hot(y.long(), self.num_classes).to(z)], 1)
        h = self.project(z).view(-1, self.start_channels, self.start, self.start)
        return self.net(h)


class DCGANDiscriminator(nn.Module):
    """images (N, C, S, S) in [-1, 1] [and labels y (N,)] → one logit per image (N,)."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, width: int = 32, num_classes: int = 0):
        super().__init__()
        _check(image_size, in_channels, num_classes)
        self.image_size, self.num_classes = image_size, num_classes
        w = width
        last_kernel = 3 if image_size == 28 else 4  # 7 → 4 needs a 3×3 kernel; 8 → 4 a 4×4 one
        self.features = nn.Sequential(
            nn.Conv2d(in_channels + num_classes, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, last_kernel, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(4 * w * 4 * 4, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if _labels_needed(self.num_classes, y) is not None:
            planes = nn.functional.one_hot(y.long(), self.num_classes).to(x)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], 1)
        return self.head(self.features(x).flatten(1)).squeeze(1)

    @property
    def cam_layer(self) -> nn.Module:
        """The middle feature map (its LeakyReLU; 7×7 for 28×28 images, 8×8 for 32×32), for Grad-CAM.

        Not the last one: at 4×4, a Grad-CAM cell covers a quarter of a digit's width and the maps say little."""
        return self.features[4]


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
