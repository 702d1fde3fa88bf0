"""Morpho-MNIST-style morphometry on synthetic shapes with known geometry."""
import math

import numpy as np
import pytest
import torch

from xai_helpers.latent.morphometry import PROPERTIES, measure, measure_one


def render(inside, size=28, ss=8):
    """Anti-aliased rendering: pixel value = fraction of ss x ss sub-samples with inside(x, y) true.

    x = column, y = row (down), pixel (r, c) covers [c, c+1) x [r, r+1).
    """
    sub = (np.arange(size * ss) + 0.5) / ss
    yy, xx = np.meshgrid(sub, sub, indexing="ij")
    cover = inside(xx, yy).astype(np.float64)
    return cover.reshape(size, ss, size, ss).mean(axis=(1, 3))


def rectangle(x0, y0, w, h, size=28):
    img = np.zeros((size, size))
    img[y0:y0 + h, x0:x0 + w] = 1.0
    return img


def sheared_bar(shear, width=4.0, y0=4.0, y1=24.0, size=28):
    """Bar of horizontal thickness ``width``; its centre moves right by ``shear`` px per px going *up*."""
    yc = 0.5 * (y0 + y1)

    def inside(x, y):
        centre = size / 2 + shear * (yc - y)
        return (np.abs(x - centre) < width / 2) & (y >= y0) & (y < y1)

    return render(inside, size)


@pytest.mark.parametrize("w,h", [(6, 14), (12, 5), (3, 20), (20, 20)])
def test_rectangle_extent_area_slant(w, h):
    img = rectangle(4, 3, w, h)
    for upscale in (4, 1):
        m = measure_one(img, upscale=upscale)
        assert m["width"] == pytest.approx(w, abs=1.0)
        assert m["height"] == pytest.approx(h, abs=1.0)
        assert m["area"] == pytest.approx(w * h, rel=0.05)
        assert abs(m["slant"]) < 1e-9


def test_rectangle_not_square_distinguishes_width_and_height():
    m = measure_one(rectangle(2, 10, 22, 6))
    assert m["width"] == pytest.approx(22, abs=1.0)
    assert m["height"] == pytest.approx(6, abs=1.0)


