"""Semantic read-outs: functions ``images01 (N, C, H, W) → DataFrame`` that say what an image shows, in numbers.

They are what "semantic" means in latent analysis: a direction is interpretable when it moves a read-out and
leaves the others alone. On digits the read-outs are measured stroke properties (:mod:`.morphometry`) and
the classifier's logits; on ``shapes`` they are the factors read back by the factor regressor.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..cnn import predict_logits
from ..data import DIGIT_DATASETS
from . import morphometry
from .factor_regressor import READOUT_FACTORS, read_factors


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


def drawn_concept(data) -> str:
    """The name of the concept 05 dissects in a GAN's samples, the pixels brighter than the middle: the stroke of a
    gray handwritten digit (:func:`holds_strokes`); on other data only a bright foreground, which need not be an
    object (a photograph's sky), so it is not called a stroke."""
    return "stroke" if holds_strokes(data) else "bright foreground"


def factor_regressor_reads(data) -> bool:
    """True for ``shapes`` at 32 px: the images the factor regressor is built for
    (:func:`.factor_regressor.read_factors`)."""
    return data.name == "shapes" and data.image_shape == (1, 32, 32)


def holds_strokes(data) -> bool:
    """True for gray handwritten digits (:data:`xai_helpers.data.DIGIT_DATASETS`): the only images with a pen stroke."""
    return data.name in DIGIT_DATASETS and data.image_shape[0] == 1


class DataReadout(NamedTuple):
    """The read-outs that belong to a data set: the function, the columns directions are fitted to and judged on,
    where they come from, and why (the notebook prints it and records it)."""
    readout: Callable[[torch.Tensor], pd.DataFrame]
    properties: tuple[str, ...]
    source: str
    why: str


def data_readout(data, classifier: nn.Module, regressor: nn.Module | None = None) -> DataReadout:
    """What "semantic" means on ``data``: stroke morphometry on gray handwritten digits (:func:`holds_strokes`),
    the generative factors read back by ``regressor`` on ``shapes`` at 32 px, and on any other data the classifier's
    logits, one per class (InterFaceGAN then finds the direction of each class). Morphometry on clothing, shapes or
    photographs would measure a binarised foreground, not a property of those images, so it is not applied there."""
    if holds_strokes(data):
        return DataReadout(digit_readout(classifier, data.classes), morphometry.PROPERTIES, "stroke morphometry",
                           "Morpho-MNIST's stroke properties of handwritten digits, and the classifier's logits")
    if regressor is not None and factor_regressor_reads(data):
        return DataReadout(shapes_readout(regressor), READOUT_FACTORS, "factor regressor",
                           "the generative factors of shapes, read back from the images by the factor regressor")
    classes = tuple(data.classes)
    why = f"the classifier's logits: stroke morphometry measures handwritten strokes, and {data.name} holds none"
    if data.name == "shapes":
        why += " (a factor regressor reads shapes at 32 px only)"
    return DataReadout(lambda images01: logits_frame(classifier, images01, classes),
                       tuple(f"logit {c}" for c in classes), "classifier logits", why)
