"""A content-addressed cache of trained artefacts: ``<cache_dir>/<kind>-<hash>/``.

The key hashes everything that determines the artefact (architecture, data fingerprint, training config,
seed, device type, and the source code of the function that builds it). An entry holds tensor files
(``model.pt`` = a ``state_dict``; more files allowed, e.g. ``snapshots.pt``) and ``meta.json`` with the
config, metrics, provenance and the SHA-256 of every tensor file.

Writes are atomic: the entry is assembled in a temporary sibling folder and renamed into place, so a crash
never leaves a half-written entry under the final name. Loads use ``torch.load(weights_only=True)``. An
entry whose meta is unreadable, whose files are missing or whose checksums differ is reported with a
:class:`CorruptCacheWarning`, removed, and rebuilt, never used.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any, Callable

import torch


class CorruptCacheWarning(UserWarning):
    """A cache entry failed its checks and is being rebuilt."""


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def source_fingerprint(*objects) -> str:
    """SHA-256 (12 hex digits) of the source code of functions/classes: the code version in a cache key."""
    h = hashlib.sha256()
    for obj in objects:
        h.update(inspect.getsource(obj).encode())
    return h.hexdigest()[:12]


def cache_key(kind: str, config: dict) -> str:
    """``<kind>-<16 hex digits>`` from the canonical JSON of ``config``."""
    if not kind or not kind.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"cache kind must be alphanumeric (with - or _), got {kind!r}")
    return f"{kind}-{hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]}"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_entry(cache_dir: str | Path, key: str, tensors: dict[str, Any], meta: dict) -> Path:
    """Write an entry atomically; ``tensors`` maps file stem → object for ``torch.save``."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = cache_dir / key
    tmp = cache_dir / f".{key}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = {}
        for stem, obj in tensors.items():
            path = tmp / f"{stem}.pt"
            torch.save(obj, path)
            files[path.name] = _sha256_file(path)
        meta = dict(meta, key=key, files=files)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        if final.exists():  # a corrupt entry being replaced, or a concurrent writer that finished first
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_entry(cache_dir: str | Path, key: str, device: str | torch.device = "cpu"):
    """``(tensors, meta)`` of a sound entry, ``None`` if absent; a corrupt entry is warned about and removed."""
    entry = Path(cache_dir) / key
    if not entry.exists():
        return None
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("key") != key or not isinstance(meta.get("files"), dict) or not meta["files"]:
            raise ValueError("meta.json does not describe this entry")
        tensors = {}
        for name, digest in meta["files"].items():
            path = entry / name
            if _sha256_file(path) != digest:
                raise ValueError(f"checksum mismatch in {name}")
            tensors[Path(name).stem] = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # any defect means the entry cannot be trusted
        warnings.warn(f"cache entry {entry} is corrupt ({type(err).__name__}: {err}); removing and rebuilding it",
                      CorruptCacheWarning, stacklevel=2)
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return tensors, meta


def cached(cache_dir: str | Path, kind: str, config: dict, build: Callable[[], tuple[dict, dict]],
           device: str | torch.device = "cpu"):
    """``(tensors, meta, key, from_cache)``: the entry for ``config``, built by ``build()`` when missing.

    ``build`` returns ``(tensors, meta)``; ``meta`` gets ``config`` added before it is stored.
    """
    key = cache_key(kind, config)
    hit = load_entry(cache_dir, key, device)
    if hit is not None:
        return hit[0], hit[1], key, True
    tensors, meta = build()
    save_entry(cache_dir, key, tensors, dict(meta, config=config, kind=kind))
    tensors, meta = load_entry(cache_dir, key, device)  # what later runs will see, checksums included
    return tensors, meta, key, False
