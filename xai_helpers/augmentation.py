"""Synthetic data for augmentation, measured: a classifier trained on real, real + GAN, and GAN-only images.

The paper's use of the GAN as a source of training data is a claim about test accuracy on *real* images, so
every training set here is scored on the real test split, which is never touched. Three training sets per
regime (a stratified ``fraction`` of the real training split: e.g. 10 % for the low-data regime, 100 %):

* ``real``: the real images of the regime;
* ``real + synthetic``: the same plus the GAN samples;
* ``synthetic only``: the GAN samples alone.

GAN samples need labels. A class-conditional generator gives its own (the label it was asked to draw); an
unconditional one's samples are labelled by a classifier trained on real data (pseudo-labels). The label
source is recorded with every result, since the two answer different questions.
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from .data import ImageDataset, stratified_subset
from .gan_train import generate
from .train import accuracy, predict_logits, train_classifier

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


def augmentation_sets(data: ImageDataset, synthetic_x: torch.Tensor, synthetic_y: torch.Tensor,
                      fraction: float) -> dict[str, ImageDataset]:
    """The three training sets of one regime (see the module docstring), sharing the real test split."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    with_training_set(data, synthetic_x, synthetic_y, "synthetic")  # check the samples before combining them
    keep = stratified_subset(data.train_y, max(data.num_classes, round(fraction * len(data.train_y))))
    real_x, real_y = data.train_x[keep], data.train_y[keep]
    tag = f"{fraction:g}"
    # All of the real data is the data set itself, so its classifier is notebook 01's cache entry.
    real = data if fraction == 1 else with_training_set(data, real_x, real_y, f"real{tag}")
    return {
        "real": real,
        "real + synthetic": with_training_set(data, torch.cat([real_x, synthetic_x]),
                                              torch.cat([real_y, synthetic_y.long()]), f"real{tag}+synthetic"),
        "synthetic only": with_training_set(data, synthetic_x, synthetic_y, "synthetic"),
    }


def augmentation_study(data: ImageDataset, synthetic_x: torch.Tensor, synthetic_y: torch.Tensor, label_source: str,
                       *, fractions=(0.1, 1.0), arch: str = "plain", epochs: int, batch_size: int, lr: float,
                       weight_decay: float = 0.0, augment: bool = True, seed: int = 0, device: str = "auto",
                       cache_dir: str = "results/cache", progress: str = "auto") -> pd.DataFrame:
    """Test accuracy on the real test split for every regime × training set (the synthetic-only set is trained
    once, it does not depend on the regime). Each classifier is cached like any other."""
    rows, synthetic_only = [], None
    for fraction in fractions:
        for name, ds in augmentation_sets(data, synthetic_x, synthetic_y, fraction).items():
            if name == "synthetic only" and synthetic_only is not None:
                rows.append({**synthetic_only, "real_fraction": fraction})
                continue
            trained = train_classifier(arch, ds, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                                       augment=augment, seed=seed, device=device, cache_dir=cache_dir, progress=progress)
            row = {"real_fraction": fraction, "training_set": name, "n_train": len(ds.train_x),
                   "n_synthetic": len(synthetic_x) if name != "real" else 0, "label_source": label_source,
                   "test_accuracy": accuracy(trained.model, ds.test_x, ds.test_y), "checkpoint": trained.key}
            if name == "synthetic only":
                synthetic_only = row
            rows.append(row)
    return pd.DataFrame(rows)
