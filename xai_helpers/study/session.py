"""The first step of every notebook: its parameters resolved and checked, seed, device and folders, the same way
everywhere."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, NamedTuple

import torch

from .config import resolve_config
from .model_parameters import ModelSpec, model_spec
from .parameter_registry import MODEL_PARAMETERS, PARAMETERS
from .parameters import check_values
from .reproducibility import resolve_device, seed_everything
from .run_io import resolve_cache_dir, resolve_run_dir


def start_notebook(seed: int, device: str, run_dir: str, cache_dir: str) -> tuple[torch.device, Path, Path]:
    """Seed ``random``, numpy's global generator and torch from ``seed`` and turn on deterministic algorithms
    (:func:`.reproducibility.seed_everything`); pick the device (``auto``: CUDA when present); resolve the run and
    cache folders (empty: ``$XAI_RUN_DIR`` / ``$XAI_CACHE_DIR`` or the defaults), creating them and the run
    folder's standard subfolders. Returns ``(device, run_path, cache_path)``."""
    seed_everything(seed)
    return resolve_device(device), resolve_run_dir(run_dir), resolve_cache_dir(cache_dir)


class Session(NamedTuple):
    """A notebook's started session: its resolved configuration, the classifier it explains (None where it declares
    no model parameters), the device and its run and model-cache folders."""
    config: dict
    spec: ModelSpec | None
    device: torch.device
    run_path: Path
    cache_path: Path


def start_session(notebook: str, values: Mapping[str, Any], *, needs_hooks: bool = False) -> Session:
    """Resolve and check ``notebook``'s parameters as the registry (:mod:`.parameter_registry`) declares them, read
    from ``values`` (a notebook passes ``globals()``, where papermill put them), then start its session. A notebook
    opens with :func:`xai_helpers.opening.open_notebook`, which calls this and goes on to the data and the model.

    The profile's knobs are overridden by the parameters that name them (:func:`.config.resolve_config`, which checks
    the merged configuration), every other numeric parameter is checked against its range, and the model parameters
    become a :class:`.model_parameters.ModelSpec` (files checked): everything is refused, naming the bad value and
    what is allowed, before the session starts (:func:`start_notebook`). With ``needs_hooks`` (a notebook that
    reads a layer's activations) a TorchScript model is refused too."""
    declared = [p for p in PARAMETERS if notebook in p.notebooks]
    if not declared:
        raise ValueError(f"notebook {notebook!r} declares no parameter in the registry (xai_helpers/study/"
                         "parameter_registry.py)")
    names = {p.name for p in declared}
    missing = [p.name for p in declared if p.name not in values]
    if missing:
        raise ValueError(f"{notebook}: parameters {', '.join(missing)} are not set; run its parameters cell first")
    config = resolve_config(values["profile"], **{p.profile_knob(): values[p.name] for p in declared
                                                  if p.profile_knob()})
    check_values({p.name: values[p.name] for p in declared
                  if not p.profile_knob() and p.group != "model" and p.allowed() is not None})
    spec = None
    if any(p.group == "model" for p in declared):  # what it does not declare (06: tcav_layers) keeps its default
        spec = model_spec(**{name: values[name] if name in names else default
                             for name, default in MODEL_PARAMETERS.items()})
        if needs_hooks and spec.is_torchscript:
            raise ValueError(f"{notebook} reads a layer's activations, and a TorchScript model takes no hooks: supply "
                             f"the model of model_file = {spec.file!r} as a torch.export program (.pt2, "
                             f"torch.export.save) or as module:factory with model_weights instead")
    device, run_path, cache_path = start_notebook(values["seed"], values["device"], values["run_dir"],
                                                  values["cache_dir"])
    return Session(config, spec, device, run_path, cache_path)
