"""Synthetic data for augmentation, measured: a classifier trained on real, real + GAN, and GAN-only images.

The paper's use of the GAN as a source of training data is a claim about test accuracy on *real* images, so
every training set here is scored on the real test split, which is never touched. Three training sets per
regime (a stratified ``fraction`` of the real training split: e.g. 10 % for the low-data regime, 100 %):

* ``real``: the real images of the regime;
* ``real + synthetic``: the same plus the GAN samples;
* ``synthetic only``: the GAN samples alone: its real-test accuracy is the Classification Accuracy Score (CAS,
  Ravuri & Vinyals 2019; :func:`classification_accuracy_score`);
* ``real, step-matched``: the real images again, trained for as many optimiser steps as ``real + synthetic``.

Why the last: every set trains for the same epochs, so ``real + synthetic`` (400 real + 2,000 GAN images at
10 % of mnist5k) takes 380 optimiser steps where ``real`` takes 70. The same 400 real images trained for 420 steps
reach 0.965 / 0.959 (seeds 0 / 1) instead of 0.946 / 0.947 (issue 29): the 1-2 points that ``real + synthetic``
showed over ``real`` needed no useful GAN image. A GAN helps only where ``real + synthetic`` beats the
step-matched row, and :func:`augmentation_study` reports that gain per regime (``gain_over_step_matched``). Steps
are matched in whole epochs of the real images (a step-matched run is within one epoch of them: ``steps``).

The low-data regime's images are drawn from the run seed, so intervals over seeds include the variance of which
images are kept.

No regime sees more real data than its own: the GAN whose samples a regime adds, and the classifier that labels
them, are trained on the regime's real images only (``synthesize(regime)`` is called once per regime). A GAN or
labeller trained on all of the data would make "real + GAN" at 10 % partly a distillation of the other 90 %.

GAN samples need labels. A class-conditional generator gives its own (the label it was asked to draw); an
unconditional one's samples are labelled by a classifier trained on the regime's real data (pseudo-labels). The
label source is recorded with every result, since the two answer different questions.
"""
from __future__ import annotations

from typing import Callable

import math

import pandas as pd
import torch
from scipy.stats import binomtest
from torch import nn

from ..cnn import accuracy, predict_logits, train_classifier
from ..data import ImageDataset, stratified_subset
from ..gan import generate, train_gan

DATA_SETS = ("real", "real + synthetic", "synthetic only")  # the sets of images a regime trains on
STEP_MATCHED = "real, step-matched"  # "real" again, for as many optimiser steps as "real + synthetic"
TRAINING_SETS = (*DATA_SETS, STEP_MATCHED)


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


def regime_synthesizer(gan_args: dict, classifier_args: dict, n: int, seed: int) -> Callable[[ImageDataset], tuple]:
    """The ``synthesize`` of :func:`augmentation_study`: for a regime, ``n`` samples of a GAN trained on the regime's
    real images only (``train_gan(regime, **gan_args)``, 04's recipe), labelled by that GAN when it is conditional,
    else by a classifier trained on the same images (``train_classifier("plain", regime, **classifier_args)``): no
    real image outside the regime reaches its training sets. Samples are drawn from ``seed + 7``."""
    def synthesize(regime: ImageDataset) -> tuple[torch.Tensor, torch.Tensor, str, str]:
        regime_gan = train_gan(regime, **gan_args)
        labeller = None if regime_gan.num_classes else train_classifier(
            "plain", regime, **dict(classifier_args, test_every_epoch=False)).model  # its learning curve is never read
        images, labels, source = synthetic_samples(regime_gan.generator, n, seed + 7, labeller)
        return images, labels, source, regime_gan.key
    return synthesize


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


