"""The study's data sets side by side: what a workflow over several data sets (``workflow/Snakefile``) reports in
``<out>/summary/``.

Each data set's folder (``<out>/<dataset>/``) holds its ``seed-N`` folders and notebook 06's evaluation; every
number here comes from those folders' metrics files through the same functions that build 06's tables
(:mod:`xai_helpers.evaluation.tables`), so a data set's row is the one its own report shows. What is new is the
comparison: which data sets the classifiers and the GAN find hard, whether the attribution methods rank the same
way on every data set (Spearman's ρ between data sets, Kendall's W over all), which ground-truth checks hold
where, and what each data set cost.
"""
from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare, rankdata, spearmanr

from ..study import metrics_file
from . import tables as T
from .checks import study_checks


def dataset_folders(out: str | Path, datasets: list[str]) -> dict[str, Path]:
    """``{dataset: <out>/<dataset>}``; a data set without seed folders or 06's metrics is refused by name."""
    out = Path(out)
    folders = {}
    for name in datasets:
        folder = out / name
        if not metrics_file(folder, "06_evaluation").exists():
            raise FileNotFoundError(f"data set {name!r}: {metrics_file(folder, '06_evaluation')} does not exist "
                                    f"(notebook 06 has not evaluated it; run the workflow's 'evaluation' job first)")
        T.seed_folders(folder)  # raises when there are no seed folders
        folders[name] = folder
    if not folders:
        raise ValueError("no data sets to compare")
    return folders


def _wide(table: pd.DataFrame, name: str) -> dict:
    """One metric's mean and interval as ``{name: mean, name_low: …, name_high: …}`` (merged into one cell
    ``mean [low, high]`` by the report)."""
    return {name: table["mean"], f"{name}_low": table["ci_low"], f"{name}_high": table["ci_high"]}


def classification_by_dataset(folders: dict[str, Path]) -> pd.DataFrame:
    """Rows (dataset, model) of the plain and attention CNN: accuracy, macro-F1 and ECE, mean and 95 % t-interval
    over the data set's seeds (01's metrics, as in 06's classification table)."""
    rows = []
    for dataset, folder in folders.items():
        table = T.classification_table(folder).reset_index()
        for model in dict.fromkeys(table["model"]):
            if model == "attention − plain":
                continue
            row = {"dataset": dataset, "model": model}
            for metric in T.CLASSIFICATION_METRICS.values():
                hit = table[(table["model"] == model) & (table["metric"] == metric)]
                if len(hit):
                    row.update({k: float(v.iloc[0]) for k, v in _wide(hit, metric).items()})
                    row["n_seeds"] = int(hit["n_seeds"].iloc[0])
            rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "model"])


