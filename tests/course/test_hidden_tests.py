"""The hidden tests' aids: the library's version of an asked method raises when the student's code calls it, however
imported, and works again afterwards and for the tests' references; a student's function sees a reference under the
name of an earlier answer only within the block."""
import pytest
import torch

from xai_helpers.course.hidden_tests import FREEZE_ENV, FROZEN_FILE, frozen, given, own_work, reference


def _student(source: str) -> dict:
    """A notebook's namespace after running ``source`` (the student's cell)."""
    namespace = {"__name__": "__main__"}
    exec(source, namespace)
    return namespace


def _linear():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval(), torch.rand(2, 1, 2, 2)


def test_calling_the_library_for_the_asked_method_fails_however_imported():
    model, x = _linear()
    student = _student("from captum.attr import IntegratedGradients\nfrom scipy.linalg import sqrtm as root\n"
                       "def ig(model, x):\n    return IntegratedGradients(model).attribute(x, target=0)\n"
                       "def fid_part(a):\n    return root(a)\n")
    library = student["ig"](model, x)
    with own_work("captum.attr.IntegratedGradients.attribute", "scipy.linalg.sqrtm", question="Q2",
                  student=student["ig"]):
        with pytest.raises(AssertionError, match="Q2 asks you to write the method yourself.*IntegratedGradients"):
            student["ig"](model, x)
        with pytest.raises(AssertionError, match=r"scipy\.linalg\.sqrtm"):
            student["fid_part"](torch.eye(2).numpy())  # imported under another name before the block
        assert torch.allclose(reference(student["ig"])(model, x), library), "a reference may call the library"
    assert torch.allclose(student["ig"](model, x), library), "the library works again after the block"
    assert student["fid_part"](torch.eye(2).numpy()).shape == (2, 2)


def test_a_students_function_sees_the_reference_of_an_earlier_answer_only_in_the_block():
    student = _student("def saliency(x):\n    return 'the student slipped'\n"
                       "def ig(x):\n    return saliency(x)\n")
    with given(student["ig"], saliency=lambda x: "reference"):
        assert student["ig"](1) == "reference"
        student["later"] = "a global the student's code set meanwhile stays"
    assert student["ig"](1) == "the student slipped" and student["later"].startswith("a global")
    with given(student["ig"], helper=lambda: 0):
        assert "helper" in student
    assert "helper" not in student, "a name the notebook did not have is removed again"


def test_frozen_values_are_recorded_at_build_time_and_read_when_grading(tmp_path, monkeypatch):
    record = tmp_path / "build" / FROZEN_FILE
    record.parent.mkdir()
    monkeypatch.setenv(FREEZE_ENV, str(record))
    assert frozen("a", lambda: {"x": torch.arange(3)})["x"].tolist() == [0, 1, 2]
    assert frozen("b", lambda: {"p": 0.25})["p"] == 0.25
    monkeypatch.delenv(FREEZE_ENV)
    monkeypatch.chdir(record.parent)  # where otter run puts the autograder's files: next to the submission

    def library_changed():
        raise AssertionError("grading recomputed a frozen value")
    assert frozen("a", library_changed)["x"].tolist() == [0, 1, 2] and frozen("b", library_changed)["p"] == 0.25
    with pytest.raises(RuntimeError, match="no frozen value 'c': rebuild the course"):
        frozen("c", library_changed)
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match="computed with today's libraries"):
        assert frozen("a", lambda: {"x": 7})["x"] == 7  # the master run by hand
