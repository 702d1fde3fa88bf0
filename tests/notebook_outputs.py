"""The committed notebooks' checked outputs against one executed run of the same notebooks.

nbval compares a notebook's ``# NBVAL_CHECK_OUTPUT`` cells with their committed outputs, but only by executing the
notebook itself, in its own kernel: the test session then ran the smoke study twice (nbval, and the runner for the
end-to-end and report tests). This compares the runner's executed copies instead, so the study runs once per test
session (``smoke_study`` in ``tests/conftest.py``). What is compared follows nbval's ``--nbval-lax`` mode: only
the marked cells, with nbval's own stream coalescing (``coalesce_streams``), its sanitizer file format
(``get_sanitize_patterns``, ``tests/nbval_sanitize.cfg``) and the keys its ``compare_outputs`` skips (images
included, as nbval does without nbdime). ``nbval`` itself still runs a single notebook on request:
``./run_all.sh --test notebooks/02_cnn_attribution.ipynb``.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import nbformat
from nbval.plugin import coalesce_streams, get_sanitize_patterns

MARK = "NBVAL_CHECK_OUTPUT"
SANITIZE = Path(__file__).with_name("nbval_sanitize.cfg")
#: The output keys nbval's ``compare_outputs`` leaves out (``IPyNbCell.skip_compare`` without nbdime).
SKIPPED = ("metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
           "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg")


def _own_code_cells(nb) -> list:
    """The notebook's code cells, papermill's injected parameters cell left out."""
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def _by_key(outputs: list, patterns: list[tuple[str, str]]) -> dict[str, list]:
    """nbval's comparison form: each output key (a stream's name, a MIME type) to its sanitized values in order."""
    def sanitize(value):
        if not isinstance(value, str):
            return value
        for regex, replace in patterns:
            value = re.sub(regex, replace, value)
        return value

    out = defaultdict(list)
    for output in coalesce_streams([nbformat.from_dict(o) for o in outputs]):
        if output.output_type == "stream":
            out[output.name].append(sanitize(output.text))
            continue
        for key, value in output.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIPPED:
                        out[mime].append(sanitize(data))
            elif key not in SKIPPED:
                out[key].append(sanitize(value))
    return dict(out)


def checked_output_differences(committed: str | Path, executed: str | Path) -> list[str]:
    """Where the executed notebook's checked cells differ from the committed ones (empty: they agree), and any
    error output of the executed notebook; each entry names the cell (its number among the code cells)."""
    patterns = get_sanitize_patterns(SANITIZE.read_text())
    reference = _own_code_cells(nbformat.read(committed, as_version=4))
    ran = _own_code_cells(nbformat.read(executed, as_version=4))
    problems = [f"code cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, cell in enumerate(ran, 1)
                for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if len(reference) != len(ran):
        return problems + [f"{len(ran)} code cells were executed, the committed notebook has {len(reference)}"]
    for number, (ref, new) in enumerate(zip(reference, ran), 1):
        if MARK not in ref.source:
            continue
        want, got = _by_key(ref.outputs, patterns), _by_key(new.get("outputs", []), patterns)
        if want != got:
            first = next((line for line in ref.source.splitlines() if MARK not in line), "")
            problems.append(f"code cell {number} ({first[:60]!r}): committed {want!r}, executed {got!r}")
    return problems
