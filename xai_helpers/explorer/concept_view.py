"""What the concept tester shows, computed without widgets: one concept (one of notebook 03's sets, or a folder of
your own images) at one layer of one classifier, tested as 03 tests it: a CAV per random counterpart with its
held-out accuracy, the TCAV score of each CAV for every class, the same for random-vs-random CAVs (the null), a
paired t-test per class and Holm's correction over the classes shown.

Why not :func:`~xai_helpers.concepts.tcav_study` in one call: the explorer trains the CAVs one draw at a time, so
that it can report progress, stop when a newer request arrives, and keep every CAV and gradient it has computed.
The null and the layer gradients do not depend on the concept, so testing a second concept (or another class) costs
only the new CAVs."""
from __future__ import annotations

import inspect
import re
import tempfile
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..cnn import conv_activation_layers
from ..data import DIGIT_DATASETS
from ..concepts import (STROKE_CONCEPTS, ConceptSets, compare_with_null, compute_cavs, correct,
                        directional_derivatives, json_value, layer_gradients, probed_layers)


def _library_default(function, name: str):
    return inspect.signature(function).parameters[name].default


#: 03's thresholds, taken from the functions that define them so the explorer cannot drift from the notebook.
MIN_CAV_ACCURACY = _library_default(compare_with_null, "min_cav_accuracy")
ALPHA = _library_default(correct, "alpha")
#: The data sets of handwritten digits, the only ones whose images are strokes.
#: Prefix of the sets read from a folder (their ids must not collide with 03's sets).
FOLDER_PREFIX = "folder_"
_NOTES = {
    "closed_loops": "training images whose strokes close a loop (Euler number ≤ 0); the property goes with the "
                    "class, so this concept is partly a class in disguise",
    "stripes": "stripes on a blank canvas: it differs from random images above all by the missing object",
    "dots": "dots on a blank canvas: it differs from random images above all by the missing object",
    "planted_pattern_alone": "the checkerboard alone on a blank canvas",
}


@dataclass(frozen=True)
class Concept:
    """One testable set: its id (captum's concept name), label, role (``concept``, or ``control`` for a random set
    that checks the test), a note on what it is, and its draws (draw ``i`` is set against counterpart ``i``)."""

    key: str
    label: str
    role: str
    note: str
    draws: list[torch.Tensor]


def concept_choices(sets: ConceptSets, dataset: str, patch_size: int, shortcut_class: str,
                    own: dict[str, list[torch.Tensor]] | None = None, own_notes: dict[str, str] | None = None
                    ) -> dict[str, Concept]:
    """Every set the tester offers: 03's concepts (stroke concepts say that they are meant for digits), its random
    controls, and the folder concepts ``own`` (draws per name, with ``own_notes``)."""
    digits = dataset in DIGIT_DATASETS
    out = {}
    for key, draws in sets.concepts.items():
        digit_only = key in STROKE_CONCEPTS
        note = _NOTES.get(key, "")
        if digit_only and not note:
            note = "a stroke transform of random training images, meant for handwritten digits" + (
                "" if digits else f"; {dataset} holds no handwritten strokes, so it is only a morphological transform")
        elif key == "planted_pattern":
            note = (f"random training images with the shortcut model's {patch_size} px checkerboard pasted in: ground "
                    f"truth for the shortcut model and class '{shortcut_class}'; the other models never saw it")
        label = key.replace("_", " ") + (" (digits only)" if digit_only else "")
        if digit_only and not digits:
            label += f": not meaningful on {dataset}"
        out[key] = Concept(key, label, "concept", note, draws)
    for key, draws in sets.controls.items():
        out[key] = Concept(key, key.replace("_", " ") + " (random images)", "control",
                           "random training images: a check of the test itself, which should find nothing", draws)
    for name, draws in (own or {}).items():
        key = FOLDER_PREFIX + re.sub(r"[^A-Za-z0-9_-]", "_", name)
        if key in out:
            raise ValueError(f"two concept folders are both named {key!r} once made safe for captum; rename one")
        out[key] = Concept(key, f"{name} (your folder)", "concept", (own_notes or {}).get(name, ""), draws)
    return out


