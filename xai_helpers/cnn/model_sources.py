"""The classifier the study explains: the study's own, a torchvision architecture, or a user's file.

:func:`study_classifier` is the one door: it takes a checked :class:`~xai_helpers.study.model_parameters.ModelSpec`
and returns a :class:`~.train.TrainedClassifier` whatever the source, so notebooks 01-03 treat every model alike:

- ``study``: notebook 01's plain CNN (trained, or loaded from the cache);
- ``torchvision`` without weights: the architecture trained here on the data with the study's recipe, cached
  like the study's CNNs (its ``train_seconds`` is the training time on this machine);
- ``torchvision`` with ``model_weights``, or ``file``: loaded (state dicts with ``weights_only=True``: plain tensors
  only, never pickled code), checked against the data (channels, input size, number of classes) and wrapped in an
  :class:`~.captum_ready.ImageClassifier`. Its ``key`` is ``supplied-`` and a hash of the files, so metrics name
  the exact weights they explain.

A TorchScript model is a compiled graph: PyTorch refuses forward hooks on it, so the methods and analyses that
read or change a layer (Grad-CAM, DeepLift, LRP, Guided Backprop, channels, TCAV, attenuation) cannot run on it;
``hookable`` is False and those parts say so. A ``torch.export`` program (``.pt2``), its successor, is unflattened
into the model's own modules, which take hooks (:mod:`.exported_programs`): everything runs on it except the
methods whose rules are chosen by a layer's type where that type is lost (``ImageClassifier.untyped``).
``module:factory`` + a state dict has none of these limits.
"""
from __future__ import annotations

import hashlib
import importlib
import pickle
import re
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from ..data import ImageDataset
from ..study import REPO_ROOT, SAVE_ADVICE, ModelSpec, refusal, resolve_device
from .captum_ready import ImageClassifier, make_captum_ready
from .exported_programs import ExportError, check_any_batch, check_same_function, functional_nonlinearities, load_exported
from .layer_detection import LayerChoice, choose_layers
from .models import TORCHVISION_PREFIX, torchvision_net
from .train import TrainedClassifier, train_classifier


class ModelError(ValueError):
    """A supplied model that cannot be explained on this data: the message names the model and what is wrong."""


