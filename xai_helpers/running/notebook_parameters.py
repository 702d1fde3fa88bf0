"""The runner's checks of notebook parameters, before anything runs: ``-p`` names that no selected notebook
declares, values of the wrong type for the notebook's annotation, and values outside their allowed range (the
way each notebook will see them, merged with its profile). papermill itself only warns about an undeclared
parameter and then runs with the default, which silently changes results."""
from __future__ import annotations

import ast
import difflib
import re

import yaml

from ..data import DATASETS, MIN_IMAGES_PER_CLASS, check_imagefolder, check_imagefolder_memory, image_side
from ..study import (MODEL_PARAMETERS, PROFILES, ParameterError, check_fits_image, check_values, model_spec,
                     resolve_config, resolve_data_dir)

#: Runner options that map onto notebook parameters of the same role.
#: The folders of a data set: runner options (--data-dir, --test-dir) and the workflow's params, never ``-p``.
DATA_FOLDERS = ("data_dir", "test_dir")
STANDARD_PARAMETERS = ("profile", "dataset", *DATA_FOLDERS, "device", "seed", "run_dir", "cache_dir")
_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),),
          "NoneType": (type(None),), "list": (list,), "dict": (dict,)}


class UsageError(Exception):
    """Bad arguments: reported in one line, exit status 2."""


def parse_value(text: str):
    """A ``-p`` value: an int or float if it reads as one (``1e-3`` included, which YAML 1.1 would keep as
    text), else YAML (``true`` → bool, ``null`` → None, ``[1, 2]`` → list), else the text itself."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _accepts(annotation: str, value) -> bool:
    names = re.findall(r"[A-Za-z_]+", annotation.replace("Optional", "None "))
    kinds = [t for n in names for t in _TYPES.get(n, ())]
    if not kinds or any(n not in _TYPES for n in names if n not in ("Union",)):
        return True  # an annotation we do not model: let the notebook judge
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, tuple(kinds))


def convert_value(annotation: str | None, raw: str):
    """A ``-p`` value for a parameter annotated ``annotation``: kept as text for ``str`` (so ``007`` stays
    ``"007"``), else parsed as YAML (``3`` → int, ``0.5`` → float, ``true`` → bool, ``null`` → None)."""
    if annotation == "str":
        return raw
    return parse_value(raw)


#: Notebooks that read a layer's activations (TCAV, the concept tester), which a TorchScript model cannot give: their
#: openings say ``needs_hooks=True`` (a hygiene test keeps the two in step), and the runner refuses such a model
#: for them before any kernel starts.
NEEDS_HOOKS = ("03_tcav", "07_explorer")


def validate_parameters(declared: dict[str, dict], extra: dict[str, str]) -> None:
    """Refuse ``-p`` names no selected notebook declares, and values of the wrong type."""
    all_names = sorted({n for params in declared.values() for n in params})
    for name, raw in extra.items():
        if name in STANDARD_PARAMETERS:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"-p {name}: use the runner option {flag} instead")
        owners = [nb for nb, params in declared.items() if name in params]
        if not owners:
            close = difflib.get_close_matches(name, all_names, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"-p {name}: no selected notebook declares a parameter {name!r}{hint} "
                             f"(declared: {', '.join(all_names)})")
        for nb in owners:
            annotation = declared[nb][name].get("inferred_type_name") or "None"
            value = convert_value(annotation, raw)
            if annotation != "None" and not _accepts(annotation, value):
                raise UsageError(f"-p {name} {raw!r}: {nb} declares {name} as {annotation}")
    if extra.get("model_source", "study") != "study":
        # -p reaches only the notebooks that declare a name: a notebook that uses the classifier (declares its
        # settings) without model_source would go on with the study's CNN while 01 reports the user's model.
        able = [nb for nb, params in declared.items() if "model_source" in params]
        unable = [nb for nb, params in declared.items() if "epochs" in params and "model_source" not in params]
        if unable:
            raise UsageError(f"-p model_source {extra['model_source']}: {', '.join(unable)} cannot explain a "
                             f"supplied model (yet) and would use the study's CNN instead; select the notebooks that "
                             f"can with --only {' '.join(nb[:2] for nb in able) or '01'}")


def notebook_parameters(declared: dict, options: dict, extra: dict[str, str]) -> dict:
    """The parameters one notebook gets: the standard ones it declares, then its ``-p`` ones."""
    params = {k: v for k, v in options.items() if k in declared}
    params.update({k: convert_value(declared[k].get("inferred_type_name"), raw)
                   for k, raw in extra.items() if k in declared})
    return params


def _default(p: dict):
    """A declared parameter's default value (papermill reports it as source text)."""
    try:
        return ast.literal_eval(p.get("default") or "None")
    except (ValueError, SyntaxError):
        return p.get("default")


def check_ranges(declared: dict[str, dict], options: dict, extra: dict[str, str], profile: str) -> None:
    """Refuse values outside their allowed range (:mod:`xai_helpers.study.parameters`) before any notebook runs: every
    notebook's values as it would get them (its defaults, the runner's options, ``-p``), merged with the profile
    the way the notebook's ``resolve_config`` merges them, and pixel sizes against the data set's image side."""
    for nb, params in declared.items():
        values = {name: _default(p) for name, p in params.items()}
        values.update(notebook_parameters(params, options, extra))
        knobs = {k: v for k, v in values.items() if k in PROFILES[profile]}
        try:
            resolve_config(profile, **knobs)
            check_values({k: v for k, v in values.items() if k not in knobs})
            if values.get("dataset") in DATASETS and isinstance(values.get("image_size"), int):
                check_fits_image(values, image_side(values["dataset"], values["image_size"]))
            if "model_source" in values:  # the classifier to explain: names, combinations, files
                spec = model_spec(**{k: values.get(k, default) for k, default in MODEL_PARAMETERS.items()})
                if spec.is_torchscript and nb in NEEDS_HOOKS:
                    raise ParameterError(f"it reads a layer's activations, and the TorchScript model {spec.file} "
                                         "takes no hooks: supply it as a torch.export program (.pt2) or as "
                                         "module:factory with model_weights, or leave "
                                         f"{nb[:2]} out (--only)")
        except ParameterError as err:
            raise UsageError(f"{nb}: {err}") from None
        if values.get("test_dir") and values.get("dataset") != "imagefolder":
            raise UsageError(f"{nb}: test_dir is for dataset imagefolder; {values.get('dataset')} has its own test "
                             "split")
        if values.get("dataset") == "imagefolder":  # the images must be there before any kernel starts
            try:
                split = not values.get("test_dir")  # then data_dir's classes are split 80/20
                for folder in [f for f in DATA_FOLDERS if values.get(f) or f == "data_dir"]:  # data_dir: or data/
                    minimum = MIN_IMAGES_PER_CLASS if folder == "data_dir" and split else 1
                    root = check_imagefolder(resolve_data_dir(values.get(folder, "")), minimum)
                    check_imagefolder_memory(root, values.get("image_size", 32), values.get("channels", 3))
            except (ValueError, FileNotFoundError, MemoryError) as err:
                raise UsageError(f"{nb}: {err}") from None