def test_bar_thickness_tracks_stroke_width():
    ts = (2, 4, 6)
    measured = [measure_one(rectangle(14 - t // 2, 2, t, 24))["thickness"] for t in ts]
    for t, got in zip(ts, measured):
        assert got == pytest.approx(t, rel=0.15), (t, got)
    assert measured[0] < measured[1] < measured[2]


def test_thickness_of_antialiased_bar_fractional_width():
    # 3.5 px wide bar rendered with anti-aliasing: sub-pixel thickness resolved at upscale 4
    img = render(lambda x, y: (np.abs(x - 14.0) < 1.75) & (y >= 3) & (y < 25))
    assert measure_one(img)["thickness"] == pytest.approx(3.5, rel=0.15)


@pytest.mark.parametrize("shear", [0.3, 0.5, -0.3, -0.5])
def test_sheared_bar_slant_sign_angle_and_deslanted_width(shear):
    width = 4.0
    img = sheared_bar(shear, width=width)
    m = measure_one(img)
    assert np.sign(m["slant"]) == np.sign(shear)
    assert m["slant"] == pytest.approx(math.atan(shear), abs=math.radians(3))
    # deslanted width is the horizontal thickness, not the bounding box (4 + 20*|shear| = 10..14 px)
    bbox_width = width + 20 * abs(shear)
    assert m["width"] == pytest.approx(width, abs=1.0)
    assert m["width"] < bbox_width - 4
    assert m["height"] == pytest.approx(20, abs=1.0)


def test_leaning_right_like_slash_is_positive():
    # '/' : top pixels to the right of bottom pixels
    img = np.zeros((28, 28))
    for r in range(4, 24):
        c = 20 - (r - 4) // 2
        img[r, c - 1:c + 2] = 1.0
    assert measure_one(img)["slant"] > 0.2
    assert measure_one(img[:, ::-1].copy())["slant"] < -0.2


def test_blank_gives_all_nan():
    row = measure_one(np.zeros((28, 28)))
    assert set(row) == set(PROPERTIES)
    assert all(math.isnan(v) for v in row.values())
    # faint image below the threshold is blank too
    row = measure_one(np.full((28, 28), 0.4))
    assert all(math.isnan(v) for v in row.values())


def test_mixed_batch_blank_and_rectangle():
    batch = np.stack([np.zeros((28, 28)), rectangle(5, 5, 8, 10), np.zeros((28, 28))])
    df = measure(batch)
    assert list(df.columns) == list(PROPERTIES)
    assert len(df) == 3
    assert all(df[c].dtype == np.float64 for c in df.columns)
    assert df.iloc[0].isna().all() and df.iloc[2].isna().all()
    assert np.isfinite(df.iloc[1].to_numpy()).all()
    assert df.loc[1, "width"] == pytest.approx(8, abs=1.0)
    assert df.loc[1, "height"] == pytest.approx(10, abs=1.0)


def test_torch_nchw_and_numpy_nhw_agree():
    imgs = np.stack([rectangle(3, 4, 7, 15), sheared_bar(0.4), sheared_bar(-0.2, width=3.0), np.zeros((28, 28))])
    a = measure(torch.tensor(imgs, dtype=torch.float32).unsqueeze(1))
    b = measure(imgs.astype(np.float32))
    c = measure(imgs[:, None])
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), equal_nan=True)
    np.testing.assert_allclose(b.to_numpy(), c.to_numpy(), equal_nan=True)
    one = measure_one(imgs[1])
    np.testing.assert_allclose([one[p] for p in PROPERTIES], c.iloc[1].to_numpy(), rtol=1e-6)


def test_32px_images_and_shape_at_border():
    img = np.zeros((32, 32))
    img[0:10, 22:32] = 1.0  # touches the top and right edges
    m = measure(img[None])
    assert m.loc[0, "width"] == pytest.approx(10, abs=1.0)
    assert m.loc[0, "height"] == pytest.approx(10, abs=1.0)
    assert m.loc[0, "thickness"] > 5  # border does not count as background stroke edge


def test_threshold_changes_binarisation():
    img = render(lambda x, y: (np.abs(x - 14.0) < 2.5) & (y >= 3) & (y < 25)) * 0.6
    assert np.isfinite(measure_one(img, threshold=0.5)["area"])
    assert math.isnan(measure_one(img, threshold=0.7)["area"])


def test_empty_batch():
    df = measure(np.zeros((0, 28, 28)))
    assert list(df.columns) == list(PROPERTIES) and len(df) == 0


@pytest.mark.parametrize(
    "images,match",
    [
        (np.zeros((2, 3, 28, 28)), "3 channels"),
        (np.zeros((28, 28)), "ndim 2"),
        (np.zeros((2, 1, 1, 28, 28)), "ndim 5"),
        (np.full((1, 28, 28), np.nan), "non-finite"),
        (np.full((1, 28, 28), np.inf), "non-finite"),
        (np.full((1, 28, 28), 255.0), r"\[0, 1\]"),
    ],
)
def test_validation_images(images, match):
    with pytest.raises(ValueError, match=match):
        measure(images)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"threshold": 0.0}, "threshold.*0.0"),
        ({"threshold": 1.0}, "threshold.*1.0"),
        ({"threshold": -0.2}, "threshold.*-0.2"),
        ({"upscale": 0}, "upscale.*0"),
        ({"upscale": 2.5}, "upscale.*2.5"),
    ],
)
def test_validation_params(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure(np.zeros((1, 28, 28)), **kwargs)
    with pytest.raises(ValueError, match=match):
        measure_one(np.zeros((28, 28)), **kwargs)


def test_measure_one_rejects_batch():
    with pytest.raises(ValueError, match="2-D"):
        measure_one(np.zeros((1, 28, 28)))
