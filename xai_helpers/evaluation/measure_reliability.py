"""Which explanation measures can be read on this model, over the run's seeds (06). 02 judges each measure on one
seed (:mod:`xai_helpers.cnn.measure_reliability`: noise resilience for input and weights, adversary reactivity);
here those figures are averaged over seeds, and a third criterion is added that only several seeds can give: does
the measure's ranking of the methods survive a change of seed (the mean Spearman ρ over methods between every pair
of seeds)? A measure is **readable** when it passed in every seed and, with two or more seeds, its seed stability is
at least :data:`SEED_STABILITY_MIN`; with one seed the table says that the stability was not judged. 06's mean rank
of the methods uses the readable measures only.
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .tables import _flat_numbers, explained_methods, metrics_over_seeds

#: With several seeds, a readable measure ranks the methods alike between seeds: mean ρ at least this.
SEED_STABILITY_MIN = 0.5


def _seed_stability(runs: dict[int, dict], measure: str) -> float:
    """Mean Spearman ρ over the methods between every pair of seeds' scores of ``measure``; NaN with one seed."""
    scores = {seed: pd.Series({m: _flat_numbers(v).get(measure, np.nan) for m, v in explained_methods(r).items()})
              for seed, r in runs.items()}
    rhos = []
    for a, b in combinations(scores.values(), 2):
        both = pd.concat([a, b], axis=1).dropna()
        if len(both) >= 3 and both.nunique().min() > 1:
            rhos.append(spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def measure_reliability_table(run_root: str | Path) -> pd.DataFrame:
    """Per measure: mean ``nr_input``, ``nr_weights``, ``ar`` over seeds, ``passed_seeds`` (share of seeds in which
    02's judgement passed), ``seed_stability``, ``readable`` and ``note``."""
    runs = metrics_over_seeds(run_root, "02_cnn_attribution")
    missing = [seed for seed, m in runs.items() if "measure_reliability" not in m]
    if missing:
        raise FileNotFoundError(f"02's metrics of seeds {missing} have no measure reliability (made before issue 36)")
    frames = {seed: pd.DataFrame(m["measure_reliability"]).T for seed, m in runs.items()}
    rows = {}
    for measure in next(iter(frames.values())).index:
        per_seed = pd.DataFrame({seed: f.loc[measure] for seed, f in frames.items()}).T
        stability = _seed_stability(runs, measure) if len(runs) > 1 else float("nan")
        passed = per_seed["passes"].astype(bool).mean()
        stable = len(runs) == 1 or (np.isfinite(stability) and stability >= SEED_STABILITY_MIN)
        reasons = sorted({r for r in per_seed["reason"] if r})
        note = "; ".join(reasons) or ("one seed: stability over seeds not judged" if len(runs) == 1 else "")
        rows[measure] = {**{k: pd.to_numeric(per_seed[k]).mean() for k in ("nr_input", "nr_weights", "ar")},
                         "passed_seeds": float(passed), "seed_stability": stability,
                         "readable": bool(passed == 1 and stable), "note": note}
    return pd.DataFrame(rows).T.rename_axis("measure")


def readable_measures(table: pd.DataFrame | None) -> list[str] | None:
    """The measures a mean rank may use; None (every graded measure) where the run has no reliability table."""
    return None if table is None else [m for m, ok in table["readable"].items() if ok]
