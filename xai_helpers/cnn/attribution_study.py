"""The attribution study of notebook 02 as functions: every method on the same images, and each quality
metric per method as a table. Each function returns plain data (dicts of arrays, DataFrames)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
import torch
from scipy.stats import kendalltau, pearsonr

from . import explanation_metrics as em
from .attenuation import attenuation_channels, attenuation_effect, taylor_channel_scores, taylor_prediction
from .attribution import METHODS, explain, heatmap
from .localisation import localisation_chance, relevance_mass_accuracy, relevance_rank_accuracy
from .road import road_curves
from .superpixels import DEFAULT_SUPERPIXELS, uses_superpixels
from .train import predict_logits


def method_options(config: dict, image_side: int | None = None) -> dict[str, dict]:
    """Per-method options from a profile (the expensive knobs only); from :data:`.superpixels.SUPERPIXEL_MIN_SIDE`
    pixels on, occlusion, LIME and KernelSHAP work on SLIC superpixels instead of fixed blocks."""
    options = {
        "integrated_gradients": {"n_steps": config["ig_steps"]},
        "smoothgrad": {"nt_samples": config["smoothgrad_samples"]},
        "gradient_shap": {"n_samples": config["smoothgrad_samples"]},
        "lime": {"n_samples": config["lime_samples"]},
        "kernel_shap": {"n_samples": config["lime_samples"]},
    }
    if image_side is not None and uses_superpixels(image_side):
        for name in ("occlusion", "lime", "kernel_shap"):
            options.setdefault(name, {})["superpixels"] = DEFAULT_SUPERPIXELS
    return options


#: 02's per-image work (every method, the curves, the randomisation cascade) grows with the pixels; the profiles'
#: image counts are sized for images of up to this side and scaled down by area above it (a 224 px image costs a
#: ResNet-18 about 12 times a 64 px one).
LARGE_IMAGE_SIDE = 64
#: The image counts scaled for large images, with the least each may become (n_explain: one image per class).
SCALED_COUNTS = {"n_explain": None, "n_sanity": 2, "n_sensitivity": 2}


def scaled_for_image_size(config: dict, image_side: int, num_classes: int, explicit=()) -> dict[str, int]:
    """The counts of :data:`SCALED_COUNTS` that ``config`` (a resolved profile) gets for ``image_side``-pixel images:
    scaled by ``(LARGE_IMAGE_SIDE / image_side)²`` above :data:`LARGE_IMAGE_SIDE`, never below their least value,
    never above the profile's; names in ``explicit`` (given by the user) keep their value. Returns the changed ones."""
    factor = min(1.0, (LARGE_IMAGE_SIDE / image_side) ** 2)
    changed = {}
    for name, least in SCALED_COUNTS.items():
        if name in explicit or config.get(name) is None or factor == 1.0:
            continue
        least = num_classes if least is None else least
        value = min(config[name], max(least, int(round(config[name] * factor))))
        if value != config[name]:
            changed[name] = value
    return changed


def applicable_methods(model, x, targets, methods, options: dict[str, dict], seed: int = 0):
    """The methods that can explain ``model``, tried on two images, and why the others cannot: (names, reasons).

    A TorchScript model takes no hooks, so the methods that need them are left out without trying; a method that
    raises on the model is left out with its error (LRP has rules for a short list of layer types only;
    :func:`~.attribution.explain` refuses the methods whose rules a torch.export program's lost layer types would
    silently change)."""
    usable, reasons = [], {}
    hookable = getattr(model, "hookable", True)
    for name in methods:
        if METHODS[name].hooks and not hookable:
            reasons[name] = "needs module hooks, which TorchScript models do not take"
            continue
        try:
            explain(model, x[:2], targets[:2], name, seed=seed, **options.get(name, {}))
        except (ValueError, RuntimeError, TypeError, NotImplementedError, LookupError) as err:
            reasons[name] = " ".join(str(err).split())[:200] or type(err).__name__
            continue
        usable.append(name)
    return usable, reasons


#: Integrated Gradients' steps are enough when its attributions are this complete: the convergence delta
#: |Σ attributions − (f(x) − f(baseline))| within 5 % of |f(x) − f(baseline)|, Sundararajan et al.'s own criterion
#: ("somewhere between 20 and 300 steps are enough to approximate the integral (within 5%)").
IG_COMPLETENESS_TOLERANCE = 0.05


