"""How long-running work reports progress: a tqdm bar when someone watches, log lines when the runner runs it
headless (a bar's carriage returns would fill a notebook's saved output with thousands of lines)."""
from __future__ import annotations

import os


def progress_mode(progress: str) -> str:
    """``auto`` → a tqdm bar interactively, log lines when headless (``XAI_HEADLESS=1``); or bar, log, none."""
    if progress == "auto":
        headless = os.environ.get("XAI_HEADLESS") == "1"
        return "log" if headless else "bar"
    if progress not in ("bar", "log", "none"):
        raise ValueError(f"progress must be auto, bar, log or none, got {progress!r}")
    return progress
