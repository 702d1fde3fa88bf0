"""The report's tables as a reader wants them, from the CSVs that :func:`~xai_helpers.study.run_io.save_table` wrote.

Presentation only: nothing is computed except formatting. A table becomes one or more :class:`DisplayTable`
(headers and cell texts) by a few steps, each a function:

1. :func:`read_table`: pandas' row numbers (an unnamed first column 0, 1, 2 …) are dropped; an unnamed first
   column that holds names (e.g. the models of the disentanglement table) is kept under a header.
2. :func:`merge_intervals`: ``mean`` + ``ci_low`` / ``ci_high`` (or ``x`` + ``x_low`` / ``x_high``) become one
   cell ``mean [low, high]``, but only where the interval exists: a one-seed run has none, and its empty interval
   columns are dropped, leaving the plain mean.
3. :func:`context_notes`: columns that hold one value in every row (the device, the number of seeds …) move to a
   note under the table, so they do not widen it.
4. :func:`pivot` (for long tables of one row per metric) and :func:`split_columns` (groups of a few columns)
   keep a table narrower than the page.
5. Headers get the quantity's name, unit and better direction (:data:`QUANTITIES`); unknown columns keep their
   name and get no arrow rather than a guessed one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from ..evaluation import DOWN, QUANTITIES, UP, quantity


#: Columns that describe the whole run rather than a row: when they hold one value they become a note.
CONTEXT_COLUMNS = ("seed", "n_seeds", "num_seeds", "label_source", "device", "profile", "cpu", "runner_torch_threads",
                   "gpu", "pointing_chance", "pointing_chance_clean_model", "betavae_num_factors",
                   "factorvae_num_factors")
ARROWS = {UP: "↑", DOWN: "↓"}
PASSED = {True: ("✓ passed", "pass"), False: ("✗ failed", "fail"), None: ("not run", "na")}


@dataclass(frozen=True)
class TableSpec:
    """How one evaluation table (``tables/06_evaluation_<suffix>.csv``) is shown. ``index_label`` names an unnamed
    first column that holds names; ``pivot`` = (row column, column column) turns one row per metric into one column
    per metric; ``groups`` are (title, columns) for splitting a table of more than ``max_columns`` value columns
    (more than 8 do not fit 1,280 px with readable headers; short numbers such as ranks allow more), repeating its
    name column; ``ranked`` marks a table of ranks (the metrics' arrows would mislead there: every rank is better
    low)."""
    suffix: str
    heading: str
    note: str = ""
    interval_note: str = "mean [95 % Student-t interval] over {n} seeds"
    index_label: str = ""
    pivot: tuple[str, str] | None = None
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ranked: bool = False
    max_columns: int = 8


@dataclass
class DisplayTable:
    """A table ready to render: header texts, rows of (text, css class) cells, notes that hold for every row."""
    headers: list[str]
    rows: list[list[tuple[str, str]]]
    notes: list[str] = field(default_factory=list)
    title: str = ""


def format_number(value) -> str:
    """3–4 significant digits; whole numbers without a decimal point; empty for a missing value."""
    if value is None or isinstance(value, bool):
        return "" if value is None else str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(v):
        return ""
    if v.is_integer() and abs(v) < 1e12:
        return str(int(v))
    if abs(v) >= 1e4:  # '.4g' would switch to 1.235e+04 here
        return f"{v:.0f}"
    return f"{v:.4g}"


def format_interval(mean, low, high) -> str:
    """``mean [low, high]``, or the plain mean where there is no interval (one seed)."""
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return format_number(mean)
    return f"{format_number(mean)} [{format_number(low)}, {format_number(high)}]"


def header(name: str, ranked: bool = False) -> str:
    """A column's header: its label, unit in parentheses and better direction (none where it is unknown)."""
    q = quantity(name)
    text = q.label + (f" ({q.unit})" if q.unit else "")
    if q.better and (not ranked or name == "mean rank"):
        text += f" {ARROWS[q.better]}"
    return text


def read_table(path: str | Path, index_label: str = "") -> pd.DataFrame:
    """A saved table without pandas' row numbers. ``to_csv`` writes the index as an unnamed first column: 0, 1, 2 …
    is dropped, anything else (row names) is kept under ``index_label``."""
    frame = pd.read_csv(path)
    first = frame.columns[0] if len(frame.columns) else None
    if first is not None and str(first).startswith("Unnamed: "):
        if _is_row_numbers(frame[first]):
            frame = frame.drop(columns=first)
        else:
            frame = frame.rename(columns={first: index_label or "name"})
    return frame


