"""Semantic read-outs: functions ``images01 (N, C, H, W) → DataFrame`` that say what an image shows, in numbers.

They are what "semantic" means in latent analysis: a direction is interpretable when it moves a read-out and
leaves the others alone. On digits the read-outs are measured stroke properties (:mod:`.morphometry`) and
the classifier's logits; on ``shapes`` they are the factors read back by the factor regressor.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..cnn import predict_logits
from . import morphometry
from .factor_regressor import read_factors


def logits_frame(classifier: nn.Module, images01: torch.Tensor, classes) -> pd.DataFrame:
    """The classifier's logits, one column ``logit <class>`` per class."""
    logits = predict_logits(classifier, images01).double().numpy()
    return pd.DataFrame(logits, columns=[f"logit {c}" for c in classes])


def digit_readout(classifier: nn.Module, classes) -> Callable[[torch.Tensor], pd.DataFrame]:
    """Morpho-MNIST properties (area, thickness, slant, width, height) and the classifier's logits."""
    def readout(images01: torch.Tensor) -> pd.DataFrame:
        props = morphometry.measure(images01[:, :1] if images01.shape[1] == 1 else images01.mean(1, keepdim=True))
        return pd.concat([props.reset_index(drop=True), logits_frame(classifier, images01, classes)], axis=1)
    return readout


def shapes_readout(regressor: nn.Module) -> Callable[[torch.Tensor], pd.DataFrame]:
    """The shapes factors read back by the factor regressor (shape class, scale, orientation phase, x, y)."""
    return lambda images01: read_factors(regressor, images01)


def readout_scale(frame: pd.DataFrame) -> pd.Series:
    """Each read-out's standard deviation over a reference set (real images), the unit of the re-scoring
    matrix; a constant read-out gets 1 so that it is not divided by zero."""
    std = frame.std(skipna=True).replace(0, np.nan)
    return std.fillna(1.0)


def median_split(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Boolean "above the median" labels of one read-out (NaN rows → False), for InterFaceGAN boundaries."""
    values = frame[column].to_numpy(np.float64)
    if not np.isfinite(values).any():
        raise ValueError(f"read-out {column!r} has no finite values")
    return np.nan_to_num(values, nan=-np.inf) > np.nanmedian(values)
