"""Figure helpers every part of the study shares: images as matplotlib wants them, and a titled image grid."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch


def as_image(img) -> tuple[np.ndarray, str | None]:
    """(H, W) or (H, W, 3) array for imshow, and the colormap to use."""
    img = torch.as_tensor(img).detach().cpu().float()
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    if img.ndim == 3:
        return img.permute(1, 2, 0).clamp(0, 1).numpy(), None
    return img.numpy(), "gray"


def image_grid(images, titles=None, ncols: int = 10, title: str = "", size: float = 1.2):
    """A grid of images (N, C, H, W) with optional per-image titles."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            arr, cmap = as_image(images[i])
            ax.imshow(arr, cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
