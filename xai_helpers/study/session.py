"""The first step of every notebook: seed, device and folders, the same way everywhere."""
from __future__ import annotations

from pathlib import Path

import torch

from .reproducibility import resolve_device, seed_everything
from .run_io import resolve_cache_dir, resolve_run_dir


def start_notebook(seed: int, device: str, run_dir: str, cache_dir: str) -> tuple[torch.device, Path, Path]:
    """Seed ``random``, numpy's global generator and torch from ``seed`` and turn on deterministic algorithms
    (:func:`.reproducibility.seed_everything`); pick the device (``auto``: CUDA when present); resolve the run and
    cache folders (empty: ``$XAI_RUN_DIR`` / ``$XAI_CACHE_DIR`` or the defaults), creating them and the run
    folder's standard subfolders. Returns ``(device, run_path, cache_path)``."""
    seed_everything(seed)
    return resolve_device(device), resolve_run_dir(run_dir), resolve_cache_dir(cache_dir)