def regime_data(data: ImageDataset, fraction: float, seed: int = 0) -> ImageDataset:
    """The real training images of one regime: a stratified ``fraction`` of the training split (at least one image
    per class), drawn with ``seed``, the test split untouched. All of it is ``data`` itself, so its models are the
    study's own."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1:
        return data
    keep = stratified_subset(data.train_y, max(data.num_classes, round(fraction * len(data.train_y))), seed=seed)
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


def training_steps(n_images: int, epochs: int, batch_size: int) -> int:
    """Optimiser steps of :func:`~xai_helpers.cnn.train.train_classifier` (the last minibatch may be short)."""
    return epochs * math.ceil(n_images / batch_size)


def step_matched_epochs(n_real: int, n_reference: int, epochs: int, batch_size: int) -> int:
    """Epochs over ``n_real`` images whose optimiser steps come closest to ``epochs`` over ``n_reference``."""
    target = training_steps(n_reference, epochs, batch_size)
    return max(1, round(target / math.ceil(n_real / batch_size)))


def augmentation_sets(regime: ImageDataset, synthetic_x: torch.Tensor,
                      synthetic_y: torch.Tensor) -> dict[str, ImageDataset]:
    """The sets of images of one regime (:data:`DATA_SETS`; the step-matched row trains on ``real`` again), sharing
    the real test split."""
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
    """Test accuracy on the real test split for every regime × training set (:data:`TRAINING_SETS`).
    ``synthesize(regime)`` returns ``(images, labels, label_source, gan_checkpoint)``: samples of a GAN trained on
    ``regime``'s real images only, labelled without any other real data. Each classifier is cached like any other.
    ``steps`` is each classifier's optimiser steps, ``gain_over_step_matched`` its accuracy minus that of the real
    images trained for as many steps as ``real + synthetic``, and ``p_mcnemar_vs_step_matched`` the exact McNemar
    test of that difference on the same test images (:func:`mcnemar_p`)."""
    rows, correct = [], {}
    common = dict(batch_size=batch_size, lr=lr, weight_decay=weight_decay, augment=augment, seed=seed, device=device,
                  cache_dir=cache_dir, progress=progress, test_every_epoch=False)
    for fraction in fractions:
        regime = regime_data(data, fraction, seed)
        synthetic_x, synthetic_y, label_source, gan_key = synthesize(regime)
        sets = augmentation_sets(regime, synthetic_x, synthetic_y)
        matched = step_matched_epochs(len(regime.train_x), len(sets["real + synthetic"].train_x), epochs, batch_size)
        runs = [(name, ds, epochs) for name, ds in sets.items()] + [(STEP_MATCHED, regime, matched)]
        for name, ds, n_epochs in runs:
            trained = train_classifier(arch, ds, epochs=n_epochs, **common)
            correct[fraction, name] = predict_logits(trained.model, ds.test_x).argmax(1) == ds.test_y
            rows.append({"real_fraction": fraction, "training_set": name, "n_train": len(ds.train_x),
                         "n_real": len(regime.train_x), "n_synthetic": 0 if ds is regime else len(synthetic_x),
                         "epochs": n_epochs, "steps": training_steps(len(ds.train_x), n_epochs, batch_size),
                         "label_source": label_source, "gan_checkpoint": gan_key,
                         "test_accuracy": accuracy(trained.model, ds.test_x, ds.test_y), "checkpoint": trained.key})
    table = pd.DataFrame(rows)
    reference = table[table["training_set"] == STEP_MATCHED].set_index("real_fraction")["test_accuracy"]
    table["gain_over_step_matched"] = table["test_accuracy"] - table["real_fraction"].map(reference)
    table["p_mcnemar_vs_step_matched"] = [
        None if name == STEP_MATCHED else mcnemar_p(correct[fraction, name], correct[fraction, STEP_MATCHED])
        for fraction, name in zip(table["real_fraction"], table["training_set"])]
    return table


def classification_accuracy_score(table: pd.DataFrame) -> dict:
    """The Classification Accuracy Score (Ravuri & Vinyals 2019) of each regime, read from :func:`augmentation_study`:
    the real-test accuracy of a classifier trained on GAN samples only. Ravuri & Vinyals draw the labels from a
    class-conditional generator (``labels: "conditional GAN"``), which makes the score comparable with theirs; an
    unconditional GAN's samples carry a classifier's pseudo-labels (``labels: "classifier"``), which measures the
    generator together with that labeller, so the result names its label source."""
    rows = table[table["training_set"] == "synthetic only"]
    if rows.empty:
        raise ValueError("the table has no 'synthetic only' rows: it is not an augmentation_study table")
    return {"per_regime": {f"{f:g}": float(a) for f, a in zip(rows["real_fraction"], rows["test_accuracy"])},
            "labels": str(rows["label_source"].iloc[0]), "reference": "Ravuri & Vinyals 2019"}


def mcnemar_p(correct_a: torch.Tensor, correct_b: torch.Tensor) -> float:
    """Exact two-sided McNemar test of two classifiers scored on the same test images (per-image correctness):
    the binomial test of the images only one of them gets right (scipy's ``binomtest`` at 1/2). Two accuracies on
    the same images are paired, so their separate intervals overlapping says nothing about their difference;
    1.0 when they disagree on no image."""
    a, b = torch.as_tensor(correct_a, dtype=torch.bool), torch.as_tensor(correct_b, dtype=torch.bool)
    if a.shape != b.shape:
        raise ValueError(f"the classifiers must be scored on the same images, got {tuple(a.shape)} and {tuple(b.shape)}")
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    return 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
