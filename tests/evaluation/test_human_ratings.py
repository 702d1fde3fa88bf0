"""The rating tool's items, per-rater order, immediate saving and resuming."""
import warnings

import numpy as np
import pandas as pd
import pytest

from xai_helpers.evaluation import human_ratings as HR

METHODS = ("saliency", "integrated_gradients", "grad_cam")
CONTEXT = {"data_fingerprint": "data-a", "classifier": "classifier-a"}


def items(n_images, task="rating", methods=METHODS, context=CONTEXT, seed=1):
    """Rating or choice items for test images 10, 11, … with random maps (one per image and method)."""
    rng = np.random.default_rng(seed)
    maps = {m: rng.random((n_images, 8, 8)) for m in methods}
    make = HR.rating_items if task == "rating" else HR.choice_items
    return make(range(10, 10 + n_images), maps, context)


def test_items_cover_every_pair_once():
    rating = items(4)
    assert len(rating) == 12 and len({it["item"] for it in rating}) == 12
    choices = items(4, "choice")
    assert len(choices) == 4 * 3 and all(c["method"] != c["other_method"] for c in choices)
    with pytest.raises(ValueError, match="two methods"):
        items(2, "choice", methods=["saliency"])


def test_order_is_the_raters_own_and_stable():
    rating = items(6)
    a1, a2 = HR.rater_order(rating, "ann"), HR.rater_order(rating, "ann")
    b = HR.rater_order(rating, "bob")
    assert [i["item"] for i in a1] == [i["item"] for i in a2]
    assert [i["item"] for i in a1] != [i["item"] for i in b]
    assert sorted(i["item"] for i in a1) == sorted(i["item"] for i in rating)
    sides = HR.rater_order(items(6, "choice"), "ann", task="choice")
    assert {(s["left"], s["right"]) == (s["method"], s["other_method"]) for s in sides} == {True, False}


def test_answers_are_saved_at_once_and_a_rater_resumes(tmp_path):
    order = HR.rater_order(items(3), "ann")
    for item, r in zip(order[:4], (5, 1, 3, 4)):
        HR.save_answer(tmp_path, "ann", item, "rating", rating=r, seconds=1.5)
    saved = HR.load_ratings(tmp_path)
    assert list(saved["rating"]) == [5, 1, 3, 4] and set(saved["rater"]) == {"ann"}
    left = HR.remaining(order, tmp_path, "ann", "rating")
    assert [i["item"] for i in left] == [i["item"] for i in order[4:]]
    assert len(HR.remaining(order, tmp_path, "bob", "rating")) == len(order)
    choice = HR.rater_order(items(1, "choice"), "ann", task="choice")[0]
    HR.save_answer(tmp_path, "ann", choice, "choice", choice=choice["other_method"])
    assert HR.load_ratings(tmp_path).query("task == 'choice'")["choice"].tolist() == [choice["other_method"]]


def test_a_line_cut_off_by_a_crash_is_left_out_and_answered_again(tmp_path):
    order = HR.rater_order(items(2), "ann")
    HR.save_answer(tmp_path, "ann", order[0], "rating", rating=2)
    with open(HR.ratings_file(tmp_path, "ann"), "a") as f:
        f.write("ann,rating,img10-sal")  # the kernel died mid-line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved = HR.load_ratings(tmp_path)
    assert len(saved) == 1 and any("incomplete" in str(w.message) for w in caught)


def test_bad_answers_and_rater_ids_are_refused(tmp_path):
    item = items(1)[0]
    with pytest.raises(ValueError, match="1 to 5"):
        HR.save_answer(tmp_path, "ann", item, "rating", rating=6)
    with pytest.raises(ValueError, match="rater id"):
        HR.save_answer(tmp_path, "../evil", item, "rating", rating=3)
    with pytest.raises(ValueError, match="one of the item's two methods"):
        HR.save_answer(tmp_path, "ann", items(1, "choice")[0], "choice", choice="lime")
    assert not list(tmp_path.iterdir())  # nothing half-written
    assert HR.load_ratings(tmp_path / "none").empty and list(HR.load_ratings(tmp_path).columns) == list(HR.COLUMNS)


def test_no_ratings_means_an_empty_table_not_a_made_up_one(tmp_path):
    assert isinstance(HR.load_ratings(tmp_path), pd.DataFrame) and HR.load_ratings(tmp_path).empty


