"""Reuse a notebook's results when nothing they depend on has changed since a run that computed them.

A second ``run_all.sh`` with the same settings used to rerun every analysis although the model cache held every
model (about 5 minutes at ``quick``). The study is deterministic on one machine (identical CPU reruns give
identical metrics), so a notebook whose inputs are all unchanged would compute the same files again. The runner
therefore keys each notebook by everything its results depend on (:func:`notebook_key`) and, after a notebook
succeeds, stores the files it wrote (:func:`store`) under ``<cache_dir>/notebooks/``. A later run with the same key
copies them into its own run folder instead of running the notebook (:func:`restore`) and says so, naming the run
that computed them; ``run_all.sh --rerun`` runs every notebook regardless.

The key holds, conservatively:

- the notebook's cells (code and markdown: the executed copy and its HTML are among the files reused),
- its parameters except ``run_dir`` and ``cache_dir`` (where results go, not what they are),
- every file or folder a parameter names (data, ratings, concepts, supplied weights): names, sizes and
  modification times of what lies there, so adding a rating or an image reruns the notebook,
- the source of the whole ``xai_helpers`` package and the lock file (any edit reruns everything),
- the machine's side: Python, the processor architecture, the kernel's thread count and the device,
- for a study-level notebook (06), which reads what the other notebooks wrote, the metrics files of the run.

Models come from the model cache, keyed by the same parameters, so a notebook that uses 01's classifier depends on
01's settings through its own parameters (every notebook declares them). A notebook given a model by
``module:factory`` is never reused: the module's code is outside what can be fingerprinted here.

Reuse is the sequential runner's: a workflow job (``--run-dir``) is scheduled by Snakemake's own bookkeeping, and
jobs sharing a folder would see each other's files as their own.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
from pathlib import Path

from ..study import (REPO_ROOT, metrics_file, resolve_data_dir, resolve_path, resolve_ratings_dir, runnable_source,
                     seed_folders)

#: Under ``<cache_dir>``: one folder per notebook key.
REUSE_FOLDER = "notebooks"
#: Files of the run folder that the runner writes about the whole run, never part of a notebook's results.
RUN_FILES = frozenset({"status.json", "environment.json", "summary.md", "INCOMPLETE", "report.html"})
#: What the key's ``code`` part hashes, relative to the repository.
CODE = ("xai_helpers", "requirements/lock.txt")
#: Parameters that name a file or folder: where each points, resolved as the notebooks resolve it (relative paths
#: from the repository root; an empty value: its default folder, or None for nothing).
PATH_PARAMETERS = {
    "data_dir": lambda value, cache_dir: resolve_data_dir(value),
    "ratings_dir": lambda value, cache_dir: resolve_ratings_dir(value, cache_dir),
    "concepts_dir": lambda value, cache_dir: resolve_path(value) if value else None,
    "model_weights": lambda value, cache_dir: resolve_path(value) if value else None,
    "model_file": lambda value, cache_dir: resolve_path(value) if value else None,
}


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def tree_digest(path: str | Path) -> str:
    """Names, sizes and modification times (ns) of a file, or of every file under a folder; 'missing' if none."""
    path = Path(path)
    if path.is_file():
        st = path.stat()
        return _sha(f"{st.st_size}:{st.st_mtime_ns}")
    if not path.is_dir():
        return "missing"
    entries = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            f = Path(dirpath) / name
            st = f.stat()
            entries.append(f"{f.relative_to(path).as_posix()}:{st.st_size}:{st.st_mtime_ns}")
    return _sha("\n".join(entries))


def code_digest(root: Path = REPO_ROOT) -> str:
    """SHA-256 of every file of the package and of the lock file (paths and contents): Python code as it runs
    (:func:`~xai_helpers.study.code_version.runnable_source`: a docstring or comment edit reruns nothing), other files
    (the parameter registry's table) and code that does not parse as they are."""
    h = hashlib.sha256()
    for part in CODE:
        target = root / part
        files = sorted(target.rglob("*")) if target.is_dir() else [target]
        for f in files:
            if "__pycache__" in f.parts or not f.is_file() or f.suffix == ".pyc":
                continue
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + _content(f) + b"\0")
    return h.hexdigest()


