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


#: Images each class of an imagefolder needs without a test_dir: the test split keeps round(20 %) of each class, one
#: image from 3 on, so that every class is both trained on and tested. A test_dir needs one per class.
MIN_IMAGES_PER_CLASS = 3
#: Unreadable files named in a refusal (the rest are counted).
_NAMED = 20


def check_imagefolder(data_dir: str | Path | None, min_per_class: int = MIN_IMAGES_PER_CLASS) -> Path:
    """The resolved folder of an ``imagefolder`` data set, refused unless it holds ``DIR/<class>/<image>`` for at
    least two classes, every class folder with ``min_per_class`` images or more and every image readable: what the
    runner and the workflow check before any notebook starts (the loader again). An unreadable file is refused,
    never skipped: a data set that silently loses images is another data set."""
    if data_dir in (None, ""):
        raise ValueError("data set 'imagefolder' needs data_dir (--data-dir DIR) holding DIR/<class>/<image>")
    root = Path(data_dir).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"imagefolder data_dir {root} does not exist; expected {root}/<class>/<image>")
    images = {d.name: [f for f in sorted(d.iterdir()) if f.is_file() and f.suffix.lower() in IMAGE_ENDINGS]
              for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")}
    if sum(1 for files in images.values() if files) < 2:
        raise FileNotFoundError(f"imagefolder data_dir {root} holds {sum(1 for f in images.values() if f)} class "
                                f"folder(s) with images ({', '.join(c for c, f in images.items() if f) or 'none'}); "
                                f"expected {root}/<class>/<image> for at least two classes (pass the folder with "
                                f"--data-dir; images end in {', '.join(IMAGE_ENDINGS)})")
    few = [f"{name} ({len(files)})" for name, files in images.items() if len(files) < min_per_class]
    if few:
        raise ValueError(f"imagefolder {root}: class folder(s) with fewer than {min_per_class} images: "
                         f"{', '.join(few)}; every class needs {min_per_class} or more"
                         + (" (its test split keeps 20 % of each class, one image from 3 on)" if min_per_class > 1
                            else ""))
    unreadable = _unreadable(root, tuple(f for files in images.values() for f in files))
    if unreadable:
        named = "; ".join(unreadable[:_NAMED]) + (f"; and {len(unreadable) - _NAMED} more" if len(unreadable) > _NAMED
                                                  else "")
        raise ValueError(f"imagefolder {root}: {len(unreadable)} file(s) cannot be read as images: {named}. Remove "
                         "or replace them (they are not skipped: the data set would change without a word)")
    return root


def _unreadable(root: Path, files: tuple[Path, ...]) -> list[str]:
    """The files PIL cannot open and verify (an empty file, text named .jpg, a broken PNG), each with the reason.
    Remembered by the files' sizes and times: the runner checks the folder once per notebook."""
    key = (root, tuple((f, *_stamp(f)) for f in files))
    if key not in _VERIFIED:
        from PIL import Image, UnidentifiedImageError

        found = []
        for f in files:
            try:
                with Image.open(f) as image:
                    image.verify()
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
                found.append(f"{f.relative_to(root)} ({type(err).__name__}: {str(err).strip() or 'empty'})")
        _VERIFIED.clear()
        _VERIFIED[key] = found
    return _VERIFIED[key]


_VERIFIED: dict = {}


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


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