def test_figures_hide_the_method_names():
    import matplotlib
    matplotlib.use("Agg")
    import numpy as np

    from xai_helpers.evaluation.rating_widgets import item_figure, static_items_grid
    images = np.random.default_rng(0).random((2, 1, 8, 8))
    maps = {m: np.random.default_rng(1).random((2, 8, 8)) for m in METHODS}
    order = HR.rater_order(items(2), "ann")
    choice = HR.rater_order(items(2, "choice"), "ann", task="choice")[0]
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

    from xai_helpers.evaluation.rating_widgets import rating_form
    images = np.random.default_rng(0).random((2, 1, 8, 8))
    maps = {m: np.random.default_rng(1).random((2, 8, 8)) for m in METHODS}
    order = HR.rater_order(items(2), "ann")
    form = rating_form(images, maps, order, tmp_path, "ann")
    buttons = form.children[2].children
    buttons[4].click()  # "5"
    buttons[0].click()  # "1"
    saved = HR.load_ratings(tmp_path)
    assert saved["item"].tolist() == [order[0]["item"], order[1]["item"]] and saved["rating"].tolist() == [5, 1]
    again = rating_form(images, maps, order, tmp_path, "ann")  # a returning rater starts at item 3
    assert "item 3 of 6" in again.children[0].value
    choices = HR.rater_order(items(2, "choice"), "ann", task="choice")
    form = rating_form(images, maps, choices, tmp_path, "ann", task="choice")
    form.children[2].children[1].click()  # "B" = the right-hand map
    assert HR.load_ratings(tmp_path).query("task == 'choice'")["choice"].tolist() == [choices[0]["right"]]


def test_rating_images_are_class_balanced_with_mistakes_and_seeded():
    """Issue 14: the items were test_x[:n], all of the first class of a sorted test split."""
    labels = np.repeat(np.arange(10), 30)  # sorted by class, as mnist5k's test split is
    predictions = labels.copy()
    predictions[::7] = (labels[::7] + 1) % 10  # some mistakes in every class
    chosen = HR.select_rating_images(labels, predictions, 12, seed=0)
    assert len(chosen) == len(set(chosen)) == 12
    counts = np.bincount(labels[chosen], minlength=10)
    assert counts.min() == 1 and counts.max() == 2  # every class, none twice before all once
    wrong = (predictions[chosen] != labels[chosen]).sum()
    assert wrong == 3  # a quarter of 12
    assert (HR.select_rating_images(labels, predictions, 12, seed=0) == chosen).all()
    assert not (HR.select_rating_images(labels, predictions, 12, seed=1) == chosen).all()
    assert len(HR.select_rating_images(labels, labels, 500, seed=0)) == 300  # capped; none wrong to take
    # Issue 35: the cap was silent; the notebook now says it in its log and its metrics.
    assert HR.rating_shortfall(500, 300, 300) == ("rating_images asked for 500, the test set holds 300: 300 images "
                                                  "are rated (fewer answers per method than planned)")
    assert HR.rating_shortfall(12, 12, 300) == ""
    few = HR.select_rating_images(labels, predictions, 2, seed=0)
    assert (predictions[few] != labels[few]).sum() == 1  # at least one mistake when there are any
    with pytest.raises(ValueError, match="n = 0"):
        HR.select_rating_images(labels, predictions, 0)


def test_map_hash_sees_what_the_rater_sees():
    heat = np.random.default_rng(0).random((8, 8))
    assert HR.map_hash(heat) == HR.map_hash(heat * 3 + 1e-12)  # the display is min-max scaled
    assert HR.map_hash(heat) != HR.map_hash(heat.T)
    assert HR.map_hash(np.zeros((8, 8))) == HR.map_hash(np.ones((8, 8)))  # both show as one colour


