r"""Disentanglement metrics of disentanglement_lib (Locatello et al. 2019) for observational data.

We have a pool of N samples. Each has a latent code ``codes[n]`` (shape (N, D): the z that generated a GAN
sample) and factor values ``factors[n]`` read from the image by a regressor (shape (N, K): continuous floats;
a categorical factor, e.g. a shape class, is stored as 0., 1., 2.). There is no simulator, so where a metric
needs "fix factor k and sample the rest", we draw from the pool the samples that share the *discretised*
value of factor k (:func:`discretize`); the other factors then vary as they do in the pool.

The metrics (all in [0, 1], higher is more disentangled):

* MIG, SAP and DCI (with disentanglement_lib's DCI variant beside ours) read how much information about each
  factor each code carries, or how well codes predict it: :mod:`.information_metrics`.
* FactorVAE and BetaVAE scores fix one factor and let a classifier vote for it: :mod:`.intervention_metrics`.

Over seeds: the clipped per-seed ``factorvae`` / ``betavae`` are kept for one-seed tables, but their mean is
biased upwards (random codes land above 0, since the negative draws were clipped). Average the raw
accuracies and correct afterwards without clipping: :func:`mean_over_seeds` does, with
:func:`chance_corrected` and the number of factors each score used (``*_num_factors``).

Why our own implementation: disentanglement_lib is TensorFlow 1, unmaintained and not installable on
Python 3.11, it samples from a ground-truth simulator we do not have, and each metric is a few lines of
numpy and scikit-learn.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .information_metrics import (DCI_DISLIB, _check_pool, chance_corrected, dci, dci_dislib, dci_from_importance,
                                  discretize, entropies, mig, mutual_info_matrix, sap)
from .intervention_metrics import betavae_score, factorvae_score

__all__ = ["CHANCE_CORRECTED", "DCI_DISLIB", "PUBLISHED_ANCHORS", "betavae_score", "chance_corrected", "dci", "dci_dislib",
           "dci_from_importance", "discretize", "disentanglement_scores", "entropies", "factorvae_score",
           "mean_over_seeds", "mig", "mutual_info_matrix", "sap"]


#: Published scores that 05 sets its own beside: the model, its data set, our key of the same metric (MIG with
#: disentanglement_lib's equal-width bins), the value and where it is reported.
PUBLISHED_ANCHORS = ({"model": "InfoGAN-CR", "data": "dSprites", "metric": "mig_equal_width", "value": 0.37,
                      "source": "Lin, Thekumparampil, Fanti & Oh 2020 (InfoGAN-CR)"},)


# --- all of them ------------------------------------------------------------------------------------------

def disentanglement_scores(codes: np.ndarray, factors: np.ndarray, *, seed: int = 0, num_bins: int = 20,
                           categorical: Sequence[bool] | None = None, dislib_estimators: int = 100) -> dict:
    """Every metric above as one flat dict of Python floats (the headline numbers, not the matrices). ``mig`` bins
    by quantiles (fair between codes of different priors), ``mig_equal_width`` as disentanglement_lib does.
    ``dislib_estimators`` is :func:`dci_dislib`'s ``n_estimators`` (keep dislib's 100 for reported numbers).

    ``factorvae`` and ``betavae`` are clipped at 0 per seed; to average seeds, use :func:`mean_over_seeds`,
    which needs ``factorvae_raw`` / ``betavae_raw`` and the number of factors behind each (``*_num_factors``)."""
    codes, factors = _check_pool(codes, factors)
    dci_scores = dci(codes, factors, seed=seed)
    dislib = dci_dislib(codes, factors, seed=seed, num_bins=num_bins, n_estimators=dislib_estimators)
    factorvae = factorvae_score(codes, factors, num_bins=num_bins, seed=seed)
    betavae = betavae_score(codes, factors, num_bins=num_bins, seed=seed)
    return {
        "mig": mig(codes, factors, num_bins=num_bins)["mig"],  # quantile bins: fair across latent priors
        "mig_equal_width": mig(codes, factors, num_bins=num_bins, binning="equal_width")["mig"],  # dislib's
        "sap": sap(codes, factors, categorical=categorical, seed=seed)["sap"],
        "dci_disentanglement": dci_scores["dci_disentanglement"],
        "dci_completeness": dci_scores["dci_completeness"],
        "dci_informativeness": dci_scores["dci_informativeness"],
        **{key: dislib[key] for key in DCI_DISLIB},
        "factorvae": factorvae["factorvae"],
        "factorvae_raw": factorvae["factorvae_raw"],
        "factorvae_num_factors": float(len(factorvae["factors_used"])),
        "betavae": betavae["betavae"],
        "betavae_raw": betavae["betavae_raw"],
        "betavae_num_factors": float(len(betavae["factors_used"])),
    }


#: Chance-corrected score → (its raw accuracy, the number of factors that sets its chance level).
CHANCE_CORRECTED = {"factorvae": ("factorvae_raw", "factorvae_num_factors"),
                    "betavae": ("betavae_raw", "betavae_num_factors")}


def mean_over_seeds(per_seed: Sequence[dict]) -> dict:
    """The mean of several seeds' :func:`disentanglement_scores`: plain means, except that ``factorvae`` and
    ``betavae`` are the mean of each seed's *unclipped* :func:`chance_corrected` raw accuracy (with a constant
    number of factors K, ``chance_corrected(mean raw accuracy, K)``), so that random codes average to ≈ 0.

    A missing value (``None``, as JSON stores NaN) stays NaN in the mean. ``num_seeds`` is added."""
    per_seed = list(per_seed)
    if not per_seed:
        raise ValueError("need the scores of at least one seed")
    keys = list(per_seed[0])
    for s, scores in enumerate(per_seed):
        if set(scores) != set(keys):
            raise ValueError(f"seed {s} has keys {sorted(scores)}, seed 0 has {sorted(keys)}")

    def column(key):
        return np.array([np.nan if scores[key] is None else scores[key] for scores in per_seed], dtype=np.float64)

    out = {key: float(column(key).mean()) for key in keys}
    for score, (raw, num_factors) in CHANCE_CORRECTED.items():
        if score not in out:
            continue
        if num_factors not in out:
            raise ValueError(f"{score!r} needs {num_factors!r} (the chance level) in every seed's scores: rerun "
                             "disentanglement_scores, which records it")
        out[score] = float(np.mean([chance_corrected(a, int(k)) for a, k in zip(column(raw), column(num_factors))]))
    out["num_seeds"] = len(per_seed)
    return out
