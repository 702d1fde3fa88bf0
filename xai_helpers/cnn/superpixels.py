"""Superpixels for the perturbation methods (occlusion, LIME, KernelSHAP) on large images.

On the study's 28-32 px images a perturbation method switches fixed 4×4 blocks on and off (49-64 features). On a
224 px photograph that grid has 3,136 features: LIME's and KernelSHAP's 100-500 samples cannot fit that many
coefficients, and sliding-window occlusion needs thousands of forward passes per image. From
:data:`SUPERPIXEL_MIN_SIDE` pixels on, the features are SLIC superpixels (Achanta et al. 2012, scikit-image):
regions of similar colour that follow the image's edges, as LIME's own image explainer uses, about
:data:`DEFAULT_SUPERPIXELS` per image whatever its size. Occlusion then removes one superpixel at a time
(captum's FeatureAblation over the segments) instead of sliding a square window.

SLIC rescales each image to [0, 1] before it segments, so on a noisy image (SmoothGrad's and smooth MPRT's noisy
copies, the measure-reliability's input noise) or one with little structure the noise becomes the structure: the
regions fragment and SLIC's connectivity step merges the fragments into one or a few regions (a plain-colour 64 px
image with noise of 0.1 % of its range came back as a single region, on which KernelSHAP's sampling weights are
0/0). The image is therefore smoothed with a Gaussian of :data:`SLIC_SIGMA` pixels first (SLIC's ``sigma``, which
its documentation recommends for noisy images): clean images keep their edges, noisy copies keep about as many
regions. Where SLIC still returns a single region, the image has no structure to follow and its segments are the
regular grid SLIC starts from (:func:`grid_segments`), which is what SLIC returns for a noise-free plain image.
"""
from __future__ import annotations

import numpy as np
import torch

#: Image side (pixels) from which perturbation methods work on superpixels instead of fixed blocks.
SUPERPIXEL_MIN_SIDE = 48
#: Superpixels per image asked of SLIC (it returns about as many).
DEFAULT_SUPERPIXELS = 64
#: Gaussian smoothing (pixels) before SLIC, against noise (see the module's docstring).
SLIC_SIGMA = 1.0


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
                   start_label=0, channel_axis=channel_axis, convert2lab=channel_axis is not None, sigma=SLIC_SIGMA)
        if seg.max() == seg.min():  # one region: no structure to follow
            seg = grid_segments(arr.shape[:2], n_segments)
        _, seg = np.unique(seg, return_inverse=True)  # consecutive labels 0..k-1
        out.append(torch.from_numpy(seg.reshape(arr.shape[:2])).long())
    masks = torch.stack(out)[:, None]
    return masks.expand(-1, x.shape[1], -1, -1).contiguous()


def grid_segments(shape: tuple[int, int], n_segments: int) -> np.ndarray:
    """(H, W) labels of a regular grid of about ``n_segments`` near-square cells, with at least 2 cells."""
    height, width = shape
    step = max(1.0, np.sqrt(height * width / n_segments))
    rows, cols = max(1, round(height / step)), max(1, round(width / step))
    if rows * cols < 2:
        rows, cols = (1, 2) if width >= height else (2, 1)
    row = np.minimum(np.arange(height) * rows // height, rows - 1)
    col = np.minimum(np.arange(width) * cols // width, cols - 1)
    return row[:, None] * cols + col[None, :]


def uses_superpixels(image_side: int) -> bool:
    return image_side >= SUPERPIXEL_MIN_SIDE