def _is_row_numbers(column: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(column) and column.tolist() == list(range(len(column)))


def _interval_triples(columns) -> list[tuple[str, str, str]]:
    """(value, low, high) column names: ``mean``/``ci_low``/``ci_high`` (the value is the column before
    ``ci_low`` when there is no ``mean``) and ``x``/``x_low``/``x_high``."""
    cols = list(columns)
    triples = []
    if "ci_low" in cols and "ci_high" in cols:
        value = "mean" if "mean" in cols else cols[cols.index("ci_low") - 1]
        triples.append((value, "ci_low", "ci_high"))
    for c in cols:
        if c.endswith("_low") and c != "ci_low" and c[:-4] in cols and f"{c[:-4]}_high" in cols:
            triples.append((c[:-4], c, f"{c[:-4]}_high"))
    return triples


def merge_intervals(frame: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Cells ``mean [low, high]`` where an interval exists; interval columns that are all empty are dropped and
    their values stay plain numbers. A paired test's p-value joins its row's mean. Returns (table, any interval)."""
    out = frame.copy()
    shown = False
    for value, low, high in _interval_triples(frame.columns):
        if frame[low].notna().any():
            shown = True
            out[value] = [format_interval(m, lo, hi) for m, lo, hi in zip(frame[value], frame[low], frame[high])]
        out = out.drop(columns=[low, high])
    if "p_paired_t" in out and "mean" in out:
        out["mean"] = [cell if pd.isna(p) else f"{cell}, p = {format_number(p)}"
                       for cell, p in zip(out["mean"].map(_text), out["p_paired_t"])]
        out = out.drop(columns="p_paired_t")
    return out, shown


def seed_count(frame: pd.DataFrame) -> int | None:
    """How many seeds every row of the table rests on (its ``n_seeds`` column); None if unknown or varying."""
    for column in ("n_seeds", "num_seeds"):
        if column in frame:
            counts = frame[column].dropna().unique()
            return int(counts[0]) if len(counts) == 1 else None
    return None


def context_notes(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Move each context column (:data:`CONTEXT_COLUMNS`) that holds one value in every row into a note."""
    notes = []
    for column in CONTEXT_COLUMNS:
        if column in frame and frame[column].nunique(dropna=False) <= 1 and len(frame):
            value = frame[column].iloc[0]
            if not pd.isna(value):
                notes.append(f"{quantity(column).label}: {_text(value)}")
            frame = frame.drop(columns=column)
    return frame, notes


def pivot(frame: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """One row per ``rows`` value and one column per ``columns`` value (both in order of first appearance), from a
    long table with one value column."""
    value = [c for c in frame.columns if c not in (rows, columns)]
    if len(value) != 1 or frame.duplicated([rows, columns]).any():  # another shape (an older run?): shown long
        return frame
    wide = frame.pivot(index=rows, columns=columns, values=value[0])
    wide = wide.reindex(index=frame[rows].unique(), columns=frame[columns].unique())
    return wide.rename_axis(columns=None).reset_index()


def split_columns(frame: pd.DataFrame, groups=(), max_columns: int = 8, keys: int = 1) -> list[tuple[str, pd.DataFrame]]:
    """(title, part) of a table of more than ``max_columns`` value columns, each part repeating the first ``keys``
    columns: the given ``groups`` (their columns that exist, the rest under "other"), else chunks of
    ``max_columns``."""
    key, values = list(frame.columns[:keys]), list(frame.columns[keys:])
    if len(values) <= max_columns:
        return [("", frame)]
    parts, left = [], list(values)
    for title, names in groups:
        cols = [c for c in names if c in left]
        if cols:
            parts.append((title, cols))
            left = [c for c in left if c not in cols]
    parts += [("other" if groups else "", left[i:i + max_columns]) for i in range(0, len(left), max_columns)]
    return [(title, frame[key + cols]) for title, cols in parts]


def _text(value) -> str:
    return value if isinstance(value, str) else format_number(value)


def passed_state(value) -> bool | None:
    """A check's result as read back from CSV (a bool, or its text): True, False, or None where it was not made."""
    return None if pd.isna(value) else value in (True, "True")


def _cell(column: str, value, numeric: bool) -> tuple[str, str]:
    """(text, css class) of one cell: check results get a mark and a colour; the cells of a numeric column
    (numbers, or the ``mean [low, high]`` texts made of them) align right."""
    if column == "passed":
        return PASSED[passed_state(value)]
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—", "na"
    return _text(value), "num" if numeric else ""


def _row_label(column: str, value, numeric: bool) -> tuple[str, str]:
    """The first cell of a row names it; a known quantity there gets its label and direction like a header."""
    text, kind = _cell(column, value, numeric)
    if isinstance(value, str) and value in QUANTITIES:
        text = header(value)
    return text, f"label {kind}".strip()


def _seed_note(spec: TableSpec, shown: bool, n_seeds: int | None) -> str:
    """What the numbers are: a mean with its interval, a mean over seeds, or one seed's value."""
    if shown:
        return spec.interval_note.format(n=n_seeds if n_seeds is not None else "the")
    if n_seeds == 1:
        return "one seed: single values, no interval over seeds"
    return f"mean over {n_seeds} seeds" if n_seeds else ""


def display_tables(frame: pd.DataFrame, spec: TableSpec) -> list[DisplayTable]:
    """The steps of the module docstring, in order: one or more display tables of one saved table."""
    n_seeds = seed_count(frame)
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c != "passed"}
    frame, shown = merge_intervals(frame)
    frame = frame.drop(columns=[c for c in ("n_seeds", "num_seeds") if c in frame and n_seeds is not None])
    frame, notes = context_notes(frame)
    if n_seeds == 1 and not shown and "mean" in frame:
        frame = frame.rename(columns={"mean": "value"})  # the mean of one value is that value
        numeric = {"value" if c == "mean" else c for c in numeric}
    if spec.pivot and set(spec.pivot) <= set(frame.columns):
        wide = pivot(frame, *spec.pivot)
        if wide is not frame:  # one column per metric, each holding the long table's (one) value column
            (value,) = [c for c in frame.columns if c not in spec.pivot]
            frame, numeric = wide, set(wide.columns[1:]) if value in numeric else set()
    notes = [n for n in ("rank 1 = best on each metric (its direction is shown in the table of every metric)"
                         if spec.ranked else "", _seed_note(spec, shown, n_seeds)) if n] + notes
    tables = []
    for title, part in split_columns(frame, spec.groups, spec.max_columns):
        rows = [[(_row_label if i == 0 else _cell)(c, v, c in numeric)
                 for i, (c, v) in enumerate(zip(part.columns, values))] for values in part.itertuples(index=False)]
        tables.append(DisplayTable([header(str(c), spec.ranked) for c in part.columns], rows, [], title))
    if tables:
        tables[-1] = replace(tables[-1], notes=notes)
    return tables
