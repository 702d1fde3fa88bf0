"""A study notebook's opening, one call: its parameters resolved and checked, the session started, the data loaded
and the classifier it explains (the study's or the user's) trained or taken from the model cache.

It stands above the parts it assembles (data, cnn, gan), below the roof, so that a notebook imports it and nothing
else to begin; what the notebook then does with the model is the notebook's own."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch

from ..cnn import (TrainedClassifier, at_side, attach_layers, classifier_settings, describe, layer_table,
                   study_classifier, train_classifier)
from ..data import ImageDataset, load_dataset
from ..gan import resized_for_gan
from ..study import ModelSpec, resolve_data_dir, start_session

#: How a notebook takes the data set's images: at their own side, or at a side the DCGAN is built for
#: (28, 32 or 64 px; larger images resized), as notebooks 04 and 05 do.
IMAGES = ("own", "gan")


class Opening(NamedTuple):
    """What a notebook works on: its resolved configuration and model parameters, the device and its run and
    model-cache folders, the data, the classifier it explains, the study's attention CNN when it asked for it (None
    when the user supplied the model: there is none then), and the training recipe of both
    (:func:`~xai_helpers.cnn.train.classifier_settings`), which every further model it trains shares."""
    config: dict
    spec: ModelSpec | None
    device: torch.device
    run_path: Path
    cache_path: Path
    data: ImageDataset
    classifier: TrainedClassifier | None
    attention: TrainedClassifier | None
    settings: dict


def open_notebook(notebook: str, values: Mapping[str, Any], *, images: str = "own", classifier: bool = True,
                  attention: bool = False, needs_hooks: bool = False) -> Opening:
    """Open ``notebook`` with the parameter values papermill put in ``values`` (a notebook passes ``globals()``).

    Every parameter is checked before anything runs (:func:`~xai_helpers.study.session.start_session`; with
    ``needs_hooks`` a TorchScript model, which takes no hooks, is refused there too). Then the data set is loaded at
    the profile's limits (``images``: one of :data:`IMAGES`), and with ``classifier`` the model the notebook
    explains: the user's (``model_source``; the study's recipe trains a weight-less torchvision architecture) or
    notebook 01's plain CNN, from the same cache entry 01 wrote. With ``images="gan"`` the user's model is the one
    01 evaluated, at its own side (the GAN's images are resized to it: :class:`~xai_helpers.cnn.AtInputSide`),
    while the study's CNN is trained at the GAN's side. ``attention`` adds 01's attention CNN, unless the
    user supplied the model."""
    if images not in IMAGES:
        raise ValueError(f"images = {images!r} is not allowed: expected one of {', '.join(IMAGES)}")
    test_dir = values.get("test_dir") or ""
    if test_dir and values["dataset"] != "imagefolder":
        raise ValueError(f"test_dir = {test_dir!r} is for dataset imagefolder; {values['dataset']} has its own "
                         "test split")
    config, spec, device, run_path, cache_path = start_session(notebook, values, needs_hooks=needs_hooks)
    data = load_dataset(values["dataset"], resolve_data_dir(values["data_dir"]), train_limit=config["train_limit"],
                        test_limit=config["test_limit"], image_size=values["image_size"],
                        channels=values["channels"], **({"test_dir": resolve_data_dir(test_dir)} if test_dir else {}))
    settings = classifier_settings(config, seed=values["seed"], device=device, cache_dir=cache_path)
    print(f"device: {device}, run folder: {run_path}")
    supplied = spec is not None and spec.supplied
    role = "judging classifier" if images == "gan" else "explained model"  # 04 and 05 explain the GAN
    explained = None
    if classifier and supplied:  # the user's model, at the side of the images it was made for (01's entry)
        explained = _explained_classifier(spec, data, settings, role)
    if images == "gan":
        own_side, data = data.image_shape[-1], resized_for_gan(data)
        if explained is not None and data.image_shape[-1] != own_side:
            print(f"the GAN's {data.image_shape[-1]} px images are resized to {own_side} px for {describe(spec)}")
            explained = replace(explained, model=at_side(explained.model, own_side, data.image_shape[-1]))
    print(_data_line(data))
    if classifier and not supplied:  # the study's CNN, trained on the images as the notebook takes them
        explained = _explained_classifier(spec, data, settings, role)
    if spec is not None and spec.supplied and not spec.trained_here and data.name == "imagefolder" and not test_dir:
        print(f"WARNING: the test images are 20 % of data_dir; if {describe(spec)} was trained on data_dir's images, "
              "its test accuracy is inflated and its explanations are of images it has seen: give test_dir")
    companion = None
    if attention and not (spec is not None and spec.supplied):
        companion = train_classifier("attention", data, **settings)
        print(_classifier_line("attention CNN", companion))
    return Opening(config, spec, device, run_path, cache_path, data, explained, companion, settings)


def judging_classifier(spec: ModelSpec | None, data: ImageDataset) -> str:
    """Which classifier judges a GAN notebook's images (04, 05): the user's, read at its own side, or the study's
    CNN trained on the GAN's images (``data`` as the opening returned it)."""
    if spec is not None and spec.supplied:
        return describe(spec)
    return f"the study's plain CNN at {data.image_shape[-1]} px"


def _explained_classifier(spec: ModelSpec | None, data: ImageDataset, settings: dict,
                          role: str = "explained model") -> TrainedClassifier:
    """The user's classifier with the layers its explanations use, or the study's plain CNN; ``role`` says in the
    printed line what the notebook does with it."""
    if spec is None or not spec.supplied:
        trained = train_classifier("plain", data, **settings)
        print(_classifier_line(f"{role}: the study's plain CNN", trained))
        return trained
    trained = study_classifier(spec, data, **settings)
    print(_classifier_line(f"{role}: {describe(spec)}", trained))
    if not spec.trained_here and spec.class_map is None:  # the order the model's outputs are read in
        print(f"its output k is read as class folder k in sorted order: {', '.join(data.classes[:12])}"
              f"{', ...' if data.num_classes > 12 else ''} (model_class_map maps them otherwise)")
    choice = attach_layers(trained.model, spec, data.image_shape)
    if choice is not None:  # None: a TorchScript model, which takes no hooks
        print(layer_table(choice).to_string())
    return trained


def _data_line(data: ImageDataset) -> str:
    resized = f", resized from {data.info['resized_from']} px" if "resized_from" in data.info else ""
    return (f"{data.name}: images {tuple(data.image_shape)}{resized}, {data.num_classes} classes, "
            f"{len(data.train_y)} training / {len(data.test_y)} test images")


def _classifier_line(what: str, trained: TrainedClassifier) -> str:
    how = "from cache" if trained.from_cache else f"trained in {trained.train_seconds:.1f} s"
    return f"{what}: {trained.key} ({how})"
