"""otter's grading kernels, shut down at once instead of gracefully.

otter executes a notebook (``otter assign``'s check of the solutions, and every graded submission) with nbconvert's
``ExecutePreprocessor`` built from a traitlets ``Config`` of its own, so nbclient's ``shutdown_kernel`` cannot be
set from outside, and it stays ``"graceful"``: after the last cell the grader waits while the kernel exits
normally, tearing down torch, captum and the rest (about 1–2 s per course notebook on 2 cores). An immediate
shutdown kills the kernel instead. The grades are the same: otter's last cell writes the results to a file before
the kernel is shut down, and nothing after the last cell is read.

``immediate_shutdown()`` swaps, for its duration, ``nbconvert.preprocessors.ExecutePreprocessor`` (which otter
imports at each call) for a subclass whose ``shutdown_kernel`` defaults to ``"immediate"``; otter's own settings
(``allow_errors``) still apply, as the subclass is still an ``ExecutePreprocessor``. Run as a script, this module is
otter's command line under it (``python -P otter_kernels.py assign ...``): it imports neither torch nor this package,
so the child ``otter assign`` costs no more to start than ``python -m otter``.

With ``EXECUTED_ENV`` set to a path, the subclass also writes each notebook it executed there (the last one wins):
``otter assign`` runs the solutions once to check them, and the build keeps that run as the answer key
(``answer_key.py``) instead of running the solutions a second time.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

#: The environment variable naming where otter's executed notebook is written (unset: nowhere).
EXECUTED_ENV = "XAI_COURSE_EXECUTED"


@contextmanager
def immediate_shutdown():
    """Within the block, otter's grading kernels are killed after their last cell instead of exiting gracefully."""
    import nbconvert.preprocessors as preprocessors
    from traitlets import Enum

    original = preprocessors.ExecutePreprocessor

    class ImmediateShutdownExecutePreprocessor(original):
        shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)

        def preprocess(self, nb, resources=None, km=None):
            nb, resources = super().preprocess(nb, resources, km)
            if os.environ.get(EXECUTED_ENV):
                import nbformat

                nbformat.write(nb, os.environ[EXECUTED_ENV])
            return nb, resources

    preprocessors.ExecutePreprocessor = ImmediateShutdownExecutePreprocessor
    try:
        yield
    finally:
        preprocessors.ExecutePreprocessor = original


if __name__ == "__main__":  # otter's command line, ``otter ARGS``, under immediate_shutdown (it exits itself)
    from otter.cli import cli

    with immediate_shutdown():
        cli.main(args=sys.argv[1:], prog_name="otter")
