"""The parameters that say which classifier the study explains, checked before anything runs.

``model_source``:

- ``study`` (default): the study's own plain CNN, trained by notebook 01's recipe;
- ``torchvision``: ``model_name`` is a ``torchvision.models`` classifier (``resnet18``, ``mobilenet_v3_small``, ...);
  with ``model_weights`` (a local state-dict file; nothing is downloaded) that model is explained as it is,
  without it the architecture is trained here on the data with the study's cached training;
- ``file``: ``model_file`` is a ``torch.export`` program (a ``.pt2`` file written by ``torch.export.save``), a
  TorchScript file, or ``module:factory`` (a function in an importable module that returns the untrained
  ``nn.Module``) with ``model_weights``.

``model_mean`` / ``model_std`` state the normalisation a supplied model expects (per channel, applied inside the
explained model, so explanations stay in the [0, 1] image space); ``gradcam_layer`` and ``tcav_layers`` override
the detected layers by module name. This module checks names, combinations and files; loading and the checks
that need the model (classes, input size) are in :mod:`xai_helpers.cnn.model_sources`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from .parameters import ParameterError
from .run_io import REPO_ROOT

MODEL_SOURCES = ("study", "torchvision", "file")
#: The suffix of a ``torch.export`` program's file (``torch.export.save(program, "model.pt2")``).
EXPORTED_SUFFIX = ".pt2"
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class ModelSpec:
    """A checked choice of classifier (see the module's docstring)."""

    source: str = "study"
    name: str = ""
    weights: str = ""
    file: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    gradcam_layer: str = ""
    tcav_layers: tuple[str, ...] | None = None
    #: (class folder, output index) pairs from ``model_class_map``: which of the model's outputs is which class.
    class_map: tuple[tuple[str, int], ...] | None = None
    class_map_file: str = ""

    @property
    def supplied(self) -> bool:
        """True for any model other than the study's own CNNs."""
        return self.source != "study"

    @property
    def trained_here(self) -> bool:
        """True when the architecture is trained by the study (torchvision without weights)."""
        return self.source == "torchvision" and not self.weights

    @property
    def is_exported(self) -> bool:
        """A ``torch.export`` program: ``torch.export.save`` writes ``.pt2`` files (its documentation's name)."""
        return self.source == "file" and Path(self.file).suffix == EXPORTED_SUFFIX

    @property
    def is_torchscript(self) -> bool:
        return self.source == "file" and not _FACTORY.match(self.file) and not self.is_exported

    @property
    def carries_weights(self) -> bool:
        """A file holding its graph and its weights (TorchScript, ``torch.export``), rather than a factory's."""
        return self.is_torchscript or self.is_exported

    def label(self) -> str:
        """A short name for tables and figure titles."""
        if self.source == "study":
            return "plain"
        if self.source == "torchvision":
            return self.name
        return Path(self.file).stem if self.carries_weights else self.file.rsplit(":", 1)[1]


def torchvision_classifiers() -> list[str]:
    """Names of torchvision's image classifiers (``torchvision.models``, not detection or segmentation)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def resolve_path(path: str) -> Path:
    """A file the user named: relative paths are taken from the repository root, as data folders are (notebooks run
    with cwd = notebooks/). The runner has already made the ones typed on its command line absolute from where the
    user is (:func:`.run_io.user_path`), so this applies to a notebook run by hand."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def _existing_file(name: str, path: str, what: str) -> str:
    p = resolve_path(path)
    if not p.is_file():
        raise ParameterError(f"{name} = {path!r}: no such file ({p.resolve()}); expected {what}")
    return str(p.resolve())


def _numbers(name: str, value, positive: bool) -> tuple[float, ...] | None:
    if value is None:
        return None
    ok = (isinstance(value, (list, tuple)) and len(value) in (1, 3)
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  and (v > 0 if positive else True) for v in value))
    if not ok:
        raise ParameterError(f"{name} = {value!r} is not allowed: expected a list of 1 or 3 "
                             f"{'positive ' if positive else ''}numbers (one per channel), or None")
    return tuple(float(v) for v in value)


