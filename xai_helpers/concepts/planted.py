"""The planted-concept experiment of notebook 03 as a confirmatory test, and its verdicts.

A pattern is planted in a share r of the target class's training images; TCAV of the pattern for that class
should then be significant (and above the random-vs-random null) where r = 1, and not significant where r = 0.
These tests are *confirmatory*: their hypothesis is fixed before the data are seen. They form their own family
(planting rates × layers) with Holm's correction inside it, apart from the *exploratory* family of every
concept × class × layer test and the random controls. Correcting the planted tests together with a hundred
exploratory ones (issue 29) let a pattern that the model plainly used (TCAV 1.000 at every layer, raw p 0.00035)
fail at Holm-adjusted p 0.069.

A cell whose CAVs were flagged (held-out accuracy too low) is *not tested*. A verdict built on untested cells is
"not run", never a pass: before issue 29 the 0 % check read ``significant`` alone, which is False both for "not
significant" and "not tested", and passed on a run where no test was made at that layer.
"""
from __future__ import annotations

import pandas as pd

from .tcav import json_value

PLANTED_FAMILY, EXPLORATORY_FAMILY = "planted", "exploratory"
#: Per layer of each planting rate, what the metrics keep (the verdicts below read these).
LAYER_FIELDS = ("tcav_score", "null_score", "p_value", "p_value_corrected", "significant", "tested")


def families(results: pd.DataFrame, concept: str, target_class: int, rates) -> pd.Series:
    """The family of each row of 03's results: :data:`PLANTED_FAMILY` for the planted concept's tests for the
    target class at the planting rates run, :data:`EXPLORATORY_FAMILY` for every other test."""
    planted = ((results["concept"] == concept) & (results["class_index"] == target_class)
               & results["rate"].isin([float(r) for r in rates]))
    return planted.map({True: PLANTED_FAMILY, False: EXPLORATORY_FAMILY})


def planted_metrics(table: pd.DataFrame, behaviour: pd.DataFrame, headline_layer: str) -> dict:
    """``rate → {…}`` for the metrics file: the headline layer's test (flat, as before), the model's behaviour
    (``behaviour`` indexed by rate: accuracies and ``others_called_target``) and every layer's test under
    ``layers`` (:data:`LAYER_FIELDS`), which the verdicts read."""
    out = {}
    for rate, g in table.groupby("rate"):
        row = g[g.layer == headline_layer].iloc[0]
        fields = ("tcav_score", "null_score", "magnitude", "p_value", "p_value_corrected", "significant", "tested",
                  "cav_accuracy", "p_value_all_draws", "accuracy_clean", "accuracy_patched")
        cell = {f: json_value(row[f]) for f in fields}
        cell["others_called_target"] = json_value(behaviour.loc[rate, "others_called_target"])
        cell["layers"] = {r.layer: {f: json_value(getattr(r, f)) for f in LAYER_FIELDS} for r in g.itertuples()}
        cell["tested_any_layer"] = any(v["tested"] for v in cell["layers"].values())
        out[f"{rate:g}"] = cell
    return out


def _tested(layers: dict) -> dict:
    return {name: v for name, v in layers.items() if v.get("tested")}


def _not_run(layers: dict) -> str:
    return f"not run: CAVs flagged at every layer ({len(layers)} probed), so no test was made"


def _found(v: dict) -> bool:
    """Significant after correction *and* above the null: the two-sided test also rejects a pattern that pushes
    away from the class, which is no evidence that the model uses it for the class."""
    null = v.get("null_score")
    return bool(v.get("significant")) and (null is None or v["tcav_score"] > null)


def _describe(name: str, v: dict) -> str:
    null = "" if v.get("null_score") is None else f" vs null {v['null_score']:.3f}"
    p = "" if v.get("p_value_corrected") is None else f", Holm p {v['p_value_corrected']:.2g}"
    return f"TCAV {v['tcav_score']:.3f}{null} at {name}{p}"


def present_verdict(layers: dict) -> tuple[bool | None, str]:
    """The planted concept (rate 1): found (significant and above the null) at some tested layer; None when no
    layer was tested. ``layers``: ``layer → {tcav_score, null_score, p_value_corrected, significant, tested}``."""
    tested = _tested(layers)
    if not tested:
        return None, _not_run(layers)
    found = [name for name, v in tested.items() if _found(v)]
    best = found[0] if found else min(tested, key=lambda k: (tested[k].get("p_value_corrected") is None,
                                                            tested[k].get("p_value_corrected") or 1.0))
    return bool(found), (f"{_describe(best, tested[best])}; found at {len(found)} of {len(tested)} tested layers"
                         f" ({len(layers)} probed)")


def absent_verdict(layers: dict) -> tuple[bool | None, str]:
    """The never-planted concept (rate 0): found (significant *and* above the null, as at rate 1) at no tested
    layer; None when no layer was tested.

    The claim under test is directional, "the model uses the pattern as evidence for the class", so it is judged
    the same way at both rates. A pattern significantly *below* the null at rate 0 is no false positive of that
    claim: pasting a checkerboard over part of a digit lowers its class's logit as any occluder would. It is
    named in the verdict rather than hidden."""
    tested = _tested(layers)
    if not tested:
        return None, _not_run(layers)
    hits = [name for name, v in tested.items() if _found(v)]
    if hits:
        return False, f"found at {', '.join(_describe(h, tested[h]) for h in hits)}"
    below = [name for name, v in tested.items() if v.get("significant")]
    return True, (f"not found at any of {len(tested)} tested layers ({len(layers)} probed); "
                  + "; ".join(_describe(n, v) + (" (significant, below the null)" if n in below else "")
                              for n, v in tested.items()))


def significant_at_any_layer(layers: dict) -> bool | None:
    """For summary tables: whether the planted concept was found at some layer (None: no layer was tested)."""
    return present_verdict(layers)[0]
