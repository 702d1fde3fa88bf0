"""One registry of notebook parameters (issue 32, item 2): every parameters cell is written from it by
tools/write_parameter_cells.py, a changed default reaches every notebook that declares the parameter, and a cell
edited by hand is caught."""
import dataclasses
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from xai_helpers.study import parameter_registry as R

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("write_parameter_cells", ROOT / "tools" / "write_parameter_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cell(notebooks_dir: Path, name: str) -> str:
    notebook = json.loads((notebooks_dir / f"{name}.ipynb").read_text())
    return "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])


@pytest.fixture
def notebooks(tmp_path):
    for name in R.NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", tmp_path)
    return tmp_path


def test_every_parameters_cell_is_the_registrys():
    assert _tool().stale_notebooks() == [], "run .venv/bin/python tools/write_parameter_cells.py"


@pytest.mark.parametrize("name, value, text", [("seed", 7, "seed: int = 7  #"),
                                               ("sanity_threshold", 0.25, "sanity_threshold: float = 0.25  #")])
def test_a_changed_default_reaches_every_notebook_that_declares_it_through_the_tool(notebooks, monkeypatch, name, value,
                                                                                   text):
    changed = tuple(dataclasses.replace(p, default=value) if p.name == name else p for p in R.PARAMETERS)
    monkeypatch.setattr(R, "PARAMETERS", changed)
    tool = _tool()
    declaring = [nb for nb in R.NOTEBOOKS if nb in R.BY_NAME[name].notebooks]
    assert sorted(tool.stale_notebooks(notebooks)) == sorted(declaring)
    assert sorted(tool.write_cells(notebooks)) == sorted(declaring)
    for nb in R.NOTEBOOKS:
        assert (text in _cell(notebooks, nb)) == (nb in declaring), nb
    assert tool.stale_notebooks(notebooks) == []


def test_a_cell_edited_by_hand_is_caught(notebooks):
    """Built to fail: a default typed into one notebook's cell."""
    path = notebooks / "03_tcav.ipynb"
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    cell["source"] = [line.replace("alpha: float = 0.05", "alpha: float = 0.1") for line in cell["source"]]
    path.write_text(json.dumps(notebook))
    assert _tool().stale_notebooks(notebooks) == ["03_tcav"]
    assert _tool().main(["--check", "--notebooks-dir", str(notebooks)]) == 1


def test_the_groups_and_ranges_come_from_one_table():
    assert R.CLASSIFIER_PARAMETERS and all("01_cnn_training" in R.BY_NAME[n].notebooks for n in R.CLASSIFIER_PARAMETERS)
    assert set(R.MODEL_PARAMETERS) >= {"model_source", "model_name", "model_weights", "model_file"}
    numeric = [p for p in R.PARAMETERS if any(t in p.type for t in ("int", "float", "list"))]
    assert numeric and all(p.allowed() is not None for p in numeric), [p.name for p in numeric if p.allowed() is None]
    assert R.BY_NAME["epochs"].profile_value("smoke") != R.BY_NAME["epochs"].profile_value("paper")


def test_the_table_is_consistent_and_an_inconsistent_one_is_caught(monkeypatch):
    """A profile knob with a default other than None would silently replace the profile's value (built to fail)."""
    assert R.table_problems() == []
    bad = tuple(dataclasses.replace(p, default=0.01) if p.name == "lr" else p for p in R.PARAMETERS)
    monkeypatch.setattr(R, "PARAMETERS", bad)
    assert R.table_problems() == ["lr: overrides profile knob 'lr', so its default must be None, not 0.01"]


def test_the_registrys_notebooks_are_the_study_notebooks_on_disk():
    """NOTEBOOKS names the files the runner discovers, so a new notebook cannot be left out of the registry."""
    from xai_helpers.running.arguments import discover_notebooks

    assert R.NOTEBOOKS == tuple(nb.stem for nb in discover_notebooks(ROOT / "notebooks"))
