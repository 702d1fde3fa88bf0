"""Classifier architectures: a plain CNN and an attention CNN (the DCGAN is in :mod:`xai_helpers.gan.models`).

Every nonlinearity is its own ``nn.Module`` instance, used exactly once: captum's DeepLift, LRP and Guided
Backprop hook modules and would silently treat a functional ``F.relu`` (or a shared ReLU) as linear.
Pooling is average pooling: captum 0.9's DeepLift breaks completeness on Conv→ReLU→MaxPool stacks.
Flattening is a reshape in ``forward``, not an ``nn.Flatten`` module: captum's LRP has no rule for one.
Classifiers take images in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

from .captum_ready import ImageClassifier, make_captum_ready


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


CLASSIFIERS = {"plain": PlainCNN, "attention": AttentionCNN}
#: ``torchvision:<name>`` names an untrained torchvision classifier (``torchvision:resnet18``) for the study to train.
TORCHVISION_PREFIX = "torchvision:"


def first_conv_channels(net: nn.Module) -> int | None:
    """The input channels of the first convolution of ``net`` (None without one)."""
    return next((m.in_channels for m in net.modules() if isinstance(m, nn.Conv2d)), None)


#: torchvision families whose builder takes the input side, by name prefix, and the keyword it takes it as.
_BUILT_FOR_A_SIDE = {"vit_": "image_size", "maxvit_": "input_size"}


def torchvision_net(name: str, num_classes: int, image_size: int) -> nn.Module:
    """torchvision's ``name`` with random weights and ``num_classes`` outputs, built for ``image_size`` px where its
    family learns position embeddings for one side (ViT: 224 px unless told)."""
    import torchvision

    sized = {key: image_size if key == "image_size" else (image_size, image_size)
             for prefix, key in _BUILT_FOR_A_SIDE.items() if name.startswith(prefix)}
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **sized)


def torchvision_classifier(name: str, in_channels: int, num_classes: int, image_size: int) -> ImageClassifier:
    """torchvision's ``name`` with ``num_classes`` outputs and random weights, made ready for captum and wrapped to
    take the study's [0, 1] images (gray images repeated over the 3 channels it reads)."""
    net = torchvision_net(name, num_classes, image_size)
    channels = first_conv_channels(net) or 3
    try:
        split = make_captum_ready(net.eval(), torch.zeros(1, channels, image_size, image_size))
    except RuntimeError as err:
        raise ValueError(f"torchvision {name} cannot take {image_size}×{image_size} images: "
                         f"{' '.join(str(err).split())[:300]}") from None
    del split
    model = ImageClassifier(net, in_channels=in_channels, net_channels=channels, description=f"torchvision {name}")
    model.use_channels_last(image_size)
    return model


def build_classifier(arch: str, in_channels: int, num_classes: int, image_size: int, **kwargs) -> nn.Module:
    """A classifier by name: one of :data:`CLASSIFIERS`, or ``torchvision:<name>``."""
    if arch.startswith(TORCHVISION_PREFIX):
        return torchvision_classifier(arch[len(TORCHVISION_PREFIX):], in_channels, num_classes, image_size, **kwargs)
    if arch not in CLASSIFIERS:
        raise ValueError(f"unknown classifier architecture {arch!r}; allowed: {', '.join(CLASSIFIERS)} or "
                         f"{TORCHVISION_PREFIX}<a torchvision classifier>")
    return CLASSIFIERS[arch](in_channels=in_channels, num_classes=num_classes, image_size=image_size, **kwargs)
