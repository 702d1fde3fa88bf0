"""One card per attribution method in the report (after Saliency Cards, Boggust, Suresh, Strobelt, Guttag &
Satyanarayan 2023), written from the run's own numbers: what the method needs and costs, how much its maps move with
its key setting, and its faithfulness, localisation, sanity and rating results with the ground-truth checks it
passed. The values come from 06's explanation tables (02's metrics averaged over seeds, the methods' ranks), 02's
records per seed (needs, setting sensitivity, sanity verdicts) and 06's human ratings; nothing is typed in.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..cnn import METHODS
from ..evaluation import POINTING_CLEAN_MAX, POINTING_SHORTCUT_MIN, tables as ET
from .report_html import esc, key_value_table
from .report_tables import format_number

#: (column of 06's explanation tables, its label) per line of a card.
CARD_LINES = {
    "faithfulness": (("deletion_auc.zero", "deletion AUC"), ("insertion_auc.zero", "insertion AUC"),
                     ("road.morf", "ROAD MoRF"), ("road.lerf", "ROAD LeRF"), ("infidelity", "infidelity")),
    "localisation": (("pointing_game", "pointing game"), ("relevance_mass_accuracy", "relevance mass"),
                     ("relevance_rank_accuracy", "relevance rank"), ("relevance_rank_chance", "chance")),
    "sanity": (("randomization_abs_spearman", "cascade |ρ|"), ("random_logit", "Random Logit"),
               ("smooth_mprt", "smooth MPRT"), ("efficient_mprt", "Efficient MPRT")),
}


def _value(means: pd.DataFrame, ranks: pd.DataFrame, method: str, column: str, label: str) -> str:
    """``label value (rank r of n)``; without the rank where the column is not ranked; "" where absent."""
    if column not in means or pd.isna(means.loc[method, column]):
        return ""
    text = f"{label} {format_number(means.loc[method, column])}"
    if column in ranks and not pd.isna(ranks.loc[method, column]):
        text += f" (rank {int(ranks.loc[method, column])} of {int(ranks[column].notna().sum())})"
    return text


def _line(means, ranks, method, kind) -> str:
    parts = [_value(means, ranks, method, c, label) for c, label in CARD_LINES[kind]]
    return "; ".join(p for p in parts if p) or "not measured in this run"


def _records(runs: dict[int, dict], key: str, method: str) -> list:
    return [m[key][method] for m in runs.values() if method in (m.get(key) or {})]


def _setting(runs: dict[int, dict], method: str) -> str:
    """How much the maps moved with the method's key setting doubled, averaged over seeds."""
    found = _records(runs, "hyperparameter_sensitivity", method)
    if not found:
        return "no key setting tried"
    if "skipped" in found[0]:
        return f"{found[0]['parameter']}: not tried ({found[0]['skipped']})"
    rho = float(np.nanmean([f["rank_correlation"] for f in found]))
    return (f"{found[0]['parameter']} {format_number(found[0]['value'])} → {format_number(found[0]['alternative'])}: "
            f"the maps keep Spearman ρ {format_number(rho)} (1: the setting does not matter here)")


def _checks(means: pd.DataFrame, runs: dict[int, dict], method: str) -> str:
    """The ground-truth checks the method passed and failed, with the study's thresholds."""
    out = []
    if "pointing_game" in means and not pd.isna(means.loc[method, "pointing_game"]):
        found = (means.loc[method, "pointing_game"] >= POINTING_SHORTCUT_MIN
                 and means.loc[method].get("pointing_game_clean_model", 0) <= POINTING_CLEAN_MAX)
        out.append(f"{'finds' if found else 'misses'} the planted patch (pointing game ≥ {POINTING_SHORTCUT_MIN:g} "
                   f"on the shortcut model, ≤ {POINTING_CLEAN_MAX:g} on the clean one)")
    verdicts = [m["methods"][method]["sanity_pass"] for m in runs.values()
                if "sanity_pass" in m["methods"].get(method, {})]
    if verdicts:
        share = sum(verdicts) / len(verdicts)
        state = "passes" if share == 1 else "fails" if share == 0 else f"passes in {share:.0%} of seeds"
        out.append(f"{state} the model-randomisation test")
    return "; ".join(out) or "no ground-truth check in this run"


def method_cards(root: Path, tables: dict[str, pd.DataFrame]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(method title, [(field, text)])]`` in the order of the mean rank; empty where 02 or 06 did not run."""
    if "explanation_metrics" not in tables or "explanation_ranks" not in tables:
        return []
    means = tables["explanation_metrics"].set_index("method")
    ranks = tables["explanation_ranks"].set_index("method")
    if "mean rank" not in ranks:  # a table of another shape (an older run): no cards rather than guessed ones
        return []
    try:
        runs = ET.metrics_over_seeds(root, "02_cnn_attribution")
    except FileNotFoundError:  # 06's tables without 02's records (copied tables): cards from the tables alone
        runs = {}
    ratings = tables.get("human_per_method")
    ratings = ratings.set_index("method") if ratings is not None and "method" in ratings else None
    cards = []
    for name in (m for m in ranks.index if m in METHODS and m in means.index):
        needs = _records(runs, "method_needs", name)
        rate = means.loc[name].get("images_per_second")
        cards.append((METHODS[name].title, [
            ("reference", METHODS[name].reference),
            ("needs", needs[0]["needs"] if needs else ""),
            ("model evaluations per image", str(needs[0]["passes_per_image"]) if needs else ""),
            ("seconds per image", format_number(1 / rate) if rate and not pd.isna(rate) else ""),
            ("key setting", _setting(runs, name)),
            ("mean rank", format_number(ranks.loc[name, "mean rank"])),
            *((kind, _line(means, ranks, name, kind)) for kind in CARD_LINES),
            ("human rating", format_number(ratings.loc[name, "mean_rating"])
             if ratings is not None and name in ratings.index else "not rated"),
            ("checks", _checks(means, runs, name))]))
    return cards


def cards_html(cards: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """The cards as HTML blocks, one per method."""
    return "".join(f'<div class="card"><h3>{esc(title)}</h3>{key_value_table(fields, "card")}</div>'
                   for title, fields in cards)
