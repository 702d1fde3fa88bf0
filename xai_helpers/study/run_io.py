"""Where a notebook's outputs go: the run folder (metrics JSON, figures, tables) and the model cache.

Notebooks get ``run_dir`` and ``cache_dir`` from the runner. Run by hand with empty values, they fall back to
``$XAI_RUN_DIR`` / ``$XAI_CACHE_DIR`` (the tests set these), else ``results/runs/interactive`` and
``results/cache`` in the repository.
"""
from __future__ import annotations

import json
import math
import os
import re
from numbers import Number
from pathlib import Path

import numpy as np

from .run_layout import RUN_SUBDIRS, metrics_file

REPO_ROOT = Path(__file__).resolve().parents[2]  # xai_helpers/study/run_io.py
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


#: Where the user started run_all.sh: it records the folder here before changing to the repository.
INVOKED_FROM = "XAI_INVOKED_FROM"


def user_path(path: str | os.PathLike) -> Path:
    """A path the user typed on the command line, made absolute from where they are: the folder they started
    run_all.sh in (``$XAI_INVOKED_FROM``), else the current one. Notebooks, which run in notebooks/, then get it whole."""
    p = Path(path).expanduser()
    return (p if p.is_absolute() else Path(os.environ.get(INVOKED_FROM) or os.getcwd()) / p).resolve()


def _resolve(path: str | os.PathLike | None, env: str, default: Path) -> Path:
    if path in (None, ""):
        path = os.environ.get(env) or default
    path = Path(path).expanduser()
    return (path if path.is_absolute() else REPO_ROOT / path).resolve()


def resolve_run_dir(run_dir: str | os.PathLike | None = "") -> Path:
    """The run folder (created, with its standard subfolders)."""
    path = _resolve(run_dir, "XAI_RUN_DIR", REPO_ROOT / "results" / "runs" / "interactive")
    for sub in RUN_SUBDIRS:
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


#: The model cache when none is named: the runner's default, and a notebook's without ``cache_dir`` or $XAI_CACHE_DIR.
DEFAULT_CACHE_DIR = REPO_ROOT / "results" / "cache"


def resolve_cache_dir(cache_dir: str | os.PathLike | None = "") -> Path:
    path = _resolve(cache_dir, "XAI_CACHE_DIR", DEFAULT_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_data_dir(data_dir: str | os.PathLike | None = "") -> Path:
    """Relative data folders are taken from the repository root (notebooks run with cwd = notebooks/)."""
    return _resolve(data_dir, "XAI_DATA_DIR", REPO_ROOT / "data")


def resolve_ratings_dir(ratings_dir: str | os.PathLike | None, cache_dir: str | os.PathLike) -> Path:
    """06's folder of human ratings: ``ratings_dir`` (relative: to the repository, as data folders), or
    ``human_ratings/`` beside the model cache when empty."""
    if ratings_dir in (None, ""):
        return Path(cache_dir).parent / "human_ratings"
    path = Path(ratings_dir).expanduser()
    return (path if path.is_absolute() else REPO_ROOT / path).resolve()


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"output name {name!r} must be letters, digits, '_', '-' or '.', starting with a letter or digit")
    return name


def to_plain(obj, path: str = "metrics"):
    """Plain JSON types from numpy/torch scalars and arrays; NaN and infinities are refused by name."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy / torch
        return to_plain(obj.tolist(), path)
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, Number):
        value = float(obj) if not isinstance(obj, int) else int(obj)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path} is {value}: metrics must be finite numbers")
        return value
    raise TypeError(f"{path} has type {type(obj).__name__}; metrics hold numbers, strings, lists and objects")


def all_finite(obj) -> bool:
    """Whether every float in a nested structure of dicts and lists is finite (None and non-floats pass)."""
    if isinstance(obj, dict):
        return all(all_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(all_finite(v) for v in obj)
    return not isinstance(obj, float) or math.isfinite(obj)


def frame_dict(table) -> dict | None:
    """A table as ``{row name: {column: value}}`` for a metrics file (a tuple row name joined with " / "); None
    for no table."""
    if table is None:
        return None
    return {" / ".join(map(str, k)) if isinstance(k, tuple) else str(k): row.to_dict() for k, row in table.iterrows()}


def finite_or_none(obj):
    """The same structure with every NaN or infinite float replaced by None (JSON null), for metrics where a
    missing value is legitimate (e.g. the slant of a blank sample); :func:`to_plain` still refuses any left."""
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return finite_or_none(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: Path, obj) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def write_metrics(run_dir: str | os.PathLike, notebook: str, metrics: dict) -> Path:
    """Write ``metrics/<notebook>.json`` (atomically) and return its path."""
    path = metrics_file(resolve_run_dir(run_dir), _check_name(notebook))
    return write_json_atomic(path, to_plain(metrics))


def read_metrics(run_dir: str | os.PathLike, notebook: str) -> dict:
    return json.loads(metrics_file(run_dir, notebook).read_text())


def save_figure(fig, run_dir: str | os.PathLike, name: str, dpi: int = 120) -> Path:
    """Save ``fig`` as ``figures/<name>.png``; in a notebook, show that very file and close the figure.

    Rendering is the slow part of a figure (a grid of 135 small maps takes about 3 s per render on a 2-core CPU),
    and the inline backend would render each figure a second time when the cell ends. Showing the saved PNG
    renders it once, and the notebook then shows exactly the file that the report embeds.
    """
    path = resolve_run_dir(run_dir) / "figures" / f"{_check_name(name)}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    if _in_kernel():
        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        display(Image(filename=str(path)))
        plt.close(fig)
    return path


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where figures are shown), False in scripts and tests."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def save_table(table, run_dir: str | os.PathLike, name: str, float_digits: int = 4) -> Path:
    """Save a DataFrame as ``tables/<name>.csv``, ``.md`` and ``.html`` (for the report); returns the CSV path."""
    folder = resolve_run_dir(run_dir) / "tables"
    _check_name(name)
    table.to_csv(folder / f"{name}.csv")
    (folder / f"{name}.md").write_text(table.to_markdown(floatfmt=f".{float_digits}g") + "\n")
    (folder / f"{name}.html").write_text(table.to_html(float_format=lambda v: f"{v:.{float_digits}g}", na_rep="—"))
    return folder / f"{name}.csv"


def rounded(value, digits: int = 4):
    """Round numbers (recursively) to ``digits`` significant digits for stable printed output."""
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(rounded(v, digits) for v in value)
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.{digits}g}")
    return value
