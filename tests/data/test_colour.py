"""Colour, textured data made from grayscale images (xai_helpers.data.colour), and its imagefolder round trip."""
import numpy as np
import pytest
import torch

from xai_helpers.data.colour import colourise, write_imagefolder
from xai_helpers.data.datasets import load_dataset


def _gray(n=6, side=16):
    g = torch.zeros(n, 1, side, side)
    g[:, :, 4:12, 6:10] = 1.0  # an object in the middle
    return g


def test_colourise_tints_the_object_over_a_textured_colour_background():
    rgb = colourise(_gray(), seed=3)
    assert rgb.shape == (6, 3, 16, 16) and rgb.min() >= 0 and rgb.max() <= 1
    assert torch.equal(rgb, colourise(_gray(), seed=3)) and not torch.equal(rgb, colourise(_gray(), seed=4))
    background = rgb[:, :, :3, :]  # rows without the object
    assert (background.std(dim=(2, 3)) > 0.01).all()  # textured, not flat
    assert (background.flatten(2).mean(2).std(0) > 0.05).any()  # colours differ between images
    obj = rgb[:, :, 5:11, 7:9].mean(dim=(2, 3))
    assert ((obj - background.mean(dim=(2, 3))).abs().max(1).values > 0.01).all()  # the object is visible
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        colourise(torch.zeros(2, 3, 8, 8))


def test_an_imagefolder_written_from_colour_images_loads_as_the_study_reads_it(tmp_path):
    images = colourise(torch.cat([_gray(5), 1 - _gray(5)]), seed=0)
    labels = torch.tensor([0] * 5 + [1] * 5)
    write_imagefolder(images, labels, ("bar", "frame"), tmp_path / "set")
    data = load_dataset("imagefolder", tmp_path / "set", image_size=16, channels=3)
    assert data.classes == ("bar", "frame") and data.image_shape == (3, 16, 16)
    assert len(data.train_x) + len(data.test_x) == 10
    pool = (images * 255).round() / 255  # PNG keeps 8 bits
    for x in torch.cat([data.train_x, data.test_x]):
        assert np.isclose((pool - x).abs().flatten(1).max(1).values.min().item(), 0, atol=1e-6)
    with pytest.raises(FileExistsError, match="already holds"):
        write_imagefolder(images, labels, ("bar", "frame"), tmp_path / "set")


def _write_idx(path, array):
    import gzip

    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_the_tool_writes_a_colour_clothing_imagefolder_from_fashion_mnist_files(tmp_path):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "make_colour_imagefolder", Path(__file__).resolve().parents[2] / "tools" / "make_colour_imagefolder.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 4)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 28, 28)))
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    assert tool.read_idx(tmp_path / "train-labels-idx1-ubyte.gz").tolist() == labels.tolist()
    assert tool.main(["--source", str(tmp_path), "--out", str(tmp_path / "out"), "--per-class", "3"]) == 0
    data = load_dataset("imagefolder", tmp_path / "out", image_size=32, channels=3)
    assert sorted(data.classes) == sorted(tool.CLASSES) and len(data.train_x) + len(data.test_x) == 30
    with pytest.raises(SystemExit):
        tool.main(["--source", str(tmp_path), "--out", str(tmp_path / "o2"), "--per-class", "0"])
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        tool.main(["--source", str(tmp_path / "missing"), "--out", str(tmp_path / "o3")])
