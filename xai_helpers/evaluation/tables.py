"""The study's evaluation tables, read from a run folder's metrics files, with intervals over seeds.

A run made with ``run_all.sh --seeds 0,1,2`` keeps one sub-folder per seed (``seed-0/metrics/…``); a
single-seed run keeps ``metrics/`` at its root. Every number comes from those files: nothing is recomputed
or typed in. With one seed the intervals are NaN (an interval needs at least two values), and the tables say
how many seeds they rest on.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

# SHORTCUT_RATE_MIN: the share of patched test images 02's shortcut model must call its class
from ..cnn import DEGENERATE_MAX_SHARE, INPUT_INDEPENDENT_MIN, SHORTCUT_RATE_MIN
from ..latent import mean_over_seeds
from ..study import run_layout
from ..study import cost_table  # noqa: F401  (06 reads it here with the other tables)
from .quantities import EXPLANATION_GRADED, quantity
from .statistics import mean_ci, paired_difference

CLASSIFIERS = {"plain": "plain CNN", "attention": "attention CNN"}
CLASSIFICATION_METRICS = {"test_accuracy": "accuracy", "macro_f1": "macro-F1", "ece": "calibration error (ECE)"}
FIDELITY_METRICS = {"fid": "FID", "kid_mean": "KID", "inception_score": "IS", "precision": "precision",
                    "recall": "recall", "density": "density", "coverage": "coverage",
                    "classes_covered": "classes covered"}
def table_or_reason(build, *args):
    """``(build(*args), None)``, or ``(None, the reason)`` where the table's notebook did not run in this run."""
    try:
        return build(*args), None
    except FileNotFoundError as err:
        return None, str(err)


def seed_folders(run_root: str | Path) -> dict[int, Path]:
    """``{seed: folder holding metrics/}`` of a run: its ``seed-N`` sub-folders, or the run itself."""
    root = Path(run_root)
    if not root.is_dir():
        raise FileNotFoundError(f"run folder {root} does not exist")
    subs = run_layout.seed_folders(root)
    if subs:
        return subs
    pattern = run_layout.metrics_file(root, "*")
    metrics = sorted(pattern.parent.glob(pattern.name))
    if not metrics:
        raise FileNotFoundError(f"no metrics/*.json and no seed-N folders in {root}")
    seed = json.loads(metrics[0].read_text()).get("seed", 0)
    return {int(seed): root}


def metrics_over_seeds(run_root: str | Path, notebook: str) -> dict[int, dict]:
    """``{seed: metrics dict}`` of one notebook, for every seed whose file exists."""
    out = {}
    for seed, folder in seed_folders(run_root).items():
        path = run_layout.metrics_file(folder, notebook)
        if path.exists():
            out[seed] = json.loads(path.read_text())
    if not out:
        raise FileNotFoundError(f"no metrics/{notebook}.json in {run_root}")
    return out


