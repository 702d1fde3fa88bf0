"""The models an explorer shows: the ones the study reports, taken from its cache with the notebooks' own settings
(and trained on the spot with those settings when the cache lacks them). Notebook 07 explores exactly what 01–05
trained: the same configuration gives the same cache entry. With a supplied classifier (``model_source``) it
explores that model and the copy of it 02 fine-tunes on the planted shortcut, in place of the study's CNNs."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..cnn import (METHODS, TrainedClassifier, applicable_methods, offered_methods, attach_layers, classifier_settings, describe,
                   method_options, predict_logits, probe_indices, train_classifier, train_shortcut_model,
                   variant_settings)
from ..data import ImageDataset, patched_test_set, resolve_shortcut
from ..gan import TrainedGAN, gan_settings, shapes_gan_settings, train_gan
from ..latent import factor_regressor_reads, train_factor_regressor
from ..study import ModelSpec

#: The classifiers an explorer can switch between, in the order the switch lists them: the study's CNNs, or (with
#: a supplied model) the user's and its planted-shortcut copy.
CLASSIFIER_NAMES = ("plain", "attention", "shortcut")
SUPPLIED_NAMES = ("yours", "shortcut")


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
    #: The classifier the notebooks explain ("plain", or "yours" for a supplied model) and what it is.
    explained: str = "plain"
    description: str = "the study's plain CNN"
    #: Whether the classifiers are the user's (their layers chosen by ``attach_layers``, as in 02 and 03).
    supplied: bool = False
    #: The attribution methods that can explain the classifiers, and why the others cannot (02's check).
    methods: tuple[str, ...] = tuple(METHODS)
    skipped: dict = field(default_factory=dict)
    #: The architecture's short name in titles ("CNN" for the study's, e.g. "resnet18" for a supplied one).
    architecture: str = "CNN"
    gan: TrainedGAN | None = None
    #: On ``shapes`` (32 px): 05's disentangling InfoGAN(-CR) and the regressor that reads factors from images.
    info_gan: TrainedGAN | None = None
    regressor: nn.Module | None = None

    def label(self, name: str) -> str:
        """A classifier's name in the explorers' titles and lists: "plain CNN", "your resnet18", …"""
        return f"your {self.architecture}" if name == "yours" else f"{name} {self.architecture}"


def load_study_models(data: ImageDataset, config: dict, *, seed: int, device, cache_dir, shortcut_class=None,
                      patch_size=None, gan: bool = False, conditional: bool = False, classifiers=None,
                      spec: ModelSpec | None = None, explained: TrainedClassifier | None = None) -> StudyModels:
    """01's classifiers, 02's shortcut model and (``gan=True``) 04's GAN, from the cache or trained as the
    notebooks train them. ``classifiers`` names which to load (a subset of :data:`CLASSIFIER_NAMES`; None: all).

    A supplied model (``spec.supplied``, with ``explained`` the classifier the notebook's opening returned) takes
    the study CNNs' place: the explorer offers it ("yours") and 02's copy of it fine-tuned on the planted
    shortcut ("shortcut", the same cache entry 02 trains), a subset of :data:`SUPPLIED_NAMES`. Without a supplied
    model, ``explained`` (01's plain CNN, when the opening loaded it) saves a second read of the cache."""
    supplied = spec is not None and spec.supplied
    allowed = SUPPLIED_NAMES if supplied else CLASSIFIER_NAMES
    classifiers = allowed if classifiers is None else tuple(classifiers)
    unknown = [c for c in classifiers if c not in allowed]
    if unknown or not classifiers:
        raise ValueError(f"classifiers = {list(classifiers)!r} is not allowed: expected a non-empty subset of "
                         f"{', '.join(allowed)}" + (" (a supplied model replaces the study's CNNs)" if supplied else ""))
    if supplied and explained is None:
        raise ValueError("a supplied model needs explained: the TrainedClassifier the notebook's opening returned")
    shortcut_class, patch_size = resolve_shortcut(data, shortcut_class, patch_size)
    settings = classifier_settings(config, seed=seed, device=device, cache_dir=cache_dir)
    models, keys = {}, {}
    for name in classifiers:
        trained = _classifier(name, data, shortcut_class, patch_size, settings, spec, explained)
        models[name], keys[name] = trained.model.eval(), trained.key
    patched_x, boxes = patched_test_set(data, patch_size)
    options = method_options(config)  # fixed windows and cells at every side, so that the window setting acts
    # GradientSHAP's baseline distribution as in 02: black plus a class-balanced set of training images.
    options["gradient_shap"]["baselines"] = data.train_x[probe_indices(data.train_y, 2 * data.num_classes)]
    model = models[classifiers[0]]
    methods, skipped = tuple(offered_methods(model)), {}  # attention rollout for transformers only
    if supplied:  # 02's check: the methods that run on this architecture (every one does on the study's CNNs)
        x = data.test_x[:2].to(device)
        usable, skipped = applicable_methods(model, x, predict_logits(model, x).argmax(1), list(methods), options,
                                             seed=seed)
        methods = tuple(usable)
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
                       boxes=boxes, options=options, explained="yours" if supplied else "plain",
                       description=describe(spec) if supplied else "the study's plain CNN", supplied=supplied,
                       methods=methods, skipped=skipped, architecture=spec.label() if supplied else "CNN", gan=trained_gan, info_gan=info_gan, regressor=regressor)


def _classifier(name: str, data: ImageDataset, shortcut_class: int, patch_size: int, settings: dict,
                spec: ModelSpec | None, explained: TrainedClassifier | None) -> TrainedClassifier:
    """One of the explorer's classifiers, as the notebook that reports it trains it (the explained one: as the
    notebook's opening returned it)."""
    supplied = spec is not None and spec.supplied
    if explained is not None and name == ("yours" if supplied else "plain"):
        return explained
    if name != "shortcut":
        return train_classifier(name, data, **settings)
    variant = variant_settings(spec, explained) if supplied else {}  # 02: fine-tuned from the user's weights
    trained, _ = train_shortcut_model(data, shortcut_class, patch_size, **settings, **variant)
    if supplied:
        attach_layers(trained.model, spec, data.image_shape)
    return trained