def layer_choices(model: nn.Module, supplied: bool = False) -> tuple[list[tuple[str, str]], str]:
    """(label, layer name) of the layers to test, and the one 03 reports its verdicts at: 03's TCAV layers first
    (:func:`~xai_helpers.concepts.tcav.probed_layers`), then, in the study's CNNs, the ReLU after every other
    convolution. A supplied model (``supplied``) offers 03's layers only: a torchvision network reuses one ReLU
    module within a block, so a ReLU's hooked output would not be one layer's."""
    probed, reported = probed_layers(model, supplied)
    choices = [(f"{label} ({name})", name) for label, name in probed.items()]
    if supplied:
        return choices, reported
    taken = {name for _, name in choices}
    return choices + [(f"convolution ReLU ({name})", name) for name, _ in conv_activation_layers(model)
                      if name not in taken], reported


def _cav(model: nn.Module, layer: str, images: torch.Tensor, counterpart: torch.Tensor, seed: int):
    """The CAV of ``images`` against ``counterpart``, equal to the one ``tcav_study`` trains for the same sets (the
    counterpart gets the lower concept id, as there, so the held-out split is the same)."""
    with tempfile.TemporaryDirectory(prefix="tcav-explorer-") as folder:  # captum's store: fresh for every CAV
        pair = ("concept", "random")
        cavs = compute_cavs(model, [layer], {"random": counterpart, "concept": images}, [pair], folder, seed=seed)
        return cavs[pair][layer]


