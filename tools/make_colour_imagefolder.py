"""Write a colour, textured 10-class clothing imagefolder from Fashion-MNIST, for whole-study runs on colour data.

    .venv/bin/python tools/make_colour_imagefolder.py --out data/colour-fashion [--source DIR] [--per-class 600]
    ./run_all.sh --dataset imagefolder --data-dir data/colour-fashion -p channels 3 -p image_size 32

Fashion-MNIST's IDX files are read from ``--source`` (default: Debian's ``dataset-fashion-mnist`` package,
``apt-get install dataset-fashion-mnist``, which puts them in /usr/share/datasets/fashion-mnist). Each garment is
resized to ``--size`` pixels, tinted and laid over a textured colour background (:mod:`xai_helpers.data.colour`),
the first ``--per-class`` training images of each class, all from ``--seed``. Nothing is downloaded.
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xai_helpers.data.colour import colourise, write_imagefolder  # noqa: E402

CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")
DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find(source: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (source / name).exists():
            return source / name
    raise FileNotFoundError(f"{source / stem}[.gz] not found: install Debian's dataset-fashion-mnist "
                            f"(apt-get install dataset-fashion-mnist) or pass --source with Fashion-MNIST's IDX files")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="empty folder to write <class>/<index>.png into")
    p.add_argument("--source", default=str(DEBIAN), help="folder with Fashion-MNIST's train-*-ubyte[.gz] files")
    p.add_argument("--per-class", type=int, default=600, help="images per class (1-6000)")
    p.add_argument("--size", type=int, default=32, help="side of the written images in pixels (8-256)")
    p.add_argument("--seed", type=int, default=0, help="seed of the colours and textures")
    args = p.parse_args(argv)
    if not 1 <= args.per_class <= 6000:
        p.error(f"--per-class {args.per_class}: expected 1 to 6000 (Fashion-MNIST has 6000 training images a class)")
    if not 8 <= args.size <= 256:
        p.error(f"--size {args.size}: expected 8 to 256")
    source = Path(args.source)
    images = read_idx(find(source, "train-images-idx3-ubyte"))
    labels = read_idx(find(source, "train-labels-idx1-ubyte"))
    keep = np.concatenate([np.flatnonzero(labels == c)[:args.per_class] for c in range(len(CLASSES))])
    keep.sort()
    gray = torch.from_numpy(images[keep].astype(np.float32) / 255).unsqueeze(1)
    gray = F.interpolate(gray, size=(args.size, args.size), mode="bilinear", align_corners=False).clamp(0, 1)
    out = write_imagefolder(colourise(gray, args.seed), torch.from_numpy(labels[keep].astype(np.int64)), CLASSES,
                            args.out)
    print(f"wrote {len(keep)} colour images of {len(CLASSES)} classes ({args.size} px) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
