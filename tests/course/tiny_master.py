"""A one-question master notebook, built in seconds: for tests of the build and the grading machinery."""
from __future__ import annotations

from pathlib import Path

import nbformat


def tiny_master(path: Path, setup: str, written: str | None = None) -> Path:
    """A one-question master (``answer = 2``) under the name of the first assignment, ``setup`` its first cell;
    with ``written``, a written question q2 ((a) and (b), 1 point) follows, ``written`` its model answer."""
    v4 = nbformat.v4
    nb = v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [
        v4.new_raw_cell("# ASSIGNMENT CONFIG\nname: 01_gradients\ngenerate: true\ntests:\n  files: false\n  ok_format: false"),
        v4.new_code_cell(setup),
        v4.new_raw_cell("# BEGIN QUESTION\nname: q1\npoints: 1"),
        v4.new_markdown_cell("**Q1.** Set `answer` to 2."),
        v4.new_raw_cell("# BEGIN SOLUTION"),
        v4.new_code_cell("answer = 2  # SOLUTION"),
        v4.new_raw_cell("# END SOLUTION"),
        v4.new_raw_cell("# BEGIN TESTS"),
        v4.new_code_cell("def test_answer(answer):\n    assert answer == 2"),
        v4.new_raw_cell("# END TESTS"),
        v4.new_raw_cell("# END QUESTION"),
    ]
    if written is not None:
        nb.cells += [v4.new_raw_cell("# BEGIN QUESTION\nname: q2\npoints: 1\nmanual: true"),
                     v4.new_markdown_cell("**Q2** *(written)*. (a) Why 2? (b) Why not 3?"),
                     v4.new_raw_cell("# BEGIN SOLUTION"), v4.new_markdown_cell(written), v4.new_raw_cell("# END SOLUTION"),
                     v4.new_raw_cell("# END QUESTION")]
    master = path / "course" / "01_gradients" / "01_gradients.ipynb"
    master.parent.mkdir(parents=True)
    nbformat.write(nb, master)
    return master
