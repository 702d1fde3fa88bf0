"""A classifier that learned a planted shortcut: the measured shortcut rate, and training until the shortcut is
learned within a bounded budget.

A classifier trained on :func:`~xai_helpers.data.planting.shortcut_dataset` uses the patch instead of the object; on
test images of *other* classes with the patch planted, the only evidence for the shortcut class is the patch, so a
faithful attribution for that class must point at it (the pointing game, the mass inside the patch). That is ground
truth only if the model did learn the shortcut, so :func:`train_shortcut_model` trains (within a bounded budget)
until it has, and says so when it has not; :func:`shortcut_rate` is the measurement. How the patch is made and
planted is :mod:`xai_helpers.data.planting`.
"""
from __future__ import annotations

import torch
from torch import nn

from ..data import PATCH_SEED, ImageDataset, checkerboard, plant, random_boxes, shortcut_dataset
from .train import TrainedClassifier, predict_logits, train_classifier

#: The share of patched other-class images a shortcut model must call the shortcut class for the patch to be
#: ground truth (the study's check reads the same number).
SHORTCUT_RATE_MIN = 0.9
#: 03's planted concept (no relabelling) counts as learned when the model trained with the pattern in every image
#: of the target class calls at least this much larger a share of patched other-class images the target class
#: than the clean model does: the pattern then changes decisions, not only activations.
PATTERN_EFFECT_MIN = 0.1


def shortcut_rate(model: nn.Module, images: torch.Tensor, target_class: int) -> float:
    """The share of ``images`` (patched images of other classes) that ``model`` calls ``target_class``."""
    return float((predict_logits(model, images).argmax(1) == target_class).float().mean())


def train_shortcut_model(data: ImageDataset, target_class: int, patch: int, *, epochs: int, fraction: float = 0.1,
                         min_rate: float = SHORTCUT_RATE_MIN, max_rounds: int = 3, check_images: int = 500,
                         arch: str = "plain", **settings) -> tuple[TrainedClassifier, list[dict]]:
    """A classifier trained on :func:`shortcut_dataset` that has learned the shortcut, within a bounded budget.

    Round k trains from scratch with ``epochs · 2^k`` epochs (each round is its own cache entry) until at least
    ``min_rate`` of the check images are called ``target_class``: other-class *training* images that were never
    relabelled, patched at new positions. The test split is not used to decide, so the shortcut rate 02 reports on
    patched test images stays an honest measurement. After ``max_rounds`` (at most 1 + 2 + 4 = 7 times the
    epochs) the last model is returned as it is, and the caller reports "ground truth not learned". Returns the
    model and one record per round (``epochs``, ``check_rate``). ``arch`` and ``settings`` go to
    :func:`~.train.train_classifier` (a supplied classifier: :func:`~.model_sources.variant_settings`)."""
    if max_rounds < 1:
        raise ValueError(f"max_rounds = {max_rounds!r} is not allowed: expected an integer ≥ 1")
    planted = shortcut_dataset(data, target_class, patch, fraction)
    untouched = torch.tensor(planted.info["shortcut"]["untouched_others"], dtype=torch.long)
    gen = torch.Generator().manual_seed(PATCH_SEED + 3)
    chosen = untouched[torch.randperm(len(untouched), generator=gen)[:check_images]]
    check = plant(data.train_x[chosen], random_boxes(len(chosen), data.image_shape[-1], patch, gen),
                  checkerboard(patch, data.image_shape[0]))
    rounds = []
    for k in range(max_rounds):
        trained = train_classifier(arch, planted, epochs=epochs * 2 ** k, test_every_epoch=False, **settings)
        rounds.append({"epochs": epochs * 2 ** k, "check_rate": shortcut_rate(trained.model, check, target_class)})
        if rounds[-1]["check_rate"] >= min_rate:
            break
    return trained, rounds
