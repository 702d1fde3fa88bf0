"""A classifier read at its own input side: images of another side (a GAN's 64 px samples for a model of 224 px
photographs) are resized to it inside the forward pass, so that the model that judges them is the model the study
explains, at the size it was trained and evaluated on."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AtInputSide(nn.Module):
    """``classifier`` taking images of any side: resized (bilinear; antialiased when shrinking) to ``side`` px
    first. Differentiable, so gradients through it (latent attributions, InterFaceGAN) reach the smaller image;
    its modules are the classifier's under ``classifier.``."""

    def __init__(self, classifier: nn.Module, side: int):
        super().__init__()
        if not isinstance(side, int) or side < 1:
            raise ValueError(f"side = {side!r} is not allowed: expected a positive integer (pixels)")
        self.classifier = classifier
        self.side = side
        self.hookable = getattr(classifier, "hookable", True)
        self.untyped = getattr(classifier, "untyped", None)  # a torch.export program's (exported_programs.py)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.side, self.side):
            x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.side)
        return self.classifier(x)

    @property
    def cam_layer(self) -> nn.Module:  # explain()'s Grad-CAM asks every model for it
        return self.classifier.cam_layer

    def extra_repr(self) -> str:
        return f"side={self.side}"


def at_side(classifier: nn.Module, side: int, image_side: int) -> nn.Module:
    """``classifier`` as it reads ``image_side`` px images: itself where that is its ``side``, else
    :class:`AtInputSide`."""
    return classifier if image_side == side else AtInputSide(classifier, side)
