"""Which explanation measures can be read on this model? A meta-evaluation after MetaQuantus (Hedström, Bommer,
Wickstrøm, Samek, Lapuschkin & Höhne 2023): a measure worth reading ranks the methods the same way when the input
or the model changes a little, and differently when the model is destroyed.

Every graded measure of 02 that can be recomputed cheaply is scored for every method under four conditions, on the
first ``n`` explained images (the sanity cascade's):

- **original**: the explained model and images;
- **input noise**: each image plus Gaussian noise of std :data:`INPUT_NOISE` of its value range (a change no
  explanation should care about);
- **weight noise**: every parameter multiplied by :math:`1 + \\varepsilon`, :math:`\\varepsilon \\sim \\mathcal N(0,`
  :data:`WEIGHT_NOISE`:math:`^2)` (a model that predicts nearly as the original does: the agreement is reported);
- **disrupted**: every parameter multiplied by :math:`1 + \\varepsilon`, :math:`\\varepsilon \\sim \\mathcal N(0,`
  :data:`DISRUPTION`:math:`^2)` with :data:`DISRUPTION` = 1: weights of random size and often flipped sign, a model
  that has lost what it learned (its agreement with the original is reported too). Not the fully re-drawn model:
  the randomisation measures compare a model with that one, which would then be compared with itself.

Per measure, over the methods, Spearman's ρ between the scores under *original* and under each other condition:
**noise resilience** for input and weights (MetaQuantus's NR; high is good), **adversary reactivity** = 1 − ρ for
the disrupted model (its AR; high is good). A measure **passes** when both resiliences are at least :data:`NR_MIN`
and its reactivity at least :data:`AR_MIN`; these thresholds are the study's choice, printed with the figures so a
reader can apply another. 06 adds the stability over seeds and ranks the methods on the measures that pass.

Differences from MetaQuantus, on purpose: it estimates each measure's score distributions over many perturbation
draws and reports intra- and inter-consistency scores; here one draw per condition and rank correlations over
methods, which is what 02's mean rank uses. Not judged (said in the table): max-sensitivity (each evaluation is
n_perturb explanations per image) and smooth MPRT (N explanations per image and model): recomputing them under
three more conditions would multiply 02's cost. The localisation measures are judged on the shortcut model and its
patched images, under the same conditions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from . import explanation_metrics as em
from .attribution import explain, heatmap
from .captum_ready import clone_classifier
from .complexity import efficient_mprt
from .localisation import relevance_mass_accuracy, relevance_rank_accuracy
from .random_logit import random_logit
from .road import road_curves_for
from .smooth_mprt import fully_randomised, mean_over_maps

CONDITIONS = ("original", "input noise", "weight noise", "disrupted")
#: Input noise std as a share of each image's value range; multiplicative weight noise std, minor and disruptive.
INPUT_NOISE, WEIGHT_NOISE, DISRUPTION = 0.02, 0.02, 1.0
#: A measure passes with noise resilience ≥ NR_MIN for input and weights and adversary reactivity ≥ AR_MIN.
NR_MIN, AR_MIN = 0.6, 0.3
#: Graded measures left out, and why.
NOT_JUDGED = {"max_sensitivity": "each evaluation is n_perturb explanations per image",
              "smooth_mprt": "its denoising is N explanations per image and model"}


def noisy_inputs(x: torch.Tensor, share: float, seed: int) -> torch.Tensor:
    """``x`` plus Gaussian noise of std ``share`` × each image's value range, kept inside that range."""
    low, high = x.amin((1, 2, 3), keepdim=True), x.amax((1, 2, 3), keepdim=True)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed)).to(x)
    return torch.maximum(torch.minimum(x + share * (high - low) * noise, high), low)


def noisy_weights(model: nn.Module, share: float, seed: int) -> nn.Module:
    """A copy of ``model`` with every parameter multiplied by 1 + N(0, ``share``²)."""
    copy = clone_classifier(model).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in copy.parameters():
            p.mul_(1 + share * torch.randn(p.shape, generator=generator).to(p))
    return copy


