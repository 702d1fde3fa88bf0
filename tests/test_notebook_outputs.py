"""Every study notebook ran without error in the session's smoke study, and its checked cells printed what the
committed notebook holds (what nbval checks, read from the one run the other tests share: notebook_outputs.py)."""
import nbformat
import pytest
from notebook_outputs import MARK, checked_output_differences

from xai_helpers.study.run_io import REPO_ROOT
from xai_helpers.running.arguments import discover_notebooks

NOTEBOOKS = discover_notebooks(REPO_ROOT / "notebooks")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_ran_and_its_checked_outputs_are_the_committed_ones(smoke_study, notebook):
    executed = smoke_study.run / "executed" / notebook.name
    assert executed.exists(), f"{notebook.stem} was not executed:\n{smoke_study.log[-3000:]}"
    assert not checked_output_differences(notebook, executed)


def test_every_notebook_has_checked_cells_with_committed_outputs():
    for notebook in NOTEBOOKS:
        checked = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code" and MARK in c.source]
        assert checked and all(c.outputs for c in checked), notebook.stem


def _pair(tmp_path, committed_text, executed_text, error=False):
    """A committed notebook with one checked cell and an 'executed' copy (papermill's injected cell first)."""
    v4 = nbformat.v4
    cell = v4.new_code_cell(f"# {MARK}\nprint(x)", outputs=[v4.new_output("stream", name="stdout", text=committed_text)])
    committed = v4.new_notebook(cells=[v4.new_code_cell("x = 1"), cell])
    injected = v4.new_code_cell("x = 2")
    injected.metadata["tags"] = ["injected-parameters"]
    ran = v4.new_code_cell(cell.source, outputs=[v4.new_output("stream", name="stdout", text=executed_text)])
    if error:
        ran.outputs.append(v4.new_output("error", ename="ValueError", evalue="boom", traceback=[]))
    executed = v4.new_notebook(cells=[v4.new_code_cell("x = 1"), injected, ran])
    nbformat.write(committed, tmp_path / "committed.ipynb")
    nbformat.write(executed, tmp_path / "executed.ipynb")
    return checked_output_differences(tmp_path / "committed.ipynb", tmp_path / "executed.ipynb")


def test_the_comparison_fails_where_a_checked_output_differs_and_sanitizes_as_nbval_does(tmp_path):
    assert _pair(tmp_path, "methods: a, b\n", "methods: a, b\n") == []
    assert _pair(tmp_path, "run /tmp/abc/x in 1.5 s, key 0123456789abcdef\n",
                 "run /tmp/zz/y in 20.25 s, key fedcba9876543210\n") == []
    different = _pair(tmp_path, "methods: a, b\n", "methods: a\n")
    assert len(different) == 1 and different[0].startswith("code cell 2 ('print(x)')")
    assert _pair(tmp_path, "same\n", "same\n", error=True)[0] == "code cell 2: ValueError: boom"
