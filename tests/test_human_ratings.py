"""The rating tool's items, per-rater order, immediate saving and resuming."""
import warnings

import pandas as pd
import pytest

from xai_helpers import human_ratings as HR

METHODS = ("saliency", "integrated_gradients", "grad_cam")


def test_items_cover_every_pair_once():
    items = HR.rating_items(4, METHODS)
    assert len(items) == 12 and len({it["item"] for it in items}) == 12
    choices = HR.choice_items(4, METHODS)
    assert len(choices) == 4 * 3 and all(c["method"] != c["other_method"] for c in choices)
    with pytest.raises(ValueError, match="two methods"):
        HR.choice_items(2, ["saliency"])


def test_order_is_the_raters_own_and_stable():
    items = HR.rating_items(6, METHODS)
    a1, a2 = HR.rater_order(items, "ann"), HR.rater_order(items, "ann")
    b = HR.rater_order(items, "bob")
    assert [i["item"] for i in a1] == [i["item"] for i in a2]
    assert [i["item"] for i in a1] != [i["item"] for i in b]
    assert sorted(i["item"] for i in a1) == sorted(i["item"] for i in items)
    sides = HR.rater_order(HR.choice_items(6, METHODS), "ann", task="choice")
    assert {(s["left"], s["right"]) == (s["method"], s["other_method"]) for s in sides} == {True, False}


def test_answers_are_saved_at_once_and_a_rater_resumes(tmp_path):
    order = HR.rater_order(HR.rating_items(3, METHODS), "ann")
    for item, r in zip(order[:4], (5, 1, 3, 4)):
        HR.save_answer(tmp_path, "ann", item, "rating", rating=r, seconds=1.5)
    saved = HR.load_ratings(tmp_path)
    assert list(saved["rating"]) == [5, 1, 3, 4] and set(saved["rater"]) == {"ann"}
    left = HR.remaining(order, tmp_path, "ann", "rating")
    assert [i["item"] for i in left] == [i["item"] for i in order[4:]]
    assert len(HR.remaining(order, tmp_path, "bob", "rating")) == len(order)
    choice = HR.rater_order(HR.choice_items(1, METHODS), "ann", task="choice")[0]
    HR.save_answer(tmp_path, "ann", choice, "choice", choice=choice["other_method"])
    assert HR.load_ratings(tmp_path).query("task == 'choice'")["choice"].tolist() == [choice["other_method"]]


def test_a_line_cut_off_by_a_crash_is_left_out_and_answered_again(tmp_path):
    order = HR.rater_order(HR.rating_items(2, METHODS), "ann")
    HR.save_answer(tmp_path, "ann", order[0], "rating", rating=2)
    with open(HR.ratings_file(tmp_path, "ann"), "a") as f:
        f.write("ann,rating,img000-sal")  # the kernel died mid-line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = HR.load_ratings(tmp_path)
    assert len(saved) == 1 and any("incomplete" in str(w.message) for w in caught)


def test_bad_answers_and_rater_ids_are_refused(tmp_path):
    item = HR.rating_items(1, METHODS)[0]
    with pytest.raises(ValueError, match="1 to 5"):
        HR.save_answer(tmp_path, "ann", item, "rating", rating=6)
    with pytest.raises(ValueError, match="rater id"):
        HR.save_answer(tmp_path, "../evil", item, "rating", rating=3)
    with pytest.raises(ValueError, match="one of the item's two methods"):
        HR.save_answer(tmp_path, "ann", HR.choice_items(1, METHODS)[0], "choice", choice="lime")
    assert not list(tmp_path.iterdir())  # nothing half-written
    assert HR.load_ratings(tmp_path / "none").empty and list(HR.load_ratings(tmp_path).columns) == list(HR.COLUMNS)


def test_no_ratings_means_an_empty_table_not_a_made_up_one(tmp_path):
    assert isinstance(HR.load_ratings(tmp_path), pd.DataFrame) and HR.load_ratings(tmp_path).empty


def test_figures_hide_the_method_names():
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np

    from xai_helpers.rating_widgets import item_figure, static_items_grid
    images = np.random.default_rng(0).random((2, 1, 8, 8))
    maps = {m: np.random.default_rng(1).random((2, 8, 8)) for m in METHODS}
    order = HR.rater_order(HR.rating_items(2, METHODS), "ann")
    choice = HR.rater_order(HR.choice_items(2, METHODS), "ann", task="choice")[0]
    figs = [item_figure(images, maps, order[0], "rating"), item_figure(images, maps, choice, "choice"),
            static_items_grid(images, maps, order, n=3)]
    assert [len(f.axes) for f in figs] == [2, 3, 6]
    for fig in figs:
        text = " ".join([ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text()])
        assert not any(m in text for m in METHODS), text


def test_the_form_saves_a_click_and_moves_on(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np

    from xai_helpers.rating_widgets import rating_form
    images = np.random.default_rng(0).random((2, 1, 8, 8))
    maps = {m: np.random.default_rng(1).random((2, 8, 8)) for m in METHODS}
    order = HR.rater_order(HR.rating_items(2, METHODS), "ann")
    form = rating_form(images, maps, order, tmp_path, "ann")
    buttons = form.children[2].children
    buttons[4].click()  # "5"
    buttons[0].click()  # "1"
    saved = HR.load_ratings(tmp_path)
    assert saved["item"].tolist() == [order[0]["item"], order[1]["item"]] and saved["rating"].tolist() == [5, 1]
    again = rating_form(images, maps, order, tmp_path, "ann")  # a returning rater starts at item 3
    assert "item 3 of 6" in again.children[0].value
    choices = HR.rater_order(HR.choice_items(2, METHODS), "ann", task="choice")
    form = rating_form(images, maps, choices, tmp_path, "ann", task="choice")
    form.children[2].children[1].click()  # "B" = the right-hand map
    assert HR.load_ratings(tmp_path).query("task == 'choice'")["choice"].tolist() == [choices[0]["right"]]
