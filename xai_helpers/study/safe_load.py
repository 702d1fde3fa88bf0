"""What to tell a user when ``torch.load(weights_only=True)`` refuses a file.

torch's own message advises re-running with ``weights_only=False``, which would run whatever code the pickle holds:
a file a user supplied is not ours to trust, so the study never repeats that advice. It says what the file holds
instead, and how to save one it will read (a plain state dict of tensors)."""
from __future__ import annotations

import re

_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
#: Lines of torch's message that advise unpickling the file, or point at ways to allow its classes.
_ADVICE = re.compile(r"weights_only|can still be loaded|safe_globals|add_safe_globals|trust", re.I)
#: How a file the study reads is saved.
SAVE_ADVICE = "save a plain state dict instead: torch.save(model.state_dict(), path)"


def refusal(err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, without torch's advice to unpickle it."""
    text = str(err)
    if match := _GLOBAL.search(text):
        return f"it holds a pickled Python object ({match.group(1)}), not only tensors"
    lines = [line.strip() for line in text.splitlines() if line.strip() and not _ADVICE.search(line)]
    return lines[0] if lines else type(err).__name__