def concept_scores(model: nn.Module, layer: str, concept: Concept, counterparts: list[torch.Tensor],
                   null: list[torch.Tensor], inputs: dict[int, torch.Tensor], *, model_key: str, seed: int = 0,
                   cavs: dict | None = None, gradients: dict | None = None,
                   progress: Callable[[float], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False) -> pd.DataFrame | None:
    """The long table of :func:`~xai_helpers.concepts.tcav_study` for one concept and layer: one row per (CAV,
    class) for the concept's draws (role ``concept`` or ``control``) and the null (``baseline``). ``cavs`` and
    ``gradients`` are caches kept between calls (keyed by ``model_key``, the checkpoint); ``progress(share)`` is
    called after each CAV; returns None as soon as ``cancelled()``."""
    if len(concept.draws) != len(counterparts) or len(null) != len(counterparts):
        raise ValueError(f"{concept.key}: need one draw per random counterpart ({len(counterparts)}); got "
                         f"{len(concept.draws)} concept and {len(null)} null draws")
    cavs = {} if cavs is None else cavs
    gradients = {} if gradients is None else gradients
    jobs = [(role, key, i, images) for role, key, draws in ((concept.role, concept.key, concept.draws),
                                                          ("baseline", "random", null))
            for i, images in enumerate(draws)]
    for done, (role, key, i, images) in enumerate(jobs, 1):
        if cancelled():
            return None
        if (model_key, layer, key, i) not in cavs:
            cavs[(model_key, layer, key, i)] = _cav(model, layer, images, counterparts[i], seed)
        if progress:
            progress(done / (len(jobs) + 1))
    vectors = torch.stack([cavs[(model_key, layer, key, i)].vector for _, key, i, _ in jobs])
    rows = []
    for cls, images in inputs.items():
        if (model_key, layer, cls) not in gradients:
            gradients[(model_key, layer, cls)] = layer_gradients(model, layer, images, int(cls))
        sign, magnitude = directional_derivatives(gradients[(model_key, layer, cls)], vectors)
        for (role, key, i, _), score, mag in zip(jobs, sign, magnitude):
            rows.append({"concept": concept.key if role != "baseline" else "random", "role": role, "draw": i,
                         "layer": layer, "class_index": int(cls), "tcav_score": float(score), "magnitude": float(mag),
                         "cav_accuracy": cavs[(model_key, layer, key, i)].accuracy})
    if progress:
        progress(1.0)
    return pd.DataFrame(rows)


def is_cached(layer: str, concept: Concept, n_draws: int, classes, *, model_key: str, cavs: dict,
              gradients: dict) -> bool:
    """Whether :func:`concept_scores` would answer from the caches alone (then it takes milliseconds)."""
    return (all((model_key, layer, key, i) in cavs for key in (concept.key, "random") for i in range(n_draws))
            and all((model_key, layer, int(c)) in gradients for c in classes))


def verdict(row: dict) -> str:
    """The test's outcome in words: significant (and which way), not significant, or not tested and why."""
    if not row["tested"]:
        return (f"not tested: {row['n_cavs_flagged']} of {row['n_cavs']} CAVs are below the held-out accuracy "
                f"threshold, so the concept has no reliable direction at this layer")
    if row["significant"]:
        towards = "towards" if row["tcav_score"] > row["null_score"] else "away from"
        return f"significant: the concept pushes {towards} the class more than random directions do"
    return "not significant: the scores are not told apart from random-vs-random scores"


def concept_test_view(table: pd.DataFrame, target: int, *, min_cav_accuracy: float = MIN_CAV_ACCURACY,
                      alpha: float = ALPHA) -> dict:
    """The tester's answer from :func:`concept_scores`'s table: per class the paired test against the null with
    Holm's correction over the classes (``results``), and for class ``target`` the per-draw scores of the concept
    and of the null, the held-out CAV accuracies, the p-values and the verdict."""
    classes = sorted(table.class_index.unique())
    if target not in classes:
        raise ValueError(f"target class {target!r} is not allowed: expected one of {classes}")
    results = correct(compare_with_null(table, min_cav_accuracy), alpha)
    row = {k: json_value(v) for k, v in results[results.class_index == target].iloc[0].items()}
    row["significant"] = bool(row["significant"])
    row["tested"] = bool(row["tested"])
    mine = table[table.class_index == target]
    concept, null = mine[mine.role != "baseline"].sort_values("draw"), mine[mine.role == "baseline"].sort_values("draw")
    return {"target": target, "results": results, "row": row, "verdict": verdict(row), "alpha": alpha,
            "min_cav_accuracy": min_cav_accuracy, "family": len(classes),
            "concept_scores": concept.tcav_score.to_numpy(), "null_scores": null.tcav_score.to_numpy(),
            "cav_accuracy": concept.cav_accuracy.to_numpy(), "null_cav_accuracy": null.cav_accuracy.to_numpy(),
            "kept": (concept.cav_accuracy >= min_cav_accuracy).to_numpy() | (concept.role == "control").to_numpy()}


def concept_record(view: dict, classes) -> dict:
    """The numbers of a tester view as plain JSON types (the export)."""
    per_class = {str(classes[int(r.class_index)]): {**{f: json_value(getattr(r, f)) for f in
                                                       ("tcav_score", "null_score", "cav_accuracy", "p_value",
                                                        "p_value_corrected", "significant", "tested")},
                                                    "n_cavs_flagged": int(r.n_cavs_flagged)}
                 for r in view["results"].itertuples()}
    return {"concept": view["concept"], "concept_note": view["note"], "model": view["model"],
            "model_checkpoint": view["checkpoint"], "layer": view["layer"], "target_class": classes[view["target"]],
            "verdict": view["verdict"], "alpha": view["alpha"], "min_cav_accuracy": view["min_cav_accuracy"],
            "correction": f"holm over the {view['family']} classes", "test": "paired t-test against random-vs-random",
            **{k: view["row"][k] for k in ("tcav_score", "null_score", "p_value", "p_value_corrected", "significant",
                                           "tested")},
            "concept_scores": np.asarray(view["concept_scores"]).tolist(),
            "null_scores": np.asarray(view["null_scores"]).tolist(),
            "cav_accuracy": np.asarray(view["cav_accuracy"]).tolist(), "per_class": per_class}
