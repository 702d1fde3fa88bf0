"""Human interpretability ratings: the items a rater sees, their order, and answers saved as they are given.

Two tasks, both with the method names hidden:

* **rating**: one image with one explanation map; the rater answers 1–5 to :data:`RATING_QUESTION`;
* **choice**: one image with two maps side by side (random sides); the rater picks the more helpful one.

The images are drawn by :func:`select_rating_images`: class-balanced, with correctly and wrongly classified
ones, from a seed (taking the first test images gave a sorted test split's first class only). Each rater gets
their own random order (seeded by the rater id and the study seed, so a rater who comes back sees the same order
and resumes where they stopped). Every answer is appended to ``<root>/<rater>.csv`` in one write and flushed to
disk at once, so a dead kernel loses at most the answer being given.

An answer records what the rater saw: the data set's fingerprint, the classifier's cache id, the test image's
index and a hash of each map as displayed (:func:`map_hash`). The ratings folder is shared by every run, so
:func:`current_answers` keeps only the answers given to the items of the run at hand and says how many it left
out and why; pooling answers about other data, another classifier or other maps would mix unrelated judgements.
Ratings are data from people: the folder is git-ignored and nothing here invents or simulates one.
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
COLUMNS = ("rater", "task", "item", "data_fingerprint", "classifier", "test_index", "method", "map_hash",
           "other_method", "other_map_hash", "rating", "choice", "seconds", "timestamp", "map_signature",
           "other_map_signature")
#: The header of files written before answers carried a map signature: read, matched by their map hash only.
UNSIGNED_COLUMNS = COLUMNS[:-2]
#: The header of files written before answers recorded what the rater saw; read, then left out as unmatched.
UNKEYED_COLUMNS = ("rater", "task", "item", "image", "method", "other_method", "rating", "choice", "seconds",
                   "timestamp")
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


def select_rating_images(labels, predictions, n: int, seed: int = 0, misclassified_share: float = 0.25):
    """Indices of ``n`` test images for rating: class-balanced (round robin over the true classes in a seeded
    order) and with about ``misclassified_share`` of them wrongly classified (at least one when any exists and
    ``n`` ≥ 2), so that raters also judge explanations of mistakes. Where a class runs out of one kind, the
    other kind of the same class is taken; ``n`` is capped at the number of images."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(f"labels and predictions must be two 1-D arrays of one length, got {labels.shape} "
                         f"and {predictions.shape}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n = {n!r} is not allowed: expected an integer ≥ 1")
    if not 0 <= misclassified_share <= 1:
        raise ValueError(f"misclassified_share = {misclassified_share!r} is not allowed: expected a share in [0, 1]")
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(labels))
    correct = predictions == labels
    pools = {(c, ok): list(rng.permutation(np.flatnonzero((labels == c) & (correct == ok))))
             for c in classes for ok in (True, False)}
    n = min(int(n), len(labels))
    at_least_one = int(n >= 2 and misclassified_share > 0)
    wrong_left = min(int((~correct).sum()), max(int(round(n * misclassified_share)), at_least_one))
    chosen: list[int] = []
    while len(chosen) < n:
        before = len(chosen)
        for c in classes:
            if len(chosen) == n:
                break
            kind = False if wrong_left > 0 and pools[(c, False)] else True
            pool = pools[(c, kind)] or pools[(c, not kind)]
            if pool:
                index = pool.pop(0)
                wrong_left -= int(not correct[index])
                chosen.append(int(index))
        if len(chosen) == before:
            break
    return np.array(chosen, dtype=int)


def rating_shortfall(requested: int, chosen: int, available: int) -> str:
    """What to say when :func:`select_rating_images` chose fewer images than ``rating_images`` asked for (it caps
    ``n`` at the test set's size): empty when it chose them all."""
    if chosen >= requested:
        return ""
    return (f"rating_images asked for {requested}, the test set holds {available}: {chosen} images are rated "
            "(fewer answers per method than planned)")


def map_hash(heat) -> str:
    """12 hex digits identifying a map as a rater sees it: min–max scaled and quantised to 256 levels (as the
    colour map shows it), so float noise in the last digits does not count as another map."""
    h = np.asarray(heat, dtype=np.float64)
    span = h.max() - h.min()
    levels = np.zeros(h.shape, np.uint8) if span <= 0 else np.round((h - h.min()) / span * 255).astype(np.uint8)
    return hashlib.sha256(str(h.shape).encode() + levels.tobytes()).hexdigest()[:12]


#: A map signature: the min–max scaled map averaged over a grid of at most this many cells a side, at this many levels.
SIGNATURE_CELLS, SIGNATURE_LEVELS = 16, 16


