"""The answer key: the numbers a model answer quotes (`` `0.63` ``) are looked up in the outputs of the solutions'
run, and a number the run did not print is named and marked."""
from __future__ import annotations

import re

import nbformat
import pytest

from xai_helpers.course.answer_key import ANSWER_KEY, key_notebook, locate, quoted, unreadable_quotes
from xai_helpers.course.build import build_assignment
from xai_helpers.course.instructor_pack import PACK_FOLDER
from xai_helpers.course.masters import Question

from .tiny_master import tiny_master

v4 = nbformat.v4


def _printing(*texts: str) -> list:
    return [v4.new_code_cell("", outputs=[v4.new_output("stream", name="stdout", text=text)]) for text in texts]


@pytest.mark.parametrize("quote, printed, found", [
    ("0.63", "bottom right   0.629   0.638", True),
    ("0.64", "bottom right   0.629   0.638", True),
    ("0.63", "share 0.636", False),                      # rounds to 0.64, not 0.63
    ("98 %", "pasted: 0.9800000190734863", True),       # a fraction read as a percentage
    ("0.06", "two random sets agree 6 % of the time", True),
    ("56.4 %", "blur baseline: 56.4% on black pixels", True),
    ("56.4 %", "blur baseline: 56.3% on black pixels", False),
    ("0.00069", "p = 6.9e-04 -> significant", True),
    ("198", "accuracy 0.802 on 1000 images (198 errors)", True),
    ("197", "accuracy 0.802 on 1000 images (198 errors)", False),
    ("1", "confidence 0.99", False),                   # a whole-number quote is that whole number as printed
    ("0 %", "profile course, seed 0", False),           # a printed whole number is never read as a fraction
    ("0.0 %", "IG from the black baseline: 0.0% of |attribution|", True),
    ("0.64", "share 0.635", True),                      # half up: 0.635 is 0.64, not also 0.63
    ("0.63", "share 0.635", False),
    ("1024", "n_samples    16    64    256   1,024", True),
    ("-0.5", "rho = -0.50", True),
])
def test_a_quote_is_found_where_a_printed_number_rounds_to_it_in_its_unit(quote, printed, found):
    assert (locate(quote, _printing(printed)).cell is not None) is found


def test_a_quote_is_looked_up_back_from_the_answer_first_then_after_it():
    cells = _printing("early 0.5", "late 0.5")
    assert locate("0.5", cells, at=2).cell == 2   # an answer after both quotes the nearer one
    assert locate("0.5", cells, at=0).cell == 1   # a prediction before both: the first after it
    assert locate("0.7", cells).cell is None


def test_a_prediction_is_checked_against_the_run_after_it_first():
    cells = _printing("seed 0 set-up: 0.5", "the computation it predicts: 0.5")
    assert locate("0.5", cells, at=1).cell == 1
    assert locate("0.5", cells, at=1, ahead_first=True).cell == 2


def test_a_code_span_that_looks_like_a_number_but_cannot_be_looked_up_is_refused_by_name():
    question = Question("q2", 1.0, True, solution="n = `1,024` samples, p = `6.9e-04`, `0.13` and `n_samples=16`")
    problems = unreadable_quotes(question)
    assert len(problems) == 2 and "`1,024`" in problems[0] and "`6.9e-04`" in problems[1]


def test_only_code_spans_holding_a_number_are_quotes():
    answer = ("With `n_samples` = 16 the agreement is `0.13` (`1.00` on the other model, `98 %` of images, "
              "`13`–`30` each); `torch.no_grad()` and 0.5 are prose.")
    assert quoted(answer) == ["0.13", "1.00", "98 %", "13", "30"]


