"""Where a notebook's time went: the wall time of each code cell, as papermill recorded it.

papermill writes each executed cell's duration into ``metadata.papermill.duration`` of the executed notebook: the
cheapest profile there is, taken on every run. The runner reads it after each notebook, prints the slowest cells,
keeps the whole list in ``logs/<notebook>.cells.json``, and the report's cost table shows the slowest cell of each
notebook, so that the next slowdown is seen where it happens.
"""
from __future__ import annotations

import json
from pathlib import Path

#: How many of a notebook's slowest cells the runner prints.
SLOWEST_SHOWN = 3


def timed_cells(executed: str | Path) -> list[dict]:
    """Every code cell of an executed notebook that papermill timed: ``cell`` (its number among the notebook's own
    code cells, 1-based, the injected parameters cell not counted, as in the runner's error messages), ``first_line``
    (its first line of source) and ``seconds``. Cells that did not run (after a failure) have no duration and are
    left out."""
    nb = json.loads(Path(executed).read_text())
    rows, number = [], 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        injected = "injected-parameters" in cell.get("metadata", {}).get("tags", [])
        if not injected:
            number += 1
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if duration is None:
            continue
        source = "".join(cell.get("source", "")).strip().splitlines()
        rows.append({"cell": 0 if injected else number, "first_line": source[0][:80] if source else "",
                     "seconds": float(duration)})
    return rows


def slowest_cells(rows: list[dict], n: int = SLOWEST_SHOWN) -> list[dict]:
    """The ``n`` slowest of :func:`cell_timings`' rows, slowest first (ties in notebook order)."""
    return sorted(rows, key=lambda r: -r["seconds"])[:n]


def describe_cell(row: dict) -> str:
    """'cell 12 (model = train_classifier(...)): 151.2 s'."""
    return f"cell {row['cell']} ({row['first_line'][:50]}): {row['seconds']:.1f} s"