def map_signature(heat) -> str:
    """The map as a rater sees it, coarsely: min–max scaled, averaged over a grid of at most 16×16 cells and
    quantised to 16 levels, as ``sig-<H>x<W>-`` and one hex digit per cell. :func:`map_hash` identifies a map
    exactly, and float noise of 1e-6 can move one of its 256 levels (seen for 1 of 12 maps, issue 29); two
    signatures of one map under such noise differ by at most one level per cell (:func:`signatures_close`)."""
    h = np.asarray(heat, dtype=np.float64)
    span = h.max() - h.min()
    scaled = np.zeros(h.shape) if span <= 0 else (h - h.min()) / span
    rows = np.array_split(np.arange(h.shape[0]), min(SIGNATURE_CELLS, h.shape[0]))
    cols = np.array_split(np.arange(h.shape[1]), min(SIGNATURE_CELLS, h.shape[1]))
    cells = np.array([[scaled[np.ix_(r, c)].mean() for c in cols] for r in rows])
    levels = np.round(cells * (SIGNATURE_LEVELS - 1)).astype(int)
    return f"sig-{h.shape[0]}x{h.shape[1]}-" + "".join(f"{v:x}" for v in levels.ravel())


def signatures_close(a: str, b: str) -> bool:
    """Whether two :func:`map_signature` values show the same map: same size, at most one level apart in every
    cell. An empty or older value (files written before signatures) is close to nothing."""
    if not (isinstance(a, str) and isinstance(b, str) and a.startswith("sig-") and b.startswith("sig-")):
        return False
    head_a, _, cells_a = a.rpartition("-")
    head_b, _, cells_b = b.rpartition("-")
    if head_a != head_b or len(cells_a) != len(cells_b):
        return False
    return all(abs(int(x, 16) - int(y, 16)) <= 1 for x, y in zip(cells_a, cells_b))


def _check_maps(test_indices, maps: dict, context: dict):
    indices = [int(i) for i in test_indices]
    missing = {"data_fingerprint", "classifier"} - set(context)
    if missing:
        raise ValueError(f"context must name {sorted(missing)} (what the rater saw), got {sorted(context)}")
    if not indices or not maps:
        raise ValueError(f"need at least one image and one method, got {len(indices)} images and {list(maps)}")
    for method, m in maps.items():
        if len(m) != len(indices):
            raise ValueError(f"{len(m)} maps of {method} for {len(indices)} images")
    return indices, {method: [(map_hash(h), map_signature(h)) for h in m] for method, m in maps.items()}


def rating_items(test_indices, maps: dict, context: dict) -> list[dict]:
    """Every (image, method) pair once. ``maps`` holds one map per image and method (the order of
    ``test_indices``); ``context`` names the ``data_fingerprint`` and ``classifier`` they come from. Each item:
    ``item`` (its key: test index, method, map hash), ``image`` (position in ``test_indices``), ``test_index``,
    ``method``, ``map_hash`` and the context."""
    indices, hashes = _check_maps(test_indices, maps, context)
    return [{"item": f"img{t}-{m}-{hashes[m][i][0]}", "image": i, "test_index": t, "method": m,
             "map_hash": hashes[m][i][0], "map_signature": hashes[m][i][1], **context}
            for i, t in enumerate(indices) for m in maps]


def choice_items(test_indices, maps: dict, context: dict) -> list[dict]:
    """Every image with every unordered pair of methods: the fields of :func:`rating_items` plus
    ``other_method`` and ``other_map_hash``."""
    if len(maps) < 2:
        raise ValueError(f"a forced choice needs at least two methods, got {list(maps)}")
    indices, hashes = _check_maps(test_indices, maps, context)
    methods = list(maps)
    return [{"item": f"img{t}-{a}-{hashes[a][i][0]}-vs-{b}-{hashes[b][i][0]}", "image": i, "test_index": t,
             "method": a, "map_hash": hashes[a][i][0], "map_signature": hashes[a][i][1], "other_method": b,
             "other_map_hash": hashes[b][i][0], "other_map_signature": hashes[b][i][1], **context}
            for i, t in enumerate(indices) for k, a in enumerate(methods) for b in methods[k + 1:]]


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
    _add_signature_columns(path)
    new = not path.exists() or path.stat().st_size == 0
    row = {"rater": rater, "task": task, "item": item["item"], "data_fingerprint": item["data_fingerprint"],
           "classifier": item["classifier"], "test_index": item["test_index"], "method": item["method"],
           "map_hash": item["map_hash"], "other_method": item.get("other_method", ""),
           "other_map_hash": item.get("other_map_hash", ""), "rating": "" if rating is None else rating,
           "choice": choice or "", "seconds": "" if seconds is None else round(seconds, 3),
           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "map_signature": item.get("map_signature", ""), "other_map_signature": item.get("other_map_signature", "")}
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


