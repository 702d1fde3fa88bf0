"""Architectures: a plain CNN, an attention CNN, and a DCGAN generator/discriminator pair.

Every nonlinearity is its own ``nn.Module`` instance, used exactly once: captum's DeepLift, LRP and Guided
Backprop hook modules and would silently treat a functional ``F.relu`` (or a shared ReLU) as linear.
Pooling is average pooling: captum 0.9's DeepLift breaks completeness on Conv→ReLU→MaxPool stacks.
Flattening is a reshape in ``forward``, not an ``nn.Flatten`` module: captum's LRP has no rule for one.
Classifiers take images in [0, 1]; the DCGAN works in [-1, 1] (tanh output).
"""
from __future__ import annotations

import torch
from torch import nn


def conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    """3×3 convolution, batch norm, ReLU (a fresh ReLU each time)."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def _check_geometry(in_channels: int, image_size: int) -> None:
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels!r}")
    if image_size % 4 or image_size < 8:
        raise ValueError(f"image_size must be a multiple of 4 and at least 8, got {image_size!r}")


class PlainCNN(nn.Module):
    """Two conv stages (two 3×3 convs, then 2×2 average pooling) and a two-layer head."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28, width: int = 16,
                 hidden: int = 128, dropout: float = 0.25):
        super().__init__()
        _check_geometry(in_channels, image_size)
        w = width
        self.features = nn.Sequential(
            *conv_block(in_channels, w), *conv_block(w, w), nn.AvgPool2d(2),
            *conv_block(w, 2 * w), *conv_block(2 * w, 2 * w), nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(2 * w * (image_size // 4) ** 2, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolutional feature map (its ReLU), for Grad-CAM and feature attenuation."""
        return self.features[-2]


class SpatialAttention(nn.Module):
    """A spatial attention map a(x) ∈ (0, 1)^{H×W}: 1×1 conv → ReLU → 1×1 conv → sigmoid.

    Returns the map itself (N, 1, H, W); :class:`AttentionCNN` multiplies the features by it, so the map is
    the network's own statement of where it looks.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.score = nn.Sequential(nn.Conv2d(channels, channels // reduction, 1), nn.ReLU(),
                                   nn.Conv2d(channels // reduction, 1, 1), nn.Sigmoid())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.score(features)


class AttentionCNN(nn.Module):
    """The plain CNN with a spatial attention gate after the second conv stage (at H/2 × W/2).

    ``forward_with_attention(x)`` returns ``(logits, attention_map)``; ``attention_map(x)`` the map alone.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28, width: int = 16,
                 hidden: int = 128, dropout: float = 0.25):
        super().__init__()
        _check_geometry(in_channels, image_size)
        w = width
        self.stem = nn.Sequential(*conv_block(in_channels, w), *conv_block(w, w), nn.AvgPool2d(2),
                                  *conv_block(w, 2 * w), *conv_block(2 * w, 2 * w))
        self.attention = SpatialAttention(2 * w)
        self.pool = nn.AvgPool2d(2)
        self.classifier = nn.Sequential(
            nn.Linear(2 * w * (image_size // 4) ** 2, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.stem(x)
        attention = self.attention(features)
        logits = self.classifier(self.pool(features * attention).flatten(1))
        return logits, attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(x)[0]

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolutional feature map before the attention gate (its ReLU), for Grad-CAM."""
        return self.stem[-1]

    @torch.no_grad()
    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map (N, 1, H/2, W/2) for images ``x``."""
        return self.forward_with_attention(x)[1]


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016): project z, then strided transposed convolutions, tanh.

    28×28: 7 → 14 → 28 (plus a 3×3 output conv); 32×32: 4 → 8 → 16 → 32.
    """

    def __init__(self, z_dim: int = 64, out_channels: int = 1, image_size: int = 28, width: int = 64):
        super().__init__()
        if image_size not in (28, 32):
            raise ValueError(f"DCGAN image_size must be 28 or 32, got {image_size!r}")
        if out_channels not in (1, 3):
            raise ValueError(f"out_channels must be 1 or 3, got {out_channels!r}")
        self.z_dim, self.image_size = z_dim, image_size
        w = width
        start, ups = (7, 2) if image_size == 28 else (4, 3)
        self.start_channels = w * 2 ** (ups - 1)
        self.project = nn.Sequential(nn.Linear(z_dim, self.start_channels * start * start, bias=False),
                                     nn.BatchNorm1d(self.start_channels * start * start), nn.ReLU())
        self.start = start
        layers: list[nn.Module] = []
        c = self.start_channels
        for i in range(ups):
            last = i == ups - 1
            c_out = out_channels if last and image_size == 32 else max(c // 2, w)
            layers.append(nn.ConvTranspose2d(c, c_out, 4, 2, 1, bias=last and image_size == 32))
            if not (last and image_size == 32):
                layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
            c = c_out
        if image_size == 28:
            layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(-1, self.start_channels, self.start, self.start)
        return self.net(h)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: strided 4×4 convolutions with LeakyReLU(0.2), one logit per image."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, width: int = 64):
        super().__init__()
        if image_size not in (28, 32):
            raise ValueError(f"DCGAN image_size must be 28 or 32, got {image_size!r}")
        w = width
        last_kernel = 3 if image_size == 28 else 4  # 7 → 4 needs a 3×3 kernel; 8 → 4 a 4×4 one
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, last_kernel, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 4 * 4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


CLASSIFIERS = {"plain": PlainCNN, "attention": AttentionCNN}


def build_classifier(arch: str, in_channels: int, num_classes: int, image_size: int, **kwargs) -> nn.Module:
    """A classifier by name (one of :data:`CLASSIFIERS`)."""
    if arch not in CLASSIFIERS:
        raise ValueError(f"unknown classifier architecture {arch!r}; allowed: {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[arch](in_channels=in_channels, num_classes=num_classes, image_size=image_size, **kwargs)