def test_only_answers_about_this_runs_items_are_kept_and_the_rest_counted(tmp_path):
    """Issue 14: every CSV in the folder was pooled, whatever data, classifier or maps the rater had seen."""
    current = items(2)
    for item in current[:3]:
        HR.save_answer(tmp_path, "ann", item, "rating", rating=4)
    for item in items(2, context={"data_fingerprint": "data-b", "classifier": "classifier-b"})[:2]:
        HR.save_answer(tmp_path, "bob", item, "rating", rating=1)
    for item in items(2, context={"data_fingerprint": "data-a", "classifier": "classifier-b"})[:1]:
        HR.save_answer(tmp_path, "bob", item, "rating", rating=1)
    HR.save_answer(tmp_path, "cy", items(2, seed=2)[0], "rating", rating=1)  # same image and method, other map
    with open(tmp_path / "old.csv", "w") as f:  # a file of the format before answers were keyed
        f.write(",".join(HR.UNKEYED_COLUMNS) + "\nold,rating,img000-saliency,0,saliency,,5,,1.0,2026-01-01T00:00:00Z\n")
    kept, left_out = HR.current_answers(HR.load_ratings(tmp_path), current)
    assert kept["rater"].tolist() == ["ann"] * 3 and kept["item"].tolist() == [i["item"] for i in current[:3]]
    assert left_out == {"another data set or data subset": 2, "another classifier": 1,
                        "the same image and method, but another map (other settings or code)": 1,
                        "older ratings file that does not record what the rater saw": 1}
    assert HR.current_answers(HR.load_ratings(tmp_path / "none"), current)[1] == {}


def test_items_record_what_the_rater_saw():
    first = items(1)[0]
    assert first["test_index"] == 10 and first["image"] == 0 and first["classifier"] == "classifier-a"
    assert first["map_hash"] in first["item"] and "img10" in first["item"]
    with pytest.raises(ValueError, match="classifier"):
        HR.rating_items([1], {"saliency": np.zeros((1, 4, 4))}, {"data_fingerprint": "x"})
    with pytest.raises(ValueError, match="2 maps of saliency for 1 images"):
        HR.rating_items([1], {"saliency": np.zeros((2, 4, 4))}, CONTEXT)


def test_an_answer_whose_map_moved_by_float_noise_still_counts_for_its_item(tmp_path):
    """Issue 29 (low): 1e-6 of noise moved one map's exact hash (one of its 256 levels flipped), and the answer
    given to it was left out as "another map". A signature of the map as the rater sees it matches within one
    level; a really different map is still left out."""
    heat = np.random.default_rng(3).random((1, 28, 28))
    heat[0, 0, 0], heat[0, 0, 1] = 0.0, 1.0  # fixed scale: min 0, max 1
    heat[0, 5, 5] = 100.5 / 255 - 1e-7  # on the edge between two of the 256 levels
    noisy = heat.copy()
    noisy[0, 5, 5] += 2e-7
    assert HR.map_hash(heat[0]) != HR.map_hash(noisy[0])
    assert HR.signatures_close(HR.map_signature(heat[0]), HR.map_signature(noisy[0]))
    answered = HR.rating_items([10], {"saliency": heat}, CONTEXT)
    HR.save_answer(tmp_path, "ann", answered[0], "rating", rating=4)
    now = HR.rating_items([10], {"saliency": noisy}, CONTEXT)
    kept, left_out = HR.current_answers(HR.load_ratings(tmp_path), now)
    assert kept["item"].tolist() == [now[0]["item"]] and left_out == {}
    other = HR.rating_items([10], {"saliency": np.random.default_rng(4).random((1, 28, 28))}, CONTEXT)
    assert HR.current_answers(HR.load_ratings(tmp_path), other)[1] == {
        "the same image and method, but another map (other settings or code)": 1}


def test_a_file_written_before_signatures_is_read_and_upgraded_when_the_rater_answers_again(tmp_path):
    item = items(1)[0]
    old_row = [("ann" if c == "rater" else "rating" if c == "task" else str(item.get(c, "")) if c != "rating" else "3")
               for c in HR.UNSIGNED_COLUMNS]
    with open(tmp_path / "ann.csv", "w") as f:
        f.write(",".join(HR.UNSIGNED_COLUMNS) + "\n" + ",".join(old_row) + "\n")
    assert HR.current_answers(HR.load_ratings(tmp_path), items(1))[0]["rating"].tolist() == [3]  # by its exact hash
    HR.save_answer(tmp_path, "ann", items(1)[1], "rating", rating=5)
    assert (tmp_path / "ann.csv").read_text().splitlines()[0] == ",".join(HR.COLUMNS)
    assert HR.load_ratings(tmp_path)["rating"].tolist() == [3, 5]