def _content(f: Path) -> bytes:
    if f.suffix == ".py":
        try:
            return runnable_source(f.read_text()).encode()
        except SyntaxError:
            pass
    return f.read_bytes()


def notebook_digest(notebook: str | Path) -> str:
    """SHA-256 of a notebook's cells (type, source and tags): outputs and execution counts do not count."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return _sha(json.dumps([[c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", [])]
                            for c in cells]))


def _path_inputs(params: dict, cache_dir: Path) -> dict | None:
    """Digest of each file or folder a parameter names (or points to when empty); None when a parameter names
    code that cannot be fingerprinted (``model_file`` as ``module:factory``)."""
    out = {}
    for name, where in PATH_PARAMETERS.items():
        if name not in params:
            continue
        path = where(params[name] or "", cache_dir)
        if path is None:
            continue
        if name == "model_file" and not path.exists():
            return None  # module:factory: code imported from elsewhere
        out[name] = tree_digest(path)
    return out


def _run_metrics(run_root: Path, own: str) -> str:
    """Digest of every metrics file in a run (its folder and ``seed-N/`` folders) except notebook ``own``'s."""
    patterns = [metrics_file(folder, "*") for folder in (run_root, *seed_folders(run_root).values())]
    files = sorted(p for pattern in patterns for p in pattern.parent.glob(pattern.name) if p.stem != own)
    return _sha(b"".join(p.relative_to(run_root).as_posix().encode() + b"\0" + p.read_bytes() for p in files))


def notebook_key(notebook: Path, params: dict, *, cache_dir: Path, threads: int | None, device: str,
                 study_level: bool, run_root: Path, code: str) -> str | None:
    """The key of a notebook's results under these inputs (module docstring); None when it may not be reused."""
    paths = _path_inputs(params, cache_dir)
    if paths is None:
        return None
    parts = {
        "notebook": notebook_digest(notebook), "parameters": {k: v for k, v in params.items()
                                                              if k not in ("run_dir", "cache_dir")},
        "paths": paths, "code": code,
        "machine": {"python": platform.python_version(), "arch": platform.machine(),
                    "threads": threads or os.cpu_count(), "device": device},
        "upstream": _run_metrics(run_root, notebook.stem) if study_level else None,
    }
    return f"{notebook.stem}-{_sha(json.dumps(parts, sort_keys=True, default=str))[:16]}"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``folder`` (relative POSIX paths)."""
    out = {}
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            f = Path(dirpath) / name
            st = f.stat()
            out[f.relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


def written_since(folder: Path, before: dict[str, tuple[int, int]]) -> list[str]:
    """Files under ``folder`` created or changed since ``before`` (a :func:`snapshot`), run-wide files aside."""
    after = snapshot(folder)
    return sorted(p for p, stamp in after.items() if before.get(p) != stamp and p not in RUN_FILES)


def entry_dir(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / REUSE_FOLDER / key


def store(cache_dir: Path, key: str, folder: Path, files: list[str], record: dict) -> Path:
    """Keep ``files`` (relative to ``folder``) and ``record`` (run id, seconds …) as the entry for ``key``. Written
    into a temporary folder and renamed, so a reader never sees half an entry; an existing entry is replaced."""
    final = entry_dir(cache_dir, key)
    tmp = final.with_name(f".{key}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel in files:
        (tmp / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / rel, tmp / "files" / rel)
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    (tmp / "entry.json").parent.mkdir(parents=True, exist_ok=True)
    (tmp / "entry.json").write_text(json.dumps({**record, "files": files, "created_utc": created}, indent=1))
    if final.exists():
        old = final.with_name(f".{key}.old-{os.getpid()}")
        final.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    tmp.rename(final)
    return final


def lookup(cache_dir: Path, key: str) -> dict | None:
    """The stored entry for ``key`` (its ``entry.json``), or None when there is none or it lost a file."""
    folder = entry_dir(cache_dir, key)
    try:
        entry = json.loads((folder / "entry.json").read_text())
    except (OSError, ValueError):
        return None
    if not all((folder / "files" / rel).is_file() for rel in entry.get("files", [])):
        return None
    return entry


def restore(cache_dir: Path, key: str, entry: dict, folder: Path) -> None:
    """Copy an entry's files into run folder ``folder``."""
    source = entry_dir(cache_dir, key) / "files"
    for rel in entry["files"]:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, folder / rel)