def model_spec(model_source: str = "study", model_name: str = "", model_weights: str = "", model_file: str = "",
               model_mean=None, model_std=None, gradcam_layer: str = "", tcav_layers: str | list | None = "",
               model_class_map: str = "") -> ModelSpec:
    """Check the model parameters (names, combinations, that files exist) and return them as a :class:`ModelSpec`;
    raises :class:`ParameterError` naming the bad value and what is allowed."""
    if model_source not in MODEL_SOURCES:
        raise ParameterError(f"model_source = {model_source!r} is not allowed: expected one of "
                             f"{', '.join(MODEL_SOURCES)}")
    for name, value in (("model_name", model_name), ("model_weights", model_weights), ("model_file", model_file),
                        ("gradcam_layer", gradcam_layer), ("model_class_map", model_class_map)):
        if not isinstance(value, str):
            raise ParameterError(f"{name} = {value!r} is not allowed: expected a string")
    given = {n for n, v in (("model_name", model_name), ("model_weights", model_weights), ("model_file", model_file),
                            ("model_mean", model_mean), ("model_std", model_std),
                            ("model_class_map", model_class_map)) if v not in ("", None)}
    allowed_with = {"study": set(),
                    "torchvision": {"model_name", "model_weights", "model_mean", "model_std", "model_class_map"},
                    "file": {"model_file", "model_weights", "model_mean", "model_std", "model_class_map"}}[model_source]
    stray = sorted(given - allowed_with)
    if stray:
        raise ParameterError(f"{', '.join(stray)} given with model_source = {model_source!r}, which does not read "
                             f"{'them' if len(stray) > 1 else 'it'}; "
                             + ("use model_source torchvision or file for a model of your own"
                                if model_source == "study" else
                                f"model_source {model_source!r} reads {', '.join(sorted(allowed_with))}"))
    mean, std = _numbers("model_mean", model_mean, False), _numbers("model_std", model_std, True)
    if (mean is None) != (std is None) or (mean is not None and len(mean) != len(std)):
        raise ParameterError(f"model_mean = {model_mean!r} and model_std = {model_std!r}: give both, one number "
                             "per channel each, or neither")
    if isinstance(tcav_layers, str):  # the notebook parameter: comma-separated names
        tcav_layers = [n.strip() for n in tcav_layers.split(",")] if tcav_layers.strip() else None
    if tcav_layers is not None and (not isinstance(tcav_layers, (list, tuple)) or not tcav_layers
                                    or not all(isinstance(n, str) and n for n in tcav_layers)):
        raise ParameterError(f"tcav_layers = {tcav_layers!r} is not allowed: expected module names separated by "
                             "commas (e.g. layer2,layer3), or empty (detected)")
    weights = model_weights
    if model_source == "torchvision":
        if not model_name:
            raise ParameterError("model_source 'torchvision' needs model_name, e.g. resnet18 or mobilenet_v3_small")
        names = torchvision_classifiers()
        if model_name not in names:
            import difflib
            close = difflib.get_close_matches(model_name, names, n=3, cutoff=0.5)
            raise ParameterError(f"model_name = {model_name!r} is no torchvision classifier"
                                 + (f"; did you mean {', '.join(close)}?" if close else "")
                                 + f" (allowed: {', '.join(names)})")
    if model_source == "file":
        if not model_file:
            raise ParameterError("model_source 'file' needs model_file: a torch.export program (.pt2), a "
                                 "TorchScript file, or module:factory with model_weights")
        if _FACTORY.match(model_file) and not resolve_path(model_file).exists():
            if not model_weights:
                raise ParameterError(f"model_file = {model_file!r} (module:factory) needs model_weights, the "
                                     "state-dict file of the model the factory builds")
        else:
            model_file = _existing_file("model_file", model_file, "a torch.export program (torch.export.save, "
                                                                  ".pt2), a TorchScript file (torch.jit.save) or "
                                                                  "module:factory")
            if model_weights:
                kind = "torch.export program" if Path(model_file).suffix == EXPORTED_SUFFIX else "TorchScript"
                raise ParameterError(f"model_weights = {model_weights!r} given with a {kind} model_file, "
                                     "which carries its own weights; leave model_weights empty")
    if weights:
        weights = _existing_file("model_weights", weights, "a state dict saved with torch.save(model.state_dict(), "
                                                           "path)")
    class_map = None
    if model_class_map:
        if model_source == "torchvision" and not weights:
            raise ParameterError(f"model_class_map = {model_class_map!r} maps a trained model's outputs; torchvision "
                                 f"{model_name} without model_weights is trained here, with one output per class folder")
        model_class_map = _existing_file("model_class_map", model_class_map,
                                         "a JSON file {class folder: output index}")
        class_map = read_class_map(model_class_map)
    return ModelSpec(model_source, model_name, weights, model_file, mean, std, gradcam_layer,
                     tuple(tcav_layers) if tcav_layers else None, class_map, model_class_map)


def read_class_map(path: str) -> tuple[tuple[str, int], ...]:
    """The (class folder, output index) pairs of a ``model_class_map`` file: a JSON object whose keys are class folder
    names and whose values are distinct non-negative output indices (it may name more classes than the folder has)."""
    import json

    try:
        mapping = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ParameterError(f"model_class_map = {path!r}: not a JSON file ({err})") from None
    if (not isinstance(mapping, dict) or not mapping
            or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in mapping.values())):
        raise ParameterError(f"model_class_map = {path!r}: expected a JSON object {{class folder: output index}} with "
                             "non-negative integer indices, e.g. {\"tabby\": 281, \"goldfish\": 1}")
    if len(set(mapping.values())) != len(mapping):
        shared = sorted({i for i in mapping.values() if list(mapping.values()).count(i) > 1})
        raise ParameterError(f"model_class_map = {path!r}: output index {shared[0]} is given to several classes")
    return tuple((str(name), int(index)) for name, index in mapping.items())
