"""Write each study notebook's parameters cell from the parameter registry (xai_helpers/study/parameter_registry.py).

    .venv/bin/python tools/write_parameter_cells.py            # rewrite the cells that differ from the registry
    .venv/bin/python tools/write_parameter_cells.py --check    # only say which differ (exit 1 if any)

A parameter's default, type or help is changed in the registry and written into every notebook that declares it by
this tool; the test suite runs the check, so a cell edited by hand fails it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xai_helpers.study.parameter_registry import NOTEBOOKS, parameters_cell  # noqa: E402


def _parameters_cell(notebook: dict, path: Path) -> dict:
    cell = next((c for c in notebook["cells"] if c["cell_type"] == "code"), None)
    if cell is None or "parameters" not in cell.get("metadata", {}).get("tags", []):
        raise ValueError(f"{path}: the first code cell is not tagged 'parameters'")
    return cell


def stale_notebooks(notebooks_dir: Path = ROOT / "notebooks") -> list[str]:
    """The notebooks whose parameters cell differs from the registry."""
    stale = []
    for name in NOTEBOOKS:
        path = notebooks_dir / f"{name}.ipynb"
        cell = _parameters_cell(json.loads(path.read_text()), path)
        if "".join(cell["source"]) != parameters_cell(name):
            stale.append(name)
    return stale


def write_cells(notebooks_dir: Path = ROOT / "notebooks") -> list[str]:
    """Rewrite the parameters cells that differ; returns the notebooks written."""
    written = []
    for name in stale_notebooks(notebooks_dir):
        path = notebooks_dir / f"{name}.ipynb"
        notebook = json.loads(path.read_text())
        _parameters_cell(notebook, path)["source"] = parameters_cell(name).splitlines(keepends=True)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="only list the notebooks whose cell differs (exit 1 if any)")
    p.add_argument("--notebooks-dir", type=Path, default=ROOT / "notebooks", help="default: notebooks/")
    args = p.parse_args(argv)
    if args.check:
        stale = stale_notebooks(args.notebooks_dir)
        for name in stale:
            print(f"{name}: its parameters cell differs from xai_helpers/study/parameter_registry.py")
        return 1 if stale else 0
    for name in write_cells(args.notebooks_dir):
        print(f"wrote the parameters cell of {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