def integrated_gradients_steps(model, x, targets, most: int, least: int = 8, seed: int = 0,
                               tolerance: float = IG_COMPLETENESS_TOLERANCE) -> tuple[int, dict[int, float]]:
    """The fewest Integrated Gradients steps among ``least``, ``2·least``, … (at most ``most``, which is always
    tried last) whose attributions of ``x`` (zero baseline) are complete within ``tolerance``: the summed
    |convergence delta| over the summed |f_t(x) − f_t(0)| of the images (pooled, so that an image whose logit hardly
    moves along the path does not dominate). Returns ``(steps, {tried steps: completeness gap})``; ``most`` when
    none is within, its gap then says by how much. Every later explanation (the cascade, max-sensitivity, the
    planted patch) costs a pass per step, so on a ResNet at 224 px this is most of the method's cost."""
    if isinstance(most, bool) or not isinstance(most, (int, np.integer)) or most < 1:
        raise ValueError(f"most = {most!r} is not allowed: expected a positive number of steps")
    tried = sorted({n for n in (least * 2 ** k for k in range(32)) if n < most} | {int(most)})
    targets, rows = torch.as_tensor(targets).cpu(), torch.arange(len(x))
    moved = predict_logits(model, x)[rows, targets] - predict_logits(model, torch.zeros_like(x))[rows, targets]
    gaps = {}
    for n in tried:
        attr = explain(model, x, targets, "integrated_gradients", seed=seed, n_steps=n, baseline=0.0)
        gaps[n] = float((attr.flatten(1).sum(1) - moved).abs().sum() / moved.abs().sum().clamp_min(1e-12))
        if gaps[n] <= tolerance:
            return n, gaps
    return int(most), gaps


def run_attributions(model, x, targets, methods, options: dict[str, dict], progress=print, seed: int = 0):
    """Attributions of every method on the same images (sampling methods seeded with ``seed``); returns
    (attributions, heat maps, images/s) dicts."""
    attributions, heats, speed = {}, {}, {}
    for name in methods:
        t0 = time.perf_counter()
        attributions[name] = explain(model, x, targets, name, seed=seed, **options.get(name, {}))
        speed[name] = len(x) / (time.perf_counter() - t0)
        heats[name] = heatmap(attributions[name])
        if progress:
            progress(f"[progress] {name}: {speed[name]:.1f} images/s")
    return attributions, heats, speed


def heats_for(model, images, targets, indices, methods, options: dict[str, dict], explained=None, heats=None,
              seed: int = 0) -> dict[str, torch.Tensor]:
    """Heat maps of ``images[indices]`` for ``targets[indices]`` by every method; an image that is also among
    ``explained`` (indices into the same images, explained for the same targets) takes its map from ``heats``
    rather than being explained again (at 224 px each image costs every method seconds)."""
    indices = torch.as_tensor(indices).long()
    known = {} if explained is None else {int(i): k for k, i in enumerate(torch.as_tensor(explained).tolist())}
    new = [int(i) for i in indices.tolist() if int(i) not in known]
    fresh_at = {i: k for k, i in enumerate(new)}
    out = {}
    for name in methods:
        fresh = (heatmap(explain(model, images[new], targets[new], name, seed=seed, **options.get(name, {})))
                 if new else None)
        out[name] = torch.stack([heats[name][known[i]] if i in known else fresh[fresh_at[i]]
                                 for i in indices.tolist()])
    return out


def faithfulness_table(model, x, targets, heats: dict, substrates=("zero", "blur", "road"), steps: int = 28,
                       seed: int = 0):
    """Deletion and insertion AUC per method and substrate, with a ``random`` row; plus the mean curves. The
    ``road`` substrate is ROAD's noisy linear imputation (:mod:`.road`): its curves are MoRF and LeRF.

    Returns ``(table, curves)``: table columns ``deletion_auc_<substrate>``, ``insertion_auc_<substrate>`` (for
    ``road``: ``road_morf_auc``, ``road_lerf_auc``); ``curves[(method, substrate)] = (mean deletion or MoRF curve,
    mean insertion or LeRF curve)``."""
    gen = torch.Generator().manual_seed(seed)
    maps = dict(heats, random=em.random_heatmap(next(iter(heats.values())).shape, gen))
    rows, curves = {}, {}
    for name, heat in maps.items():
        row = {}
        for kind in substrates:
            if kind == "road":  # the same imputation noise for every method
                morf, lerf = road_curves(model, x, targets, heat, steps, seed=seed + 2, tie_seed=seed)
                row["road_morf_auc"], row["road_lerf_auc"] = em.curve_auc(morf), em.curve_auc(lerf)
                curves[name, kind] = (morf.mean(0), lerf.mean(0))
                continue
            noise_gen = torch.Generator().manual_seed(seed + 1)  # the same noise substrate for every method
            deletion, insertion = em.deletion_insertion_curves(model, x, targets, heat, kind, steps,
                                                               generator=noise_gen, tie_seed=seed)
            row[f"deletion_auc_{kind}"] = em.curve_auc(deletion)
            row[f"insertion_auc_{kind}"] = em.curve_auc(insertion)
            curves[name, kind] = (deletion.mean(0), insertion.mean(0))
        rows[name] = row
    return pd.DataFrame(rows).T, curves


