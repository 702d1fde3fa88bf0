"""Concept sets from a folder of your own images: ``concepts_dir/<concept>/*.png`` (or .jpg).

Used by notebook 03 (a user's concepts tested beside the study's, against random sets drawn from the data, with the
same significance test) and by 07's concept tester.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: A CAV's held-out split needs at least one concept image on each side of it.
MIN_FOLDER_IMAGES = 2


def read_image(path: Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """One image file as a (C, H, W) tensor in [0, 1] of the data's channels and size (resized bilinearly)."""
    from PIL import Image

    channels, height, width = shape
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0
    except (OSError, ValueError) as err:  # PIL's UnidentifiedImageError is an OSError
        raise ValueError(f"cannot read the image {path}: {err}") from None
    tensor = torch.from_numpy(pixels)
    return tensor[None] if channels == 1 else tensor.permute(2, 0, 1).contiguous()


def load_concept_folder(folder, shape: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """``folder/<concept>/*.png`` (or .jpg) as ``{concept: (N, C, H, W)}``, resized to the data's ``shape``. Refuses a
    missing folder, one without concept folders, a concept folder with fewer than :data:`MIN_FOLDER_IMAGES` images,
    and an unreadable image, naming the path."""
    if shape[0] not in (1, 3):
        raise ValueError(f"images with {shape[0]} channels are not allowed: expected 1 or 3")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"concepts_dir {str(root)!r} is not a folder: expected {root}/<concept>/<image>.png")
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise ValueError(f"concepts_dir {str(root)!r} holds no concept folders: expected {root}/<concept>/<image>.png")
    out = {}
    for sub in subfolders:
        files = sorted(f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if len(files) < MIN_FOLDER_IMAGES:
            raise ValueError(f"concept folder {str(sub)!r} holds {len(files)} images ({', '.join(IMAGE_SUFFIXES)}); "
                             f"a concept needs at least {MIN_FOLDER_IMAGES}")
        out[sub.name] = torch.stack([read_image(f, shape) for f in files])
    return out


def folder_draws(images: torch.Tensor, n_draws: int, set_size: int, seed: int) -> tuple[list[torch.Tensor], str]:
    """``n_draws`` draws of ``min(set_size, N)`` of a folder's ``images``, and a note on how they were drawn: disjoint
    where the folder is large enough (as 03's concepts), else random subsets that share images."""
    generator = torch.Generator().manual_seed(seed)
    k = min(set_size, len(images))
    if len(images) >= n_draws * set_size:
        order = torch.randperm(len(images), generator=generator)
        return [images[order[i * k:(i + 1) * k]] for i in range(n_draws)], f"{n_draws} disjoint draws of {k} images"
    draws = [images[torch.randperm(len(images), generator=generator)[:k]] for _ in range(n_draws)]
    if k == len(images):
        how = (f"every draw holds all {k} images (fewer than {n_draws} × {set_size}): the scores share this set's "
               f"sampling accident, so the test is optimistic")
    else:
        how = f"{n_draws} overlapping draws of {k} of the {len(images)} images (fewer than {n_draws} × {set_size})"
    return draws, how
