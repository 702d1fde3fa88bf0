"""Cell wall times read back from papermill's metadata."""
import nbformat

from xai_helpers.study.cell_timings import describe_cell, slowest_cells, timed_cells


def _executed(path, cells):
    nb = nbformat.v4.new_notebook()
    for source, tags, duration in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        if duration is not None:
            cell.metadata["papermill"] = {"duration": duration}
        nb.cells.append(cell)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("text between"))
    nbformat.write(nb, path)
    return path


def test_cells_are_numbered_as_in_the_runners_errors_and_untimed_cells_are_left_out(tmp_path):
    path = _executed(tmp_path / "x.ipynb", [("a = 1", ["parameters"], 0.01), ("a = 2", ["injected-parameters"], 0.02),
                                           ("train()\nmore", [], 12.5), ("plot()", [], 3.0), ("never ran", [], None)])
    rows = timed_cells(path)
    assert [(r["cell"], r["first_line"], r["seconds"]) for r in rows] == \
        [(1, "a = 1", 0.01), (0, "a = 2", 0.02), (2, "train()", 12.5), (3, "plot()", 3.0)]
    assert [r["cell"] for r in slowest_cells(rows, 2)] == [2, 3]
    assert describe_cell(rows[2]) == "cell 2 (train()): 12.5 s"
