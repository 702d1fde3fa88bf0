"""The data sets by name, and what is known of them before loading: their image side, and whether an imagefolder
holds images. The runner and the workflow check these before any notebook starts; this module imports no torch,
so that they start without it (the loaders are in :mod:`.datasets`, whose ``LOADERS`` has these names)."""
from __future__ import annotations

import os
from pathlib import Path

#: Side in pixels of each data set's images; None where the ``image_size`` parameter sets it. Its keys are the data
#: sets, in the order the runner lists them.
NATIVE_SIDE = {"mnist5k": 28, "mnist": 28, "fashion-mnist": 28, "cifar10": 32, "imagefolder": None, "shapes": None}
DATASETS = tuple(NATIVE_SIDE)
#: The data sets of gray handwritten digits: the only ones that hold pen strokes (morphometry, stroke concepts).
DIGIT_DATASETS = ("mnist5k", "mnist")


def check_imagefolder(data_dir: str | Path | None) -> Path:
    """The resolved folder of an ``imagefolder`` data set, refused unless it holds ``DIR/<class>/<file>`` for at
    least two classes: what the runner and the workflow check before any notebook starts (the loader again)."""
    if data_dir in (None, ""):
        raise ValueError("data set 'imagefolder' needs data_dir (--data-dir DIR) holding DIR/<class>/<image>")
    root = Path(data_dir).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"imagefolder data_dir {root} does not exist; expected {root}/<class>/<image>")
    classes = [d.name for d in sorted(root.iterdir()) if d.is_dir() and any(f.is_file() for f in d.iterdir())]
    if len(classes) < 2:
        raise FileNotFoundError(f"imagefolder data_dir {root} holds {len(classes)} class folder(s) with files "
                                f"({', '.join(classes) or 'none'}); expected {root}/<class>/<image> for at least "
                                f"two classes (pass the folder with --data-dir)")
    return root


def image_side(name: str, image_size: int) -> int:
    """The side in pixels of data set ``name``'s images when loaded with ``image_size``, known before loading
    (so that the runner can refuse a planted patch larger than the image before anything runs)."""
    if name not in NATIVE_SIDE:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return NATIVE_SIDE[name] or image_size


#: The file endings torchvision's ImageFolder reads (``torchvision.datasets.folder.IMG_EXTENSIONS``).
IMAGE_ENDINGS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
#: The share of the memory available now that decoding an image folder may take.
MEMORY_SHARE = 0.5


def imagefolder_bytes(root: Path, image_size: int, channels: int) -> tuple[int, int]:
    """(images, bytes) of ``root``'s images decoded as the loader holds them: float32, ``channels`` × ``image_size``²
    each, all in memory at once (the study's data sets are tensors, not streams)."""
    n = sum(1 for d in root.iterdir() if d.is_dir() for f in d.iterdir()
            if f.is_file() and f.suffix.lower() in IMAGE_ENDINGS)
    return n, n * channels * image_size * image_size * 4


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``, else the free physical pages); None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_imagefolder_memory(root: Path, image_size: int, channels: int, available: int | None = None) -> int:
    """Refuse, before anything is decoded, a folder whose images would take more than :data:`MEMORY_SHARE` of the
    memory available (``available``: measured when None), naming the estimate; returns the estimate in bytes."""
    n, needed = imagefolder_bytes(root, image_size, channels)
    available = available_memory() if available is None else available
    if available is not None and needed > MEMORY_SHARE * available:
        raise MemoryError(f"imagefolder {root}: {n} images at {image_size} px with {channels} channel(s) take about "
                          f"{needed / 2**30:.2f} GiB decoded (float32, all in memory), more than half of the "
                          f"{available / 2**30:.2f} GiB available: use a smaller image_size, fewer images per class, "
                          "or a machine with more memory")
    return needed