def conditions(model: nn.Module, x: torch.Tensor, seed: int) -> dict[str, tuple[nn.Module, torch.Tensor]]:
    """``{condition: (model, images)}`` of :data:`CONDITIONS` (the weight noise's draws are the same for every
    model of a run: ``seed``)."""
    return {"original": (model, x), "input noise": (model, noisy_inputs(x, INPUT_NOISE, seed + 11)),
            "weight noise": (noisy_weights(model, WEIGHT_NOISE, seed + 12), x),
            "disrupted": (noisy_weights(model, DISRUPTION, seed + 13), x)}


def _maps(model, x, targets, methods, options, seed):
    attributions = {m: explain(model, x, targets, m, seed=seed, **options.get(m, {})) for m in methods}
    return attributions, {m: heatmap(a) for m, a in attributions.items()}


@torch.no_grad()
def prediction_agreement(model: nn.Module, other: nn.Module, x: torch.Tensor) -> float:
    """The share of images both models assign to the same class (how minor the weight noise is)."""
    device = next(model.parameters()).device
    return float((model(x.to(device)).argmax(1) == other(x.to(device)).argmax(1)).float().mean())


def classifier_scores(model, x, targets, methods, options, num_classes: int, steps: int, seed: int = 0,
                      maps: tuple[dict, dict] | None = None, random_heats: dict | None = None) -> dict:
    """``{method: {measure: value}}`` of the measures computed on the explained model itself. ``maps``:
    ``(attributions, heats)`` of ``model`` on ``x`` when already made; ``random_heats``: the fully randomised
    model's maps of ``x`` when already made (they do not depend on ``model``'s weights, only on its layers)."""
    attributions, heats = maps if maps is not None else _maps(model, x, targets, methods, options, seed)
    if random_heats is None:
        random_heats = _maps(fully_randomised(model, seed), x, targets, methods, options, seed)[1]
    foreground = x.amax(1).cpu() > 0.1
    road = road_curves_for(model, x, targets, {m: heats[m] for m in methods}, steps, seed=seed + 2, tie_seed=seed)
    scores = {}
    for m in methods:
        row = {}
        for kind in ("zero", "blur"):
            deletion, insertion = em.deletion_insertion_curves(model, x, targets, heats[m], kind, steps,
                                                               generator=torch.Generator().manual_seed(seed + 1),
                                                               tie_seed=seed)
            row[f"deletion_auc.{kind}"], row[f"insertion_auc.{kind}"] = em.curve_auc(deletion), em.curve_auc(insertion)
        row["road.morf"], row["road.lerf"] = em.curve_auc(road[m][0]), em.curve_auc(road[m][1])
        row["infidelity"] = em.infidelity_score(model, x, targets, attributions[m], seed=seed)
        row["random_logit"] = float(random_logit(model, x, targets, m, num_classes, heat=heats[m], seed=seed,
                                                 **options.get(m, {})).mean())
        rho = em.foreground_spearman(heats[m], random_heats[m], foreground)
        row["randomization_abs_spearman"] = mean_over_maps(np.abs(rho))
        row["randomization_ssim"] = float(em.map_ssim(heats[m], random_heats[m]).mean())
        row["efficient_mprt"] = mean_over_maps(efficient_mprt(heats[m], random_heats[m]))
        scores[m] = row
    return scores


def localisation_scores(model, patched, boxes, target_class: int, methods, options, seed: int = 0,
                        heats: dict | None = None) -> dict:
    """``{method: {measure: value}}`` of the planted-patch measures for the shortcut ``model`` (``heats``: its maps
    of ``patched`` when already made)."""
    targets = torch.full((len(patched),), target_class)
    heats = heats if heats is not None else _maps(model, patched, targets, methods, options, seed)[1]
    return {m: {"pointing_game": float(em.pointing_game(heats[m], boxes).mean()),
                "relevance_mass_accuracy": float(relevance_mass_accuracy(heats[m], boxes).mean()),
                "relevance_rank_accuracy": float(relevance_rank_accuracy(heats[m], boxes).mean())}
            for m in methods}