def test_the_key_keeps_the_notebooks_cells_as_written_with_their_outputs_and_without_otters_log():
    autograder = v4.new_notebook(cells=[v4.new_markdown_cell("# Title"), v4.new_code_cell("print(2)")])
    executed = nbformat.from_dict(autograder)
    ran = v4.new_code_cell("SEED = 0\nprint(2)", outputs=[v4.new_output(
        "stream", name="stdout", text="[DEBUG otter.check.notebook.Notebook.check] Calling checker\n2\n")])
    ran.id = autograder.cells[1].id
    executed.cells = [executed.cells[0], ran, v4.new_code_cell("grader.check_all()")]  # otter's grading adds cells
    key = key_notebook(executed, autograder)
    assert [cell.source for cell in key.cells] == ["# Title", "print(2)"]
    assert key.cells[1].outputs[0].text == "2\n"


def test_the_build_shows_where_the_run_printed_each_quote_and_keeps_the_key_with_its_figures(tmp_path):
    setup = ("import matplotlib.pyplot as plt\n"
             "print('share on the patch: 0.634')\nplt.plot([0, 1]); plt.title('a figure'); plt.show()")
    tiny_master(tmp_path, setup, written="(a) The patch holds `0.63` of the map. (b) Not 3.\n\n**Rubric**\n"
                                         "- (a) 0.5: the share\n- (b) 0.5: not 3")
    dist = tmp_path / "dist"
    build_assignment("01_gradients", dist, course_dir=tmp_path / "course")
    pack = (dist / PACK_FOLDER / "01_gradients.md").read_text()
    assert re.search(r"^- `0.63`: cell 2 \(\[\d+\] in JupyterLab\), `share on the patch: 0.634`$", pack, flags=re.M)
    figure = dist / PACK_FOLDER / "01_gradients" / "cell-2-1.png"
    assert figure.read_bytes().startswith(b"\x89PNG") and "(01_gradients/cell-2-1.png)" in pack
    key = nbformat.read(dist / PACK_FOLDER / "01_gradients" / ANSWER_KEY, as_version=4)
    assert any("0.634" in out.get("text", "") for cell in key.cells if cell.cell_type == "code" for out in cell.outputs)


def test_a_model_answer_quoting_a_number_the_run_did_not_print_is_named_and_marked(tmp_path, capsys):
    """The model answer says 0.64; the run printed 0.634: the build says so, the pack marks it, the table counts it
    (an instructor on another processor still gets a course; the course's own tests require every quote found)."""
    tiny_master(tmp_path, "print('share on the patch: 0.634')",
                written="(a) The patch holds `0.64` of the map. (b) Not 3.\n\n**Rubric**\n- (a) 0.5: the share\n"
                        "- (b) 0.5: not 3")
    dist = tmp_path / "dist"
    row = build_assignment("01_gradients", dist, course_dir=tmp_path / "course")
    assert row["unprinted_quotes"] == 1
    assert "01_gradients Q2's model answer quotes `0.64`, which no output of the run shows" in capsys.readouterr().err
    pack = (dist / PACK_FOLDER / "01_gradients.md").read_text()
    assert "- `0.64`: **not printed by this run**" in pack


def test_of_the_numbers_in_a_cell_the_one_that_rounds_to_the_quote_is_shown():
    cell = v4.new_code_cell("", outputs=[v4.new_output("stream", name="stdout",
                                                       text="IG, randomised 0.065\nocclusion, randomised 0.057\n")])
    assert locate("0.06", [cell]).line == "occlusion, randomised 0.057"
    assert locate("0.07", [cell]).line == "IG, randomised 0.065"


def test_the_pack_names_the_machine_it_was_built_on_beside_the_one_the_quotes_come_from():
    from xai_helpers.course.answer_key import QUOTES_MEASURED_ON
    from xai_helpers.course.instructor_pack import instructor_pack

    question = Question("q2", 1.0, True, prompt="(a) Why?", solution="`0.5`", rubric=[("a", 1.0, "because")])
    elsewhere = instructor_pack("01_gradients", [question], "abc", machine="aarch64 unknown DEFAULT torch 2.14.1")
    assert (f"This build ran on aarch64 unknown DEFAULT torch 2.14.1; the model answers' numbers were measured on "
            f"{QUOTES_MEASURED_ON}: on another processor") in elsewhere
    assert "on another processor" not in instructor_pack("01_gradients", [question], "abc", machine=QUOTES_MEASURED_ON)
