"""The planted shortcut and pattern (xai_helpers.cnn.shortcut): a patch that stands out on any image, sized to the image,
and a shortcut model verified to have learned it, within a bounded budget, on training images only."""
import types

import pytest
import torch

from xai_helpers.cnn import shortcut as S
from xai_helpers.data import planting as P
from xai_helpers.data.datasets import ImageDataset


def test_the_colour_checkerboard_alternates_every_channel_between_0_and_1():
    gray, colour = P.checkerboard(4, 1), P.checkerboard(4, 3)
    assert gray.shape == (1, 4, 4) and set(gray.unique().tolist()) == {0.0, 1.0}
    assert colour.shape == (3, 4, 4)
    for channel in colour:  # horizontal and vertical neighbours differ by 1 in every channel
        assert (channel[:, 1:] - channel[:, :-1]).abs().eq(1).all()
        assert (channel[1:] - channel[:-1]).abs().eq(1).all()
    assert {tuple(colour[:, i, j].tolist()) for i in range(4) for j in range(4)} == set(P.PATCH_COLOURS)
    with pytest.raises(ValueError, match="channels = 2"):
        P.checkerboard(4, 2)


def test_planted_patches_are_sized_to_the_image():
    assert [P.relative_size(side, P.PATCH_SHARE) for side in (28, 32, 64)] == [4, 5, 9]
    assert [P.relative_size(side, P.PATTERN_SHARE) for side in (28, 32, 64)] == [6, 6, 13]
    assert P.relative_size(8, 0.1) == 2  # a pattern needs two cells at least
    with pytest.raises(ValueError, match="share"):
        P.relative_size(28, 0)


def _tiny(channels=3, n=80, classes=4, side=12):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n + 40, channels, side, side, generator=gen)
    y = torch.arange(n + 40) % classes
    return ImageDataset("tiny", x[:n], y[:n], x[n:], y[n:], tuple(map(str, range(classes))))


def test_the_shortcut_is_planted_in_colour_on_colour_data():
    data = _tiny()
    planted = P.shortcut_dataset(data, 1, patch=3, fraction=0.25)
    changed = (planted.train_x != data.train_x).flatten(1).any(1)
    assert (planted.train_y[changed] == 1).all() and changed.sum() == planted.info["shortcut"]["planted"]
    # every changed image holds the magenta/green checkerboard somewhere
    board = P.checkerboard(3, 3)
    windows = planted.train_x[changed].unfold(2, 3, 1).unfold(3, 3, 1)  # (N, C, H', W', 3, 3)
    found = (windows == board[:, None, None]).all(1).flatten(-2).all(-1).flatten(1).any(1)
    assert found.all()
    untouched = torch.tensor(planted.info["shortcut"]["untouched_others"])
    assert (data.train_y[untouched] != 1).all() and not changed[untouched].any()
    assert len(untouched) + changed.sum() == len(data.train_y)


def _holds_board(images, board):
    """Per image: does some window equal ``board`` exactly?"""
    p = board.shape[-1]
    windows = images.unfold(2, p, 1).unfold(3, p, 1)  # (N, C, H', W', p, p)
    return (windows == board[:, None, None]).all(1).flatten(-2).all(-1).flatten(1).any(1)


def test_training_augments_planted_images_but_shows_the_pattern_crisp_at_its_box():
    """Affine augmentation of a planted image resamples the checkerboard (it blurs and tilts it); the model must
    see the exact pattern it is tested with. Every image of a fully planted set reaches the model with the exact
    board; before the fix, augmentation blurred nearly all of them."""
    from xai_helpers.cnn.train import _fit

    data = _tiny(n=64)
    planted = P.shortcut_dataset(data, 1, patch=3, fraction=1.0)  # every training image planted

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear, self.seen = torch.nn.Linear(3 * 12 * 12, 4), []

        def forward(self, x):
            if self.training:
                self.seen.append(x.detach().clone())
            return self.linear(x.flatten(1))

    model = Recorder()
    _fit(model, planted, epochs=1, batch_size=16, lr=1e-3, weight_decay=0.0, augment=True, seed=0,
         device=torch.device("cpu"), progress="none", label="recorder")
    seen = torch.cat(model.seen)
    assert len(seen) == len(data.train_x) and _holds_board(seen, P.checkerboard(3, 3)).all()
    # ... and the images were augmented: none reached the model as stored
    assert not (seen[:, None] == planted.train_x[None]).flatten(2).all(2).any()


def test_augmenting_with_stamps_is_the_plain_augmentation_of_the_image_before_planting():
    from xai_helpers.cnn.train import augment_batch, augment_keeping_stamps

    data = _tiny(n=64)
    planted = P.shortcut_dataset(data, 1, patch=3, fraction=0.25)
    stamps = planted.train_stamps
    assert torch.equal(planted.train_x[stamps.index], P.plant(data.train_x[stamps.index], stamps.boxes,
                                                                P.checkerboard(3, 3)))
    for row, i in enumerate(stamps.index.tolist()):  # ``under`` is what the pattern covers
        top, left = stamps.boxes[row, :2].tolist()
        assert torch.equal(stamps.under[row], data.train_x[i, :, top:top + 3, left:left + 3])
    index = torch.arange(len(data.train_x))
    ours = augment_keeping_stamps(planted.train_x, index, stamps, torch.Generator().manual_seed(7))
    plain = augment_batch(data.train_x, torch.Generator().manual_seed(7))  # same draws, images before planting
    inside = torch.zeros_like(plain, dtype=torch.bool)
    for row, i in enumerate(stamps.index.tolist()):
        top, left = stamps.boxes[row, :2].tolist()
        inside[i, :, top:top + 3, left:left + 3] = True
        assert torch.equal(ours[i, :, top:top + 3, left:left + 3], P.checkerboard(3, 3))
    assert torch.equal(ours[~inside], plain[~inside])