def condition_scores(model, x, targets, methods, options, num_classes: int, steps: int, shortcut=None,
                     seed: int = 0, maps: tuple[dict, dict] | None = None, shortcut_heats: dict | None = None
                     ) -> pd.DataFrame:
    """Every measure of every method under every condition: a long table (condition, method, measure, value).
    ``shortcut``: ``(model, patched images, boxes, class)`` for the localisation measures, or None. ``maps``
    (``(attributions, heats)`` of ``model`` on ``x``) and ``shortcut_heats`` (the shortcut model's maps of its
    patched images): the original condition's maps when the notebook has them already. The fully randomised
    model's maps of the unchanged images are made once and serve every condition whose randomised model has the
    same weights (the cascade re-draws every layer of the study's CNNs and of ResNets, so the weight noise does not
    reach it; a Swin keeps its layer norms and position biases, so there each condition explains its own)."""
    rows = []
    classifier = conditions(model, x, seed)
    planted = conditions(shortcut[0], shortcut[1], seed) if shortcut is not None else {}
    randomised = fully_randomised(model, seed)
    random_heats = _maps(randomised, x, targets, methods, options, seed)[1]
    for name, (model_c, x_c) in classifier.items():
        original = name == "original"
        shared = x_c is x and (model_c is model or _same_weights(fully_randomised(model_c, seed), randomised))
        scores = classifier_scores(model_c, x_c, targets, methods, options, num_classes, steps, seed,
                                   maps=maps if original else None, random_heats=random_heats if shared else None)
        if name in planted:
            local = localisation_scores(*planted[name], shortcut[2], shortcut[3], methods, options, seed,
                                        heats=shortcut_heats if original else None)
            scores = {m: {**scores[m], **local[m]} for m in methods}
        rows += [{"condition": name, "method": m, "measure": k, "value": v}
                 for m, row in scores.items() for k, v in row.items()]
    return pd.DataFrame(rows)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def _rank_correlation(a: pd.Series, b: pd.Series) -> float:
    """Spearman's ρ over the methods both score; NaN with fewer than three, or where either does not vary."""
    both = pd.concat([a, b], axis=1).dropna()
    if len(both) < 3 or both.iloc[:, 0].nunique() < 2 or both.iloc[:, 1].nunique() < 2:
        return float("nan")
    return float(spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)


def _unjudged(part: pd.DataFrame) -> str:
    """Why a measure has no figure: the conditions under which fewer than three methods have a varying score."""
    flat = [c for c in CONDITIONS if part[c].dropna().nunique() < 2 or part[c].notna().sum() < 3]
    return f"fewer than three methods with a varying score under {', '.join(flat)}"


def measure_reliability_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per measure: ``nr_input``, ``nr_weights``, ``ar`` and ``passes`` (see the module), ``reason`` where a measure
    could not be judged (fewer than three methods with a score that varies); plus the :data:`NOT_JUDGED` rows."""
    table = scores.pivot_table(index=["measure", "method"], columns="condition", values="value", dropna=False)
    rows = {}
    for measure, part in table.groupby(level="measure"):
        part = part.droplevel("measure")
        nr_input = _rank_correlation(part["original"], part["input noise"])
        nr_weights = _rank_correlation(part["original"], part["weight noise"])
        ar = 1 - _rank_correlation(part["original"], part["disrupted"])
        judged = all(np.isfinite([nr_input, nr_weights, ar]))
        rows[measure] = {"nr_input": nr_input, "nr_weights": nr_weights, "ar": ar,
                         "passes": bool(judged and min(nr_input, nr_weights) >= NR_MIN and ar >= AR_MIN),
                         "reason": "" if judged else _unjudged(part)}
    for measure, why in NOT_JUDGED.items():
        rows[measure] = {"nr_input": np.nan, "nr_weights": np.nan, "ar": np.nan, "passes": False,
                         "reason": f"not judged: {why}"}
    return pd.DataFrame(rows).T.rename_axis("measure")
