"""A content-addressed cache of trained artefacts: ``<cache_dir>/<kind>-<hash>/``.

The key hashes everything that determines the artefact (architecture, data fingerprint, training config,
seed, device type, and the source code of the function that builds it). An entry holds tensor files
(``model.pt`` = a ``state_dict``; more files allowed, e.g. ``snapshots.pt``) and ``meta.json`` with the
config, metrics, provenance and the SHA-256 of every tensor file.

Writes are atomic: the entry is assembled in a temporary sibling folder and renamed into place, so a crash
never leaves a half-written entry under the final name. Builds are locked (:func:`build_lock`): processes that
need the same missing entry at once build it once. Loads use ``torch.load(weights_only=True)``. An
entry whose meta is unreadable, whose files are missing or whose checksums differ is reported with a
:class:`CorruptCacheWarning`, removed, and rebuilt, never used.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import shutil
import uuid
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from filelock import FileLock, Timeout


class CorruptCacheWarning(UserWarning):
    """A cache entry failed its checks and is being rebuilt."""


#: What a damaged entry raises on load (JSON errors are ValueErrors; torch raises RuntimeError on bad zips).
_CORRUPTION = (ValueError, FileNotFoundError, NotADirectoryError, EOFError, RuntimeError, pickle.UnpicklingError,
               zipfile.BadZipFile, KeyError)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


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


class CacheError(RuntimeError):
    """An entry could not be written (e.g. an object that a ``weights_only`` load would refuse)."""


def discard(path: Path) -> None:
    """Remove a file, a (dangling) symlink or a folder; renaming a folder aside first makes removal atomic
    for readers."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        aside = path.with_name(f".{path.name}.discard-{uuid.uuid4().hex[:8]}")
        os.replace(path, aside)
        shutil.rmtree(aside, ignore_errors=True)


def _sweep_stale_temporaries(cache_dir: Path) -> None:
    """Remove temporary folders left by writers that died (their process id no longer exists)."""
    for tmp in cache_dir.glob(".*.tmp-*"):
        try:
            pid = int(tmp.name.rsplit(".tmp-", 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, PermissionError, IndexError):
            continue


def _load_files(entry: Path, files: dict, device) -> dict:
    tensors = {}
    for name, digest in files.items():
        path = entry / name
        if _sha256_file(path) != digest:
            raise ValueError(f"checksum mismatch in {name}")
        tensors[Path(name).stem] = torch.load(path, map_location=device, weights_only=True)
    return tensors


def save_entry(cache_dir: str | Path, key: str, tensors: dict[str, Any], meta: dict) -> Path:
    """Write an entry atomically; ``tensors`` maps file stem → object for ``torch.save``.

    Every file is loaded back with ``weights_only=True`` before the entry is published, so an object that
    later loads would refuse is reported now (:class:`CacheError`) instead of poisoning the cache. If another
    writer published a sound entry under the same key meanwhile, that entry is kept.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _sweep_stale_temporaries(cache_dir)
    final = cache_dir / key
    tmp = cache_dir / f".{key}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = {}
        for stem, obj in tensors.items():
            path = tmp / f"{stem}.pt"
            torch.save(obj, path)
            files[path.name] = _sha256_file(path)
        try:
            _load_files(tmp, files, "cpu")
        except Exception as err:
            raise CacheError(f"cache entry {key}: an object cannot be loaded back with weights_only=True "
                             f"({type(err).__name__}: {err}); store tensors, numbers, strings, lists and dicts") from None
        meta = dict(meta, key=key, files=files)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        if final.exists() or final.is_symlink():
            if load_entry(cache_dir, key) is not None:  # a concurrent writer finished first: keep its entry
                shutil.rmtree(tmp, ignore_errors=True)
                return final
            discard(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_entry(cache_dir: str | Path, key: str, device: str | torch.device = "cpu"):
    """``(tensors, meta)`` of a sound entry, ``None`` if absent; a corrupt entry is warned about and removed.

    Corrupt means: unreadable or inconsistent ``meta.json``, a missing file, a checksum mismatch, or a file
    that does not unpickle. Operating-system errors (permissions, I/O) are raised, never taken for corruption.
    """
    entry = Path(cache_dir) / key
    if not entry.exists() and not entry.is_symlink():
        return None
    try:
        if not entry.is_dir():
            raise ValueError("not a folder")
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("key") != key or not isinstance(meta.get("files"), dict) or not meta["files"]:
            raise ValueError("meta.json does not describe this entry")
        tensors = _load_files(entry, meta["files"], device)
    except (PermissionError, IsADirectoryError) as err:
        raise err
    except _CORRUPTION as err:
        warnings.warn(f"cache entry {entry} is corrupt ({type(err).__name__}: {err}); removing and rebuilding it",
                      CorruptCacheWarning, stacklevel=2)
        discard(entry)
        return None
    return tensors, meta


def cached(cache_dir: str | Path, kind: str, config: dict, build: Callable[[], tuple[dict, dict]],
           device: str | torch.device = "cpu"):
    """``(tensors, meta, key, from_cache)``: the entry for ``config``, built by ``build()`` when missing.

    ``build`` returns ``(tensors, meta)``; ``meta`` gets ``config`` added before it is stored.
    """
    key = cache_key(kind, config)
    hit = load_entry(cache_dir, key, device)  # the common case, without touching a lock
    if hit is not None:
        return hit[0], hit[1], key, True
    with build_lock(cache_dir, key):
        # Another process may have built it while this one waited for the lock: load rather than build twice.
        hit = load_entry(cache_dir, key, device)
        if hit is not None:
            return hit[0], hit[1], key, True
        tensors, meta = build()
        save_entry(cache_dir, key, tensors, dict(meta, config=config, kind=kind))
    hit = load_entry(cache_dir, key, device)  # what later runs will see, checksums included
    if hit is None:
        raise CacheError(f"cache entry {key} could not be read back right after it was written")
    return hit[0], hit[1], key, False


@contextlib.contextmanager
def build_lock(cache_dir: str | Path, key: str, log=print):
    """Hold ``<cache_dir>/.<key>.lock`` while an entry is built, so that two processes needing the same entry
    (parallel workflow jobs) build it once: the second waits, says so, and then loads the first one's entry.

    ``filelock.FileLock`` takes an operating-system lock (``flock``), which the kernel releases when its holder
    dies, so a crashed build never blocks the next one. (On a network file system without ``flock`` support use a
    local cache folder per node.)"""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(cache_dir / f".{key}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"[cache] waiting for {key}: another process is building it")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


@dataclass
class CachedTraining:
    """What a cached training returns beside its models: the cache entry's key, whether it was loaded rather than
    trained, the training history, the weight snapshots (for analyses that replay training) and the entry's
    metadata. The classifier's and the GAN's records extend it with their models."""

    key: str
    from_cache: bool
    history: list[dict]
    snapshots: list[dict] = field(repr=False)
    meta: dict = field(repr=False)

    @property
    def train_seconds(self) -> float:
        return float(self.meta["train_seconds"])