def fidelity_by_dataset(folders: dict[str, Path]) -> pd.DataFrame:
    """Per data set the GAN's FID, KID, precision and recall (mean and interval over seeds) beside the real-vs-real
    FID, the floor a perfect generator would reach on that data set (FIDs of different data sets are not on one
    scale; the floor is what to compare a FID with)."""
    rows = []
    for dataset, folder in folders.items():
        table = T.fidelity_table(folder)
        gan = table.loc["GAN"]
        row = {"dataset": dataset}
        for metric in ("FID", "KID", "precision", "recall"):
            row.update({k: float(v.loc[metric]) for k, v in _wide(gan, metric).items()})
        row["FID, real vs real (floor)"] = float(table.loc[("real vs real (floor)", "FID"), "mean"])
        row["n_seeds"] = int(gan.loc["FID", "n_seeds"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("dataset")


def method_ranks_by_dataset(folders: dict[str, Path]) -> pd.DataFrame:
    """The attribution methods' mean rank over 02's graded metrics (1 = best), one column per data set; methods
    a data set did not run are NaN there. Sorted by the mean over data sets."""
    ranks = pd.DataFrame({dataset: T.explanation_table(folder)[1]["mean rank"] for dataset, folder in folders.items()})
    ranks.index.name = "method"
    return ranks.loc[ranks.mean(axis=1).sort_values().index]


def kendalls_w(ranks: pd.DataFrame) -> float:
    """Kendall's coefficient of concordance W of the columns (raters: data sets) over the rows (objects: methods),
    with the correction for ties; rows with a missing value are left out. 1 = every data set orders the methods
    alike. Under independent rankings its expectation is 1/m for m data sets (:func:`concordance_test`), not 0:
    with two data sets W = 0.5 is no agreement and 0 is the reversed order. NaN with fewer than two data sets or
    methods.

    Written here because neither scipy nor the study's other dependencies provide it;
    W = 12 S / (m² (n³ − n) − m Σ T), S the sum of squared deviations of the methods' rank sums from their mean,
    T = Σ (t³ − t) over each data set's groups of t tied ranks. With two data sets and no ties W = (ρ + 1) / 2,
    ρ being Spearman's between them (a test checks this)."""
    table = ranks.dropna()
    n, m = table.shape
    if n < 2 or m < 2:
        return math.nan
    within = np.column_stack([rankdata(table[c]) for c in table.columns])  # ranks within each data set
    sums = within.sum(axis=1)
    s = float(((sums - sums.mean()) ** 2).sum())
    ties = sum(float((counts ** 3 - counts).sum())
               for counts in (np.unique(table[c], return_counts=True)[1] for c in table.columns))
    denominator = m ** 2 * (n ** 3 - n) - m * ties
    return s * 12 / denominator if denominator > 0 else math.nan


def concordance_test(ranks: pd.DataFrame) -> dict:
    """Is the agreement of the data sets' rankings more than chance? Friedman's test over the methods (treatments)
    with the data sets as blocks, scipy's ``friedmanchisquare`` (tie-corrected): χ² = m (n − 1) W for m data sets
    and n methods, χ²-distributed with n − 1 degrees of freedom when the rankings are independent, under which
    E[W] = 1/m (``chance``). NaNs where it cannot be made (fewer than 2 data sets or 3 methods)."""
    table = ranks.dropna()
    n, m = table.shape
    out = {"w": kendalls_w(ranks), "chance": 1 / m if m else math.nan, "chi2": math.nan, "p_value": math.nan,
           "data_sets": m, "methods": n}
    if m >= 2 and n >= 3 and table.nunique().gt(1).any():
        result = friedmanchisquare(*table.to_numpy(float))  # one sample per method, its ranks across data sets
        out.update(chi2=float(result.statistic), p_value=float(result.pvalue))
    return out


def rank_agreement(ranks: pd.DataFrame) -> pd.DataFrame:
    """Spearman's ρ between every two data sets' method ranks (methods both ran) and their mean, and Kendall's W
    over all with its chance level and Friedman's test (:func:`concordance_test`)."""
    rows, rhos = [], []
    for a, b in combinations(ranks.columns, 2):
        both = ranks[[a, b]].dropna()
        rho = spearmanr(both[a], both[b]).statistic if len(both) >= 3 else math.nan
        rhos.append(rho)
        rows.append({"comparison": f"{a} vs {b}", "statistic": "Spearman ρ", "value": float(rho), "chance": 0.0,
                     "p_value": math.nan, "methods": len(both)})
    test = concordance_test(ranks)
    rows.append({"comparison": "all data sets", "statistic": "Kendall's W", "value": test["w"],
                 "chance": test["chance"], "p_value": test["p_value"], "methods": test["methods"]})
    rows.append({"comparison": "all data sets (Friedman)", "statistic": "Friedman χ² = m (n − 1) W",
                 "value": test["chi2"], "chance": math.nan, "p_value": test["p_value"], "methods": test["methods"]})
    if len(rhos) > 1:
        rows.append({"comparison": "all pairs", "statistic": "mean Spearman ρ", "value": float(np.nanmean(rhos)),
                     "chance": 0.0, "p_value": math.nan, "methods": test["methods"]})
    return pd.DataFrame(rows).set_index("comparison")


def checks_by_dataset(folders: dict[str, Path]) -> pd.DataFrame:
    """The study's ground-truth checks (06's checks table), one column per data set: how many of its seeds passed
    each check ("2 of 2"), or "not run"."""
    columns = {}
    for dataset, folder in folders.items():
        checks = study_checks(folder)
        cells = {}
        for (notebook, check), group in checks.groupby(["notebook", "check"], sort=False):
            decided = group["passed"].dropna()
            key = f"{notebook[:2]}: {check}"
            cells[key] = f"{int(decided.astype(bool).sum())} of {len(decided)}" if len(decided) else "not run"
        columns[dataset] = cells
    table = pd.DataFrame(columns)
    table.index.name = "check"
    return table.fillna("not run")


def cost_by_dataset(folders: dict[str, Path]) -> pd.DataFrame:
    """Wall time of each data set's notebooks in all (every seed's jobs and 06), with its seeds and machine."""
    rows = []
    for dataset, folder in folders.items():
        cost = T.cost_table(folder)
        total = cost[cost["notebook"] == "whole study"].iloc[0]
        rows.append({"dataset": dataset, "seconds": float(total["seconds"]),
                     "notebook runs": int((cost["notebook"] != "whole study").sum()),
                     "seeds": len(T.seed_folders(folder)), "device": total["device"], "profile": total["profile"]})
    return pd.DataFrame(rows).set_index("dataset")


def compare(folders: dict[str, Path]) -> dict[str, pd.DataFrame]:
    """Every comparison table, by name (the order of the summary page)."""
    ranks = method_ranks_by_dataset(folders)
    return {"classification": classification_by_dataset(folders), "fidelity": fidelity_by_dataset(folders),
            "method_ranks": ranks, "rank_agreement": rank_agreement(ranks), "checks": checks_by_dataset(folders),
            "cost": cost_by_dataset(folders)}