def test_stamps_are_part_of_the_fingerprint_and_a_stamped_set_is_not_subsampled():
    from xai_helpers.data.datasets import TrainStamps, _limited

    data = _tiny(n=64)
    planted = P.shortcut_dataset(data, 1, patch=3, fraction=0.25)
    bare = ImageDataset(planted.name, planted.train_x, planted.train_y, planted.test_x, planted.test_y,
                        planted.classes)
    assert bare.fingerprint != planted.fingerprint  # same pixels, but training treats them differently
    with pytest.raises(ValueError, match="subsample the data before planting"):
        _limited(planted, 10, None)
    st = planted.train_stamps
    with pytest.raises(ValueError, match="sorted"):
        TrainStamps(st.index.flip(0), st.boxes, st.pattern, st.under)


def test_the_shortcut_model_trains_longer_until_it_has_learned_and_decides_on_training_images_only(monkeypatch):
    """A fake trainer whose model uses the patch from 4 epochs on: the budget doubles the epochs until then, and
    the check images are patched *training* images of other classes that kept their label, never test images."""
    data = _tiny()
    seen, trained_epochs = [], []

    class Model(torch.nn.Module):
        def __init__(self, uses_patch):
            super().__init__()
            self.uses_patch, self.dummy = uses_patch, torch.nn.Linear(1, 1)

        def forward(self, x):
            seen.append(x)
            logits = torch.zeros(len(x), 4)
            logits[:, 1 if self.uses_patch else 0] = 1
            return logits

    def fake_train(arch, ds, *, epochs, **kw):
        trained_epochs.append(epochs)
        return types.SimpleNamespace(model=Model(epochs >= 4), key=f"k{epochs}")

    monkeypatch.setattr(S, "train_classifier", fake_train)
    model, rounds = S.train_shortcut_model(data, 1, 3, epochs=1, fraction=0.25)
    assert trained_epochs == [1, 2, 4] and model.key == "k4"
    assert [r["epochs"] for r in rounds] == [1, 2, 4] and [r["check_rate"] for r in rounds] == [0.0, 0.0, 1.0]
    untouched = torch.tensor(P.shortcut_dataset(data, 1, 3, 0.25).info["shortcut"]["untouched_others"])
    for x in seen:  # each check image is an untouched training image with the patch pasted in
        differs = (x[:, None] != data.train_x[untouched][None]).flatten(2).sum(2)
        assert (differs.min(1).values <= 3 * 3 * 3).all()
        assert not (x[:, None] == data.test_x[None]).flatten(2).all(2).any()
    trained_epochs.clear()
    _, rounds = S.train_shortcut_model(data, 1, 3, epochs=1, fraction=0.25, max_rounds=2)
    assert trained_epochs == [1, 2] and rounds[-1]["check_rate"] == 0.0  # budget spent: returned, not learned
    with pytest.raises(ValueError, match="max_rounds = 0"):
        S.train_shortcut_model(data, 1, 3, epochs=1, max_rounds=0)


def test_on_textured_colour_images_the_colour_shortcut_is_learned_where_a_black_and_white_one_is_not(
        tmp_path, monkeypatch):
    """A colour data set of our own making: mnist5k digits tinted over textured colour backgrounds, with
    black-and-white checks (as on checkered fabric) in half of all images. The magenta/green patch stands out
    and is learned within the budget; the old black-and-white patch blends into the checks (a case built to fail)."""
    from xai_helpers.data.colour import colourise
    from xai_helpers.data.datasets import load_dataset

    digits = load_dataset("mnist5k", train_limit=600, test_limit=300)
    gen = torch.Generator().manual_seed(5)

    def with_checks(x):
        x, half = x.clone(), torch.rand(len(x), generator=gen) < 0.5
        x[half] = P.plant(x[half], P.random_boxes(int(half.sum()), 28, 4, gen), P.checkerboard(4, 1))
        return x

    data = ImageDataset("colour-checks", with_checks(colourise(digits.train_x, 0)), digits.train_y,
                        with_checks(colourise(digits.test_x, 1)), digits.test_y, digits.classes)
    settings = dict(batch_size=32, lr=3e-3, weight_decay=1e-4, augment=False, seed=0, device="cpu",
                    cache_dir=str(tmp_path), progress="none")
    others = data.test_y != 3

    model, rounds = S.train_shortcut_model(data, 3, 4, epochs=2, max_rounds=2, **settings)
    patched, _ = P.patched_test_set(data, 4)
    assert rounds[-1]["check_rate"] >= S.SHORTCUT_RATE_MIN
    assert S.shortcut_rate(model.model, patched[others], 3) >= S.SHORTCUT_RATE_MIN

    black_and_white = P.checkerboard
    for module in (P, S):  # where the data sets are planted, and where the check images are
        monkeypatch.setattr(module, "checkerboard", lambda size, channels=1: black_and_white(size, 1))
    model, rounds = S.train_shortcut_model(data, 3, 4, epochs=2, max_rounds=2, **settings)
    patched, _ = P.patched_test_set(data, 4)
    assert [r["epochs"] for r in rounds] == [2, 4] and rounds[-1]["check_rate"] < S.SHORTCUT_RATE_MIN
    assert S.shortcut_rate(model.model, patched[others], 3) < S.SHORTCUT_RATE_MIN
