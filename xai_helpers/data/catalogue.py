"""The data sets by name, and what is known of them before loading: their image side, and whether an imagefolder
holds images. The runner and the workflow check these before any notebook starts; this module imports no torch,
so that they start without it (the loaders are in :mod:`.datasets`, whose ``LOADERS`` has these names)."""
from __future__ import annotations

from pathlib import Path

#: Side in pixels of each data set's images; None where the ``image_size`` parameter sets it. Its keys are the data
#: sets, in the order the runner lists them.
NATIVE_SIDE = {"mnist5k": 28, "mnist": 28, "fashion-mnist": 28, "cifar10": 32, "imagefolder": None, "shapes": None}
DATASETS = tuple(NATIVE_SIDE)


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