#: Per kind of curve, the column of each substrate: if the substrate did not matter, their rankings of the methods
#: would agree. ROAD's MoRF removes the most relevant pixels first, as deletion does; its LeRF has no counterpart.
SUBSTRATE_COLUMNS = {"deletion": {"zero": "deletion_auc_zero", "blur": "deletion_auc_blur", "road": "road_morf_auc"},
                     "insertion": {"zero": "insertion_auc_zero", "blur": "insertion_auc_blur"}}


def substrate_rank_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Kendall τ between the method rankings of every pair of substrates the table holds (deletion: zero, blur and
    ROAD; insertion: zero and blur), over the methods only (the random baseline is left out: it is last under every
    substrate and would inflate τ). Rows ``"<curve>: <substrate> vs <substrate>"``."""
    table = table.drop(index="random", errors="ignore")
    rows = {}
    for kind, columns in SUBSTRATE_COLUMNS.items():
        present = [(s, c) for s, c in columns.items() if c in table]
        for (first, a), (second, b) in combinations(present, 2):
            rows[f"{kind}: {first} vs {second}"] = {"kendall_tau": float(kendalltau(table[a], table[b]).statistic)}
    return pd.DataFrame(rows).T


def robustness_table(model, x, targets, attributions: dict, options: dict, n_sensitivity: int,
                     noise_std: float = 0.05, radius: float = 0.02, seed: int = 0) -> pd.DataFrame:
    """captum infidelity (all explained images; same seeded perturbations for every method) and
    max-sensitivity (the first ``n_sensitivity`` images), plus a ``zero`` row: the infidelity of an all-zero
    attribution, i.e. of explaining nothing."""
    rows = {}
    for name, attr in attributions.items():
        rows[name] = {
            "infidelity": em.infidelity_score(model, x, targets, attr, noise_std=noise_std, seed=seed),
            "max_sensitivity": em.max_sensitivity(model, x[:n_sensitivity], targets[:n_sensitivity], name,
                                                  radius=radius, seed=seed, **options.get(name, {})),
        }
    zero = torch.zeros_like(next(iter(attributions.values())))
    rows["zero"] = {"infidelity": em.infidelity_score(model, x, targets, zero, noise_std=noise_std, seed=seed),
                    "max_sensitivity": float("nan")}
    return pd.DataFrame(rows).T


def sanity_records(model, x, targets, methods, options: dict, seed: int = 0) -> pd.DataFrame:
    """Cascading randomisation for every method: a long table (method, step and the columns of
    :func:`~xai_helpers.cnn.explanation_metrics.cascading_randomization`)."""
    cascades = em.randomisation_cascade(model, x, targets, {name: options.get(name, {}) for name in methods}, seed=seed)
    return pd.DataFrame([{"method": name, "step": step, **rec}
                         for name in methods for step, rec in enumerate(cascades[name])])


def sanity_summary(sanity: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per method, the similarities after full randomisation (the last step of :func:`sanity_records`) and
    whether it passes (:func:`~xai_helpers.cnn.explanation_metrics.sanity_pass`)."""
    final = sanity[sanity.step == sanity.step.max()].set_index("method")
    return pd.DataFrame({
        "spearman_after_full_randomisation": final.spearman,
        "abs_spearman_after_full_randomisation": final.abs_spearman,
        "ssim_after_full_randomisation": final.ssim,
        "degenerate_maps": final.degenerate, "degenerate_share": final.degenerate_share,
        "efficient_mprt": final.complexity_change,
        "passes": [em.sanity_pass(a, d, threshold) for a, d in zip(final.abs_spearman, final.degenerate_share)]})