def _add_signature_columns(path: Path) -> None:
    """A rater's file written before answers carried map signatures gets the two new (empty) columns, rewritten
    atomically, so that the answers appended next match its header; nothing else changes."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if tuple(rows[0]) != UNSIGNED_COLUMNS:
        return
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(r + [""] * (len(COLUMNS) - len(r)) for r in rows[1:] if len(r) == len(UNSIGNED_COLUMNS))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def load_ratings(root: str | Path) -> pd.DataFrame:
    """Every answer of every rater file under ``root`` (empty frame with :data:`COLUMNS` if there is none).

    A last line cut off by a crash (fewer fields than the header) is left out with a warning; the rater then
    answers that item again. Files in the older format without what the rater saw are read with those columns
    empty (:func:`current_answers` leaves them out, counted)."""
    frames = []
    for path in sorted(Path(root).glob("*.csv")) if Path(root).is_dir() else []:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            continue
        header = tuple(rows[0])
        if header not in (COLUMNS, UNSIGNED_COLUMNS, UNKEYED_COLUMNS):
            raise ValueError(f"{path} is not a ratings file: header {rows[0]}, expected {list(COLUMNS)}")
        good = [r for r in rows[1:] if len(r) == len(header)]
        if len(good) < len(rows) - 1:
            warnings.warn(f"{path}: {len(rows) - 1 - len(good)} incomplete line(s) left out", RuntimeWarning)
        frames.append(pd.DataFrame(good, columns=header).reindex(columns=COLUMNS, fill_value=""))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["test_index"] = pd.to_numeric(out["test_index"], errors="coerce")
    out["rating"] = pd.to_numeric(out["rating"], errors="coerce")
    out["seconds"] = pd.to_numeric(out["seconds"], errors="coerce")
    # a rater who answered an item twice (e.g. after a crash between answer and display) counts once: the last
    # (the same image and map shown for another classifier or data set is another item)
    key = ["rater", "task", "item", "data_fingerprint", "classifier"]
    return out.drop_duplicates(key, keep="last").reset_index(drop=True)


def remaining(order: list[dict], root: str | Path, rater: str, task: str) -> list[dict]:
    """The rater's items not answered yet, in their order: where a returning rater resumes."""
    done = load_ratings(root)
    done = done[(done["rater"] == rater) & (done["task"] == task)]
    done = set(zip(done["item"], done["data_fingerprint"], done["classifier"]))
    return [it for it in order if (it["item"], it["data_fingerprint"], it["classifier"]) not in done]


def current_answers(ratings: pd.DataFrame, items: list[dict]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The answers given to ``items`` (this run's rating and choice items), and how many others were left out
    per reason. An answer matches when its item key (test image, method(s), map hash(es)) and its data
    fingerprint and classifier are those of an item; or, where the map hash differs, when the same image and
    method(s) were shown with maps whose :func:`map_signature` is close to the item's (float noise moved the exact
    hash; the answer is then counted for that item, under its key)."""
    if ratings.empty:
        return ratings, {}
    wanted = {it["item"]: it for it in items}
    contexts = {(it["data_fingerprint"], it["classifier"]) for it in items}
    fingerprints = {f for f, _ in contexts}
    shown = {(it["data_fingerprint"], it["classifier"], int(it["test_index"]), it["method"],
              it.get("other_method", "")): it for it in items}

    def same_maps(row, item) -> bool:
        return signatures_close(row["map_signature"], item["map_signature"]) and (
            not item.get("other_method") or signatures_close(row["other_map_signature"], item["other_map_signature"]))

    def match(row) -> tuple[str | None, str | None]:  # (the item's key, or why the answer is left out)
        if not row["data_fingerprint"]:
            return None, "older ratings file that does not record what the rater saw"
        if row["data_fingerprint"] not in fingerprints:
            return None, "another data set or data subset"
        if (row["data_fingerprint"], row["classifier"]) not in contexts:
            return None, "another classifier"
        if row["item"] in wanted:
            return row["item"], None
        index = int(row["test_index"]) if pd.notna(row["test_index"]) else None
        item = shown.get((row["data_fingerprint"], row["classifier"], index, row["method"], row["other_method"]))
        if item is not None and same_maps(row, item):
            return item["item"], None
        if item is not None:
            return None, "the same image and method, but another map (other settings or code)"
        return None, "an image or method not among this run's items"

    matched = ratings.apply(match, axis=1, result_type="expand")
    keys, reasons = matched[0], matched[1]
    left_out = reasons.dropna().value_counts().to_dict()
    kept = ratings[reasons.isna()].assign(item=keys[reasons.isna()])
    return kept.reset_index(drop=True), {k: int(v) for k, v in left_out.items()}
