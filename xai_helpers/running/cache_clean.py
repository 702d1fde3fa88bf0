"""What the cache holds that this checkout can never use again, and its removal on request:
``./run_all.sh --clean-cache [--remove] [--cache-dir DIR]``.

Every key of the model cache holds the version of the code that trains the model (each training module's
``code_version``) and torch's version; every key of a notebook's reused results holds the package's code digest
(:func:`~xai_helpers.running.notebook_reuse.code_digest`). An entry made by other code or another torch is therefore
never looked up again: no configuration of this checkout, under this Python, produces its key (code versions are
read with this Python's parser: a cache another checkout or Python version shares is theirs too, so clean it from
there, or give each its own cache). Those entries are listed with the reason
and their size, and removed with ``--remove`` (each folder renamed aside first, so an interrupted removal leaves no
half entry under a key). Entries this code could still produce (another profile, data set or seed) are kept: whether
those are still wanted is the user's call.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..study import DEFAULT_CACHE_DIR, user_path
from . import notebook_reuse as reuse


@dataclass(frozen=True)
class Stale:
    path: Path
    reason: str
    size: int


def model_kinds() -> dict[str, str]:
    """Each kind of the model cache → the code version its entries must carry to be reachable."""
    from ..cnn import train as classifier
    from ..gan import train as gan
    from ..latent import factor_regressor

    return {module.CACHE_KIND: module.code_version() for module in (classifier, gan, factor_regressor)}


def library_versions() -> dict[str, str]:
    """The library versions a model entry's key holds, as the training modules write them."""
    import torch
    import torchvision

    return {"torch": torch.__version__.split("+")[0], "torchvision": torchvision.__version__.split("+")[0]}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _model_reason(entry: Path, kinds: dict[str, str], libraries: dict[str, str]) -> str | None:
    """Why a model entry cannot be looked up by this checkout, or None when it can."""
    try:
        meta = json.loads((entry / "meta.json").read_text())
        kind, config = meta["kind"], meta["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return "no readable meta.json (an entry from an older layout, or damaged)"
    if kind not in kinds:
        return f"kind {kind!r} is no longer trained (known: {', '.join(sorted(kinds))})"
    if config.get("code") != kinds[kind]:
        return f"trained by other code (code {config.get('code')}, now {kinds[kind]})"
    for library, version in libraries.items():
        if library in config and config[library] != version:
            return f"trained with {library} {config[library]} (now {version})"
    return None


def _notebook_reason(entry: Path, code: str) -> str | None:
    try:
        stored = json.loads((entry / "entry.json").read_text()).get("code")
    except (OSError, ValueError, AttributeError):
        return "no readable entry.json (damaged)"
    if stored is None:
        return "stored before entries recorded their code version"
    return None if stored == code else f"computed by other code (digest {stored[:12]}, now {code[:12]})"


def stale_entries(cache_dir: Path) -> list[Stale]:
    """The entries under ``cache_dir`` that no configuration of this checkout produces (module docstring)."""
    kinds, libraries, code = model_kinds(), library_versions(), reuse.code_digest()
    found = []
    for entry in sorted(p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if entry.name == reuse.REUSE_FOLDER:
            for nb in sorted(p for p in entry.iterdir() if p.is_dir() and not p.name.startswith(".")):
                if reason := _notebook_reason(nb, code):
                    found.append(Stale(nb, reason, _size(nb)))
        elif reason := _model_reason(entry, kinds, libraries):
            found.append(Stale(entry, reason, _size(entry)))
    return found


def remove(stale: list[Stale], log=print) -> list[Stale]:
    """Remove each entry (renamed aside first) and a model entry's build lock beside it; an entry whose lock another
    process holds (it is being built or read into a cache right now) is left alone. Returns what was removed."""
    from filelock import FileLock, Timeout

    from ..study import discard

    removed = []
    for item in stale:
        lock_path = item.path.parent / f".{item.path.name}.lock"
        lock = FileLock(lock_path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log(f"  {item.path.name}: another process holds its lock; left in place")
            continue
        try:
            discard(item.path)
            removed.append(item)
        finally:
            lock.release()
        lock_path.unlink(missing_ok=True)
    return removed


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_all.sh --clean-cache", description=__doc__.split("\n\n")[0])
    p.add_argument("--cache-dir", default=None, help="the cache to look at, as the runner's --cache-dir "
                                                     "(default: <repo>/results/cache)")
    p.add_argument("--remove", action="store_true", help="remove the entries listed (default: only list them)")
    return p


def main(argv: list[str] | None = None, log=print) -> int:
    args = build_parser().parse_args(argv)
    cache_dir = user_path(args.cache_dir) if args.cache_dir else DEFAULT_CACHE_DIR
    if not cache_dir.is_dir():
        print(f"run_all.sh --clean-cache: error: --cache-dir {str(cache_dir)!r} is not a folder", file=sys.stderr)
        return 2
    stale = stale_entries(cache_dir)
    for item in stale:
        log(f"  {item.path.relative_to(cache_dir)}  {_megabytes(item.size)}  {item.reason}")
    total = _megabytes(sum(item.size for item in stale))
    if not stale:
        log(f"{cache_dir}: every entry is one this checkout can use; nothing to remove")
    elif args.remove:
        removed = remove(stale, log)
        log(f"{cache_dir}: removed {len(removed)} entries ({_megabytes(sum(item.size for item in removed))})")
    else:
        log(f"{cache_dir}: {len(stale)} entries ({total}) that this checkout can never use; "
            "./run_all.sh --clean-cache --remove removes them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