def ground_truth_table(heats: dict, boxes: torch.Tensor) -> pd.DataFrame:
    """Per method on the planted patch: the pointing game and its chance level for the method's own maps (their
    granularity, their constant maps), relevance mass and rank accuracy (:mod:`.localisation`) with theirs."""
    return pd.DataFrame({name: {"pointing_game": float(em.pointing_game(h, boxes).mean()),
                                "pointing_chance": em.pointing_chance_for_maps(h, boxes),
                                "relevance_mass_accuracy": float(relevance_mass_accuracy(h, boxes).mean()),
                                "relevance_mass_chance": localisation_chance(h, boxes, "mass"),
                                "relevance_rank_accuracy": float(relevance_rank_accuracy(h, boxes).mean()),
                                "relevance_rank_chance": localisation_chance(h, boxes, "rank")}
                         for name, h in heats.items()}).T


def attenuation_correlation(measured: np.ndarray, predicted: np.ndarray) -> float:
    """Pearson correlation between measured and first-order-predicted logit changes (flattened)."""
    return float(pearsonr(np.ravel(measured), np.ravel(predicted)).statistic)


def per_image_channel_correlation(measured: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """For each image, the Pearson correlation across channels of measured and predicted ablation effects
    (``measured``/``predicted`` shaped (channels, images)); NaN for an image where either is constant."""
    out = []
    for m, p in zip(measured.T, predicted.T):
        out.append(pearsonr(m, p).statistic if m.std() > 0 and p.std() > 0 else np.nan)
    return np.array(out)


@dataclass
class AttenuationStudy:
    """Notebook 02's feature attenuation of one layer: measured logit changes against their first-order prediction."""
    alphas: np.ndarray
    channels: np.ndarray  # the channels attenuated one by one (all, or a spread over the ranking)
    total_channels: int
    measured: np.ndarray  # (channels, alphas): mean measured Δf_c over the images
    predicted: np.ndarray  # (channels, alphas): mean first-order prediction
    per_image: np.ndarray  # per image: correlation across channels of measured and predicted ablation (α = 0)
    pooled_correlation: float  # all channels and factors together
    set_measured: np.ndarray  # the top set of channels attenuated together (α), mean over images
    set_predicted: np.ndarray
    set_correlation: float
    curves_measured: dict[str, np.ndarray] = field(default_factory=dict)  # top, median and bottom channel, top set
    curves_predicted: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def per_image_correlation(self) -> float:
        return float(np.nanmean(self.per_image))


def attenuation_study(model, layer, x, targets, max_channels: int, top_set: int = 8,
                      alphas: np.ndarray | None = None) -> AttenuationStudy:
    """Attenuate each channel of ``layer`` (at most ``max_channels``, spread over the ranking by first-order score:
    :func:`~.attenuation.attenuation_channels`) by the factors ``alphas`` on the images ``x``, and the ``top_set``
    best-scored channels together; compare each measured Δf_c(α) with its first-order Taylor prediction
    (:mod:`.attenuation`). Curves are kept for the top, median and bottom channel and the top set. ``alphas``:
    0, 0.1, …, 1 unless given."""
    alphas = np.linspace(0, 1, 11) if alphas is None else np.asarray(alphas)
    scores = taylor_channel_scores(model, layer, x, targets)
    order = np.argsort(-scores.mean(0))
    channels = attenuation_channels(order, max_channels)
    total = len(order)
    scores = scores[:, channels]
    order = np.argsort(-scores.mean(0))
    effects = np.stack([attenuation_effect(model, layer, x, targets, [channels[k]], alphas)
                        for k in range(scores.shape[1])])  # (channels, alphas, images)
    measured = effects.mean(2)
    predicted = np.array([taylor_prediction(scores, [k], alphas).mean(1) for k in range(scores.shape[1])])
    per_image = per_image_channel_correlation(effects[:, 0], scores.T)  # alphas[0] = 0: ablation; Taylor at 0
    top = order[:top_set]
    set_measured = attenuation_effect(model, layer, x, targets, channels[top], alphas).mean(1)
    set_predicted = taylor_prediction(scores, top, alphas).mean(1)
    picks = {"top": order[0], "median": order[len(order) // 2], "bottom": order[-1]}
    curves_m = {f"{n} (ch {channels[k]})": measured[k] for n, k in picks.items()}
    curves_p = {f"{n} (ch {channels[k]})": predicted[k] for n, k in picks.items()}
    curves_m[f"top-{top_set} set"], curves_p[f"top-{top_set} set"] = set_measured, set_predicted
    return AttenuationStudy(alphas, channels, total, measured, predicted, per_image,
                            attenuation_correlation(measured, predicted), set_measured, set_predicted,
                            attenuation_correlation(set_measured, set_predicted), curves_m, curves_p)
