"""How long-running work reports progress, and whether a notebook shows its forms: a tqdm bar and ipywidgets forms
when someone watches, log lines and a static view when the runner runs it headless (``XAI_HEADLESS=1``: a bar's
carriage returns would fill a notebook's saved output with thousands of lines, and no one answers a form)."""
from __future__ import annotations

import os


def headless() -> bool:
    """True under the runner, its workflow jobs and the tests (they set ``XAI_HEADLESS=1``); False in a JupyterLab
    started by ``run_all.sh --lab``, which clears it."""
    return os.environ.get("XAI_HEADLESS") == "1"


def forms_wanted(interactive: bool | None) -> bool:
    """A notebook's ``interactive`` parameter resolved: None shows the forms when someone watches (not
    :func:`headless`), True or False as given."""
    if interactive is not None and not isinstance(interactive, bool):
        raise ValueError(f"interactive = {interactive!r} is not allowed: expected True, False or None (forms when "
                         "someone watches)")
    return not headless() if interactive is None else interactive


def progress_mode(progress: str) -> str:
    """``auto`` → a tqdm bar interactively, log lines when headless (``XAI_HEADLESS=1``); or bar, log, none."""
    if progress == "auto":
        return "log" if headless() else "bar"
    if progress not in ("bar", "log", "none"):
        raise ValueError(f"progress must be auto, bar, log or none, got {progress!r}")
    return progress
