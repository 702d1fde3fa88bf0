"""The report's "Summary of findings": one sentence per part of the study, written from the run's own tables.

Each sentence is a function of the evaluation tables (``tables/06_evaluation_*.csv``, read by
:func:`~xai_helpers.reporting.report_tables.read_table`) and ``environment.json``. A sentence whose table, row or
column is missing (the notebook did not run, an older run wrote other columns) is left out, never filled in.
Judgements ("includes 0", "between the floor and the collapsed generator") are comparisons of the numbers in
the sentence, so a reader can check them against the tables below.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from .report_tables import format_interval, format_number, passed_state


@dataclass(frozen=True)
class Finding:
    """One sentence and the table it rests on (its section's anchor; empty when it rests on the run itself)."""
    text: str
    source: str = ""


def _value(row: pd.Series) -> str:
    """``mean [low, high]`` of a row of an interval table (the plain mean where there is no interval)."""
    return format_interval(row["mean"], row.get("ci_low"), row.get("ci_high"))


def _lookup(table: pd.DataFrame, **where) -> pd.Series:
    """The one row whose columns equal ``where``; KeyError (the sentence is left out) when there is none."""
    mask = pd.Series(True, index=table.index)
    for column, value in where.items():
        mask &= table[column] == value
    if not mask.any():
        raise KeyError(f"no row {where}")
    return table[mask].iloc[0]


def seeds_finding(env: dict, n_seeds: int) -> Finding:
    """How many seeds the numbers rest on, and so whether the tables can show intervals."""
    seeds = env.get("seeds") or []
    listed = f" ({', '.join(map(str, seeds))})" if seeds else ""
    run = " ".join(["This", *([env["profile"]] if env.get("profile") else []), "run",
                    *([f"on {env['device']}"] if env.get("device") else [])])
    if n_seeds > 1:
        return Finding(f"{run} repeated the study over {n_seeds} seeds{listed}: numbers are means over seeds, with "
                       f"95 % intervals in brackets, mean [low, high].")
    return Finding(f"{run} used one seed{listed}: every number is a single measurement, so the tables show no "
                   f"intervals over seeds (run with --seeds 0,1,2 for them).")


def checks_finding(checks: pd.DataFrame) -> Finding:
    """How many of the study's ground-truth checks passed, naming each failure and each check not made."""
    made = [(row, passed_state(row["passed"])) for _, row in checks.iterrows()]
    failed = [row for row, ok in made if ok is False]
    not_run = [row for row, ok in made if ok is None]
    n = sum(ok is not None for _, ok in made)
    n_pass = sum(ok is True for _, ok in made)

    def where(row):
        seed = "" if pd.isna(row.get("seed")) else f", seed {format_number(row['seed'])}"
        measured = "" if pd.isna(row.get("measured")) or not str(row.get("measured")) else f": {row['measured']}"
        return f"“{row['check']}” ({row['notebook']}{seed}{measured})"

    seeds = checks["seed"].dropna().nunique() if "seed" in checks else 0
    results = f"{n} check results over {seeds} seeds" if seeds > 1 else f"{n} checks"
    if not n:
        text = "None of the study's checks against ground truth could be made in this run."
    elif n_pass == n:
        text = f"All {results} of the study against ground truth passed."
    else:
        text = (f"{n_pass} of {results} of the study against ground truth passed; failed: "
                + "; ".join(where(r) for r in failed) + ".")
    if not_run:
        text += f" Not made ({len(not_run)}): " + "; ".join(where(r) for r in not_run) + "."
    return Finding(text, "checks")


def classification_finding(table: pd.DataFrame) -> Finding:
    """Plain against attention CNN: accuracy and calibration, and the paired difference where seeds allow one."""
    acc = {m: _value(_lookup(table, metric="accuracy", model=m)) for m in ("plain CNN", "attention CNN")}
    ece = {m: _value(_lookup(table, metric="calibration error (ECE)", model=m)) for m in ("plain CNN", "attention CNN")}
    text = (f"Classification: the plain CNN reaches test accuracy {acc['plain CNN']} and the attention CNN "
            f"{acc['attention CNN']} (calibration error {ece['plain CNN']} and {ece['attention CNN']}).")
    diff = table[(table["metric"] == "accuracy") & (table["model"] == "attention − plain")]
    if len(diff) and not pd.isna(diff.iloc[0].get("ci_low")):
        d = diff.iloc[0]
        zero = "includes" if d["ci_low"] <= 0 <= d["ci_high"] else "excludes"
        p = f", paired t-test p = {format_number(d['p_paired_t'])}" if not pd.isna(d.get("p_paired_t")) else ""
        text += f" The accuracy difference attention − plain is {_value(d)}{p}; its interval {zero} 0."
    else:
        text += " With one seed their difference is not tested."
    return Finding(text, "classification")


def _cas_labels(row: pd.Series) -> str:
    """How the GAN-only row's labels were made: CAS proper takes them from a conditional generator."""
    source = row.get("label_source")
    return ", with a classifier's pseudo-labels" if source == "classifier" else ""


def augmentation_finding(table: pd.DataFrame) -> Finding:
    """Real, real + GAN and GAN-only training sets in the low-data regime and with all real data, and what the GAN
    adds over the real images trained for as many optimiser steps as real + GAN (``gain_over_step_matched``;
    runs made before issue 29 lack it and are compared with real only)."""
    parts, gains = [], []
    for fraction in sorted(table["real_fraction"].unique()):
        rows = {s: _lookup(table, real_fraction=fraction, training_set=s)
                for s in ("real", "real + synthetic", "synthetic only")}
        share = "all" if fraction == 1 else f"{fraction * 100:g} %"
        mixed = rows["real + synthetic"]
        text = (f"with {share} of the real training images, test accuracy is "
                f"{format_number(rows['real']['test_accuracy'])} (real only), "
                f"{format_number(mixed['test_accuracy'])} (real + {format_number(mixed['n_synthetic'])} GAN images) "
                f"and {format_number(rows['synthetic only']['test_accuracy'])} (GAN images only: the Classification "
                f"Accuracy Score, CAS{_cas_labels(rows['synthetic only'])})")
        gain = mixed.get("gain_over_step_matched")
        if gain is not None and not pd.isna(gain):
            p = mixed.get("p_mcnemar_vs_step_matched")
            text += (f"; real only trained for as many steps as real + GAN reaches "
                     f"{format_number(mixed['test_accuracy'] - gain)}, so the GAN's images add {format_number(gain)}"
                     + ("" if p is None or pd.isna(p) else f" (McNemar p = {format_number(p)} on the same test images)"))
            gains.append(gain)
        parts.append(text)
    text = "Synthetic augmentation: " + "; ".join(parts) + "."
    if gains:
        text += (" More optimiser steps alone explain part of any gain over real only; the gain over step-matched "
                 f"real only is the GAN's own, positive in {sum(g > 0 for g in gains)} of {len(gains)} regimes.")
    return Finding(text, "augmentation")


def fidelity_finding(table: pd.DataFrame) -> Finding:
    """The GAN's FID against its calibration rows, with precision, recall, density and coverage."""
    def row(s, m):
        return _lookup(table, set=s, metric=m)
    gan, floor, collapsed = row("GAN", "FID"), row("real vs real (floor)", "FID"), \
        row("one-class generator (collapsed)", "FID")
    between = "lies between" if floor["mean"] < gan["mean"] < collapsed["mean"] else "does not lie between"
    return Finding(f"Generative fidelity (in the study's classifier feature space, not Inception): the GAN's FID "
                   f"of {_value(gan)} {between} the real-vs-real floor ({_value(floor)}) and the one-class "
                   f"generator ({_value(collapsed)}); its precision is {_value(row('GAN', 'precision'))}, recall "
                   f"{_value(row('GAN', 'recall'))}, density {_value(row('GAN', 'density'))} and coverage "
                   f"{_value(row('GAN', 'coverage'))} (the real-vs-real floor's coverage "
                   f"{_value(row('real vs real (floor)', 'coverage'))}).", "fidelity")


def memorisation_finding(table: pd.DataFrame) -> Finding:
    """The GAN's near-copy share and Z_U, and whether the planted copier was caught (else the test proves nothing)."""
    def row(s, m):
        return _lookup(table, set=s, metric=m)
    caught = row("copycat (planted copier)", "flagged (share of seeds)")["mean"]
    gan_flagged = row("GAN", "flagged (share of seeds)")["mean"]
    verdict = ("was flagged as a copier" if gan_flagged == 1 else "was not flagged" if gan_flagged == 0
               else f"was flagged in {gan_flagged:.0%} of seeds")
    check = ("the planted copier of training images was flagged" if caught == 1
             else f"the planted copier was flagged in only {caught:.0%} of seeds, so a pass here proves little")
    return Finding(f"Memorisation: the GAN {verdict}: {_value(row('GAN', 'near-copy share'))} of its samples lie "
                   f"closer to a training image than 95 % of held-out real images (about 0.05 for new images), Z_U "
                   f"{_value(row('GAN', 'Z_U'))} (below −3: copying); {check}.", "memorisation")


def reliability_finding(table: pd.DataFrame) -> Finding:
    """Which measures can be read on this model, and that the mean rank uses only those."""
    table = table.set_index("measure") if "measure" in table else table
    readable = [m for m, ok in table["readable"].items() if str(ok) == "True"]
    judged = [m for m, note in table["note"].fillna("").items() if not str(note).startswith("not judged")]
    unstable = [m for m in judged if m not in readable]
    one_seed = table["note"].fillna("").astype(str).str.contains("one seed").any()
    text = (f"Measures you can read on this model: {len(readable)} of the {len(judged)} judged "
            f"({', '.join(readable) or 'none'}); the methods' mean rank uses only these. Not readable here: "
            f"{', '.join(unstable) or 'none'}.")
    if one_seed:
        text += " With one seed, whether a measure ranks the methods alike over seeds was not judged."
    return Finding(text, "measure_reliability")


def explanation_finding(ranks: pd.DataFrame, reliability: pd.DataFrame | None = None) -> Finding:
    """The attribution methods with the best and the worst mean rank over the graded metrics, or over the readable
    ones where the run judged them (``reliability``: 06's measure reliability table)."""
    table = ranks.sort_values("mean rank", kind="stable")
    metrics = [c for c in table.columns if c not in ("method", "mean rank")]
    basis = f"{len(metrics)} metrics"
    if reliability is not None:
        readable = set(reliability.loc[reliability["readable"].astype(str) == "True", "measure"])
        used = len([m for m in metrics if m in readable])
        basis = f"{used} readable measure{'' if used == 1 else 's'}"
    best = table["mean rank"].iloc[0]
    leaders = table[table["mean rank"] == best]["method"].tolist()
    runners = [f"{m} ({format_number(r)})" for m, r in zip(table["method"], table["mean rank"]) if r != best][:2]
    last = table.iloc[-1]
    return Finding(f"Explanation quality: {' and '.join(leaders)} {'has' if len(leaders) == 1 else 'share'} the best "
                   f"mean rank ({format_number(best)} over {basis}, 1 = best)"
                   + (f", ahead of {' and '.join(runners)}" if runners else "")
                   + f"; {last['method']} ranks last ({format_number(last['mean rank'])}).", "explanation_ranks")


def _significance(share: float, n_seeds: int | None) -> str:
    """A "found" row's mean is the share of seeds where the pattern was significant and above the null."""
    if not n_seeds or n_seeds == 1:
        return "found (significant, above the null)" if share >= 0.5 else "not found (significant above the null)"
    return f"found (significant, above the null) in {round(share * n_seeds)} of {n_seeds} seeds"


def tcav_finding(table: pd.DataFrame) -> Finding:
    """The planted pattern at the highest and lowest planting rate, the random controls and the share significant."""
    q = table.set_index("quantity")
    rates = sorted({int(m.group(1)) for name in q.index if (m := re.match(r"planted pattern at (\d+)%: TCAV score", name))})
    if not rates:
        raise KeyError("no planted-pattern rows")
    n = int(table["n_seeds"].max()) if "n_seeds" in table else None

    def at(rate):
        score = f"TCAV score {_value(q.loc[f'planted pattern at {rate}%: TCAV score'])}"
        key = f"planted pattern at {rate}%: found (significant, above the null)"  # tables.PLANTED_FOUND
        if key not in q.index:  # no seed tested any layer at this rate (every CAV flagged)
            return f"{score}, not tested (CAVs flagged at every layer)"
        seeds = q.loc[key].get("n_seeds", n)  # seeds where a test was made at this rate
        return f"{score}, {_significance(q.loc[key, 'mean'], None if pd.isna(seeds) else int(seeds))}"
    text = f"TCAV: the pattern planted in {rates[-1]} % of the target class's training images gives {at(rates[-1])}"
    if len(rates) > 1:
        text += f"; planted in {rates[0]} % it gives {at(rates[0])}"
    controls, share = q.loc["random controls significant"], q.loc["share of tests significant (Holm)"]
    return Finding(text + f". Random controls found significant: {_value(controls)}; share of all concept tests "
                   f"significant after Holm correction: {_value(share)}.", "tcav")


def latent_finding(table: pd.DataFrame) -> Finding:
    """Exactness of the Jacobian, the strongest direction family against random, and the dissection contrast."""
    q = table.set_index("quantity")
    text = (f"Latent space: the generator's Jacobian matches finite differences to a relative error of "
            f"{_value(q.loc['Jacobian vs finite differences, relative error'])}")
    strength = {m.group(1): row for name, row in q.iterrows()
                if (m := re.fullmatch(r"directions (.+): strength", name))}
    learnt = {k: v for k, v in strength.items() if k != "random"}
    if learnt:
        top = max(learnt, key=lambda k: learnt[k]["mean"])
        text += f"; {top} gives the strongest directions (strength {_value(learnt[top])}"
        text += f", random directions {_value(strength['random'])})" if "random" in strength else ")"
    top_units = [r["mean"] for n, r in q.iterrows() if n.endswith("ablation effect, top units")]
    random_units = [r["mean"] for n, r in q.iterrows() if n.endswith("ablation effect, random units")]
    if top_units and random_units:
        text += (f"; ablating a concept's top units removes {format_number(min(top_units))}–"
                 f"{format_number(max(top_units))} of it, random units at most {format_number(max(random_units))}")
    return Finding(text + ".", "latent")


#: Rows of the disentanglement table that are reference points, not models being compared.
DISENTANGLEMENT_REFERENCES = ("random codes", "true factors (ceiling)")


def disentanglement_finding(table: pd.DataFrame) -> Finding:
    """MIG and DCI disentanglement of each GAN against random codes and the true factors."""
    t = table.set_index(table.columns[0])
    models = [m for m in t.index if m not in DISENTANGLEMENT_REFERENCES]
    if not models:
        raise KeyError("no model rows")

    def scores(name):
        return f"{name} {format_number(t.loc[name, 'mig'])} and {format_number(t.loc[name, 'dci_disentanglement'])}"
    refs = [r for r in DISENTANGLEMENT_REFERENCES if r in t.index]
    best_mig = max(models, key=lambda m: t.loc[m, "mig"])
    best_dci = max(models, key=lambda m: t.loc[m, "dci_disentanglement"])
    best = (f"{best_mig} scores highest on both" if best_mig == best_dci else
            f"{best_mig} scores highest on MIG, {best_dci} on DCI disentanglement")
    return Finding("Disentanglement on shapes (MIG and DCI disentanglement, 0 = chance, 1 = perfect): "
                   + "; ".join(scores(m) for m in models + refs) + f". Of the GANs, {best}.", "disentanglement")


def human_finding(per_method: pd.DataFrame | None, human: dict | None) -> Finding:
    """The best-rated method, or that there are no ratings (which are never simulated)."""
    if per_method is not None and len(per_method):
        t = per_method.sort_values("mean_rating", ascending=False)
        top = t.iloc[0]
        return Finding(f"Human ratings: {top['method']} is rated highest, {format_interval(top['mean_rating'], top.get('ci_low'), top.get('ci_high'))} "
                       f"on a 1–5 scale ({format_number(top['n_ratings'])} ratings by {format_number(top['n_raters'])} "
                       f"rater(s)).", "human_per_method")
    if human and human.get("n_answers") == 0:
        return Finding("Human ratings: none were found for this run, so there is no human interpretability table "
                       "(ratings are never simulated).")
    raise KeyError("no human ratings summary")


def cost_finding(table: pd.DataFrame) -> Finding:
    """Wall time of the whole study on its machine."""
    total = _lookup(table, notebook="whole study")
    machine = ", ".join(f"{v}" for v in (total.get("device"), total.get("cpu")) if isinstance(v, str) and v)
    threads = total.get("runner_torch_threads")
    machine += f", {format_number(threads)} torch threads" if not pd.isna(threads) else ""
    minutes = total["seconds"] / 60
    text = (f"Cost: the notebooks took {format_number(round(minutes, 1))} min of wall time in all"
            + (f" ({machine})" if machine else ""))
    reused = table[table["notebook"] != "whole study"].get("reused_from")
    if reused is not None and reused.notna().any():
        computed = total["computed_seconds"] / 60
        text += (f"; {int(reused.notna().sum())} of {len(reused)} notebook runs were reused from earlier runs with "
                 f"the same inputs (computing every notebook took {format_number(round(computed, 1))} min)")
    return Finding(text + ".", "cost")


def findings(tables: dict[str, pd.DataFrame], env: dict, n_seeds: int, human: dict | None = None) -> list[Finding]:
    """Every sentence whose sources the run holds, in the order of the report's sections. ``tables`` maps a
    table's suffix (``checks``, ``classification`` …) to its frame; ``human`` is 06's ``human`` metrics."""
    sentences = [lambda: seeds_finding(env, n_seeds), lambda: checks_finding(tables["checks"]),
                 lambda: classification_finding(tables["classification"]),
                 lambda: augmentation_finding(tables["augmentation"]), lambda: fidelity_finding(tables["fidelity"]),
                 lambda: memorisation_finding(tables["memorisation"]),
                 lambda: reliability_finding(tables["measure_reliability"]),
                 lambda: explanation_finding(tables["explanation_ranks"], tables.get("measure_reliability")),
                 lambda: tcav_finding(tables["tcav"]),
                 lambda: latent_finding(tables["latent"]),
                 lambda: disentanglement_finding(tables["disentanglement"]),
                 lambda: human_finding(tables.get("human_per_method"), human), lambda: cost_finding(tables["cost"])]
    out = []
    for sentence in sentences:
        try:
            out.append(sentence())
        except KeyError:  # its table, a row or a column is not in this run: say nothing rather than guess
            continue
        except (IndexError, TypeError, ValueError):  # a table of another shape (an older run): the same, since a
            continue  # sentence must never cost the run its report (the runner fails a run whose report fails)
    return out