def _clip(low: float, high: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """An interval clipped to ``bounds`` (NaN, i.e. no interval, stays NaN)."""
    return (low if math.isnan(low) else max(low, bounds[0]), high if math.isnan(high) else min(high, bounds[1]))


def _summary(values, confidence: float, bounds: tuple[float, float] = (-math.inf, math.inf)) -> dict:
    """Mean and Student-t interval over seeds, the interval clipped to the metric's range ``bounds``."""
    v = np.asarray([x for x in values if x is not None], float)
    ci = mean_ci(v, confidence)
    low, high = _clip(ci["low"], ci["high"], bounds)
    return {"mean": ci["mean"], "ci_low": low, "ci_high": high, "n_seeds": ci["n"]}


def classification_table(run_root: str | Path, confidence: float = 0.95) -> pd.DataFrame:
    """The classifiers 01 evaluated: mean and t-interval over seeds of accuracy, macro-F1 and ECE. For the study's
    plain and attention CNNs also the paired difference attention − plain with its interval and paired t-test
    p-value (seeds are the pairs); a supplied model (``model_source``) is one row per metric, under its own name.
    Intervals are clipped to the metric's range, [0, 1], and differences to [−1, 1]."""
    runs = metrics_over_seeds(run_root, "01_cnn_training")
    seeds = sorted(runs)
    archs = [a for a in runs[seeds[0]]["models"] if all(a in runs[s]["models"] for s in seeds)]
    rows = []
    for key, label in CLASSIFICATION_METRICS.items():
        values = {arch: [runs[s]["models"][arch][key] for s in seeds] for arch in archs}
        for arch in archs:
            rows.append({"metric": label, "model": CLASSIFIERS.get(arch, arch),
                         **_summary(values[arch], confidence, quantity(label).range)})
        if len(seeds) >= 2 and set(CLASSIFIERS) <= set(archs):
            d = paired_difference(values["attention"], values["plain"], confidence)
            lo, hi = quantity(label).range
            low, high = _clip(d["low"], d["high"], (lo - hi, hi - lo))
            rows.append({"metric": label, "model": "attention − plain", "mean": d["mean_diff"], "ci_low": low,
                         "ci_high": high, "n_seeds": d["n"], "p_paired_t": d["p"]})
    return pd.DataFrame(rows).set_index(["metric", "model"])


def fidelity_table(run_root: str | Path, confidence: float = 0.95) -> pd.DataFrame:
    """Generative fidelity (04) of the GAN beside its calibration rows (real vs real, the one-class generator),
    each metric as mean and t-interval over seeds, clipped to the metric's range (:mod:`.quantities`)."""
    runs = metrics_over_seeds(run_root, "04_gan_dynamics")
    sources = {"GAN": lambda m: m, "real vs real (floor)": lambda m: m["real_vs_real"],
               "one-class generator (collapsed)": lambda m: m["collapsed"]}
    rows = []
    for row, pick in sources.items():
        for key, label in FIDELITY_METRICS.items():
            rows.append({"set": row, "metric": label,
                         **_summary([pick(m).get(key) for m in runs.values()], confidence, quantity(label).range)})
    return pd.DataFrame(rows).set_index(["set", "metric"])


#: 04's memorisation results (generator key in the metrics: row label) and the measures of the table.
MEMORISATION_SETS = {"gan": "GAN", "copycat": "copycat (planted copier)"}
MEMORISATION_METRICS = {"near_copy_share": "near-copy share", "data_copying_z": "Z_U",
                        "median_distance_ratio": "median distance ratio", "flagged": "flagged (share of seeds)"}


def memorisation_table(run_root: str | Path, confidence: float = 0.95) -> pd.DataFrame:
    """Does the GAN copy its training images (04, :mod:`xai_helpers.gan.memorisation`)? The GAN beside the planted
    copycat that must be flagged, each measure as mean and t-interval over seeds; ``flagged`` as the share of seeds."""
    runs = metrics_over_seeds(run_root, "04_gan_dynamics")
    missing = [seed for seed, m in runs.items() if "memorisation" not in m]
    if missing:
        raise FileNotFoundError(f"04's metrics of seeds {missing} have no memorisation results (made before issue 36)")
    rows = []
    for key, label in MEMORISATION_SETS.items():
        for metric, name in MEMORISATION_METRICS.items():
            values = [float(m["memorisation"][key][metric]) for m in runs.values()]
            bounds = (0.0, 1.0) if metric in ("near_copy_share", "flagged") else (-math.inf, math.inf)
            rows.append({"set": label, "metric": name, **_summary(values, confidence, bounds)})
    return pd.DataFrame(rows).set_index(["set", "metric"])


#: The similarities of a map before and after model randomisation (lower = the explanation depends on the model),
#: ranked by :func:`_sanity_rank`. The Spearman one is the mean per-image |ρ| over the maps that are not constant
#: (02's ``randomization_abs_spearman``), the figure its sanity check passes on; the signed mean
#: ``randomization_spearman`` is shown, not ranked (opposite signs cancel in it). Smooth MPRT compares with the same
#: fully randomised model, so a method whose maps turn constant there is degenerate for it too (NaN: no ranking).
RANDOMIZATION_SIMILARITIES = ("randomization_abs_spearman", "randomization_ssim", "smooth_mprt")


def _flat_numbers(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


def explained_methods(m: dict) -> dict:
    """02's methods that explained the model; those it left out (``{"skipped": reason}``) are not results."""
    return {k: v for k, v in m["methods"].items() if "skipped" not in v}


def explanation_table(run_root: str | Path, readable: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attribution methods (02): ``(means, ranks)``. ``means`` holds every numeric metric of each method
    (nested ones as ``deletion_auc.zero`` …) averaged over seeds, plus ``n_seeds``; ``ranks`` ranks the methods
    on each graded metric (1 = best, ties share the lower rank, :mod:`.quantities`) and their mean
    rank. Methods a seed did not run are left out of its mean, not counted as 0, and so are a seed's ground-truth
    scores when its shortcut model did not learn the patch. The randomisation Spearman is
    ranked by the mean per-image |ρ|, and methods whose maps are mostly degenerate (constant) come last on both
    randomisation metrics (:func:`_sanity_rank`); ``means`` also keeps the signed mean. With ``readable`` (the
    measures that pass :mod:`.measure_reliability`), the mean rank averages those only; every graded metric is
    still ranked and shown."""
    runs = metrics_over_seeds(run_root, "02_cnn_attribution")
    frames = [_without_unlearned_ground_truth(pd.DataFrame({m: _flat_numbers(v) for m, v in explained_methods(r).items()}).T, r)
              for r in runs.values()]
    stacked = pd.concat(frames, keys=list(runs), names=["seed", "method"])
    means = stacked.groupby(level="method").mean()
    means["n_seeds"] = stacked.groupby(level="method").size()
    graded = [c for c in EXPLANATION_GRADED if c in means]
    ranks = pd.DataFrame({c: _sanity_rank(stacked, means, c) if c in RANDOMIZATION_SIMILARITIES
                          else (_gradable(means, c) * -quantity(c).better).rank(method="min") for c in graded})
    used = graded if readable is None else [c for c in graded if c in set(readable)]
    ranks["mean rank"] = ranks[used].mean(axis=1) if used else np.nan
    return means, ranks.sort_values("mean rank")


#: 02's scores against the planted patch: they grade explanations only where the shortcut model learned the patch.
GROUND_TRUTH_COLUMNS = ("pointing_game", "relevance_mass_accuracy", "relevance_rank_accuracy",
                        "pointing_game_clean_model")


def _without_unlearned_ground_truth(frame: pd.DataFrame, m: dict) -> pd.DataFrame:
    """A seed's method table with the ground-truth columns blanked (NaN: left out of means and ranks) where that
    seed's shortcut model did not learn the patch (shortcut rate below the study's minimum): pointing at a patch
    the model ignores is no merit, and ranking on it would reward chance."""
    rate = m.get("shortcut_rate")
    if rate is None or rate >= SHORTCUT_RATE_MIN:
        return frame
    return frame.assign(**{c: np.nan for c in GROUND_TRUTH_COLUMNS if c in frame})


def _gradable(means: pd.DataFrame, column: str) -> pd.Series:
    """A metric's means, blank (not ranked) where they are no merit: max-sensitivity of a method whose maps of
    different images are nearly the same (02's ``cross_image_similarity`` ≥ :data:`INPUT_INDEPENDENT_MIN`) is
    about 0 because the map ignores the input (issue 29: Deconvolution ranked first at 0.000)."""
    if column != "max_sensitivity" or "cross_image_similarity" not in means:
        return means[column]
    return means[column].where(~(means["cross_image_similarity"] >= INPUT_INDEPENDENT_MIN))


def _sanity_rank(stacked: pd.DataFrame, means: pd.DataFrame, column: str) -> pd.Series:
    """Rank on a randomisation similarity (:data:`RANDOMIZATION_SIMILARITIES`, averaged over seeds), with methods
    whose maps are *mostly* degenerate after randomisation ranked after all others (sharing the rank after the last
    other method).

    A constant map says nothing about the model, so a method whose maps mostly turned constant must not rank as the
    best possible result. A few constant maps among many do not decide (issue 29: Grad-CAM, |ρ| 0.107 with 1 of 8
    maps constant, ranked below Guided Backprop's textbook failure, ρ 0.539, when any constant map in any seed put
    a method last): the share is 02's ``randomization_degenerate_share``, averaged over seeds, against
    :data:`~xai_helpers.cnn.explanation_metrics.DEGENERATE_MAX_SHARE`. A NaN similarity (no usable map) is
    degenerate too."""
    score = stacked[column].groupby(level="method").mean().reindex(means.index)
    share = means.get("randomization_degenerate_share", pd.Series(0.0, index=means.index)).fillna(0)
    degenerate = score.isna() | (share > DEGENERATE_MAX_SHARE)
    ranks = score.where(~degenerate).rank(method="min")
    return ranks.fillna(float((~degenerate).sum() + 1))


def _quantity_table(rows: dict[str, list], confidence: float, bounds: dict[str, tuple]) -> pd.DataFrame:
    """``{quantity: [value per seed]}`` → mean and t-interval over seeds per quantity (missing values left out),
    each interval clipped to the quantity's ``bounds`` (unbounded where none is given)."""
    out = {}
    for name, values in rows.items():
        values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if values:
            out[name] = _summary(values, confidence, bounds.get(name, (-math.inf, math.inf)))
    return pd.DataFrame(out).T.rename_axis("quantity")


#: The planted-pattern row of :func:`tcav_table` per rate: what 03's ``planted_significant`` holds.
PLANTED_FOUND = "found (significant, above the null)"


def tcav_table(run_root: str | Path, confidence: float = 0.95) -> pd.DataFrame:
    """TCAV (03) in numbers over seeds: the share of significant tests, random controls found significant, CAVs
    flagged for low held-out accuracy, and the planted pattern's TCAV score (at 03's headline layer) and
    significance at each planting rate (a significance row's mean is the share of seeds where the pattern was
    found at some layer; seeds where no layer was tested are left out, and the row is absent if none was)."""
    runs = metrics_over_seeds(run_root, "03_tcav")
    rows: dict[str, list] = {"share of tests significant (Holm)": [], "random controls significant": [],
                             "CAVs flagged (held-out accuracy too low)": []}
    for m in runs.values():
        rows["share of tests significant (Holm)"].append(m["n_significant"] / m["n_tests"] if m["n_tests"] else None)
        rows["random controls significant"].append(m["random_controls_significant"])
        rows["CAVs flagged (held-out accuracy too low)"].append(m.get("n_cavs_flagged"))
        for rate, score in sorted(m["planted_tcav_score"].items(), key=lambda kv: float(kv[0])):
            rows.setdefault(f"planted pattern at {float(rate):.0%}: TCAV score", []).append(score)
            found = m["planted_significant"].get(rate)  # None: no layer tested, left out of the share
            rows.setdefault(f"planted pattern at {float(rate):.0%}: {PLANTED_FOUND}", []).append(
                None if found is None else float(found))
    bounds = {name: (0.0, math.inf) if name.startswith(("random controls", "CAVs")) else (0.0, 1.0) for name in rows}
    return _quantity_table(rows, confidence, bounds)


def latent_table(run_root: str | Path, confidence: float = 0.95) -> pd.DataFrame:
    """The latent-space summary of 05 over seeds: the exactness checks (Jacobian against finite differences,
    latent IG completeness), the effective dimension of E[JᵀJ], strength and selectivity of each direction
    family, and, per dissected concept, the ablation effect of the top units against random units."""
    runs = metrics_over_seeds(run_root, "05_gan_latent")
    rows: dict[str, list] = {"Jacobian vs finite differences, relative error": [],
                             "latent IG completeness error": [], "E[JᵀJ] effective dimension": []}
    for m in runs.values():
        rows["Jacobian vs finite differences, relative error"].append(m.get("sensitivity_autograd_vs_fd_rel_err"))
        rows["latent IG completeness error"].append(m.get("latent_ig_completeness_err"))
        rows["E[JᵀJ] effective dimension"].append(m.get("jtj_effective_dimension"))
        for family, v in m.get("direction_families", {}).items():
            for key in ("strength", "selectivity"):
                rows.setdefault(f"directions {family}: {key}", []).append(v.get(key))
        for concept, v in m.get("dissection", {}).items():
            rows.setdefault(f"dissection '{concept}': ablation effect, top units", []).append(v.get("ablation_effect_top"))
            rows.setdefault(f"dissection '{concept}': ablation effect, random units", []).append(
                v.get("ablation_effect_random"))
    bounds = {name: (0.0, math.inf) for name in rows if "error" in name or "strength" in name}
    bounds["E[JᵀJ] effective dimension"] = (1.0, math.inf)  # a participation ratio: between 1 and the latent size
    return _quantity_table(rows, confidence, bounds)


def disentanglement_table(run_root: str | Path) -> pd.DataFrame:
    """05's disentanglement scores of each model (rows) over seeds: plain means, except FactorVAE and BetaVAE, whose
    raw accuracies are averaged before the chance correction (clipping each seed at 0 first would put random codes
    above 0; see :func:`xai_helpers.latent.disentanglement.mean_over_seeds`)."""
    per_seed = [m["disentanglement"] for m in metrics_over_seeds(run_root, "05_gan_latent").values()]
    models = list(dict.fromkeys(model for scores in per_seed for model in scores))
    return pd.DataFrame({model: mean_over_seeds([scores[model] for scores in per_seed]) for model in models}).T


def format_interval(table: pd.DataFrame, digits: int = 4) -> pd.Series:
    """``mean [low, high]`` strings (just the mean where there is no interval) for Markdown/HTML tables."""
    def fmt(r):
        mean = f"{r['mean']:.{digits}g}"
        if np.isnan(r["ci_low"]):
            return mean
        return f"{mean} [{r['ci_low']:.{digits}g}, {r['ci_high']:.{digits}g}]"
    return table.apply(fmt, axis=1)
