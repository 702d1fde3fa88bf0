"""What an assignment starts with, and the figures of a student's (possibly unanswered) work."""
import errno
import json

import matplotlib

matplotlib.use("Agg")
import pytest
import torch

from xai_helpers.cnn import predict_logits
from xai_helpers.course import answered, start_assignment
from xai_helpers.course.figures import attribution_rows, convergence_plot


def test_bad_names_and_seeds_are_refused_before_anything_loads():
    with pytest.raises(ValueError, match="'06_extra' is not allowed: expected one of 01_gradients"):
        start_assignment("06_extra")
    for seed in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            start_assignment("01_gradients", seed=seed)


def test_answered_tells_an_unanswered_function_from_a_result():
    assert not answered(None) and not answered(...)
    assert answered(torch.zeros(2)) and answered(0.0) and answered({})


def test_examples_are_correctly_classified_and_cycle_through_the_classes():
    lab = start_assignment("01_gradients", seed=0)
    assert lab.config["profile"] == "course" and lab.config["epochs"] == 3
    x, y = lab.examples(13)
    assert y.tolist() == list(range(10)) + [0, 1, 2]
    assert torch.equal(predict_logits(lab.classifier(), x).argmax(1), y)
    assert not any(p.requires_grad for p in lab.classifier().parameters())
    with pytest.raises(ValueError, match=r"n must be an int in \[1, 1000\], got 0"):
        lab.examples(0)


def test_figures_draw_what_is_answered_and_name_what_is_not(capsys):
    images = torch.rand(3, 1, 8, 8)
    fig = attribution_rows(images, {"done": torch.rand(3, 1, 8, 8), "todo": None}, "Q9", "title")
    assert len(fig.axes) == 2 * 3  # the image row and one answered row
    assert "Not drawn yet: todo (complete Q9 first)" in capsys.readouterr().out
    fig = convergence_plot([1, 2], {"a": [0.5, 0.25], "b": [None, None]}, "Q3", "title", "gap")
    assert len(fig.axes[0].lines) == 1
    assert "Not drawn yet: b (complete Q3 first)" in capsys.readouterr().out


def test_the_course_trains_its_models_with_one_thread_whatever_the_machine_has(monkeypatch):
    """Laptops with 2 and 8 cores must train the same seed-0 model (assignment 7 pools a class's ratings of the
    same maps; the answer key's numbers are every student's): the cache entry records one training thread while
    torch has two, and the lab gives the two threads back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        lab = start_assignment("01_gradients", seed=0)
        lab.classifier()
        meta = json.loads((lab.cache_path / lab.keys["plain"] / "meta.json").read_text())
        assert meta["config"]["cpu_threads"] == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_model_missing_from_a_read_only_cache_is_trained_into_the_students_own(tmp_path, monkeypatch, capsys):
    """A JupyterHub's cache, built once and read-only for students: loading needs no lock, training does. The
    capstone's per-student model is missing there, so its lock cannot be made (PermissionError, as on the hub): the
    lab trains it into the student's own cache instead, and says so. A writable cache's PermissionError is not
    hidden."""
    shared, own = tmp_path / "shared", tmp_path / "own"
    shared.mkdir()
    monkeypatch.setenv("XAI_OWN_CACHE_DIR", str(own))
    calls, raised = [], [PermissionError(errno.EACCES, "Permission denied", str(shared / ".classifier-x.lock"))]

    def train(arch, cache_dir):
        calls.append(cache_dir)
        if cache_dir == str(shared):
            raise raised[0]
        return arch

    lab = start_assignment("01_gradients", seed=0)
    monkeypatch.setattr("xai_helpers.course.lab.os.access", lambda path, mode: str(path) != str(shared))
    assert lab._trained(train, "plain", cache_dir=str(shared)) == "plain"
    assert calls == [str(shared), str(own)] and own.is_dir()
    assert f"the model cache {shared} is read-only" in capsys.readouterr().out
    raised[0] = OSError(errno.EROFS, "Read-only file system", str(shared / ".classifier-x.lock"))  # a :ro mount
    assert lab._trained(train, "plain", cache_dir=str(shared)) == "plain" and calls[-1] == str(own)
    raised[0] = OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OSError, match="No space left"):
        lab._trained(train, "plain", cache_dir=str(shared))
    raised[0] = PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr("xai_helpers.course.lab.os.access", lambda path, mode: True)  # writable: not hidden
    with pytest.raises(PermissionError):
        lab._trained(train, "plain", cache_dir=str(shared))
