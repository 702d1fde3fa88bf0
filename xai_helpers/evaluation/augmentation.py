"""Synthetic data for augmentation, measured: a classifier trained on real, real + GAN, and GAN-only images.

The paper's use of the GAN as a source of training data is a claim about test accuracy on *real* images, so
every training set here is scored on the real test split, which is never touched. Three training sets per
regime (a stratified ``fraction`` of the real training split: e.g. 10 % for the low-data regime, 100 %):

* ``real``: the real images of the regime;
* ``real + synthetic``: the same plus the GAN samples;
* ``synthetic only``: the GAN samples alone.

No regime sees more real data than its own: the GAN whose samples a regime adds, and the classifier that labels
them, are trained on the regime's real images only (``synthesize(regime)`` is called once per regime). A GAN or
labeller trained on all of the data would make "real + GAN" at 10 % partly a distillation of the other 90 %.

GAN samples need labels. A class-conditional generator gives its own (the label it was asked to draw); an
unconditional one's samples are labelled by a classifier trained on the regime's real data (pseudo-labels). The
label source is recorded with every result, since the two answer different questions.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd
import torch
from torch import nn

from ..cnn.train import accuracy, predict_logits, train_classifier
from ..data.datasets import ImageDataset, stratified_subset
from ..gan.train import generate

TRAINING_SETS = ("real", "real + synthetic", "synthetic only")


def synthetic_samples(generator: nn.Module, n: int, seed: int,
                      labeler: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``n`` GAN samples in [0, 1] with labels and where the labels come from (``"conditional GAN"`` or
    ``"classifier"``). A conditional generator draws balanced classes; an unconditional one needs ``labeler``."""
    images, labels = generate(generator, n, seed)
    if labels is not None:
        return images, labels.long(), "conditional GAN"
    if labeler is None:
        raise ValueError("the generator is unconditional: pass a labeler (a classifier trained on real data)")
    return images, predict_logits(labeler, images).argmax(1), "classifier"


def with_training_set(data: ImageDataset, train_x: torch.Tensor, train_y: torch.Tensor, name: str) -> ImageDataset:
    """``data`` with another training split (the test split, classes and info kept), named for its cache key."""
    if train_x.shape[1:] != data.train_x.shape[1:]:
        raise ValueError(f"training images {tuple(train_x.shape[1:])} do not match the data set's "
                         f"{tuple(data.train_x.shape[1:])}")
    if len(train_x) != len(train_y):
        raise ValueError(f"{len(train_x)} training images but {len(train_y)} labels")
    if len(train_y) and (train_y.min() < 0 or train_y.max() >= data.num_classes):
        raise ValueError(f"labels must be in [0, {data.num_classes - 1}], got {int(train_y.min())}..{int(train_y.max())}")
    return ImageDataset(f"{data.name}+{name}", train_x.contiguous(), train_y.long(), data.test_x, data.test_y,
                        data.classes, info=dict(data.info, training_set=name))


def regime_data(data: ImageDataset, fraction: float) -> ImageDataset:
    """The real training images of one regime: a stratified ``fraction`` of the training split (at least one image
    per class), the test split untouched. All of it is ``data`` itself, so its models are the study's own."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return data
    keep = stratified_subset(data.train_y, max(data.num_classes, round(fraction * len(data.train_y))))
    return with_training_set(data, data.train_x[keep], data.train_y[keep], f"real{fraction:g}")


def check_regimes(data: ImageDataset, fractions, gan_batch_size: int) -> None:
    """Refuse, before any training, a regime with fewer real training images than one GAN minibatch (a small
    folder's 10 % share): its GAN could not take a single step. The message names the parameters to change."""
    for fraction in fractions:
        n = len(regime_data(data, fraction).train_y)
        if n < gan_batch_size:
            raise ValueError(f"low_data_fraction {fraction:g} leaves {n} of the {len(data.train_y)} real training "
                             f"images, fewer than one GAN minibatch (gan_batch_size {gan_batch_size}): raise "
                             f"low_data_fraction to at least {gan_batch_size / len(data.train_y):.2g} or lower "
                             f"gan_batch_size")


def augmentation_sets(regime: ImageDataset, synthetic_x: torch.Tensor,
                      synthetic_y: torch.Tensor) -> dict[str, ImageDataset]:
    """The three training sets of one regime (see the module docstring), sharing the real test split."""
    with_training_set(regime, synthetic_x, synthetic_y, "synthetic")  # check the samples before combining them
    return {
        "real": regime,
        "real + synthetic": with_training_set(regime, torch.cat([regime.train_x, synthetic_x]),
                                              torch.cat([regime.train_y, synthetic_y.long()]), "synthetic"),
        "synthetic only": with_training_set(regime, synthetic_x, synthetic_y, "synthetic-only"),
    }


def augmentation_study(data: ImageDataset, synthesize: Callable[[ImageDataset], tuple], *, fractions=(0.1, 1.0),
                       arch: str = "plain", epochs: int, batch_size: int, lr: float, weight_decay: float = 0.0,
                       augment: bool = True, seed: int = 0, device: str = "auto", cache_dir: str = "results/cache",
                       progress: str = "auto") -> pd.DataFrame:
    """Test accuracy on the real test split for every regime × training set. ``synthesize(regime)`` returns
    ``(images, labels, label_source, gan_checkpoint)``: samples of a GAN trained on ``regime``'s real images
    only, labelled without any other real data. Each classifier is cached like any other."""
    rows = []
    for fraction in fractions:
        regime = regime_data(data, fraction)
        synthetic_x, synthetic_y, label_source, gan_key = synthesize(regime)
        for name, ds in augmentation_sets(regime, synthetic_x, synthetic_y).items():
            trained = train_classifier(arch, ds, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                                       augment=augment, seed=seed, device=device, cache_dir=cache_dir, progress=progress)
            rows.append({"real_fraction": fraction, "training_set": name, "n_train": len(ds.train_x),
                         "n_real": len(regime.train_x), "n_synthetic": len(synthetic_x) if name != "real" else 0,
                         "label_source": label_source, "gan_checkpoint": gan_key,
                         "test_accuracy": accuracy(trained.model, ds.test_x, ds.test_y), "checkpoint": trained.key})
    return pd.DataFrame(rows)
