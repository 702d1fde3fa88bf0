"""Re-execute notebooks at the smoke profile and keep only the outputs nbval checks.

    .venv/bin/python tools/refresh_outputs.py notebooks/01_cnn_training.ipynb [...]

Cells marked ``# NBVAL_CHECK_OUTPUT`` keep their (new) outputs as nbval's reference; every other output,
execution count and run-time metadata is stripped, so that git holds the notebook's text and its checked
invariants only. Runs in temporary run and cache folders, so nothing in results/ changes.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "NBVAL_CHECK_OUTPUT"


def strip(nb, keep_checked: bool = True):
    """Outputs only in checked cells; they get execution counts 1, 2, … (nbval skips cells without one)."""
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        if keep_checked and MARK in cell.source:
            count += 1
            cell.execution_count = count
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = count
        else:
            cell.outputs = []
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    return nb


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(XAI_PROFILE="smoke", XAI_RUN_DIR=f"{tmp}/run", XAI_CACHE_DIR=f"{tmp}/cache",
                          XAI_HEADLESS="1")
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(strip(nb), path)
    print(f"refreshed {path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("notebooks", nargs="+", type=Path, help="notebooks/NN_*.ipynb to re-execute and strip")
    args = p.parse_args(argv)
    missing = [str(nb) for nb in args.notebooks if not nb.is_file()]
    if missing:
        p.error(f"no such notebook: {', '.join(missing)}")
    for nb in args.notebooks:
        refresh(nb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