def load_state_dict_file(path: str) -> dict[str, torch.Tensor]:
    """A state dict from ``path``, read with ``weights_only=True`` (tensors and plain containers only). A checkpoint
    that nests it under ``state_dict`` or ``model_state_dict`` is unpacked (and says so)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError) as err:
        raise ModelError(f"model_weights {path}: not a plain state dict of tensors; torch.load(weights_only=True) "
                         f"refused it: {refusal(err)}. Do not unpickle a file you did not make; {SAVE_ADVICE}") from None
    for key in ("state_dict", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            print(f"[model] {path}: using the state dict under {key!r}")
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"model_weights {path}: expected a state dict (a dict of parameter names to tensors), "
                         f"found {type(obj).__name__}. Save it with torch.save(model.state_dict(), path)")
    return obj


def _factory_model(spec: ModelSpec) -> nn.Module:
    module_name, factory_name = spec.file.rsplit(":", 1)
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))  # where run_all.sh runs (notebooks run in notebooks/)
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ModelError(f"model_file {spec.file}: cannot import module {module_name!r} ({err}); it must be on "
                         f"PYTHONPATH or in the repository's folder {REPO_ROOT}") from None
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ModelError(f"model_file {spec.file}: module {module_name!r} has no function {factory_name!r}")
    net = factory()
    if not isinstance(net, nn.Module):
        raise ModelError(f"model_file {spec.file}: {factory_name}() returned {type(net).__name__}, not a "
                         "torch.nn.Module")
    return net


def _with_weights(net: nn.Module, spec: ModelSpec, num_classes: int) -> nn.Module:
    state = load_state_dict_file(spec.weights)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        outputs = _last_linear_outputs(state)
        hint = (f"; the weights have {outputs} outputs and the data set has {num_classes} classes"
                if outputs is not None and outputs != num_classes else "")
        detail = " ".join(str(err).split())[:600]
        raise ModelError(f"model_weights {spec.weights} do not fit {spec.label()}{hint}: {detail}") from None
    return net


def _last_linear_outputs(state: dict) -> int | None:
    weights = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    return int(weights[-1].shape[0]) if weights else None


def _probe(net: nn.Module, channels: int, side: int) -> torch.Tensor:
    with torch.no_grad():
        return net(torch.zeros(1, channels, side, side))


def _mapped_outputs(spec: ModelSpec, data: ImageDataset) -> tuple[int, ...] | None:
    """The model output of each of ``data``'s classes, in their order, by ``spec``'s class map (None without one):
    every class folder must be in it."""
    if spec.class_map is None:
        return None
    index = dict(spec.class_map)
    missing = [c for c in data.classes if c not in index]
    if missing:
        raise ModelError(f"model_class_map {spec.class_map_file} names no output for the class folder(s) "
                         f"{', '.join(missing)}; it maps {', '.join(sorted(index)[:12])}"
                         f"{', ...' if len(index) > 12 else ''}")
    return tuple(index[c] for c in data.classes)


def _net_channels(net: nn.Module, data: ImageDataset, label: str, outputs: tuple[int, ...] | None = None) -> int:
    """The channels ``net`` reads: the data's, or 3 for gray images and an RGB model. Its outputs must be one per
    class, or cover every index of the class map (``outputs``)."""
    c, h, _ = data.image_shape
    errors = []
    for channels in ([c] + ([3] if c == 1 else [])):
        try:
            out = _probe(net, channels, h)
        except Exception as err:  # noqa: BLE001 - any failure of the user's forward pass is reported
            errors.append(f"{channels}×{h}×{h}: {forward_error(err)}")
            continue
        if outputs is not None and isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[1] <= max(outputs):
            raise ModelError(f"{label} has {out.shape[1]} outputs, and the class map names output {max(outputs)}")
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or (outputs is None and out.shape[1] != data.num_classes):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ModelError(f"{label} returns {shape} for one image; expected (1, {data.num_classes}): one logit "
                             f"per class of {data.name} ({', '.join(data.classes[:12])}"
                             f"{', ...' if data.num_classes > 12 else ''})")
        return channels
    raise ModelError(f"{label} cannot take {data.name}'s images ({c}×{h}×{h}, set by image_size and channels): "
                     + "; ".join(errors))


def forward_error(err: BaseException) -> str:
    """A failed forward pass in one line. TorchScript wraps the error in two tracebacks of its serialized and
    original code, hundreds of characters before the shapes that did not fit: what a user needs is the error (its
    last line) and the operation that raised it (the last line marked ``HERE`` in the serialized code, and its
    file)."""
    text = str(err)
    if "Traceback of TorchScript" not in text:
        return " ".join(text.split())[:300]
    serialized = text.split("Traceback of TorchScript, original code")[0].splitlines()
    marked = [code.strip() for code, mark in zip(serialized, serialized[1:]) if "<--- HERE" in mark]
    files = [re.sub(r"/___torch_mangle_\d+\.py$", ".py", f)  # a module scripted twice gets a numbered name
             for f in re.findall(r'File "code/__torch__/([^"]+)"', "\n".join(serialized))]
    error = [line.strip() for line in text.splitlines() if line.strip()][-1]
    where = f" (in {marked[-1]}" + (f", {files[-1]}" if files else "") + ")" if marked else ""
    return f"{error}{where}"


def _files_key(spec: ModelSpec) -> str:
    h = hashlib.sha256(spec.source.encode())
    for path in (spec.file if spec.carries_weights else "", spec.weights):
        if path:
            h.update(Path(path).read_bytes())
    if spec.source == "file" and not spec.carries_weights:
        h.update(spec.file.encode())
    h.update(repr((spec.name, spec.mean, spec.std) + ((spec.class_map,) if spec.class_map else ())).encode())
    return "supplied-" + h.hexdigest()[:16]


def load_supplied(spec: ModelSpec, data: ImageDataset, device: str | torch.device = "cpu") -> ImageClassifier:
    """The model ``spec`` names (torchvision with weights, or a file), checked against ``data`` and ready for
    captum: eval mode, images in [0, 1], normalisation inside. Raises :class:`ModelError` with what is wrong."""
    outputs = _mapped_outputs(spec, data)
    flat = None  # an exported program's own module, to check its unflattened modules against
    if spec.source == "torchvision":
        n_out = _last_linear_outputs(load_state_dict_file(spec.weights)) if outputs else data.num_classes
        net = _with_weights(torchvision_net(spec.name, n_out, data.image_shape[-1]), spec, n_out)
    elif spec.is_exported:
        try:
            net, flat = load_exported(spec.file)
            check_any_batch(net, spec.label())
        except ExportError as err:
            raise ModelError(str(err)) from None
    elif spec.is_torchscript:
        try:
            with warnings.catch_warnings():  # torch.jit is deprecated for new models; users still have such files
                warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit")
                net = torch.jit.load(spec.file, map_location="cpu")
        except (RuntimeError, ValueError) as err:
            raise ModelError(f"model_file {spec.file}: not a TorchScript file torch.jit.load can read "
                             f"({' '.join(str(err).split())[:300]})") from None
    elif spec.source == "file":
        net = _with_weights(_factory_model(spec), spec, data.num_classes)
    else:
        raise ValueError(f"load_supplied reads supplied models; model_source is {spec.source!r}")
    net.eval()
    channels = _net_channels(net, data, spec.label(), outputs)
    untyped = None
    if flat is not None:
        probe = torch.rand(1, channels, *data.image_shape[1:], generator=torch.Generator().manual_seed(0))
        try:
            check_same_function(net, flat, probe, spec.label())
        except ExportError as err:
            raise ModelError(str(err)) from None
        untyped = tuple(functional_nonlinearities(net))
    if spec.mean is not None and len(spec.mean) not in (1, channels):
        raise ModelError(f"model_mean has {len(spec.mean)} values but {spec.label()} reads {channels} channels")
    hookable = not spec.is_torchscript
    if hookable:
        make_captum_ready(net, torch.zeros(1, channels, *data.image_shape[1:]))
    model = ImageClassifier(net, in_channels=data.image_shape[0], net_channels=channels, mean=spec.mean,
                            std=spec.std, description=describe(spec), hookable=hookable, outputs=outputs,
                            untyped=untyped)
    model.use_channels_last(data.image_shape[-1])
    return model.to(device).eval()


def describe(spec: ModelSpec) -> str:
    """One line on where the explained model comes from."""
    if spec.source == "study":
        return "the study's plain CNN, trained by notebook 01"
    if spec.trained_here:
        return f"torchvision {spec.name}, trained here on the data with the study's recipe"
    mapped = f", outputs chosen by the class map {spec.class_map_file}" if spec.class_map else ""
    if spec.source == "torchvision":
        return f"torchvision {spec.name} with the weights {spec.weights}{mapped}"
    if spec.is_exported:
        return f"the torch.export program {spec.file}{mapped}"
    if spec.is_torchscript:
        return f"the TorchScript model {spec.file}{mapped}"
    return f"{spec.file}() with the weights {spec.weights}{mapped}"


def attach_layers(model: nn.Module, spec: ModelSpec, image_shape) -> LayerChoice | None:
    """Choose the model's Grad-CAM, channel and TCAV layers (names in ``spec`` win) and, for an ImageClassifier,
    store them on it; None for a model without hooks (TorchScript)."""
    if isinstance(model, ImageClassifier) and not model.hookable:
        return None
    choice = choose_layers(model, tuple(image_shape), gradcam_layer=spec.gradcam_layer, tcav_layers=spec.tcav_layers)
    if isinstance(model, ImageClassifier):
        model.layers = {"gradcam": choice.gradcam, "channels": list(choice.channels), "tcav": list(choice.tcav)}
    return choice


def study_classifier(spec: ModelSpec, data: ImageDataset, *, progress: str = "auto", **settings) -> TrainedClassifier:
    """The classifier ``spec`` names, for ``data``: trained (or loaded from the cache) with the study's recipe
    (``settings``: :func:`~.train.classifier_settings`) for ``study`` and weight-less ``torchvision``, otherwise
    loaded and checked. Its layers are chosen and attached (:func:`attach_layers`)."""
    if spec.source == "study":
        return train_classifier("plain", data, progress=progress, **settings)
    if spec.trained_here:
        trained = train_classifier(TORCHVISION_PREFIX + spec.name, data, progress=progress, **settings)
        attach_layers(trained.model, spec, data.image_shape)
        return trained
    t0 = time.perf_counter()
    model = load_supplied(spec, data, device=resolve_device(settings.get("device", "auto")))
    attach_layers(model, spec, data.image_shape)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    meta = {"train_seconds": 0.0, "load_seconds": time.perf_counter() - t0, "source": describe(spec),
            "test_accuracy": None, "n_train": 0}
    return TrainedClassifier(model=model, arch=spec.label(), key=_files_key(spec), from_cache=True, history=[],
                             snapshots=[state], meta=meta)


def variant_settings(spec: ModelSpec, explained: TrainedClassifier) -> dict:
    """How a notebook trains a variant of the explained classifier on other data (02's planted-shortcut model, 03's
    planted-concept models): the study's own CNN is trained from scratch with the study's recipe, as always; any
    other model is the starting point itself (fine-tuned from its weights with the same recipe), so the variant is
    the user's network that has learned a known shortcut, and one model gives the same variants whether it came
    from torchvision, a factory or TorchScript. Keyword arguments for :func:`~.train.train_classifier` (and
    ``train_shortcut_model``)."""
    if spec.source == "study":
        return {"arch": "plain"}
    return {"arch": spec.label(), "init": explained.model, "init_key": explained.key}


def train_variant(spec: ModelSpec, explained: TrainedClassifier, data: ImageDataset, **settings) -> TrainedClassifier:
    """A variant of the explained classifier trained on ``data`` (:func:`variant_settings`), with its layers chosen
    as the explained model's are."""
    variant = variant_settings(spec, explained)
    trained = train_classifier(variant.pop("arch"), data, test_every_epoch=False, **settings, **variant)
    if spec.supplied:
        attach_layers(trained.model, spec, data.image_shape)
    return trained


def tcav_layer_names(model: ImageClassifier) -> dict[str, str]:
    """The TCAV layers chosen for a supplied model: {its own name: the name in the explained model's modules}."""
    if not model.hookable:
        raise ValueError(f"TCAV reads a layer's activations, and {model.description or 'a TorchScript model'} takes no "
                         "hooks: supply the model as a torch.export program (.pt2) or as module:factory with "
                         "model_weights instead")
    if "tcav" not in model.layers:
        raise LookupError("no TCAV layers chosen for this model (attach_layers)")
    return {name: "net." + name for name in model.layers["tcav"]}
