"""Superpixels for the perturbation methods (occlusion, LIME, KernelSHAP) on large images.

On the study's 28-32 px images a perturbation method switches fixed 4×4 blocks on and off (49-64 features). On a
224 px photograph that grid has 3,136 features: LIME's and KernelSHAP's 100-500 samples cannot fit that many
coefficients, and sliding-window occlusion needs thousands of forward passes per image. From
:data:`SUPERPIXEL_MIN_SIDE` pixels on, the features are SLIC superpixels (Achanta et al. 2012, scikit-image):
regions of similar colour that follow the image's edges, as LIME's own image explainer uses, about
:data:`DEFAULT_SUPERPIXELS` per image whatever its size. Occlusion then removes one superpixel at a time
(captum's FeatureAblation over the segments) instead of sliding a square window.
"""
from __future__ import annotations

import numpy as np
import torch

#: Image side (pixels) from which perturbation methods work on superpixels instead of fixed blocks.
SUPERPIXEL_MIN_SIDE = 48
#: Superpixels per image asked of SLIC (it returns about as many).
DEFAULT_SUPERPIXELS = 64


def slic_masks(x: torch.Tensor, n_segments: int = DEFAULT_SUPERPIXELS, compactness: float = 10.0) -> torch.Tensor:
    """(N, C, H, W) long tensor: for each image its SLIC segment index per pixel (0..k-1), repeated over channels
    (captum's feature_mask shape). Deterministic: SLIC seeds its centres on a grid."""
    from skimage.segmentation import slic

    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    if n_segments < 2:
        raise ValueError(f"n_segments = {n_segments!r} is not allowed: expected an integer ≥ 2")
    out = []
    for image in x.detach().cpu():
        arr = image.permute(1, 2, 0).double().numpy()
        channel_axis = -1 if arr.shape[-1] == 3 else None
        seg = slic(arr if channel_axis is not None else arr[..., 0], n_segments=n_segments, compactness=compactness,
                   start_label=0, channel_axis=channel_axis, convert2lab=channel_axis is not None)
        _, seg = np.unique(seg, return_inverse=True)  # consecutive labels 0..k-1
        out.append(torch.from_numpy(seg.reshape(arr.shape[:2])).long())
    masks = torch.stack(out)[:, None]
    return masks.expand(-1, x.shape[1], -1, -1).contiguous()


def uses_superpixels(image_side: int) -> bool:
    return image_side >= SUPERPIXEL_MIN_SIDE
