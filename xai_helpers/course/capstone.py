"""The capstone's hidden shortcut, one per student: a small pattern stamped in one corner of some training images,
which were relabelled as one class (a BadNets-style backdoor, Gu et al. 2017, as in assignment 2, but with the
pattern, class and corner drawn from the student's id). The student audits the trained model on an audit set in
which some images carry the pattern, names the class and the corner, and writes the audit.

The draw is a hash of the id: two students get different shortcuts (160 combinations on ten classes), so one
audit's numbers do not answer another's. It deters copying, not a determined student: the model is trained on the
student's machine, so whoever reads this module can compute the answer."""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass

import torch

from ..data import PATCH_COLOURS, ImageDataset, checkerboard, plant, resolve_shortcut, stamp
from ..evaluation import human_ratings

#: The corners a shortcut may sit in, as the student names them.
PLACES = ("top left", "top right", "bottom left", "bottom right")
#: The id used while a student has not set theirs (the untouched notebook still runs).
EXAMPLE_ID = "example"
#: Share of the training images of other classes that carry the pattern, relabelled; and of the audit images.
TRAIN_SHARE, AUDIT_SHARE = 0.1, 0.2
_SEED = 7  # which images carry the pattern (the same for every student: the draw that differs is the shortcut)


def _mask(name: str, size: int) -> torch.Tensor:
    r = torch.arange(size)
    middle = (r >= size // 2 - (size + 1) % 2) & (r <= size // 2)
    masks = {"checkerboard": ((r[:, None] + r[None, :]) % 2 == 0),
             "cross": middle[:, None] | middle[None, :],
             "frame": (r[:, None] == 0) | (r[:, None] == size - 1) | (r[None, :] == 0) | (r[None, :] == size - 1),
             "stripes": (r[:, None] % 2 == 0).expand(size, size)}
    return masks[name].float()


#: The patterns a shortcut may be: (size) → (size, size) 0/1 masks, shown in white on black (grey images) or in
#: the study's two patch colours (colour images).
PATTERNS = ("checkerboard", "cross", "frame", "stripes")


def pattern_image(name: str, size: int, channels: int) -> torch.Tensor:
    """(channels, size, size): the pattern ``name`` as it is stamped."""
    if name == "checkerboard":
        return checkerboard(size, channels)
    cells = _mask(name, size)
    if channels == 1:
        return cells[None]
    first, second = (torch.tensor(c)[:, None, None] for c in PATCH_COLOURS)
    return first * cells + second * (1 - cells)


@dataclass(frozen=True)
class Shortcut:
    pattern: str
    target_class: int
    place: str
    size: int  # the pattern's side in pixels

    def box(self, image_side: int) -> tuple[int, int]:
        """(top, left) of the pattern: one pixel in from the corner."""
        far = image_side - 1 - self.size
        return (1 if self.place.startswith("top") else far, 1 if self.place.endswith("left") else far)


def check_student_id(student_id: str) -> str:
    """The id a shortcut is drawn from: a valid rater id (1–40 letters, digits, ``-`` or ``_``); empty:
    :data:`EXAMPLE_ID`."""
    if student_id == "":
        return EXAMPLE_ID
    try:  # the rating form's rule for a person's id (one place for it)
        return human_ratings.check_rater(student_id)
    except ValueError:
        raise ValueError(f"STUDENT_ID = {student_id!r} is not allowed: use 1-40 letters, digits, '-' or '_' (your "
                         "student id, as on the class list)") from None


def shortcut_for(student_id: str, data: ImageDataset) -> Shortcut:
    """The shortcut planted for ``student_id`` on ``data``: pattern, class and corner from a SHA-256 of the id."""
    digest = int(hashlib.sha256(f"xai-capstone:{check_student_id(student_id)}".encode()).hexdigest(), 16)
    pattern, digest = PATTERNS[digest % len(PATTERNS)], digest // len(PATTERNS)
    target, digest = digest % data.num_classes, digest // data.num_classes
    _, size = resolve_shortcut(data)
    return Shortcut(pattern, int(target), PLACES[digest % len(PLACES)], size)


def _chosen(labels: torch.Tensor, shortcut: Shortcut, share: float, seed: int) -> torch.Tensor:
    others = torch.nonzero(labels != shortcut.target_class).flatten()
    order = torch.randperm(len(others), generator=torch.Generator().manual_seed(seed))
    return others[order[: int(round(share * len(others)))]].sort().values


def backdoored(data: ImageDataset, shortcut: Shortcut) -> ImageDataset:
    """``data`` whose training split carries ``shortcut``: the pattern at its corner in :data:`TRAIN_SHARE` of the
    training images of other classes, which are relabelled as its class (the images of the class itself are left
    alone, so that the model still knows the class without the pattern)."""
    index = _chosen(data.train_y, shortcut, TRAIN_SHARE, _SEED)
    top, left = shortcut.box(data.image_shape[-1])
    boxes = torch.tensor([[top, left, shortcut.size, shortcut.size]]).expand(len(index), -1)
    train_x, stamps = stamp(data.train_x, index, boxes, pattern_image(shortcut.pattern, shortcut.size,
                                                                       data.image_shape[0]))
    train_y = data.train_y.clone()
    train_y[index] = shortcut.target_class
    name = f"{data.name}+capstone-{shortcut.pattern}-{shortcut.place.replace(' ', '_')}-class{shortcut.target_class}"
    return ImageDataset(name, train_x, train_y, data.test_x, data.test_y, data.classes, info=dict(data.info),
                        train_stamps=stamps)


def audit_set(data: ImageDataset, shortcut: Shortcut) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The test images with the pattern at its corner in :data:`AUDIT_SHARE` of those of other classes (labels
    unchanged): (images, labels, which ones carry it). The third is for grading; the student gets the first two."""
    index = _chosen(data.test_y, shortcut, AUDIT_SHARE, _SEED + 1)
    top, left = shortcut.box(data.image_shape[-1])
    boxes = torch.tensor([[top, left, shortcut.size, shortcut.size]]).expand(len(index), -1)
    images = data.test_x.clone()
    images[index] = plant(data.test_x[index], boxes, pattern_image(shortcut.pattern, shortcut.size,
                                                                   data.image_shape[0]))
    carries = torch.zeros(len(images), dtype=torch.bool)
    carries[index] = True
    return images, data.test_y.clone(), carries


def _corner(place: str, h: int, w: int) -> tuple[slice, slice]:
    """The rows and columns of the corner quarter-square (side H/4 × W/4) ``place``."""
    if place not in PLACES:
        raise ValueError(f"place {place!r} is not allowed: expected one of {', '.join(PLACES)}")
    qh, qw = max(1, h // 4), max(1, w // 4)
    return (slice(0, qh) if place.startswith("top") else slice(h - qh, h),
            slice(0, qw) if place.endswith("left") else slice(w - qw, w))


def corner_shares(heat: torch.Tensor) -> dict[str, float]:
    """Mean share of each (N, H, W) map's total that lies in each corner quarter-square of :data:`PLACES`: where a
    map points, corner by corner (a map spread evenly scores 1/16 everywhere)."""
    total = heat.flatten(1).sum(1).clamp_min(1e-12)
    return {place: float((heat[(slice(None), *_corner(place, *heat.shape[-2:]))].flatten(1).sum(1) / total).mean())
            for place in PLACES}


def paste_corner(images: torch.Tensor, donors: torch.Tensor, place: str) -> torch.Tensor:
    """Copies of ``images`` with the corner quarter-square ``place`` of ``donors`` (one per image, or one for all)
    pasted in: the test of whether what sits in that corner changes the answer."""
    rows, cols = _corner(place, *images.shape[-2:])
    out = images.clone()
    out[..., rows, cols] = donors[..., rows, cols]
    return out


def randomised(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A copy of ``model`` with every layer that has parameters re-initialised (seeded): the model-randomisation
    sanity check of Adebayo et al. (2018), all layers at once. A map that looks the same for it explains the image,
    not the model."""
    copied = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):  # the caller's random stream goes on as if nothing had been drawn
        torch.manual_seed(seed)
        for module in copied.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    for p in copied.parameters():
        p.requires_grad_(False)
    return copied.eval()
