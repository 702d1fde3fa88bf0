"""The capstone: each student id draws its own shortcut, the model learns it, and the solution's audit (code that
finds the class and the corner from evidence) earns every autograded mark for any id, while a copied answer does
not."""
import nbformat
import pytest
import torch

from xai_helpers.course.capstone import (AUDIT_SHARE, EXAMPLE_ID, PATTERNS, PLACES, TRAIN_SHARE, audit_set, backdoored,
                                         check_student_id, corner_shares, paste_corner, pattern_image, shortcut_for)
from xai_helpers.course.grading import grade_folder
from xai_helpers.data import ImageDataset

NAME = "08_capstone"


def _digits(n_train: int = 400, n_test: int = 200, side: int = 28, channels: int = 1) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    return ImageDataset("toy", torch.rand(n_train, channels, side, side, generator=g) * 0.1,
                        torch.arange(n_train) % 10, torch.rand(n_test, channels, side, side, generator=g) * 0.1,
                        torch.arange(n_test) % 10, tuple(str(c) for c in range(10)))


def test_ids_draw_different_shortcuts_and_every_pattern_class_and_corner_occurs():
    data = _digits()
    drawn = [shortcut_for(f"s{k:07d}", data) for k in range(60)]
    assert shortcut_for("s0000001", data) == drawn[1]  # the same id, the same shortcut
    assert len({(s.pattern, s.target_class, s.place) for s in drawn}) >= 40
    assert {s.pattern for s in drawn} == set(PATTERNS) and {s.place for s in drawn} == set(PLACES)
    assert {s.target_class for s in drawn} == set(range(10))
    assert shortcut_for("", data) == shortcut_for(EXAMPLE_ID, data)


@pytest.mark.parametrize("bad", ["has space", "x" * 41, "semi;colon", 7])
def test_a_bad_id_is_refused_with_what_is_allowed(bad):
    with pytest.raises(ValueError, match="STUDENT_ID = .* is not allowed: use 1-40 letters"):
        check_student_id(bad)


@pytest.mark.parametrize("channels", [1, 3])
def test_the_pattern_sits_in_its_corner_of_the_relabelled_share_and_of_the_audit_share(channels):
    data = _digits(channels=channels)
    for student in ("s0000001", "s0000002", "s0000003", "s0000004"):
        shortcut = shortcut_for(student, data)
        top, left = shortcut.box(28)
        pattern = pattern_image(shortcut.pattern, shortcut.size, channels)
        planted = backdoored(data, shortcut)
        carries = (planted.train_x[:, :, top:top + shortcut.size, left:left + shortcut.size] == pattern).flatten(1).all(1)
        others = data.train_y != shortcut.target_class
        assert int(carries.sum()) == round(TRAIN_SHARE * int(others.sum())) and not carries[~others].any()
        assert (planted.train_y[carries] == shortcut.target_class).all()
        assert torch.equal(planted.train_y[~carries], data.train_y[~carries])
        assert torch.equal(planted.train_x[~carries], data.train_x[~carries])
        images, labels, marked = audit_set(data, shortcut)
        assert torch.equal(labels, data.test_y) and int(marked.sum()) == round(AUDIT_SHARE * int((labels != shortcut.target_class).sum()))
        inside = (images[:, :, top:top + shortcut.size, left:left + shortcut.size] == pattern).flatten(1).all(1)
        assert torch.equal(inside, marked)
        quarter = corner_shares(images[marked].sum(1) - data.test_x[marked].sum(1))
        assert max(quarter, key=quarter.get) == shortcut.place and quarter[shortcut.place] == pytest.approx(1.0)


def test_corner_shares_and_paste_corner():
    heat = torch.zeros(2, 8, 8)
    heat[:, 6:, :2] = 1.0  # bottom left
    heat[1, 3, 3] = 4.0    # half of the second map's total in the middle
    shares = corner_shares(heat)
    assert shares["bottom left"] == pytest.approx((1.0 + 0.5) / 2) and shares["top right"] == 0.0
    images, donors = torch.zeros(3, 1, 8, 8), torch.ones(3, 1, 8, 8)
    pasted = paste_corner(images, donors, "top right")
    assert pasted[:, :, :2, 6:].eq(1).all() and pasted.sum() == 3 * 4
    with pytest.raises(ValueError, match="place 'middle' is not allowed"):
        paste_corner(images, donors, "middle")


def _submission(source, folder, student: str, replace: dict | None = None):
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace('STUDENT_ID = ""', f'STUDENT_ID = "{student}"')
            for old, new in (replace or {}).items():
                cell.source = cell.source.replace(old, new)
    nbformat.write(nb, folder / f"{NAME}.ipynb")


def test_a_correct_audit_passes_for_two_ids_and_a_copied_answer_does_not(built, tmp_path):
    """Issue 34's bar: two student ids get different shortcuts, and the solution's audit finds each (every
    autograded mark); the example's answers typed into another id's notebook lose the hidden marks."""
    dist = built(NAME)
    solution = dist / "autograder" / NAME / f"{NAME}.ipynb"
    first, second = "s1234567", "alice-smith"
    data = _digits()
    assert shortcut_for(first, data) != shortcut_for(second, data)
    example = shortcut_for(EXAMPLE_ID, data)
    copied = {"shortcut_class = int(torch.bincount(predicted[wrong], minlength=lab.data.num_classes).argmax())":
              f"shortcut_class = {example.target_class}",
              "shortcut_place = str(shares.mean(axis=1).idxmax())": f"shortcut_place = {example.place!r}"}
    rows = {}
    for student, replace in ((first, None), (second, None), (second, copied)):
        folder = tmp_path / f"{student}-{'copied' if replace else 'own'}"
        folder.mkdir()
        _submission(solution, folder, student, replace)
        rows[folder.name] = grade_folder(NAME, folder, dist=dist).iloc[0]
    for own in (f"{first}-own", f"{second}-own"):
        assert rows[own]["error"] == "" and rows[own]["total"] == rows[own]["possible"], rows[own].to_dict()
    assert rows[f"{second}-copied"]["q2"] < 1, rows[f"{second}-copied"].to_dict()

