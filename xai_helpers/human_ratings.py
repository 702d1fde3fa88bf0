"""Human interpretability ratings: the items a rater sees, their order, and answers saved as they are given.

Two tasks, both with the method names hidden:

* **rating**: one image with one explanation map; the rater answers 1–5 to :data:`RATING_QUESTION`;
* **choice**: one image with two maps side by side (random sides); the rater picks the more helpful one.

Each rater gets their own random order (seeded by the rater id and the study seed, so a rater who comes back
sees the same order and resumes where they stopped). Every answer is appended to
``<root>/<rater>.csv`` in one write and flushed to disk at once, so a dead kernel loses at most the answer being
given. Ratings are data from people: the folder is git-ignored and nothing here invents or simulates one.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RATING_QUESTION = "This explanation helps me see why the model decided."
CHOICE_QUESTION = "Which explanation helps you more to see why the model decided?"
COLUMNS = ("rater", "task", "item", "image", "method", "other_method", "rating", "choice", "seconds", "timestamp")
TASKS = ("rating", "choice")
_RATER = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def check_rater(rater: str) -> str:
    """A rater id is 1–40 letters, digits, ``_`` or ``-`` (it becomes a file name)."""
    if not isinstance(rater, str) or not _RATER.match(rater):
        raise ValueError(f"rater id {rater!r} is not allowed: use 1-40 letters, digits, '_' or '-'")
    return rater


def _rater_rng(rater: str, seed: int, task: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{check_rater(rater)}|{seed}|{task}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def rating_items(n_images: int, methods) -> list[dict]:
    """Every (image, method) pair once: ``{"item", "image", "method"}``."""
    methods = list(methods)
    if n_images < 1 or not methods:
        raise ValueError(f"need at least one image and one method, got {n_images} images and {methods}")
    return [{"item": f"img{i:03d}-{m}", "image": i, "method": m} for i in range(n_images) for m in methods]


def choice_items(n_images: int, methods) -> list[dict]:
    """Every image with every unordered pair of methods: ``{"item", "image", "method", "other_method"}``."""
    methods = list(methods)
    if len(methods) < 2:
        raise ValueError(f"a forced choice needs at least two methods, got {methods}")
    return [{"item": f"img{i:03d}-{a}-vs-{b}", "image": i, "method": a, "other_method": b}
            for i in range(n_images) for k, a in enumerate(methods) for b in methods[k + 1:]]


def rater_order(items: list[dict], rater: str, seed: int = 0, task: str = "rating") -> list[dict]:
    """The rater's own shuffled order; for choices also a random side per item (``left``, ``right``)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    rng = _rater_rng(rater, seed, task)
    order = [dict(items[i]) for i in rng.permutation(len(items))]
    if task == "choice":
        for it in order:
            swap = bool(rng.integers(2))
            it["left"], it["right"] = ((it["other_method"], it["method"]) if swap else (it["method"], it["other_method"]))
    return order


def ratings_file(root: str | Path, rater: str) -> Path:
    return Path(root) / f"{check_rater(rater)}.csv"


def save_answer(root: str | Path, rater: str, item: dict, task: str, *, rating: int | None = None,
                choice: str | None = None, seconds: float | None = None) -> Path:
    """Append one answer to the rater's file in a single write, flushed and synced to disk."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "rating" and (not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5):
        raise ValueError(f"a rating is an int from 1 to 5, got {rating!r}")
    if task == "choice" and choice not in (item.get("method"), item.get("other_method")):
        raise ValueError(f"the choice must be one of the item's two methods, got {choice!r}")
    path = ratings_file(root, rater)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    row = {"rater": rater, "task": task, "item": item["item"], "image": item["image"], "method": item["method"],
           "other_method": item.get("other_method", ""), "rating": "" if rating is None else rating,
           "choice": choice or "", "seconds": "" if seconds is None else round(seconds, 3),
           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    from io import StringIO
    buf = StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    if new:
        writer.writeheader()
    writer.writerow(row)
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())
        f.flush()
        os.fsync(f.fileno())
    return path


def load_ratings(root: str | Path) -> pd.DataFrame:
    """Every answer of every rater file under ``root`` (empty frame with :data:`COLUMNS` if there is none).

    A last line cut off by a crash (fewer fields than the header) is left out with a warning; the rater then
    answers that item again."""
    frames = []
    for path in sorted(Path(root).glob("*.csv")) if Path(root).is_dir() else []:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            continue
        if tuple(rows[0]) != COLUMNS:
            raise ValueError(f"{path} is not a ratings file: header {rows[0]}, expected {list(COLUMNS)}")
        good = [r for r in rows[1:] if len(r) == len(COLUMNS)]
        if len(good) < len(rows) - 1:
            warnings.warn(f"{path}: {len(rows) - 1 - len(good)} incomplete line(s) left out", RuntimeWarning)
        frames.append(pd.DataFrame(good, columns=COLUMNS))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["image"] = out["image"].astype(int)
    out["rating"] = pd.to_numeric(out["rating"], errors="coerce")
    out["seconds"] = pd.to_numeric(out["seconds"], errors="coerce")
    # a rater who answered an item twice (e.g. after a crash between answer and display) counts once: the last
    return out.drop_duplicates(["rater", "task", "item"], keep="last").reset_index(drop=True)


def remaining(order: list[dict], root: str | Path, rater: str, task: str) -> list[dict]:
    """The rater's items not answered yet, in their order: where a returning rater resumes."""
    done = load_ratings(root)
    done = set(done.loc[(done["rater"] == rater) & (done["task"] == task), "item"])
    return [it for it in order if it["item"] not in done]
