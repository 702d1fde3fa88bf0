"""The models an explorer shows: the ones the study reports, taken from its cache with the notebooks' own settings
(and trained on the spot with those settings when the cache lacks them). Notebook 07 explores exactly what 01–05
trained: the same configuration gives the same cache entry."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..cnn import classifier_settings, method_options, probe_indices, train_classifier, train_shortcut_model
from ..data import ImageDataset, patched_test_set, resolve_shortcut
from ..gan import TrainedGAN, gan_settings, shapes_gan_settings, train_gan
from ..latent import factor_regressor_reads, train_factor_regressor

#: The classifiers an explorer can switch between, in the order the switch lists them.
CLASSIFIER_NAMES = ("plain", "attention", "shortcut")


@dataclass
class StudyModels:
    """The study's classifiers (01's plain and attention CNNs, 02's planted-shortcut CNN) on ``data``, their
    cache ids, the planted test images, and (when asked for) 04's GAN."""

    data: ImageDataset
    config: dict
    seed: int
    device: torch.device
    classifiers: dict[str, nn.Module]
    checkpoints: dict[str, str]
    shortcut_class: int
    patch_size: int
    #: Every test image with the checkerboard planted at a known box (02's ground truth).
    patched_x: torch.Tensor
    boxes: torch.Tensor
    #: 02's per-method options under the profile (IG steps, samples), the explorer's defaults.
    options: dict = field(default_factory=dict)
    gan: TrainedGAN | None = None
    #: On ``shapes`` (32 px): 05's disentangling InfoGAN(-CR) and the regressor that reads factors from images.
    info_gan: TrainedGAN | None = None
    regressor: nn.Module | None = None


def load_study_models(data: ImageDataset, config: dict, *, seed: int, device, cache_dir, shortcut_class=None,
                      patch_size=None, gan: bool = False, conditional: bool = False,
                      classifiers=CLASSIFIER_NAMES) -> StudyModels:
    """01's classifiers, 02's shortcut model and (``gan=True``) 04's GAN, from the cache or trained as the
    notebooks train them. ``classifiers`` names which to load (a subset of :data:`CLASSIFIER_NAMES`)."""
    unknown = [c for c in classifiers if c not in CLASSIFIER_NAMES]
    if unknown or not classifiers:
        raise ValueError(f"classifiers = {list(classifiers)!r} is not allowed: expected a non-empty subset of "
                         f"{', '.join(CLASSIFIER_NAMES)}")
    shortcut_class, patch_size = resolve_shortcut(data, shortcut_class, patch_size)
    settings = classifier_settings(config, seed=seed, device=device, cache_dir=cache_dir)
    models, keys = {}, {}
    for name in classifiers:
        if name == "shortcut":
            trained, _ = train_shortcut_model(data, shortcut_class, patch_size, **settings)
        else:
            trained = train_classifier(name, data, **settings)
        models[name], keys[name] = trained.model.eval(), trained.key
    patched_x, boxes = patched_test_set(data, patch_size)
    options = method_options(config)
    # GradientSHAP's baseline distribution as in 02: black plus a class-balanced set of training images.
    options["gradient_shap"]["baselines"] = data.train_x[probe_indices(data.train_y, 2 * data.num_classes)]
    trained_gan = info_gan = regressor = None
    if gan:
        trained_gan = train_gan(data, **gan_settings(config, conditional=conditional, seed=seed, device=device,
                                                     cache_dir=cache_dir))
        if factor_regressor_reads(data):
            info_gan = train_gan(data, **shapes_gan_settings(config, info_codes=config["info_codes"], seed=seed,
                                                              device=device, cache_dir=cache_dir))
            regressor, _ = train_factor_regressor(data, epochs=config["regressor_epochs"], seed=seed,
                                                  device=str(device), cache_dir=str(cache_dir))
    return StudyModels(data=data, config=config, seed=seed, device=torch.device(device), classifiers=models,
                       checkpoints=keys, shortcut_class=shortcut_class, patch_size=patch_size, patched_x=patched_x,
                       boxes=boxes, options=options, gan=trained_gan, info_gan=info_gan, regressor=regressor)
