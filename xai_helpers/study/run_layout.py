"""Where a run keeps what, in one place: the runner, the evaluation, the report and the Snakefile's templates all
name run folders and their files through these functions.

A run folder holds ``executed/ html/ metrics/ figures/ tables/ logs/``. A multi-seed run (and a workflow's data
set folder) holds one such folder per seed, ``seed-N/``, and its study-level notebooks (06) write into the run folder
itself. The functions take and return plain paths, so that they also build Snakemake's templates
(``seed_folder("out/{dataset}", "{seed}")`` is ``out/{dataset}/seed-{seed}``)."""
from __future__ import annotations

import re
from pathlib import Path

#: The subfolders of a run folder (and of each ``seed-N/``).
RUN_SUBDIRS = ("executed", "html", "metrics", "figures", "tables", "logs")
_SEED = re.compile(r"seed-(\d+)")


def seed_folder(root: str | Path, seed: int | str) -> Path:
    """One seed's folder in a multi-seed run."""
    return Path(root) / f"seed-{seed}"


def seed_folders(root: str | Path) -> dict[int, Path]:
    """``{seed: folder}`` of the ``seed-N/`` folders in ``root``, in seed order (empty for a single-seed run)."""
    found = {int(m.group(1)): p for p in Path(root).glob("seed-*") if (m := _SEED.fullmatch(p.name)) and p.is_dir()}
    return dict(sorted(found.items()))


def metrics_file(folder: str | Path, notebook: str) -> Path:
    """The numbers notebook ``notebook`` wrote in ``folder``: ``metrics/<notebook>.json``."""
    return Path(folder) / "metrics" / f"{notebook}.json"


def log_file(folder: str | Path, notebook: str, kind: str = "log") -> Path:
    """What the runner keeps of a notebook in ``folder``'s ``logs/``: its ``log``, the ``parameters.yaml`` it ran
    with, each cell's time (``cells.json``), and in job mode its ``status.json`` and ``environment.json``."""
    return Path(folder) / "logs" / f"{notebook}.{kind}"
